"""Statistics a reviewer accepts: two outcomes analysed apart, every level against its study's pre-specified
baseline, a primary family with power and an exploratory one, equivalence and the smallest difference the
design could have seen.

- **Two outcomes.** Whether a run *failed* (any outcome but ``learned``: at chance, silent, no gradient,
  diverged, diverged after learning) is one outcome; the test *accuracy* of runs that learned is the other.
  Failures never enter an accuracy difference: an accuracy pair needs both runs to have learned, and the table
  says how many pairs that left. Missing runs enter neither (they say nothing about the level) and are counted.
- **Blocks.** The same seed gives the same initial weights and batch order at every level, so a level is
  compared with the baseline block by block: runs that share everything but the factor compared.
- **Primary family: main effects.** For each factor a study varies, every level against the baseline over all
  blocks of the data set that share the other factors and the seed (the surrogates study: every neuron model x
  seed is a block, 30 pairs instead of 5), Holm over that factor's levels.
- **Exploratory family: per context.** The same comparison within each combination of the other factors (seeds
  as blocks), Holm over all the study's exploratory comparisons. Only where a study varies other factors.
- **Tests.** Failures: the exact McNemar test on the paired failed/learned table (``statsmodels``), Cochran's Q
  as the omnibus. Accuracy: the paired t-test (``scipy.stats.ttest_rel``) with its 95% interval, clipped to
  the +-100 points the metric allows; the Wilcoxon signed-rank p-value beside it; Friedman as the omnibus.
  With five seeds the signed-rank test cannot reach 5% (its smallest two-sided p-value is 2 / 2^5), so the
  t-test is the one reported. Omnibus p-values are Holm-adjusted within their family and outcome.
- **Equivalence and power.** TOST (``statsmodels.stats.weightstats.ttost_paired``) for a difference within
  the study's ``equivalence_margin``, Holm-adjusted like the difference test; the minimum detectable difference
  at 80% power (``statsmodels.stats.power.TTestPower``) at the family's Bonferroni level (Holm's first step),
  from the observed spread of the differences. Each comparison's verdict is ``different``, ``equivalent``,
  ``inconclusive`` or ``not testable`` (fewer than two pairs, or no spread: no p-value, never "no difference").
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import cochrans_q, mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import ttost_paired

from spikebench.model.registry import NEURON_MODELS, NO_SURROGATE
from spikebench.study.config import SWEEPS, format_level
from spikebench.study.outcomes import Outcome
from spikebench.study.power import ALPHA, detectable_difference

DEFAULT_EQUIVALENCE_MARGIN = 0.005
PAIRED_TEST = "paired t"
NOT_TESTABLE = "not testable"
ACCURACY = "test_acc_at_best"
LEARNED_ACCURACY = "learned_accuracy"
"""The accuracy of a run that learned, NaN for any other outcome: what the accuracy comparisons read."""
LEARNED = Outcome.LEARNED
MISSING = Outcome.MISSING
PRIMARY, EXPLORATORY = "primary", "exploratory"
FAMILIES = (PRIMARY, EXPLORATORY)
VERDICTS = ("different", "equivalent", "inconclusive", NOT_TESTABLE)
NO_LEVEL = "none"
"""How a missing scale or width (a surrogate without one, or no surrogate) is written as a level."""
COMPARISON_COLUMNS = [
    "study",
    "dataset",
    "family",
    "factor",
    "context",
    "level",
    "baseline",
    "n_blocks",
    "baseline_failures",
    "level_failures",
    "failure_difference",
    "p_failure",
    "p_failure_adjusted",
    "failure_differs",
    "n_pairs",
    "baseline_mean",
    "level_mean",
    "mean_difference",
    "ci95_low",
    "ci95_high",
    "sd_difference",
    "test",
    "p_value",
    "p_wilcoxon",
    "p_adjusted",
    "significant",
    "equivalence_margin",
    "p_equivalence",
    "p_equivalence_adjusted",
    "detectable_difference",
    "verdict",
    "note",
]
OMNIBUS_COLUMNS = [
    "study",
    "dataset",
    "family",
    "factor",
    "context",
    "outcome",
    "levels",
    "n_blocks",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
]


def paired_comparison(baseline: pd.Series, level: pd.Series, margin: float = DEFAULT_EQUIVALENCE_MARGIN) -> dict:
    """``level`` minus ``baseline`` accuracy over the blocks both have a value for (aligned Series, one entry per
    block, NaN where the run did not learn or is absent): the paired t-test, its interval within +-1, Wilcoxon
    beside it, and TOST within +-``margin``."""
    first, second = baseline.to_numpy(float), level.to_numpy(float)
    both = ~np.isnan(first) & ~np.isnan(second)
    first, second = first[both], second[both]
    differences, pairs = second - first, int(both.sum())
    result = {
        "n_pairs": pairs,
        "baseline_mean": float(first.mean()) if pairs else np.nan,
        "level_mean": float(second.mean()) if pairs else np.nan,
        "mean_difference": float(differences.mean()) if pairs else np.nan,
        "sd_difference": float(differences.std(ddof=1)) if pairs > 1 else np.nan,
        "ci95_low": np.nan,
        "ci95_high": np.nan,
        "p_value": np.nan,
        "p_wilcoxon": np.nan,
        "p_equivalence": np.nan,
    }
    if pairs < 2:
        return {**result, "test": f"{NOT_TESTABLE}: {pairs} pair(s) where both runs learned, at least 2 needed"}
    if np.ptp(differences) == 0:
        return {
            **result,
            "test": f"{NOT_TESTABLE}: all {pairs} pairs differ by exactly {100 * differences[0]:+.2f} points,"
            " so there is no spread to test against",
        }
    t_test = stats.ttest_rel(second, first)
    interval = t_test.confidence_interval(0.95)
    nonzero = differences[differences != 0]
    return {
        **result,
        "ci95_low": max(float(interval.low), -1.0),
        "ci95_high": min(float(interval.high), 1.0),
        "test": PAIRED_TEST,
        "p_value": float(t_test.pvalue),
        "p_wilcoxon": float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) else np.nan,
        "p_equivalence": float(ttost_paired(second, first, -margin, margin)[0]),
    }


def failure_comparison(baseline: np.ndarray, level: np.ndarray) -> dict:
    """Failure (any outcome but learned) of ``level`` against ``baseline`` over the blocks where both ran (aligned
    arrays of outcomes, one per block; NaN where the grid has no such run): counts and the exact McNemar test on
    the discordant pairs."""
    ran = _ran(baseline) & _ran(level)
    first, second = baseline[ran] != LEARNED, level[ran] != LEARNED
    table = [
        [int((~first & ~second).sum()), int((~first & second).sum())],
        [int((first & ~second).sum()), int((first & second).sum())],
    ]
    blocks = int(ran.sum())
    return {
        "n_blocks": blocks,
        "baseline_failures": int(first.sum()),
        "level_failures": int(second.sum()),
        "failure_difference": float(second.mean() - first.mean()) if blocks else np.nan,
        "p_failure": float(mcnemar(table, exact=True).pvalue) if blocks else np.nan,
    }


def _ran(outcomes: np.ndarray) -> np.ndarray:
    """Whether each block holds a run with outputs (not absent from the grid, not missing)."""
    return np.array([isinstance(outcome, str) and outcome != MISSING for outcome in outcomes], dtype=bool)


def friedman(table: pd.DataFrame) -> dict:
    """Friedman's test over the columns (levels) of a block x level accuracy table, on the blocks that have
    every level."""
    blocks = table.dropna()
    levels = table.shape[1]
    result = {"levels": levels, "n_blocks": len(blocks), "statistic": np.nan, "p_value": np.nan}
    if levels < 3:
        return {**result, "test": "none: two levels, the pairwise comparison is the test"}
    if len(blocks) < 2:
        return {
            **result,
            "test": f"{NOT_TESTABLE}: {len(blocks)} block(s) where every level learned, at least 2 needed",
        }
    if (blocks.nunique(axis=1) == 1).all():
        return {**result, "test": f"{NOT_TESTABLE}: every level has the same accuracy in every block"}
    test = stats.friedmanchisquare(*(blocks[column].to_numpy(float) for column in blocks))
    return {**result, "test": "Friedman", "statistic": float(test.statistic), "p_value": float(test.pvalue)}


def cochran(failed: pd.DataFrame) -> dict:
    """Cochran's Q over the columns (levels) of a block x level table of failures (True / False), on the
    blocks where every level ran."""
    blocks = failed.dropna().astype(int)
    levels = failed.shape[1]
    result = {"levels": levels, "n_blocks": len(blocks), "statistic": np.nan, "p_value": np.nan}
    if levels < 3:
        return {**result, "test": "none: two levels, the pairwise comparison is the test"}
    if len(blocks) < 2:
        return {**result, "test": f"{NOT_TESTABLE}: {len(blocks)} block(s) where every level ran, at least 2 needed"}
    if (blocks.nunique(axis=1) == 1).all():
        every = "failed" if blocks.to_numpy().all() else "learned" if not blocks.to_numpy().any() else "agreed"
        return {**result, "test": f"{NOT_TESTABLE}: within every block, every level {every}"}
    test = cochrans_q(blocks.to_numpy())
    return {**result, "test": "Cochran's Q", "statistic": float(test.statistic), "p_value": float(test.pvalue)}


def _levels_as_text(runs: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """The factor columns as their level names, so that blocks and levels key alike (a missing scale is
    ``none``, scales and widths as the run ids and tables write them)."""
    runs = runs.copy()
    for factor in factors:
        runs[factor] = [NO_LEVEL if pd.isna(value) else format_level(factor, value) for value in runs[factor]]
    return runs


def _factor_frames(runs: pd.DataFrame, factor: str, baseline: dict) -> Iterator[tuple[pd.DataFrame, str]]:
    """The study's runs as the comparison of ``factor`` sees them, with a note per frame.

    Neuron models without a surrogate (ABSS: surrogate ``none``) enter the neuron comparison at the baseline
    neuron's surrogate; they have no place in the surrogate, scale or width comparison.
    """
    own_estimator = runs["surrogate"] == NO_SURROGATE
    if factor in SWEEPS:
        yield runs[runs[factor] != NO_LEVEL], ""
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


def _groups(frame: pd.DataFrame, factor: str, others: list[str], family: str) -> Iterator[tuple[dict, str, list]]:
    """Per family, the groups of runs compared and what makes a block: the primary family pools every
    combination of the other factors (blocks: other factors x seed) per data set; the exploratory family takes
    each combination apart (blocks: seeds)."""
    by = ["dataset"] if family == PRIMARY else ["dataset", *others]
    blocks = [*others, "seed"] if family == PRIMARY else ["seed"]
    for key, group in frame.groupby(by, sort=True):
        values = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        if family == PRIMARY:
            varying = [other for other in others if group[other].nunique() > 1]
            context = f"pooled over {', '.join(varying)} and seed" if varying else "seeds as blocks"
        else:
            context = ", ".join(f"{column}={values[column]}" for column in others)
        yield group, {"dataset": values["dataset"], "context": context}, blocks


def _has_exploratory_family(frame: pd.DataFrame, others: list[str]) -> bool:
    """Per-context comparisons add something only where the other factors take more than one value."""
    return any(frame[other].nunique() > 1 for other in others)


def _level_note(factor: str, level: str, note: str, comparison: dict, accuracy: dict) -> str:
    parts = [note] if note and factor == "neuron" and not NEURON_MODELS[level].uses_surrogate else []
    dropped = comparison["n_blocks"] - accuracy["n_pairs"]
    if dropped:
        parts.append(f"{dropped} of {comparison['n_blocks']} pairs left out of the accuracy: a run did not learn")
    return "; ".join(parts)


def _compare_group(group: pd.DataFrame, factor: str, blocks: list[str], reference: str, margin: float) -> Iterator:
    """Per level, its failure and accuracy comparison with ``reference`` over ``blocks``; then (level None) the
    omnibus tests over all levels."""
    keyed = group.set_index([*blocks, factor])
    outcomes = keyed["outcome"].unstack(factor)
    learned_accuracy = keyed[LEARNED_ACCURACY].unstack(factor)
    for level in sorted(outcomes.columns):
        if level == reference:
            continue
        failures = failure_comparison(outcomes[reference].to_numpy(), outcomes[level].to_numpy())
        accuracy = paired_comparison(learned_accuracy[reference], learned_accuracy[level], margin)
        yield level, failures, accuracy
    yield None, cochran(_failed(outcomes)), friedman(learned_accuracy)


def _failed(outcomes: pd.DataFrame) -> pd.DataFrame:
    """A block x level table of outcomes as failures: True / False where the run ran, NaN where it did not."""
    values = outcomes.to_numpy(object)
    ran = _ran(values.ravel()).reshape(values.shape)
    return pd.DataFrame(np.where(ran, values != LEARNED, np.nan), index=outcomes.index, columns=outcomes.columns)


def study_comparisons(
    runs: pd.DataFrame, study: str, baseline: dict, factors: list[str], margin: float = DEFAULT_EQUIVALENCE_MARGIN
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Comparisons against the baseline in the primary and exploratory families, and the omnibus tests, for
    every factor of ``factors`` (``spikebench.study.config.study_factors``) with a baseline. ``runs`` holds the
    study's runs (the merged runs table: factors, ``seed``, ``outcome``, ``test_acc_at_best``); ``margin`` is
    the equivalence margin as a fraction (0.005 = 0.5 points)."""
    runs = _levels_as_text(runs, factors)
    runs[LEARNED_ACCURACY] = runs[ACCURACY].where(runs["outcome"] == LEARNED)
    rows, omnibus = [], []
    for factor in factors:
        if factor not in baseline:
            continue
        reference = format_level(factor, baseline[factor])
        others = [other for other in factors if other != factor]
        for frame, note in _factor_frames(runs, factor, {**baseline, factor: reference}):
            for family in FAMILIES:
                if family == EXPLORATORY and not _has_exploratory_family(frame, others):
                    continue
                for group, where, blocks in _groups(frame, factor, others, family):
                    if reference not in set(group[factor]) or group[factor].nunique() < 2:
                        continue
                    where = {
                        "study": study,
                        "dataset": where["dataset"],
                        "family": family,
                        "factor": factor,
                        "context": where["context"],
                    }
                    for level, failures, accuracy in _compare_group(group, factor, blocks, reference, margin):
                        if level is None:
                            if not note:
                                omnibus.append({**where, "outcome": "failure", **failures})
                                omnibus.append({**where, "outcome": "accuracy", **accuracy})
                            continue
                        rows.append(
                            {
                                **where,
                                "level": level,
                                "baseline": reference,
                                **failures,
                                **accuracy,
                                "equivalence_margin": margin,
                                "note": _level_note(factor, level, note, failures, accuracy),
                            }
                        )
    comparisons = adjust_families(pd.DataFrame(rows, columns=COMPARISON_COLUMNS))
    overall = pd.DataFrame(omnibus, columns=OMNIBUS_COLUMNS)
    if len(overall):
        overall["p_adjusted"] = overall.groupby(["study", "family", "factor", "outcome"])["p_value"].transform(holm)
    return comparisons, overall


