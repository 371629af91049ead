"""The comparisons said in words, from ``comparisons.csv`` and ``omnibus.csv``: per study, the primary family
factor by factor (failures, then accuracy: each level different by d [CI], equivalent within +-m, or
inconclusive with the smallest difference the design could have seen), then what the exploratory family found.
Where nothing is testable the sentence says why and draws no conclusion."""

from __future__ import annotations

import math

import pandas as pd

from spikebench.report.statistics import ALPHA, EXPLORATORY, NOT_TESTABLE, PRIMARY, level_name
from spikebench.study.power import POWER, detects_nothing

FACTOR_NOUNS = {
    "neuron": "neuron models",
    "surrogate": "surrogate gradients",
    "scale": "surrogate scales",
    "width": "surrogate widths",
    "backprop": "backprop methods",
}


def _points(value: float, sign: bool = True) -> str:
    return f"{100 * value:+.2f}" if sign else f"{100 * value:.2f}"


def _reason(test: str) -> str:
    return test.removeprefix(f"{NOT_TESTABLE}: ")


def omnibus_sentences(rows: pd.DataFrame) -> list[str]:
    """The primary family's omnibus tests, one sentence per outcome, with the Holm-adjusted p-value."""
    sentences = []
    for _, row in rows.iterrows():
        what = "failure rates" if row["outcome"] == "failure" else "accuracy of runs that learned"
        if row["test"].startswith(NOT_TESTABLE):
            sentences.append(f"Omnibus test of the {what}: not testable ({_reason(row['test'])}).")
            continue
        if row["test"].startswith("none"):
            continue
        sentences.append(
            f"{row['test']} over {int(row['levels'])} levels, {what} ({int(row['n_blocks'])} blocks): statistic"
            f" {row['statistic']:.2f}, p = {row['p_value']:.3g} (Holm-adjusted {row['p_adjusted']:.3g})."
        )
    return sentences


def failure_sentence(rows: pd.DataFrame) -> str:
    """Which levels fail more or less often than the baseline (exact McNemar, Holm within the family)."""
    ran = rows[rows["n_blocks"] > 0]
    if ran.empty:
        return "Failures: no block holds a run of both a level and the baseline, so failure rates are not compared."
    differing = ran[ran["failure_differs"].astype(bool)]
    counts = "; ".join(
        f"{_name(row)} {int(row['level_failures'])} of {int(row['n_blocks'])}" for _, row in ran.iterrows()
    )
    baseline = ran.iloc[0]
    head = (
        f"Failures (exact McNemar test, Holm within the family): the baseline failed in"
        f" {int(baseline['baseline_failures'])} of {int(baseline['n_blocks'])} blocks; {counts}."
    )
    if differing.empty:
        needed = blocks_for_a_failure_finding(len(ran))
        if ran["n_blocks"].max() < needed:
            return (
                f"{head} No level's failure rate differs from the baseline's at {ALPHA:.0%}, and with"
                f" {int(ran['n_blocks'].max())} block(s) none could have: the exact test needs at least {needed}"
                " blocks, each failing for one of the two, to reach it after Holm. This draws no conclusion about"
                " the failure rates."
            )
        return f"{head} No level's failure rate differs from the baseline's at {ALPHA:.0%}."
    found = "; ".join(
        f"{_name(row)} fails {'more' if row['failure_difference'] > 0 else 'less'} often"
        f" ({_points(row['failure_difference'])} points of failure rate, adjusted p = {row['p_failure_adjusted']:.3g})"
        for _, row in differing.iterrows()
    )
    return f"{head} Differing at {ALPHA:.0%}: {found}."


def _name(row: pd.Series) -> str:
    return level_name(row["factor"], row["level"])


def blocks_for_a_failure_finding(comparisons: int) -> int:
    """The fewest blocks with which the exact McNemar test can reach ``ALPHA`` at Holm's first step over
    ``comparisons`` levels: its smallest p-value, every block discordant one way, is 2 / 2^blocks."""
    return math.floor(math.log2(2 * comparisons / ALPHA)) + 1


