"""Merge the per-run outputs into tidy tables, and compare neuron models and surrogates over seeds.

Merging only reads what each run wrote. A run whose files are absent appears with status ``missing``; runs
that diverged or stayed silent keep their status. Every file's columns and types are checked.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from spikebench.columns import EPOCH_COLUMNS, STATUSES, WORKLOAD_COLUMNS
from spikebench.config import AXES, Run

log = logging.getLogger(__name__)

MISSING = "missing"
GROUP = ["dataset", "neuron", "surrogate", "backprop"]
CHANCE_MARGIN = 0.05
"""A run 'learned' when its test accuracy exceeds chance (1 / classes) by more than this."""

EPOCH_TYPES = {
    **{column: "string" for column in ("run_id", "dataset", "neuron", "surrogate", "backprop")},
    "seed": "int64",
    "epoch": "int64",
    **{column: "float64" for column in EPOCH_COLUMNS if column not in ("run_id", *AXES, "epoch")},
}
SUMMARY_FIELDS = {
    "status": str,
    "best_epoch": (int, type(None)),
    "best_val_acc": (float, int, type(None)),
    "test_acc_at_best": (float, int, type(None)),
    "epochs_run": int,
    "stopped_early": bool,
    "wall_seconds": (float, int),
}


class MergeError(ValueError):
    """A run's output does not have the expected columns, fields or types."""


def read_epochs(path: str | Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if list(frame.columns) != EPOCH_COLUMNS:
        missing = [c for c in EPOCH_COLUMNS if c not in frame.columns]
        extra = [c for c in frame.columns if c not in EPOCH_COLUMNS]
        raise MergeError(f"{path}: columns differ from the expected ones (missing {missing}, unexpected {extra})")
    try:
        return frame.astype(EPOCH_TYPES)
    except (ValueError, TypeError) as error:
        raise MergeError(f"{path}: a column has the wrong type ({error})") from error


def read_summary(path: str | Path) -> dict:
    summary = json.loads(Path(path).read_text())
    for field, kinds in SUMMARY_FIELDS.items():
        if field not in summary:
            raise MergeError(f"{path}: field {field!r} is missing")
        if not isinstance(summary[field], kinds):
            raise MergeError(f"{path}: field {field!r} is {summary[field]!r}, of the wrong type")
    if summary["status"] not in STATUSES:
        raise MergeError(f"{path}: status {summary['status']!r} is not one of {STATUSES}")
    return summary


def read_benchmark_seconds(path: str | Path) -> float:
    """Wall seconds of a job from its Snakemake ``benchmark:`` file (column ``s``)."""
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


def merge_runs(runs: list[Run], run_dirs: dict[str, Path], benchmark_files: dict[str, Path] | None = None):
    """Stack every run's epochs and build one row per expected run; absent runs get status ``missing``."""
    benchmark_files = benchmark_files or {}
    epoch_frames, rows = [], []
    for run in runs:
        directory = Path(run_dirs[run.run_id])
        row = run.as_dict()
        paths = {name: directory / name for name in ("epochs.csv", "summary.json", "workload.json")}
        if not paths["summary.json"].is_file() or not paths["epochs.csv"].is_file():
            log.warning("%s: no outputs in %s; marked missing", run.run_id, directory)
            rows.append({**row, "status": MISSING})
            continue
        epochs = read_epochs(paths["epochs.csv"])
        summary = read_summary(paths["summary.json"])
        epoch_frames.append(epochs)
        best = epochs[epochs["epoch"] == summary["best_epoch"]]
        row.update(
            status=summary["status"],
            best_epoch=summary["best_epoch"],
            best_val_acc=summary["best_val_acc"],
            test_acc_at_best=summary["test_acc_at_best"],
            epochs_run=summary["epochs_run"],
            stopped_early=summary["stopped_early"],
            diverged_epoch=summary.get("diverged_epoch"),
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
        if paths["workload.json"].is_file():
            workload = json.loads(paths["workload.json"].read_text())
            row.update({column: workload[column] for column in WORKLOAD_COLUMNS})
        if run.run_id in benchmark_files and Path(benchmark_files[run.run_id]).is_file():
            row["job_seconds"] = read_benchmark_seconds(benchmark_files[run.run_id])
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
