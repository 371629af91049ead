"""Merge the per-run outputs into tidy tables, and compare neuron models and surrogates over seeds.

Merging only reads what each run wrote. A run whose files are absent appears with status ``missing``; runs
that diverged or stayed silent keep their status. Every file's columns and types are checked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from spikebench.run.contract import (
    EPOCH_COLUMNS,
    EPOCH_TYPES,
    WORKLOAD_COLUMNS,
    RunOutputError,
    read_summary,
    read_workload,
)
from spikebench.study.config import AXES, Run
from spikebench.utils.atomic import atomic_write

log = logging.getLogger(__name__)

MISSING = "missing"
GROUP = ["dataset", "neuron", "surrogate", "backprop"]
CHANCE_MARGIN = 0.05
"""A run 'learned' when its test accuracy exceeds chance (1 / classes) by more than this."""


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


def merge_runs(runs: list[Run], files: dict[str, RunFiles]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack every run's epochs and build one row per expected run; absent runs get status ``missing``."""
    epoch_frames, rows = [], []
    for run in runs:
        paths = files[run.run_id]
        row = run.as_dict()
        if not Path(paths.summary).is_file() or not Path(paths.epochs).is_file():
            log.warning("%s: no outputs at %s; marked missing", run.run_id, paths.summary)
            rows.append({**row, "status": MISSING})
            continue
        epochs = read_epochs(paths.epochs)
        summary = read_summary(paths.summary)
        epoch_frames.append(epochs)
        best = epochs[epochs["epoch"] == summary["best_epoch"]]
        row.update(
            status=summary["status"],
            best_epoch=summary["best_epoch"],
            best_val_acc=summary["best_val_acc"],
            test_acc_at_best=summary["test_acc_at_best"],
            epochs_run=summary["epochs_run"],
            stopped_early=summary["stopped_early"],
            diverged_epoch=summary["diverged_epoch"],
            wall_seconds=summary["wall_seconds"],
            mean_epoch_seconds=epochs["epoch_seconds"].mean() if len(epochs) else np.nan,
            train_samples_per_second=epochs["train_samples_per_second"].mean() if len(epochs) else np.nan,
            engine=summary["config"]["engine"],
            device=summary["device"],
            threads=summary["threads"],
            **{
                column: best[column].iloc[0] if len(best) else np.nan
                for column in ("spike_rate_conv1", "spike_rate_conv2", "spike_rate_output", "test_output_spikes")
            },
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
    return epochs, table[RUN_COLUMNS]


RUN_COLUMNS = [
    "run_id",
    *AXES,
    "status",
    "best_epoch",
    "best_val_acc",
    "test_acc_at_best",
    "epochs_run",
    "stopped_early",
    "diverged_epoch",
    "wall_seconds",
    "mean_epoch_seconds",
    "train_samples_per_second",
    "job_seconds",
    "engine",
    "device",
    "threads",
    "spike_rate_conv1",
    "spike_rate_conv2",
    "spike_rate_output",
    "test_output_spikes",
    *WORKLOAD_COLUMNS,
]


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """Half-width of the 95% t confidence interval of the mean, and the mean."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else np.nan
    if len(values) < 2:
        return np.nan, mean
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))), mean


def summarize(runs: pd.DataFrame, num_classes: int = 10) -> pd.DataFrame:
    """Per dataset x neuron x surrogate x backprop: seeds, mean, std and 95% CI of test accuracy, and costs."""
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        finished = group[group["status"] != MISSING]
        accuracy = finished["test_acc_at_best"].dropna().to_numpy(dtype=float)
        half_width, mean = t_interval(accuracy)
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "runs": len(group),
                "seeds": len(accuracy),
                "ok": int((group["status"] == "ok").sum()),
                "diverged": int((group["status"] == "diverged").sum()),
                "silent": int((group["status"] == "silent").sum()),
                "missing": int((group["status"] == MISSING).sum()),
                "test_acc_mean": mean,
                "test_acc_std": float(accuracy.std(ddof=1)) if len(accuracy) > 1 else np.nan,
                "test_acc_ci95_low": mean - half_width,
                "test_acc_ci95_high": mean + half_width,
                "learned": bool(len(accuracy) and mean > 1 / num_classes + CHANCE_MARGIN),
                "mean_epochs_to_best": float(finished["best_epoch"].mean()),
                "mean_seconds_per_epoch": float(finished["mean_epoch_seconds"].mean()),
                "activation_sparsity": float(finished["activation_sparsity"].mean()),
                "effective_acs": float(finished["effective_acs"].mean()),
                "effective_macs": float(finished["effective_macs"].mean()),
            }
        )
    return pd.DataFrame(rows)


def paired_comparisons(runs: pd.DataFrame, factor: str, within: list[str]) -> pd.DataFrame:
    """Each level of ``factor`` against the best level (highest mean test accuracy) within each ``within`` group.

    Differences are paired by seed (the same seed gives the same initial weights and batch order), with a
    95% t interval of the mean paired difference and a paired t-test; ``larger_than_seed_noise`` is true
    when the interval excludes zero.
    """
    finished = runs[runs["status"] != MISSING].dropna(subset=["test_acc_at_best"])
    rows = []
    for key, group in finished.groupby(within, sort=True):
        means = group.groupby(factor)["test_acc_at_best"].mean().sort_values(ascending=False)
        if len(means) < 2:
            continue
        best = means.index[0]
        best_by_seed = group[group[factor] == best].set_index("seed")["test_acc_at_best"]
        for rank, (level, mean) in enumerate(means.items(), start=1):
            by_seed = group[group[factor] == level].set_index("seed")["test_acc_at_best"]
            seeds = sorted(set(by_seed.index) & set(best_by_seed.index))
            differences = (by_seed.loc[seeds] - best_by_seed.loc[seeds]).to_numpy(dtype=float)
            half_width, mean_difference = t_interval(differences)
            p_value = np.nan
            if level != best and len(differences) >= 2 and np.ptp(differences) > 0:
                p_value = float(stats.ttest_1samp(differences, 0.0).pvalue)
            rows.append(
                {
                    **dict(zip(within, key if isinstance(key, tuple) else (key,), strict=True)),
                    "factor": factor,
                    "level": level,
                    "rank": rank,
                    "best": best,
                    "mean_test_acc": float(mean),
                    "paired_seeds": len(seeds),
                    "difference_to_best": mean_difference,
                    "ci95_low": mean_difference - half_width,
                    "ci95_high": mean_difference + half_width,
                    "p_value": p_value,
                    "larger_than_seed_noise": bool(
                        level != best and np.isfinite(half_width) and mean_difference + half_width < 0
                    ),
                }
            )
    return pd.DataFrame(rows, columns=[*within, *COMPARISON_COLUMNS])


COMPARISON_COLUMNS = [
    "factor",
    "level",
    "rank",
    "best",
    "mean_test_acc",
    "paired_seeds",
    "difference_to_best",
    "ci95_low",
    "ci95_high",
    "p_value",
    "larger_than_seed_noise",
]


def never_learned(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Combinations whose mean test accuracy stayed at chance, with the reason the data shows."""
    rows = []
    for _, combination in summary[~summary["learned"]].iterrows():
        group = runs
        for column in GROUP:
            group = group[group[column] == combination[column]]
        rows.append({**{column: combination[column] for column in GROUP}, "reason": _reason(group)})
    return pd.DataFrame(rows, columns=[*GROUP, "reason"])


def _reason(group: pd.DataFrame) -> str:
    statuses = group["status"].value_counts()
    if statuses.get(MISSING, 0) == len(group):
        return "no run finished (outputs missing)"
    if statuses.get("diverged", 0):
        epochs = ", ".join(str(int(e)) for e in group["diverged_epoch"].dropna())
        return (
            f"the loss became NaN or infinite (diverged in epoch {epochs})"
            f" in {statuses['diverged']} of {len(group)} runs"
        )
    if statuses.get("silent", 0) == len(group):
        if (group["spike_rate_conv2"] == 0).all():
            return (
                "the second spiking layer never fired, so nothing reached the output layer: every prediction is class 0"
            )
        return "the output layer never spiked, so every prediction is class 0"
    if (group["spike_rate_output"] == 0).all():
        return "the output layer never spiked during training, so no gradient reached the weights"
    return "the output layer spiked but accuracy stayed at chance"


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_write(path, "w") as stream:
        frame.to_csv(stream, index=False, float_format="%.10g")


def build_tables(runs: list[dict], files: list[RunFiles], out: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Write the tables of ``spikebench.report.registry.TABLES`` (paths in ``out``) from the runs' own
    outputs; ``files`` holds each run's files, in the order of ``runs``."""
    expected = [Run.from_dict(run) for run in runs]
    if len(files) != len(expected):
        raise ValueError(f"{len(expected)} runs but output files of {len(files)}")
    epochs, run_table = merge_runs(expected, {run.run_id: paths for run, paths in zip(expected, files, strict=True)})
    summary = summarize(run_table)
    comparisons = pd.concat(
        [
            paired_comparisons(run_table, "surrogate", ["dataset", "neuron", "backprop"]),
            paired_comparisons(run_table, "neuron", ["dataset", "surrogate", "backprop"]),
        ],
        ignore_index=True,
    )[[*GROUP, *COMPARISON_COLUMNS]]
    frames = {
        "epochs": epochs,
        "runs": run_table,
        "summary": summary,
        "comparisons": comparisons,
        "never_learned": never_learned(summary, run_table),
    }
    for name, frame in frames.items():
        write_csv(frame, out[name])
    log.info(
        "%d runs (%s), %d epochs, %d combinations, %d never learned",
        len(run_table),
        ", ".join(f"{count} {status}" for status, count in run_table["status"].value_counts().items()),
        len(epochs),
        len(summary),
        len(frames["never_learned"]),
    )
    return frames


def read_tables(paths: dict[str, str]) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(path) for name, path in paths.items()}
