"""Statistics a reviewer accepts: every level against its study's pre-specified baseline, paired by seed,
corrected for multiplicity; omnibus tests per factor; failure rates apart from the accuracy of runs that learned.

- **Pairs.** The same seed gives the same initial weights and batch order at every level, so a level is
  compared with the baseline seed by seed: the test accuracies at the best validation epoch of the two runs
  with that seed. A run without an accuracy (missing, or diverged in its first epoch) leaves its pair; the
  failure table counts it.
- **Test.** The paired t-test (``scipy.stats.ttest_rel``) is reported, with its 95% interval of the mean
  difference; the Wilcoxon signed-rank p-value is given beside it as a check that does not assume normal
  differences. The t-test is the one reported because with five seeds the signed-rank test cannot reach 5%
  (its smallest two-sided p-value is 2 / 2^5 = 0.0625), so it could never find a difference.
- **Correction.** Holm's step-down method (``statsmodels``) over every pairwise comparison of a study keeps
  the chance of any false finding in that study at 5% or less.
- **Omnibus.** Per factor and context, Friedman's test over the levels with seeds as blocks (three or more
  levels; with two the pairwise test is the omnibus test).
- **Not testable.** Fewer than two pairs, or differences without spread, give no p-value and the words
  ``not testable``, never "no difference".
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from spikebench.model.registry import NEURON_MODELS, NO_SURROGATE
from spikebench.study.config import format_scale

ALPHA = 0.05
PAIRED_TEST = "paired t"
NOT_TESTABLE = "not testable"
ACCURACY = "test_acc_at_best"
COMPARISON_COLUMNS = [
    "study",
    "dataset",
    "factor",
    "context",
    "level",
    "baseline",
    "n_pairs",
    "baseline_mean",
    "level_mean",
    "mean_difference",
    "ci95_low",
    "ci95_high",
    "test",
    "p_value",
    "p_wilcoxon",
    "p_adjusted",
    "significant",
    "note",
]
OMNIBUS_COLUMNS = ["study", "dataset", "factor", "context", "levels", "n_blocks", "test", "statistic", "p_value"]


def paired_comparison(baseline: pd.Series, level: pd.Series) -> dict:
    """``level`` minus ``baseline`` over the seeds both have an accuracy for (Series indexed by seed)."""
    seeds = sorted(set(baseline.dropna().index) & set(level.dropna().index))
    first, second = baseline.loc[seeds].to_numpy(float), level.loc[seeds].to_numpy(float)
    differences = second - first
    result = {
        "n_pairs": len(seeds),
        "baseline_mean": float(first.mean()) if seeds else np.nan,
        "level_mean": float(second.mean()) if seeds else np.nan,
        "mean_difference": float(differences.mean()) if seeds else np.nan,
        "ci95_low": np.nan,
        "ci95_high": np.nan,
        "p_value": np.nan,
        "p_wilcoxon": np.nan,
    }
    if len(seeds) < 2:
        return {**result, "test": f"{NOT_TESTABLE}: {len(seeds)} pair(s), at least 2 needed"}
    if np.ptp(differences) == 0:
        return {**result, "test": f"{NOT_TESTABLE}: every pair differs by the same amount"}
    t_test = stats.ttest_rel(second, first)
    interval = t_test.confidence_interval(0.95)
    nonzero = differences[differences != 0]
    wilcoxon = stats.wilcoxon(nonzero).pvalue if len(nonzero) else np.nan
    return {
        **result,
        "ci95_low": float(interval.low),
        "ci95_high": float(interval.high),
        "test": PAIRED_TEST,
        "p_value": float(t_test.pvalue),
        "p_wilcoxon": float(wilcoxon),
    }


def friedman(table: pd.DataFrame) -> dict:
    """Friedman's test over the columns (levels) of a seed x level table, on the seeds that have every level."""
    blocks = table.dropna()
    levels = table.shape[1]
    result = {"levels": levels, "n_blocks": len(blocks), "statistic": np.nan, "p_value": np.nan}
    if levels < 3:
        return {**result, "test": "none: two levels, the pairwise comparison is the test"}
    if len(blocks) < 2:
        return {**result, "test": f"{NOT_TESTABLE}: {len(blocks)} seed(s) with every level, at least 2 needed"}
    if (blocks.nunique(axis=1) == 1).all():
        return {**result, "test": f"{NOT_TESTABLE}: every level has the same accuracy"}
    test = stats.friedmanchisquare(*(blocks[column].to_numpy(float) for column in blocks))
    return {**result, "test": "Friedman", "statistic": float(test.statistic), "p_value": float(test.pvalue)}


