"""Cluster resources of the jobs, derived from the config (the SLURM profile turns them into sbatch flags)."""

from __future__ import annotations

import math

from spikebench.data.datasets import DATASETS

TRAIN_SAMPLES_PER_SECOND_PER_THREAD = {"fast": 250, "reference": 120}
"""Conservative training throughput per CPU thread, 25 steps, batch 128, BPTT, scaled by steps: about 40% of
what ``benchmarks/train_throughput.py --threads 1`` measures on the development machine (fast about 600,
reference about 260 samples/s), for slower cluster nodes."""
EVAL_SAMPLES_PER_SECOND_PER_THREAD = {"fast": 1000, "reference": 300}
"""Likewise for evaluation (measured with one thread: fast about 2,350, reference about 520 samples/s)."""
GPU_SPEEDUP = 10
STARTUP_MINUTES = 10
BACKPROP_COST = {"bptt": 1.0, "tbptt": 1.3, "rtrl": 2.5, "rtrl_one_update": 2.5}
"""Relative cost of an epoch: more weight updates and shorter sequences per call cost more. Measured with
``benchmarks/train_throughput.py --backprop``: 1.2x (tbptt, window 5) and 1.75x (rtrl) for the fast engine,
1.1x for the reference; the margin keeps runtime limits safe on slower nodes. rtrl_one_update runs rtrl's
passes with one optimizer step per batch instead of one per step, so rtrl's bound holds for it."""


def split_sizes(config: dict, dataset: str) -> tuple[int, int, int]:
    spec = DATASETS[dataset]
    data = config["data"]
    train_total = spec.file("train", "labels").shape[0]
    sizes = (
        train_total - data["validation_size"],
        data["validation_size"],
        spec.file("test", "labels").shape[0],
    )
    limits = (data["limit_train"], data["limit_validation"], data["limit_test"])
    return tuple(size if limit is None else min(size, limit) for size, limit in zip(sizes, limits, strict=True))


def training_runtime_minutes(config: dict, dataset: str, backprop: str, threads: int) -> int:
    """Wall-time limit of a training job: every epoch of the config at conservative throughput, plus margin."""
    train, validation, test = split_sizes(config, dataset)
    step_scale = config["model"]["steps"] / 25 * BACKPROP_COST[backprop]
    speed = threads * (GPU_SPEEDUP if config["device"] == "cuda" else 1)
    engine = config["engine"]
    epoch_seconds = step_scale * (
        train / (TRAIN_SAMPLES_PER_SECOND_PER_THREAD[engine] * speed)
        + (validation + test) / (EVAL_SAMPLES_PER_SECOND_PER_THREAD[engine] * speed)
    )
    return STARTUP_MINUTES + math.ceil(config["training"]["max_epochs"] * epoch_seconds / 60)


def training_memory_mb(config: dict) -> int:
    """Memory of a training job: the data in memory plus activations of one batch over all steps."""
    batch_scale = config["training"]["batch_size"] / 128 * config["model"]["steps"] / 25
    eval_scale = config["training"]["eval_batch_size"] / 1000 * config["model"]["steps"] / 25
    return int(1500 + 1200 * max(batch_scale, eval_scale))
