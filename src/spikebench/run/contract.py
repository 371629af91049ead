"""The per-run output contract: file names, the columns of ``epochs.csv`` and the typed ``summary.json`` record.

One place for what a training run writes and what reads it: the trainer writes these files, the workflow's
rules name them, the merge reads and checks them, the tests check against them. No torch here.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

from spikebench.model.topology import LAYER_NAMES
from spikebench.study.config import AXES
from spikebench.study.settings import SETTINGS_SECTIONS

EPOCHS_FILE = "epochs.csv"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.pt"
"""The best validation epoch's weights (a state dict)."""
WORKLOAD_FILE = "workload.json"
CHECKPOINT_FILE = "checkpoint.pt"
"""Written after every epoch and removed when the run finishes; not an output."""
TRAINING_OUTPUTS = {"epochs": EPOCHS_FILE, "summary": SUMMARY_FILE, "model": MODEL_FILE}
RUN_OUTPUTS = (EPOCHS_FILE, SUMMARY_FILE, WORKLOAD_FILE)
"""What every run leaves for the merge."""


class TrainingPaths(NamedTuple):
    """Where one training run writes; the workflow passes the paths its rule declares."""

    epochs: Path
    summary: Path
    model: Path
    checkpoint: Path

    @classmethod
    def in_directory(cls, directory: str | Path) -> TrainingPaths:
        directory = Path(directory)
        return cls(*(directory / name for name in (*TRAINING_OUTPUTS.values(), CHECKPOINT_FILE)))

    @classmethod
    def of(cls, epochs, summary, model, checkpoint) -> TrainingPaths:
        return cls(Path(epochs), Path(summary), Path(model), Path(checkpoint))


