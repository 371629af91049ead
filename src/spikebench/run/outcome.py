"""What became of a run: its status and its ``summary.json`` record, as pure functions of its training state."""

from __future__ import annotations

import os

from spikebench.run.checkpoint import TrainingState
from spikebench.run.contract import OUTPUT_ACTIVITY, RunSummary, settings_fingerprint
from spikebench.run.setup import RunSetup


def best_row(state: TrainingState) -> dict | None:
    """The ``epochs.csv`` row of the best validation epoch, None if no epoch finished."""
    return next((row for row in state.rows if row["epoch"] == state.best_epoch), None)


def classify(state: TrainingState) -> str:
    """``diverged`` if a loss, gradient, weight, optimizer moment or membrane became NaN or infinite;
    ``no_gradient`` if every gradient of epoch 1 was exactly zero (the weights could never change);
    ``silent`` if training ran but the output layer never fired in any trained epoch, on training,
    validation or test images (every prediction is then class 0); ``ok`` otherwise, which includes runs
    that fire but stay at chance (the merge tells those apart)."""
    trained = [row for row in state.rows if row["epoch"] > 0]
    if state.diverged_epoch is not None:
        return "diverged"
    if state.no_gradient:
        return "no_gradient"
    if trained and all(row[column] == 0 for row in trained for column in OUTPUT_ACTIVITY):
        return "silent"
    return "ok"


def build_summary(setup: RunSetup, state: TrainingState, wall_seconds: float) -> RunSummary:
    best = best_row(state)
    environment = setup.environment
    return RunSummary(
        **setup.run.as_dict(),
        settings_hash=settings_fingerprint(setup.run.as_dict(), setup.settings.as_dict()),
        status=classify(state),
        best_epoch=state.best_epoch if best else None,
        best_val_acc=best["val_acc"] if best else None,
        test_acc_at_best=best["test_acc"] if best else None,
        test_output_spikes_at_best=best["test_output_spikes"] if best else None,
        epochs_run=state.epoch,
        optimizer_updates_per_epoch=setup.updates_per_epoch,
        stopped_early=state.stopped_early,
        diverged_epoch=state.diverged_epoch,
        diverged_batch=state.diverged_batch,
        divergence=state.divergence,
        initial_gradient_norms=state.initial_gradient_norms,
        wall_seconds=wall_seconds,
        train_samples=len(setup.splits["train"]),
        validation_samples=len(setup.splits["validation"]),
        test_samples=len(setup.splits["test"]),
        validation_majority_rate=setup.splits["validation"].majority_rate,
        config=setup.settings.as_dict(),
        data=setup.data_metadata,
        versions=environment.versions,
        threads=environment.threads,
        keeps_freed_memory=environment.keeps_freed_memory,
        device=environment.device,
        device_name=environment.device_name,
        discarded_checkpoints=state.discarded_checkpoints,
        load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        cpu_count=os.cpu_count(),
        precision=setup.settings.precision,
        native_neuron_kernels=environment.native_neuron_kernels,
    )
