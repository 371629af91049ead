"""Cluster resources of the jobs, derived from the settings (the SLURM profile turns them into sbatch flags)."""

from __future__ import annotations

import math

from spikebench.model.backprop import BACKPROP_METHODS
from spikebench.study.settings import RunSettings, split_sizes

TRAIN_SAMPLES_PER_SECOND_PER_THREAD = {"fast": 250, "reference": 120}
"""Conservative training throughput per CPU thread, 25 steps, batch 128, BPTT, scaled by steps: about 40% of
what ``benchmarks/train_throughput.py --threads 1`` measures on the development machine (fast about 600,
reference about 260 samples/s), for slower cluster nodes."""
EVAL_SAMPLES_PER_SECOND_PER_THREAD = {"fast": 1000, "reference": 300}
"""Likewise for evaluation (measured with one thread: fast about 2,350, reference about 520 samples/s)."""
GPU_SPEEDUP = 10
STARTUP_MINUTES = 10


def training_runtime_minutes(settings: RunSettings, dataset: str, backprop: str, threads: int) -> int:
    """Wall-time limit of a training job: every epoch of the config at conservative throughput, plus margin."""
    sizes = split_sizes(settings.data, dataset)
    step_scale = settings.model.steps / 25 * BACKPROP_METHODS[backprop].relative_cost
    speed = threads * (GPU_SPEEDUP if settings.device == "cuda" else 1)
    epoch_seconds = step_scale * (
        sizes.train / (TRAIN_SAMPLES_PER_SECOND_PER_THREAD[settings.engine] * speed)
        + (sizes.validation + sizes.test) / (EVAL_SAMPLES_PER_SECOND_PER_THREAD[settings.engine] * speed)
    )
    return STARTUP_MINUTES + math.ceil(settings.training.max_epochs * epoch_seconds / 60)


def training_memory_mb(settings: RunSettings) -> int:
    """Memory of a training job: the data in memory plus activations of one batch over all steps."""
    training, steps = settings.training, settings.model.steps
    batch_scale = training.batch_size / 128 * steps / 25
    eval_scale = training.eval_batch_size / 1000 * steps / 25
    return int(1500 + 1200 * max(batch_scale, eval_scale))
