"""The comparisons said in words: per study and factor, the omnibus result and the comparisons that survive
Holm's correction, with n and the correction named, generated from ``comparisons.csv`` and ``omnibus.csv``.
Where nothing is testable the sentence says so and draws no conclusion."""

from __future__ import annotations

import pandas as pd

from spikebench.report.statistics import ALPHA, NOT_TESTABLE, PAIRED_TEST


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _where(row: pd.Series) -> str:
    return f"{row['dataset']}, {row['context']}" if row["context"] else row["dataset"]


FACTOR_NOUNS = {
    "neuron": "neuron models",
    "surrogate": "surrogate gradients",
    "scale": "surrogate scales",
    "backprop": "backprop methods",
}


def omnibus_sentences(factor: str, rows: pd.DataFrame) -> list[str]:
    """Friedman's result per context where it ran; one sentence for the contexts where it could not."""
    sentences = [
        f"Friedman test over {int(row['levels'])} {FACTOR_NOUNS[factor]} ({_where(row)}, {int(row['n_blocks'])}"
        f" seeds as blocks): chi-square {row['statistic']:.2f}, p = {row['p_value']:.3g}."
        for _, row in rows[rows["test"] == "Friedman"].iterrows()
    ]
    untestable = rows[rows["test"].str.startswith(NOT_TESTABLE)]
    if len(untestable):
        reason = untestable["test"].iloc[0].removeprefix(f"{NOT_TESTABLE}: ")
        sentences.append(
            f"Friedman test over the {FACTOR_NOUNS[factor]}: not testable in {len(untestable)} context(s) ({reason})."
        )
    return sentences


def pairwise_sentence(factor: str, rows: pd.DataFrame, family: int) -> str:
    baseline = rows["baseline"].iloc[0]
    testable = rows[rows["test"] == PAIRED_TEST]
    if testable.empty:
        pairs = int(rows["n_pairs"].max()) if len(rows) else 0
        return (
            f"{FACTOR_NOUNS[factor].capitalize()}: not testable; at most {pairs} seed(s) pair a level with the"
            f" baseline {baseline}, and at least 2 are needed. These results draw no conclusion about the"
            f" {FACTOR_NOUNS[factor]}."
        )
    significant = testable[testable["significant"].astype(bool)]
    counts = sorted(set(testable["n_pairs"].astype(int)))
    n = f"n = {counts[0]} pairs" if len(counts) == 1 else f"n = {counts[0]} to {counts[-1]} pairs"
    head = (
        f"{FACTOR_NOUNS[factor].capitalize()}, each against the baseline {baseline} (paired t-test by seed, {n}; Holm"
        f" correction over the study's {family} testable comparisons):"
    )
    if significant.empty:
        return (
            f"{head} none of the {len(testable)} comparisons differs at {ALPHA:.0%}. This is an absence of"
            " evidence at this number of seeds, not evidence that the levels perform alike."
        )
    found = "; ".join(
        f"{row['level']} ({_where(row)}) {_points(row['mean_difference'])} points"
        f" (95% CI {_points(row['ci95_low'])} to {_points(row['ci95_high'])}, adjusted p = {row['p_adjusted']:.3g})"
        for _, row in significant.iterrows()
    )
    return f"{head} {len(significant)} of {len(testable)} differ at {ALPHA:.0%}: {found}."


def study_findings(comparisons: pd.DataFrame, omnibus: pd.DataFrame) -> dict[str, list[str]]:
    """Sentences per study, in the order of the tables."""
    studies = list(dict.fromkeys([*omnibus["study"], *comparisons["study"]]))
    findings = {}
    for study in studies:
        pairwise, overall = comparisons[comparisons["study"] == study], omnibus[omnibus["study"] == study]
        family = int((pairwise["test"] == PAIRED_TEST).sum())
        sentences = []
        for factor in dict.fromkeys([*overall["factor"], *pairwise["factor"]]):
            sentences += omnibus_sentences(factor, overall[overall["factor"] == factor])
            rows = pairwise[pairwise["factor"] == factor]
            if len(rows):
                sentences.append(pairwise_sentence(factor, rows, family))
        findings[study] = sentences
    return findings
