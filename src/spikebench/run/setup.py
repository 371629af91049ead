"""Everything a run needs before its first batch: process settings, device, data in memory, model, optimizer.

The order of ``set_up`` is part of the results: the model is initialised from torch's global generator right
after it is seeded, so the same seed gives the same weights whatever else the run does.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import snntorch
import snntorch.functional as SF
import torch

import spikebench
from spikebench.data.datasets import PREPARED_SETTINGS, load_prepared
from spikebench.model.backprop import BACKPROP_METHODS, update_windows, updates_per_batch
from spikebench.model.cells import NeuronSettings
from spikebench.model.network import ConvSNN
from spikebench.model.registry import NO_SURROGATE
from spikebench.neurons import native
from spikebench.neurons.surrogates import with_scale
from spikebench.study.config import Run
from spikebench.study.settings import DataSettings, RunSettings, TrainingSettings
from spikebench.utils.allocator import keep_freed_memory
from spikebench.utils.machine import cpu_flags as machine_cpu_flags

SPLIT_LIMITS = {"train": "limit_train", "validation": "limit_validation", "test": "limit_test"}
"""The ``data`` setting that caps each split."""


class Split:
    """One split held in memory as uint8 on the training device; batches are scaled to [0, 1] on demand."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, limit: int | None, device: torch.device):
        count = len(labels) if limit is None else min(limit, len(labels))
        self.images = torch.from_numpy(np.ascontiguousarray(images[:count])).to(device)
        self.labels = torch.from_numpy(labels[:count].astype(np.int64)).to(device)

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].unsqueeze(1).float().div_(255.0), self.labels[index]

    @property
    def majority_rate(self) -> float:
        """The share of the most frequent class: the accuracy of a network that always gives that answer."""
        return float(torch.bincount(self.labels).max()) / len(self) if len(self) else float("nan")


def load_splits(
    data_path: str | Path,
    dataset: str,
    data: DataSettings,
    device: torch.device,
    names: tuple[str, ...] = tuple(SPLIT_LIMITS),
) -> tuple[dict[str, Split], dict]:
    """The compact data file's splits ``names``, each capped by its ``data`` limit, on ``device``; and its
    metadata. The file must have been made for ``dataset`` with the config's validation split."""
    expected = {key: getattr(data, key) for key in PREPARED_SETTINGS if hasattr(data, key)}
    splits, metadata = load_prepared(data_path, {**expected, "dataset": dataset})
    in_memory = {
        name: Split(splits[name].images, splits[name].labels, getattr(data, SPLIT_LIMITS[name]), device)
        for name in names
    }
    return in_memory, metadata


def build_model(run: Run, settings: RunSettings, engine: str) -> ConvSNN:
    """The run's network, initialised from torch's global generator; its surrogate at the run's scale."""
    surrogate = run.surrogate if run.surrogate != NO_SURROGATE else None
    model = settings.model
    params = with_scale(surrogate, model.surrogate_params.get(surrogate), run.scale) if surrogate else None
    return ConvSNN(
        run.neuron,
        surrogate,
        NeuronSettings.from_model(model, run.neuron),
        params,
        engine,
        model.surrogate_numerics,
        settings.precision,
    )


def make_optimizer(parameters, training: TrainingSettings) -> torch.optim.Optimizer:
    """The study's optimizer: Adamax at the config's rate, betas and epsilon."""
    return torch.optim.Adamax(parameters, lr=training.learning_rate, betas=training.adam_betas, eps=training.adam_eps)


CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""CPU features with bfloat16 arithmetic (Linux /proc/cpuinfo names); without them oneDNN emulates it slowly."""


def check_precision(precision: str, device: torch.device, cpu_flags: set[str] | None = None) -> None:
    """Refuse bf16 where the hardware has no bfloat16 arithmetic, naming what is missing and the fix."""
    if precision != "bf16":
        return
    if device.type == "cuda":
        if not torch.cuda.is_bf16_supported():
            name = torch.cuda.get_device_name(device)
            raise RuntimeError(f"precision: bf16, but {name} has no bfloat16 support; set precision: fp32")
        return
    flags = cpu_flags if cpu_flags is not None else machine_cpu_flags()
    if not flags & set(CPU_BF16_FLAGS):
        raise RuntimeError(
            f"precision: bf16, but this CPU ({platform.processor() or platform.machine()}) has none of"
            f" {', '.join(CPU_BF16_FLAGS)}, so bfloat16 would be emulated and slower than fp32; set precision: fp32"
        )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but torch sees no CUDA device; use device: auto or cpu")
    return torch.device(name)


@dataclass(frozen=True)
class Environment:
    """What a run ran on, for its summary."""

    threads: int
    keeps_freed_memory: bool
    device: str
    device_name: str
    versions: dict[str, str]
    native_neuron_kernels: bool


def configure_process(threads: int, device: torch.device) -> Environment:
    """Process-wide settings for reproducible training: thread count, deterministic kernels, the allocator."""
    torch.set_num_threads(threads)
    # cuBLAS runs deterministically only with a fixed workspace, read when CUDA first creates its handle.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    keeps_freed_memory = keep_freed_memory()
    return Environment(
        threads=threads,
        keeps_freed_memory=keeps_freed_memory,
        device=str(device),
        device_name=torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        versions={
            "spikebench": spikebench.__version__,
            "torch": torch.__version__,
            "snntorch": snntorch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        # Built (or found built) here, before training, so that a compiler's complaint leads the log.
        native_neuron_kernels=device.type == "cpu" and native.status().available,
    )


@dataclass
class RunSetup:
    """A run ready to train: its settings, data, seeded model and optimizer, and the update windows."""

    run: Run
    settings: RunSettings
    environment: Environment
    device: torch.device
    splits: dict[str, Split]
    data_metadata: dict
    model: ConvSNN
    optimizer: torch.optim.Optimizer
    loss_fn: object
    windows: list[int]

    @property
    def steps(self) -> int:
        return self.settings.model.steps

    @property
    def update_per_window(self) -> bool:
        return BACKPROP_METHODS[self.run.backprop].update_per_window

    @property
    def updates_per_epoch(self) -> int:
        batches = math.ceil(len(self.splits["train"]) / self.settings.training.batch_size)
        return batches * updates_per_batch(self.run.backprop, self.windows)


def set_up(run: Run, settings: RunSettings, data_path: str | Path, threads: int) -> RunSetup:
    device = resolve_device(settings.device)
    check_precision(settings.precision, device)
    environment = configure_process(threads, device)
    splits, metadata = load_splits(data_path, run.dataset, settings.data, device)
    torch.manual_seed(run.seed)
    model = build_model(run, settings, settings.engine).to(device)
    model.seed_generators(run.seed, device)
    optimizer = make_optimizer(model.parameters(), settings.training)
    windows = update_windows(run.backprop, settings.model.steps, settings.training.tbptt_window)
    return RunSetup(run, settings, environment, device, splits, metadata, model, optimizer, SF.ce_rate_loss(), windows)