def level_phrase(row: pd.Series) -> str:
    """One level's accuracy verdict in words."""
    pairs = f"{int(row['n_pairs'])} pairs"
    if row["verdict"] == NOT_TESTABLE:
        return f"{_name(row)}: not testable ({_reason(row['test'])})"
    if row["verdict"] == "different":
        return (
            f"{_name(row)}: different, {_points(row['mean_difference'])} points (95% CI"
            f" {_points(row['ci95_low'])} to {_points(row['ci95_high'])}; {pairs},"
            f" adjusted p = {row['p_adjusted']:.3g})"
        )
    if row["verdict"] == "equivalent":
        return (
            f"{_name(row)}: equivalent within +-{_points(row['equivalence_margin'], False)} points"
            f" ({_points(row['mean_difference'])} points; {pairs},"
            f" TOST adjusted p = {row['p_equivalence_adjusted']:.3g})"
        )
    detectable = _points(row["detectable_difference"], False)
    if detects_nothing(row["detectable_difference"]):
        cost = (
            f": it would take {detectable} points, more than the 100-point scale allows"
            if math.isfinite(row["detectable_difference"])
            else ""
        )
        power = f"with this spread the design detects no difference in accuracy with {POWER:.0%} power{cost}"
    else:
        power = f"the smallest difference this design detects with {POWER:.0%} power is {detectable} points"
    return f"{_name(row)}: inconclusive ({_points(row['mean_difference'])} points, {pairs}; {power})"


def accuracy_sentence(factor: str, rows: pd.DataFrame) -> str:
    baseline = rows["baseline"].iloc[0]
    sentence = (
        f"Accuracy of runs that learned, against {baseline} (pairs where both learned; paired t-test, TOST and"
        f" Holm within the family): " + "; ".join(level_phrase(row) for _, row in rows.iterrows()) + "."
    )
    if (rows["verdict"] == NOT_TESTABLE).all():
        sentence += f" These results draw no conclusion about the accuracy of the {FACTOR_NOUNS[factor]}."
    return sentence


def primary_sentences(factor: str, rows: pd.DataFrame, omnibus: pd.DataFrame) -> list[str]:
    head = rows.iloc[0]
    intro = (
        f"Primary: {FACTOR_NOUNS[factor]} against the baseline {level_name(factor, head['baseline'])}"
        f" ({head['dataset']},"
        f" {head['context']}; {len(rows)} comparison(s))."
    )
    return [intro, *omnibus_sentences(omnibus), failure_sentence(rows), accuracy_sentence(factor, rows)]


def exploratory_sentence(rows: pd.DataFrame) -> str:
    """How the study's exploratory comparisons came out, naming the ones that differ."""
    counts = rows["verdict"].value_counts()
    summary = ", ".join(f"{int(counts[verdict])} {verdict}" for verdict in counts.index)
    different = rows[rows["verdict"] == "different"]
    failing = rows[rows["failure_differs"].astype(bool)]
    sentence = (
        f"Exploratory (each level against the baseline within each context, seeds as blocks; Holm over the study's"
        f" {len(rows)} exploratory comparisons): accuracy {summary}"
    )
    if len(different):
        sentence += "; differing: " + "; ".join(
            f"{_name(row)} ({row['context']}) {_points(row['mean_difference'])} points"
            for _, row in different.iterrows()
        )
    if len(failing):
        sentence += "; failure rate differs: " + "; ".join(
            f"{_name(row)} ({row['context']})" for _, row in failing.iterrows()
        )
    return sentence + ". Hypotheses for a next study, not conclusions."


def study_findings(comparisons: pd.DataFrame, omnibus: pd.DataFrame) -> dict[str, list[str]]:
    """Sentences per study, in the order of the tables."""
    studies = list(dict.fromkeys([*omnibus["study"], *comparisons["study"]]))
    findings = {}
    for study in studies:
        pairwise, overall = comparisons[comparisons["study"] == study], omnibus[omnibus["study"] == study]
        primary = pairwise[pairwise["family"] == PRIMARY]
        sentences = []
        for (factor, dataset), rows in primary.groupby(["factor", "dataset"], sort=False):
            tests = overall[
                (overall["family"] == PRIMARY) & (overall["factor"] == factor) & (overall["dataset"] == dataset)
            ]
            for context, context_rows in rows.groupby("context", sort=False):
                sentences += primary_sentences(factor, context_rows, tests[tests["context"] == context])
        exploratory = pairwise[pairwise["family"] == EXPLORATORY]
        if len(exploratory):
            sentences.append(exploratory_sentence(exploratory))
        findings[study] = sentences
    return findings