def _factor_frames(runs: pd.DataFrame, factor: str, baseline: dict) -> Iterator[tuple[pd.DataFrame, str]]:
    """The study's runs as the comparison of ``factor`` sees them, with a note per frame.

    Neuron models without a surrogate (ABSS: surrogate ``none``) enter the neuron comparison at the baseline
    neuron's surrogate; they have no place in the surrogate comparison.
    """
    own_estimator = runs["surrogate"] == NO_SURROGATE
    if factor == "scale":
        yield runs[runs["scale"].notna()], ""
        return
    if factor == "surrogate":
        yield runs[~own_estimator], ""
        return
    if factor != "neuron" or not own_estimator.any():
        yield runs, ""
        return
    surrogates = sorted(set(runs.loc[~own_estimator, "surrogate"]))
    reference = baseline.get("surrogate", surrogates[0] if surrogates else NO_SURROGATE)
    yield runs[~own_estimator], ""
    placed = runs[own_estimator | (runs["surrogate"] == reference)].assign(surrogate=reference)
    yield (
        placed[placed["neuron"].isin([*runs.loc[own_estimator, "neuron"].unique(), baseline["neuron"]])],
        f"has its own gradient estimator (no surrogate); compared with the baseline neuron at surrogate {reference}",
    )


def _level(column: str, value) -> str:
    if column != "scale":
        return str(value)
    return "none" if pd.isna(value) else format_scale(value)


def study_comparisons(
    runs: pd.DataFrame, study: str, baseline: dict, factors: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise comparisons against the baseline (Holm-adjusted over the study) and omnibus tests, for every
    factor of ``factors`` (``spikebench.study.config.study_factors``) with a baseline; ``runs`` holds the
    study's runs (the merged runs table)."""
    rows, omnibus = [], []
    for factor in factors:
        if factor not in baseline:
            continue
        reference = baseline[factor]
        context_columns = ["dataset", *(other for other in factors if other != factor)]
        for frame, note in _factor_frames(runs, factor, baseline):
            for key, group in frame.groupby(context_columns, sort=True, dropna=False):
                values = dict(zip(context_columns, key, strict=True))
                table = group.pivot_table(index="seed", columns=factor, values=ACCURACY, aggfunc="first", dropna=False)
                table = table.reindex(columns=sorted(group[factor].unique()))
                if reference not in table or table.shape[1] < 2:
                    continue
                context = ", ".join(f"{column}={_level(column, values[column])}" for column in context_columns[1:])
                where = {"study": study, "dataset": values["dataset"], "factor": factor, "context": context}
                if not note:
                    omnibus.append({**where, **friedman(table)})
                for level in table.columns:
                    if level == reference:
                        continue
                    comparison = paired_comparison(table[reference], table[level])
                    level_note = note if note and not NEURON_MODELS[level].uses_surrogate else ""
                    rows.append(
                        {
                            **where,
                            "level": _level(factor, level),
                            "baseline": _level(factor, reference),
                            **comparison,
                            "note": level_note,
                        }
                    )
    comparisons = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    comparisons["p_adjusted"] = holm(comparisons["p_value"])
    comparisons["significant"] = comparisons["p_adjusted"] < ALPHA
    return comparisons, pd.DataFrame(omnibus, columns=OMNIBUS_COLUMNS)


def holm(p_values: pd.Series) -> pd.Series:
    """Holm-adjusted p-values of the finite ones; NaN (not testable) stays NaN and is not counted."""
    adjusted = pd.Series(np.nan, index=p_values.index, dtype=float)
    testable = p_values.notna()
    if testable.any():
        adjusted[testable] = multipletests(p_values[testable].to_numpy(float), alpha=ALPHA, method="holm")[1]
    return adjusted


def at_chance(accuracy: float, samples: int, num_classes: int) -> bool:
    """Whether a test accuracy is consistent with guessing: a one-sided binomial test against 1 / classes
    does not reject at 5%."""
    if not samples or not math.isfinite(accuracy):
        return True
    correct = round(accuracy * samples)
    return bool(stats.binomtest(correct, samples, 1 / num_classes, alternative="greater").pvalue >= ALPHA)


def wilson_interval(count: int, total: int) -> tuple[float, float]:
    if total == 0:
        return np.nan, np.nan
    low, high = proportion_confint(count, total, alpha=ALPHA, method="wilson")
    return float(low), float(high)
