"""Typed settings: the sections of the validated config that a run depends on, as frozen dataclasses.

``RunSettings.from_config`` builds them once, after validation; a key the dataclasses do not know, or one they
need and the config lacks, fails there, at load, not as a ``KeyError`` in a job. ``as_dict`` gives back the
config's own values: what ``summary.json`` records and ``settings_fingerprint`` hashes. No torch here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spikebench.data.datasets import DATASETS


def non_finite_errors(value: Any, path: str = "") -> list[str]:
    """A line for every NaN or infinity in ``value`` (a config or part of one), naming its key: JSON Schema's
    bounds are false for NaN, so ``minimum`` and ``exclusiveMaximum`` let ``.nan`` through."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"config key '{path or '<top level>'}': {value} is not a finite number; give a number"]
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return []
    return [problem for key, item in items for problem in non_finite_errors(item, key)]


@dataclass(frozen=True)
class ModelSettings:
    """``model:`` the network's time steps and its neurons' constants (schema: ``model``)."""

    steps: int
    beta: float
    alpha: float
    threshold: float
    lapicque_r: float
    lapicque_c: float
    lif: dict[str, float]
    abss: dict[str, float]
    surrogate_numerics: str
    surrogate_params: dict[str, dict[str, float]]
    """Per surrogate, the parameters the config sets; the others take snnTorch's defaults."""
    neuron_params: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    """Per neuron model, the constants of its own the config sets (``NeuronModelSpec.parameters``)."""


@dataclass(frozen=True)
class TrainingSettings:
    """``training:`` batches, the Adamax optimizer and early stopping (schema: ``training``)."""

    batch_size: int
    eval_batch_size: int
    learning_rate: float
    adam_betas: tuple[float, float]
    adam_eps: float
    max_epochs: int
    patience: int
    tbptt_window: int


@dataclass(frozen=True)
class DataSettings:
    """``data:`` the validation hold-out and the limits on each split (schema: ``data``)."""

    validation_size: int
    split_seed: int
    limit_train: int | None
    limit_validation: int | None
    limit_test: int | None


@dataclass(frozen=True)
class RunSettings:
    """Everything a run depends on apart from its grid point (``spikebench.study.config.Run``)."""

    model: ModelSettings
    training: TrainingSettings
    data: DataSettings
    device: str
    engine: str
    precision: str = "fp32"
    """The connection layers' arithmetic (``spikebench.model.network.PRECISIONS``)."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RunSettings:
        """From a validated config, or from ``as_dict``'s output (which is how a rule's params carry it).
        ``ValueError`` naming the key for a NaN or infinity, whoever hands it over."""
        problems = non_finite_errors({section: config.get(section) for section in ("model", "training", "data")})
        if problems:
            raise ValueError("; ".join(problems))
        training = config["training"]
        return cls(
            model=ModelSettings(**config["model"]),
            training=TrainingSettings(**{**training, "adam_betas": tuple(training["adam_betas"])}),
            data=DataSettings(**config["data"]),
            device=config["device"],
            engine=config["engine"],
            precision=config.get("precision", "fp32"),
        )

    def as_dict(self) -> dict[str, Any]:
        """As plain JSON values (the betas a list, as in the config file). ``neuron_params`` only where set, so
        that the fingerprint of a config without it is the one it had before the key existed: results made
        then stay valid; ``precision`` likewise only where it is not fp32."""
        values = dataclasses.asdict(self)
        values["training"]["adam_betas"] = list(self.training.adam_betas)
        if not self.model.neuron_params:
            del values["model"]["neuron_params"]
        if self.precision == "fp32":
            del values["precision"]
        return values


SETTINGS_SECTIONS = tuple(field.name for field in dataclasses.fields(RunSettings))
"""The config keys ``RunSettings`` reads."""
OPTIONAL_SETTINGS = ("precision",)
"""Keys ``RunSettings.as_dict`` leaves out at their default, so that older runs' settings stay valid."""


@dataclass(frozen=True)
class SplitSizes:
    train: int
    validation: int
    test: int


def split_sizes(data: DataSettings, dataset: str) -> SplitSizes:
    """Images per split as a run sees them: the data set's sizes less the validation hold-out, then the limits."""
    spec = DATASETS[dataset]
    train_total, test_total = spec.file("train", "labels").shape[0], spec.file("test", "labels").shape[0]

    def capped(count: int, limit: int | None) -> int:
        return count if limit is None else min(count, limit)

    return SplitSizes(
        capped(train_total - data.validation_size, data.limit_train),
        capped(data.validation_size, data.limit_validation),
        capped(test_total, data.limit_test),
    )
