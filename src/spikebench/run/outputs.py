"""Writing a finished run's outputs (``spikebench.run.contract`` names them), each file atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from spikebench.run.contract import EPOCH_COLUMNS, RunSummary, TrainingPaths, check_summary
from spikebench.utils.atomic import atomic_write, atomic_write_text


def atomic_torch_save(obj, path: Path) -> None:
    with atomic_write(path) as out:
        torch.save(obj, out)


def write_training_outputs(
    paths: TrainingPaths, rows: list[dict], best_weights: dict[str, torch.Tensor], summary: RunSummary
) -> None:
    """The best weights (with the run and settings that made them: ``MODEL_KEYS``), one row per epoch and the
    summary; then the checkpoint goes, as the run is done."""
    check_summary(summary, "the summary about to be written")
    identity = {"run_id": summary["run_id"], "settings_hash": summary["settings_hash"]}
    atomic_torch_save({**identity, "state_dict": best_weights}, paths.model)
    frame = pd.DataFrame(rows, columns=EPOCH_COLUMNS)
    atomic_write_text(paths.epochs, frame.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(paths.summary, json.dumps(summary, indent=2) + "\n")
    paths.checkpoint.unlink(missing_ok=True)
