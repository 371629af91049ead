"""Merge the per-run outputs into the runs, epochs and initial-gradient tables, checking every file.

Merging only reads what each run wrote. A run whose files are absent appears with status ``missing``; runs
that diverged or stayed silent keep their status. Every file's columns and types are checked, and each run's
``summary.json`` must prove that this run made it with this config's settings.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from spikebench.model.topology import LAYER_NAMES
from spikebench.neurons.surrogates import surrogate_width
from spikebench.report.statistics import MISSING, beats_chance
from spikebench.run.contract import (
    EPOCH_COLUMNS,
    EPOCH_TYPES,
    OUTPUT_ACTIVITY,
    WORKLOAD_COLUMNS,
    RunOutputError,
    differing_keys,
    read_summary,
    read_workload,
    settings_fingerprint,
)
from spikebench.study.config import AXES, Run, format_width
from spikebench.study.outcomes import Outcome

log = logging.getLogger(__name__)


class RunFiles(NamedTuple):
    """One run's outputs as the merge reads them (``spikebench.run.contract``); ``benchmark`` is the training
    job's Snakemake benchmark file, if any."""

    epochs: Path
    summary: Path
    workload: Path
    benchmark: Path | None = None


def read_epochs(path: str | Path) -> pd.DataFrame:
    """``epochs.csv`` with its columns checked and typed; ``RunOutputError`` naming the file otherwise."""
    frame = pd.read_csv(path)
    if list(frame.columns) != EPOCH_COLUMNS:
        missing = [c for c in EPOCH_COLUMNS if c not in frame.columns]
        extra = [c for c in frame.columns if c not in EPOCH_COLUMNS]
        raise RunOutputError(f"{path}: columns differ from the expected ones (missing {missing}, unexpected {extra})")
    try:
        return frame.astype(EPOCH_TYPES)
    except (ValueError, TypeError) as error:
        raise RunOutputError(f"{path}: a column has the wrong type ({error})") from error


def read_benchmark_seconds(path: str | Path) -> float:
    """Wall seconds of a job from its Snakemake ``benchmark:`` file (column ``s``)."""
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


VERSIONED = ("spikebench", "torch", "snntorch")
INITIAL_COLUMNS = ("val_acc", "val_loss", *(f"spike_rate_{layer}" for layer in LAYER_NAMES))
"""What the epoch-0 row tells about the untrained network, kept in the runs table as ``initial_<column>``."""


def total_norm(norms: dict[str, float]) -> float:
    """The L2 norm over all parameters, from the norm of each tensor; NaN if none was measured."""
    return float(np.sqrt(np.sum(np.square(list(norms.values()))))) if norms else np.nan