def family_keys(comparisons: pd.DataFrame) -> list[pd.Series]:
    """What makes a Holm family: a study's factor in the primary family, the whole study in the exploratory."""
    factor = comparisons["factor"].where(comparisons["family"] == PRIMARY, "")
    return [comparisons["study"], comparisons["family"], factor]


def adjust_families(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Holm within each family for the difference, equivalence and failure p-values; the detectable
    difference at the family's Bonferroni level; the verdict."""
    if comparisons.empty:
        return comparisons
    grouped = comparisons.groupby(family_keys(comparisons))
    comparisons["p_adjusted"] = grouped["p_value"].transform(holm)
    comparisons["p_equivalence_adjusted"] = grouped["p_equivalence"].transform(holm)
    comparisons["p_failure_adjusted"] = grouped["p_failure"].transform(holm)
    testable = grouped["p_value"].transform(lambda p_values: max(int(p_values.notna().sum()), 1))
    comparisons["detectable_difference"] = [
        detectable_difference(sd, int(pairs), ALPHA / family)
        for sd, pairs, family in zip(comparisons["sd_difference"], comparisons["n_pairs"], testable, strict=True)
    ]
    comparisons["significant"] = comparisons["p_adjusted"] < ALPHA
    comparisons["failure_differs"] = comparisons["p_failure_adjusted"] < ALPHA
    comparisons["verdict"] = [verdict(row) for row in comparisons.to_dict("records")]
    return comparisons


def level_name(factor: str, level) -> str:
    """A level as a sentence names it: swept numbers with their factor (``width 0.1``), names as they are."""
    return f"{factor} {level}" if factor in SWEEPS else str(level)


def verdict(row: dict) -> str:
    if row["test"] != PAIRED_TEST:
        return NOT_TESTABLE
    if row["p_adjusted"] < ALPHA:
        return "different"
    if row["p_equivalence_adjusted"] < ALPHA:
        return "equivalent"
    return "inconclusive"


def holm(p_values: pd.Series) -> pd.Series:
    """Holm-adjusted p-values of the finite ones; NaN (not testable) stays NaN and is not counted."""
    adjusted = pd.Series(np.nan, index=p_values.index, dtype=float)
    testable = p_values.notna()
    if testable.any():
        with _older_objects_frozen():
            adjusted[testable] = multipletests(p_values[testable].to_numpy(float), alpha=ALPHA, method="holm")[1]
    return adjusted


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """statsmodels' Holm ends with a full ``gc.collect()``, which walks every object of the process: 60 ms per
    call in a merge job, 120 ms where torch is loaded, more than the tests around it. Frozen, the existing
    objects are left out of it and afterwards go back to the oldest generation, to be collected as before. A
    process that froze objects itself keeps them frozen."""
    frozen_by_caller = gc.get_freeze_count() > 0
    if not frozen_by_caller:
        gc.freeze()
    try:
        yield
    finally:
        if not frozen_by_caller:
            gc.unfreeze()


def beats_chance(accuracy: float, samples: int, chance: float, evaluations: int = 1) -> bool:
    """Whether an accuracy on ``samples`` images beats ``chance`` (the majority class's share: what a constant
    answer scores) by a one-sided binomial test at 5% / ``evaluations``, since the best of that many evaluated
    epochs was picked."""
    if not samples or not math.isfinite(accuracy) or not math.isfinite(chance):
        return False
    correct = round(accuracy * samples)
    test = stats.binomtest(correct, samples, min(chance, 1.0), alternative="greater")
    return bool(test.pvalue < ALPHA / max(evaluations, 1))


def wilson_interval(count: int, total: int) -> tuple[float, float]:
    if total == 0:
        return np.nan, np.nan
    low, high = proportion_confint(count, total, alpha=ALPHA, method="wilson")
    return float(low), float(high)
