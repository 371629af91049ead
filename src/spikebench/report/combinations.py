"""Per combination of the grid (``GROUP``: everything but the seed): how many runs failed and how, the test
accuracy of the runs that learned, and, for combinations none of whose runs learned, why."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from spikebench.report.merge import OUTCOMES
from spikebench.report.statistics import MISSING, wilson_interval
from spikebench.study.outcomes import Outcome

GROUP = ["dataset", "neuron", "surrogate", "scale", "backprop"]


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """Half-width of the 95% t confidence interval of the mean, and the mean."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else np.nan
    if len(values) < 2:
        return np.nan, mean
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))), mean


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x neuron x surrogate x backprop: how many runs failed (with a Wilson 95% interval of the
    failure rate) and how, and the test accuracy over the runs that learned only, with their count."""
    rows = []
    for key, group in runs.groupby(GROUP, sort=True, dropna=False):
        outcomes = group["outcome"].value_counts()
        learned = group[group["outcome"] == Outcome.LEARNED]
        accuracy = learned["test_acc_at_best"].to_numpy(dtype=float)
        half_width, mean = t_interval(accuracy)
        failures = len(group) - len(learned)
        failure_low, failure_high = wilson_interval(failures, len(group))
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "width": group["width"].iloc[0],
                "runs": len(group),
                "learned_runs": len(learned),
                "failures": failures,
                "failure_rate": failures / len(group),
                "failure_rate_ci95_low": failure_low,
                "failure_rate_ci95_high": failure_high,
                **{outcome: int(outcomes.get(outcome, 0)) for outcome in OUTCOMES[1:]},
                "test_acc_mean": mean,
                "test_acc_std": float(accuracy.std(ddof=1)) if len(accuracy) > 1 else np.nan,
                "test_acc_ci95_low": mean - half_width,
                "test_acc_ci95_high": mean + half_width,
                "learned": bool(len(learned)),
                "mean_epochs_to_best": float(learned["best_epoch"].mean()),
                "mean_seconds_per_epoch": float(group["mean_epoch_seconds"].mean()),
                "optimizer_updates_per_epoch": float(group["optimizer_updates_per_epoch"].mean()),
                "activation_sparsity": float(learned["activation_sparsity"].mean()),
                "effective_acs": float(learned["effective_acs"].mean()),
                "effective_macs": float(learned["effective_macs"].mean()),
            }
        )
    return pd.DataFrame(rows)


def never_learned(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Combinations none of whose runs learned, with the reason the data shows."""
    rows = []
    for _, combination in summary[~summary["learned"]].iterrows():
        group = runs
        for column in GROUP:
            same = group[column].isna() if pd.isna(combination[column]) else group[column] == combination[column]
            group = group[same]
        rows.append({**{column: combination[column] for column in GROUP}, "reason": _reason(group)})
    return pd.DataFrame(rows, columns=[*GROUP, "reason"])


def _reason(group: pd.DataFrame) -> str:
    statuses = group["status"].value_counts()
    if statuses.get(MISSING, 0) == len(group):
        return "no run finished (outputs missing)"
    if statuses.get("diverged", 0):
        diverged = group[group["status"] == "diverged"]
        where = "; ".join(
            f"the {row.divergence} became NaN or infinite in epoch {int(row.diverged_epoch)},"
            f" batch {int(row.diverged_batch)}"
            for row in diverged.itertuples()
        )
        return f"diverged in {len(diverged)} of {len(group)} runs: {where}"
    if statuses.get("no_gradient", 0) == len(group):
        return (
            "every gradient was exactly zero through epoch 1 (initial gradient norm 0): the surrogate passes no"
            " gradient at the untrained network's membrane potentials, so the weights could never change"
        )
    if statuses.get("silent", 0) == len(group):
        if (group["spike_rate_conv2"] == 0).all():
            return (
                "the second spiking layer never fired, so nothing reached the output layer: every prediction is class 0"
            )
        return "the output layer never spiked, so every prediction is class 0"
    if (group["spike_rate_output"] == 0).all():
        return "the output layer never spiked during training, so no gradient reached the weights"
    return (
        "the output layer spiked but the best validation accuracy did not beat the majority class's share"
        " (one-sided binomial test)"
    )