def merge_runs(
    runs: list[Run], files: dict[str, RunFiles], settings: dict
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stack every run's epochs, build one row per expected run (absent runs get status ``missing``) and
    one row per run and parameter tensor of its initial gradient norms. Each run's files must prove that this
    run made them with ``settings`` (``RunSettings.as_dict``; ``check_run_outputs``)."""
    epoch_frames, rows, gradient_rows = [], [], []
    for run in runs:
        paths = files[run.run_id]
        row = run.as_dict()
        if not Path(paths.summary).is_file() or not Path(paths.epochs).is_file():
            log.warning("%s: no outputs at %s; marked missing", run.run_id, paths.summary)
            rows.append({**row, "status": MISSING})
            continue
        epochs = read_epochs(paths.epochs)
        summary = read_summary(paths.summary)
        check_run_outputs(run, settings, summary, epochs, paths)
        epoch_frames.append(epochs)
        row.update(run_row(summary, epochs))
        gradient_rows.extend(
            {**run.as_dict(), "parameter": name, "gradient_norm": norm}
            for name, norm in summary["initial_gradient_norms"].items()
        )
        if Path(paths.workload).is_file():
            row.update(read_workload(paths.workload))
        if paths.benchmark is not None and Path(paths.benchmark).is_file():
            row["job_seconds"] = read_benchmark_seconds(paths.benchmark)
        rows.append(row)
    epochs = pd.concat(epoch_frames, ignore_index=True) if epoch_frames else pd.DataFrame(columns=EPOCH_COLUMNS)
    table = pd.DataFrame(rows)
    for column in RUN_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    table["outcome"] = table.apply(run_outcome, axis=1) if len(table) else pd.Series(dtype=str)
    return epochs, table[RUN_COLUMNS], pd.DataFrame(gradient_rows, columns=INITIAL_GRADIENT_COLUMNS)


FATE_FIELDS = (
    "status",
    "best_epoch",
    "best_val_acc",
    "test_acc_at_best",
    "epochs_run",
    "stopped_early",
    "diverged_epoch",
    "diverged_batch",
    "divergence",
    "wall_seconds",
)
"""What became of a run, as ``summary.json`` says it: copied to the runs table, where they follow the axes."""
COPIED_FIELDS = (
    *FATE_FIELDS,
    "test_samples",
    "optimizer_updates_per_epoch",
    "device",
    "threads",
    "train_samples",
    "validation_samples",
    "validation_majority_rate",
)
"""``summary.json`` fields the runs table keeps as they are."""
BEST_EPOCH_COLUMNS = ("spike_rate_conv1", "spike_rate_conv2", "spike_rate_output", "test_output_spikes")


def run_row(summary: dict, epochs: pd.DataFrame) -> dict:
    """A finished run's columns of the runs table from its ``summary.json`` and ``epochs.csv`` (the workload
    and the job's time aside)."""
    best = epochs[epochs["epoch"] == summary["best_epoch"]]
    initial = epochs[epochs["epoch"] == 0]
    trained = epochs[epochs["epoch"] > 0]
    return {
        **{field: summary[field] for field in COPIED_FIELDS},
        "mean_epoch_seconds": trained["epoch_seconds"].mean() if len(trained) else np.nan,
        "train_samples_per_second": trained["train_samples_per_second"].mean() if len(trained) else np.nan,
        "engine": summary["config"]["engine"],
        "num_classes": summary["data"].get("num_classes", 10),
        **{f"{package}_version": summary["versions"].get(package) for package in VERSIONED},
        **{column: best[column].iloc[0] if len(best) else np.nan for column in BEST_EPOCH_COLUMNS},
        **{f"initial_{column}": initial[column].iloc[0] if len(initial) else np.nan for column in INITIAL_COLUMNS},
        "initial_gradient_norm": total_norm(summary["initial_gradient_norms"]),
        "load_average_1min": (summary.get("load_average") or [np.nan])[0],
        "cpu_count": summary.get("cpu_count") or np.nan,
        "precision": summary.get("precision", "fp32"),
    }


INITIAL_GRADIENT_COLUMNS = ["run_id", *AXES, "parameter", "gradient_norm"]
FRACTIONS = ["train_acc", "val_acc", "test_acc", *(f"spike_rate_{layer}" for layer in LAYER_NAMES)]
"""Columns of ``epochs.csv`` that lie in [0, 1]."""


def check_run_outputs(run: Run, settings: dict, summary: dict, epochs: pd.DataFrame, paths: RunFiles) -> None:
    """That ``summary.json`` and ``epochs.csv`` are this run's, made with ``settings``, and consistent: else
    ``RunOutputError`` naming the file, the field and what to do."""
    rerun = f"; delete {Path(paths.summary).parent} and rerun to train it again"
    for axis, expected in run.as_dict().items():
        if summary[axis] != expected:
            raise RunOutputError(
                f"{paths.summary}: field {axis!r} is {summary[axis]!r}, but this directory is run {run.run_id}'s"
                f" ({axis} {expected!r}){rerun}"
            )
    if summary["settings_hash"] != settings_fingerprint(run.as_dict(), settings):
        changed = differing_keys(settings, summary["config"]) or ["settings_hash"]
        raise RunOutputError(
            f"{paths.summary}: made with other settings than this config's (differing: {', '.join(changed)}){rerun}"
        )
    strangers = sorted(set(epochs["run_id"]) - {run.run_id})
    if strangers:
        raise RunOutputError(f"{paths.epochs}: rows of another run ({', '.join(strangers)}), not {run.run_id}{rerun}")
    numbers = epochs["epoch"].tolist()
    if numbers != list(range(summary["epochs_run"] + 1)):
        raise RunOutputError(
            f"{paths.epochs}: epochs {numbers}, but summary.json says {summary['epochs_run']} epochs after epoch 0"
            f" (duplicate, missing or extra rows){rerun}"
        )
    outside = [column for column in FRACTIONS if not epochs[column].dropna().between(0, 1).all()]
    if outside:
        raise RunOutputError(f"{paths.epochs}: {', '.join(outside)} outside [0, 1]{rerun}")
    if summary["best_epoch"] is not None:
        best = epochs[epochs["epoch"] == summary["best_epoch"]]
        if best.empty or best["val_acc"].item() != summary["best_val_acc"]:
            raise RunOutputError(
                f"{paths.summary}: best_epoch {summary['best_epoch']} and best_val_acc {summary['best_val_acc']}"
                f" do not match {paths.epochs}{rerun}"
            )
        if summary["best_val_acc"] < epochs["val_acc"].max():
            raise RunOutputError(
                f"{paths.summary}: best_val_acc {summary['best_val_acc']} at epoch {summary['best_epoch']} is not the"
                f" best of {paths.epochs} ({epochs['val_acc'].max()} at epoch"
                f" {int(epochs.loc[epochs['val_acc'].idxmax(), 'epoch'])}){rerun}"
            )
        if not math.isclose(best["test_acc"].item(), summary["test_acc_at_best"], rel_tol=1e-9):
            raise RunOutputError(
                f"{paths.summary}: field 'test_acc_at_best' is {summary['test_acc_at_best']}, but {paths.epochs}"
                f" says {best['test_acc'].item()} at epoch {summary['best_epoch']}{rerun}"
            )
    if summary["status"] in ("ok", "silent"):
        trained = epochs[epochs["epoch"] > 0]
        silent = len(trained) > 0 and bool((trained[list(OUTPUT_ACTIVITY)] == 0).all().all())
        if (summary["status"] == "silent") != silent:
            activity = "never fired" if silent else "fired"
            raise RunOutputError(
                f"{paths.summary}: field 'status' is {summary['status']!r}, but the output layer {activity} in"
                f" {paths.epochs}'s trained epochs ({', '.join(OUTPUT_ACTIVITY)}){rerun}"
            )


RUN_COLUMNS = [
    "run_id",
    *AXES,
    "width",
    *FATE_FIELDS,
    "mean_epoch_seconds",
    "train_samples_per_second",
    "job_seconds",
    "engine",
    "precision",
    "device",
    "threads",
    "load_average_1min",
    "cpu_count",
    "spike_rate_conv1",
    "spike_rate_conv2",
    "spike_rate_output",
    "test_output_spikes",
    "train_samples",
    "validation_samples",
    "validation_majority_rate",
    "test_samples",
    "num_classes",
    *(f"{package}_version" for package in VERSIONED),
    "optimizer_updates_per_epoch",
    "outcome",
    *(f"initial_{column}" for column in INITIAL_COLUMNS),
    "initial_gradient_norm",
    *WORKLOAD_COLUMNS,
]


MACHINE_STATE_COLUMNS = (
    "wall_seconds",
    "mean_epoch_seconds",
    "train_samples_per_second",
    "job_seconds",
    "load_average_1min",
)
"""Columns of the runs table that say how long a run took and how busy its machine was: the only ones that
differ between two runs of one grid point with the same settings on the same machine."""


OUTCOMES = tuple(Outcome)
"""What became of a run: ``learned`` (finished, trained beyond the untrained network, and its best validation
accuracy beats the validation split's majority-class share, what a constant answer scores, by a one-sided
binomial test at 5% divided by the epochs it was picked from), or the way it failed. A run whose best
validation epoch is 0 never learned whatever that accuracy: the untrained network was its best, so training
taught it nothing, and its accuracy is the initialisation's (``at_chance``). ``diverged_after_learning``: it
learned, then something became NaN or infinite; a failure like the others (its training did not finish), its
accuracy used nowhere. The test set decides nothing here."""


def run_outcome(row: pd.Series) -> Outcome:
    if row["status"] in (MISSING, "no_gradient", "silent"):
        return Outcome(row["status"])
    trained = row["best_epoch"] >= 1
    learned = trained and beats_chance(
        row["best_val_acc"],
        int(row["validation_samples"]),
        row["validation_majority_rate"],
        evaluations=int(row["epochs_run"]) + 1,
    )
    if row["status"] == "diverged":
        return Outcome.DIVERGED_AFTER_LEARNING if learned else Outcome.DIVERGED
    return Outcome.LEARNED if learned else Outcome.AT_CHANCE


def width_column(runs: pd.DataFrame, surrogate_params: dict[str, dict]) -> list[float]:
    """Each run's surrogate derivative width at half maximum (``spikebench.neurons.surrogate_widths``) to four
    significant digits, as a width study's levels; NaN where it has none."""
    widths = []
    for surrogate, scale in zip(runs["surrogate"], runs["scale"], strict=True):
        width = surrogate_width(surrogate, surrogate_params.get(surrogate), None if pd.isna(scale) else scale)
        widths.append(np.nan if width is None else float(format_width(width)))
    return widths
