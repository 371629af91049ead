"""The per-run output contract: file names, the columns of ``epochs.csv`` and the typed ``summary.json`` record.

One place for what a training run writes and what reads it: the trainer writes these files, the workflow's
rules name them, the merge reads and checks them, the tests check against them. No torch here.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, TypedDict

import jsonschema

from spikebench.model.topology import LAYER_NAMES
from spikebench.study.config import AXES

EPOCHS_FILE = "epochs.csv"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.pt"
MODEL_KEYS = ("run_id", "settings_hash", "state_dict")
"""What ``model.pt`` holds: the run and settings that made the weights, and the best validation epoch's state
dict of ``spikebench.model.network.ConvSNN``."""
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
"""How a run's training ended, as the run records it (``spikebench.run.outcome.classify``)."""

OUTPUT_ACTIVITY = ("spike_rate_output", "val_output_spikes", "test_output_spikes")
"""``epochs.csv`` columns of the output layer's activity: a run is ``silent`` where all are 0 in every trained
epoch (``spikebench.run.outcome.classify``; the merge checks a summary's status against them)."""


WORKLOAD_COLUMNS = [
    "activation_sparsity",
    "effective_macs",
    "effective_acs",
    "dense_ops",
    "footprint_bytes",
    "connection_sparsity",
]


class RunSummary(TypedDict):
    """``summary.json`` as Python sees it; what each field means, and the types the files must have, is
    ``schemas/summary.schema.json`` (``SUMMARY_SCHEMA``)."""

    run_id: str
    dataset: str
    neuron: str
    surrogate: str
    scale: float | None
    backprop: str
    seed: int
    settings_hash: str
    status: str
    best_epoch: int | None
    best_val_acc: float | None
    test_acc_at_best: float | None
    test_output_spikes_at_best: float | None
    epochs_run: int
    optimizer_updates_per_epoch: int
    stopped_early: bool
    diverged_epoch: int | None
    diverged_batch: int | None
    divergence: str | None
    initial_gradient_norms: dict[str, float]
    wall_seconds: float
    train_samples: int
    validation_samples: int
    test_samples: int
    validation_majority_rate: float
    config: dict[str, Any]
    data: dict[str, Any]
    versions: dict[str, str]
    threads: int
    keeps_freed_memory: bool
    device: str
    device_name: str
    discarded_checkpoints: list[str]
    load_average: NotRequired[list[float] | None]
    cpu_count: NotRequired[int | None]
    precision: NotRequired[str]
    native_neuron_kernels: NotRequired[bool]


SUMMARY_SCHEMA: dict[str, Any] = json.loads(
    (importlib.resources.files("spikebench") / "schemas" / "summary.schema.json").read_text()
)
"""The JSON schema of ``summary.json``: the trainer checks a summary against it before writing, the merge after
reading."""
SUMMARY_FIELDS = list(SUMMARY_SCHEMA["properties"])
OPTIONAL_SUMMARY_FIELDS = [name for name in SUMMARY_FIELDS if name not in SUMMARY_SCHEMA["required"]]
"""Fields a summary may lack (recorded since a later version), so that older runs' outputs still merge."""
_SUMMARY_VALIDATOR = jsonschema.Draft202012Validator(SUMMARY_SCHEMA)


class RunOutputError(ValueError):
    """A run's output file does not follow the contract: a column, field or type is missing or wrong."""


def check_summary(summary: Any, source: str | Path) -> RunSummary:
    """``summary`` if it follows ``SUMMARY_SCHEMA``; else ``RunOutputError`` naming ``source``, the field and
    what is wrong with it."""
    error = jsonschema.exceptions.best_match(_SUMMARY_VALIDATOR.iter_errors(summary))
    if error is None:
        return summary
    field = ".".join(map(str, error.absolute_path))
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        problem = f"field {field!r} lacks {', '.join(missing)}" if field else f"field {missing[0]!r} is missing"
    else:
        problem = f"field {field!r}: {error.message}" if field else error.message
    raise RunOutputError(f"{source}: {problem}")


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
