"""Cluster resources of the jobs, derived from the settings (the SLURM profile turns them into sbatch flags)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

from spikebench.model.backprop import BACKPROP_METHODS
from spikebench.study.settings import RunSettings, split_sizes
from spikebench.utils.text import counted

EXPECTED_BEST_EPOCH = 18
"""The converged leaky runs' mean best epoch on full MNIST (fast_sigmoid 13, atan 22): the expected stop is
this plus ``patience``."""

TRAIN_SAMPLES_PER_SECOND_PER_THREAD = {"fast": 250, "reference": 120}
"""Conservative training throughput per CPU thread, 25 steps, batch 128, BPTT, scaled by steps: about 40% of
what ``benchmarks/train_throughput.py --threads 1`` measures on the development machine (fast about 600,
reference about 260 samples/s), for slower cluster nodes."""
EVAL_SAMPLES_PER_SECOND_PER_THREAD = {"fast": 1000, "reference": 300}
"""Likewise for evaluation (measured with one thread: fast about 2,350, reference about 520 samples/s)."""
GPU_SPEEDUP = 10
STARTUP_MINUTES = 10


def epoch_seconds(settings: RunSettings, dataset: str, backprop: str, threads: int) -> float:
    """One epoch of training and evaluation at conservative throughput."""
    sizes = split_sizes(settings.data, dataset)
    step_scale = settings.model.steps / 25 * BACKPROP_METHODS[backprop].relative_cost
    speed = threads * (GPU_SPEEDUP if settings.device == "cuda" else 1)
    return step_scale * (
        sizes.train / (TRAIN_SAMPLES_PER_SECOND_PER_THREAD[settings.engine] * speed)
        + (sizes.validation + sizes.test) / (EVAL_SAMPLES_PER_SECOND_PER_THREAD[settings.engine] * speed)
    )


def training_runtime_minutes(settings: RunSettings, dataset: str, backprop: str, threads: int) -> int:
    """Wall-time limit of a training job: every epoch of the config at conservative throughput, plus margin."""
    epochs = settings.training.max_epochs
    return STARTUP_MINUTES + math.ceil(epochs * epoch_seconds(settings, dataset, backprop, threads) / 60)


def training_memory_mb(settings: RunSettings) -> int:
    """Memory of a training job: the data in memory plus activations of one batch over all steps."""
    training, steps = settings.training, settings.model.steps
    batch_scale = training.batch_size / 128 * steps / 25
    eval_scale = training.eval_batch_size / 1000 * steps / 25
    return int(1500 + 1200 * max(batch_scale, eval_scale))


def makespan(durations: Iterable[float], cores: int) -> float:
    """Wall time of independent jobs on ``cores`` one-core workers, longest job first."""
    workers = [0.0] * max(1, cores)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(workers, heapq.heappop(workers) + duration)
    return max(workers)


def duration(seconds: float) -> str:
    """``3.2 days``, ``2 h 05 min``, ``4 min 10 s`` or ``45 s``."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.0f} s"


@dataclass(frozen=True)
class PlanCost:
    """What the runs still to train will take, from the conservative throughputs above (no torch, no timing):
    the rough figure the workflow shows before it starts; ``spikebench-estimate`` times it on the machine."""

    runs: int
    cpu_seconds: float
    wall_seconds: float
    cores: int

    def describe(self) -> str:
        return (
            f"{self.runs} runs to train, about {duration(self.cpu_seconds)} of CPU time and"
            f" {duration(self.wall_seconds)} of wall time on {counted(self.cores, 'core')} (expected epochs at"
            " conservative throughput; spikebench-estimate --config <file> --cores N times it on this machine)"
        )


def plan_cost(settings: RunSettings, runs: Iterable[tuple[str, str]], threads: int, cores: int) -> PlanCost:
    """The cost of training ``runs`` (``(dataset, backprop)`` each) with ``threads`` per job on ``cores``:
    each run takes its expected epochs (best epoch plus patience, at most ``max_epochs``)."""
    training = settings.training
    epochs = min(training.max_epochs, EXPECTED_BEST_EPOCH + training.patience)
    seconds = [epochs * epoch_seconds(settings, dataset, backprop, threads) for dataset, backprop in runs]
    slots = max(1, cores // max(1, threads))
    return PlanCost(len(seconds), sum(seconds) * threads, makespan(seconds, slots), cores)
