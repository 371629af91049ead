"""Checkpoint and resume: after every epoch a run saves what it needs to continue exactly where it stopped.

A rerun of a killed job resumes from the last completed epoch and ends with the same results as an
uninterrupted run: the checkpoint holds the weights, the optimizer, every random generator and the training
state. It is loaded with ``weights_only=True``: tensors and plain containers only, no pickled code. A
checkpoint that cannot be read (truncated, garbage, or a planted pickle) never blocks the run: it is moved
aside, kept for inspection, and the run starts afresh, which ends as an uninterrupted run would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from spikebench.run.outputs import atomic_torch_save
from spikebench.run.setup import RunSetup

log = logging.getLogger(__name__)


@dataclass
class TrainingState:
    """Where a run stands after its last completed epoch."""

    epoch: int = 0
    """The last completed training epoch (0: none yet)."""
    rows: list[dict] = field(default_factory=list)
    """One ``epochs.csv`` row per completed epoch, from epoch 0 (the untrained network)."""
    best_val_acc: float = -1.0
    best_epoch: int = 0
    best_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    stopped_early: bool = False
    diverged_epoch: int | None = None
    diverged_batch: int | None = None
    divergence: str | None = None
    """What became non-finite (``spikebench.run.health.DIVERGENCE_SOURCES``)."""
    initial_gradient_norms: dict[str, float] = field(default_factory=dict)
    """Per parameter tensor, the gradient norm of the first optimizer step (before any update)."""
    no_gradient: bool = False
    """Every gradient of epoch 1 was exactly zero."""
    seconds: float = 0.0
    """Wall seconds spent in earlier sessions of this run."""
    discarded_checkpoints: list[str] = field(default_factory=list)
    """Unreadable checkpoints this run moved aside before starting afresh."""

    def as_dict(self) -> dict:
        return {name.name: getattr(self, name.name) for name in fields(self)}


def weights_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the model's state dict on the CPU."""
    return {name: tensor.detach().clone().cpu() for name, tensor in model.state_dict().items()}


def settings_hash(setup: RunSetup) -> str:
    text = json.dumps({"run": setup.run.as_dict(), "settings": setup.settings.as_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


CHECKPOINT_KEYS = ("settings_hash", "model", "optimizer", "generators", "torch_rng", "state")


def move_aside(path: Path) -> Path:
    """Rename ``path`` to a name no later run reads (``checkpoint.pt.unreadable-<time>``); never deleted."""
    kept = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9}")
    os.replace(path, kept)
    return kept


def save_checkpoint(path: Path, setup: RunSetup, state: TrainingState) -> None:
    checkpoint = {
        "settings_hash": settings_hash(setup),
        "model": setup.model.state_dict(),
        "optimizer": setup.optimizer.state_dict(),
        "generators": setup.model.generator_states(),
        "torch_rng": torch.get_rng_state(),
        "state": state.as_dict(),
    }
    atomic_torch_save(checkpoint, path)


def resume(path: Path, setup: RunSetup) -> TrainingState:
    """The state saved at ``path``, with the model, optimizer and generators restored from it; a fresh state
    (the untrained weights as the best so far) if there is no checkpoint or it was written with other settings."""
    fresh = TrainingState(best_weights=weights_of(setup.model))
    if not path.is_file():
        return fresh
    try:
        checkpoint = torch.load(path, map_location=setup.device, weights_only=True)
        readable = isinstance(checkpoint, dict) and set(CHECKPOINT_KEYS) <= set(checkpoint)
        problem = None if readable else "it is not a spikebench checkpoint"
    except Exception as error:  # truncated, garbage and planted files each fail in their own way
        problem = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'}"
    if problem is not None:
        kept = move_aside(path)
        log.warning(
            "%s: cannot resume from %s (%s); moved it to %s and starting afresh", setup.run.run_id, path, problem, kept
        )
        fresh.discarded_checkpoints.append(str(kept))
        return fresh
    if checkpoint["settings_hash"] != settings_hash(setup):
        log.warning("%s: ignoring %s, written with other settings", setup.run.run_id, path)
        return fresh
    setup.model.load_state_dict(checkpoint["model"])
    setup.optimizer.load_state_dict(checkpoint["optimizer"])
    setup.model.set_generator_states(checkpoint["generators"])
    torch.set_rng_state(checkpoint["torch_rng"])
    state = TrainingState(**checkpoint["state"])
    log.info("%s: resuming after epoch %d from %s", setup.run.run_id, state.epoch, path)
    return state