def settings_fingerprint(run: dict[str, Any], settings: dict[str, Any]) -> str:
    """SHA-256 of a run's grid point and settings (``Run.as_dict``, ``RunSettings.as_dict``) as canonical JSON:
    what proves that a run's outputs were made by this run with these settings."""
    canonical = json.dumps({"run": run, "settings": settings}, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def differing_keys(expected: Any, actual: Any, prefix: str = "") -> list[str]:
    """The dotted keys at which two JSON-like values differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        keys = sorted(set(expected) | set(actual))
        return [
            key for name in keys for key in differing_keys(expected.get(name), actual.get(name), f"{prefix}{name}.")
        ]
    return [] if expected == actual else [prefix.rstrip(".") or "<value>"]


AXIS_COLUMNS = ["run_id", *AXES]
METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_acc",
    *(f"spike_rate_{layer}" for layer in LAYER_NAMES),
    "val_output_spikes",
    "test_output_spikes",
]
"""Per epoch. Epoch 0 is the untrained network before its first update: its training columns are empty
and its spike rates are the validation split's; later epochs' spike rates are their training batches'."""
TIMING_COLUMNS = ["epoch_seconds", "train_samples_per_second"]
EPOCH_COLUMNS = AXIS_COLUMNS + METRIC_COLUMNS + TIMING_COLUMNS
EPOCH_TYPES = {
    **{column: "string" for column in ("run_id", "dataset", "neuron", "surrogate", "backprop")},
    "scale": "float64",
    "seed": "int64",
    "epoch": "int64",
    **{column: "float64" for column in EPOCH_COLUMNS if column not in ("run_id", *AXES, "epoch")},
}
STATUSES = ("ok", "diverged", "no_gradient", "silent")
"""A run's fate (``spikebench.run.outcome.classify``)."""
WORKLOAD_COLUMNS = [
    "activation_sparsity",
    "effective_macs",
    "effective_acs",
    "dense_ops",
    "footprint_bytes",
    "connection_sparsity",
]


class RunSummary(TypedDict):
    """``summary.json``: the run's grid point, its outcome, and what it ran with."""

    run_id: str
    dataset: str
    neuron: str
    surrogate: str
    scale: float | None
    """The surrogate's scale parameter (``spikebench.study.config.Run``), None where none applies."""
    backprop: str
    seed: int
    settings_hash: str
    """``settings_fingerprint`` of the run and the settings it trained with."""
    status: str
    """One of ``STATUSES``."""
    best_epoch: int | None
    """The epoch of the best validation accuracy; None if no epoch finished."""
    best_val_acc: float | None
    test_acc_at_best: float | None
    test_output_spikes_at_best: float | None
    epochs_run: int
    """Training epochs completed (the epoch-0 row of the untrained network is not one)."""
    optimizer_updates_per_epoch: int
    """Weight updates in one epoch: batches x updates per batch (1 for BPTT and rtrl_one_update, one per window
    for TBPTT, one per step for RTRL)."""
    stopped_early: bool
    diverged_epoch: int | None
    """The epoch in which something became NaN or infinite, None if nothing did."""
    diverged_batch: int | None
    """The batch (from 0) of ``diverged_epoch`` after which the check failed."""
    divergence: str | None
    """What became non-finite first: loss, gradients, weights, optimizer state or membranes."""
    initial_gradient_norms: dict[str, float]
    """Per parameter tensor (state-dict name), the L2 norm of the gradient of the first optimizer step, taken
    on the untrained weights; all zero means no gradient reaches the weights."""
    wall_seconds: float
    train_samples: int
    validation_samples: int
    test_samples: int
    validation_majority_rate: float
    """The validation split's most frequent class's share: the accuracy of a constant answer, against which
    the merge decides whether the run learned."""
    config: dict[str, Any]
    """The run's ``RunSettings.as_dict``."""
    data: dict[str, Any]
    """The compact data file's metadata."""
    versions: dict[str, str]
    threads: int
    keeps_freed_memory: bool
    device: str
    device_name: str
    discarded_checkpoints: list[str]
    """Unreadable checkpoints the run moved aside (kept, renamed) before starting afresh."""


SUMMARY_FIELDS: dict[str, Any] = typing.get_type_hints(RunSummary)


class RunOutputError(ValueError):
    """A run's output file does not follow the contract: a column, field or type is missing or wrong."""


def _conforms(value: Any, kind: Any) -> bool:
    """Whether a JSON value has the annotated type (ints count as floats, booleans never as numbers)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return any(_conforms(value, option) for option in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind in (int, float) and isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, typing.get_origin(kind) or kind)


def check_summary(summary: Any, source: str | Path) -> RunSummary:
    """``summary`` if it has every field of ``RunSummary`` with its type; else ``RunOutputError`` naming
    ``source`` and the field."""
    if not isinstance(summary, dict):
        raise RunOutputError(f"{source}: expected a JSON object, got {type(summary).__name__}")
    for field, kind in SUMMARY_FIELDS.items():
        if field not in summary:
            raise RunOutputError(f"{source}: field {field!r} is missing")
        if not _conforms(summary[field], kind):
            raise RunOutputError(f"{source}: field {field!r} is {summary[field]!r}, not of type {kind}")
    if summary["status"] not in STATUSES:
        raise RunOutputError(f"{source}: field 'status' is {summary['status']!r}, not one of {STATUSES}")
    missing = [name for name in SETTINGS_SECTIONS if name not in summary["config"]]
    if missing:
        raise RunOutputError(f"{source}: field 'config' lacks {', '.join(missing)}")
    return summary


def read_summary(path: str | Path) -> RunSummary:
    try:
        summary = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise RunOutputError(f"{path}: not valid JSON ({error})") from error
    return check_summary(summary, path)


def read_workload(path: str | Path) -> dict[str, float]:
    try:
        workload = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise RunOutputError(f"{path}: not valid JSON ({error}); rerun the workload job") from error
    if not isinstance(workload, dict):
        raise RunOutputError(f"{path}: expected a JSON object, got {type(workload).__name__}")
    missing = [column for column in WORKLOAD_COLUMNS if column not in workload]
    if missing:
        raise RunOutputError(f"{path}: field(s) {', '.join(missing)} missing")
    return {column: workload[column] for column in WORKLOAD_COLUMNS}
