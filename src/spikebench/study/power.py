"""Design before spending compute: what each study's primary comparisons can detect, and how many seeds a
wanted difference needs.

A primary comparison pairs a level with the baseline over every block that shares the other factors and the
seed (``spikebench.report.statistics``), with Holm over the factor's levels. Its power is that of a paired
t-test on ``blocks per seed x seeds`` pairs at the family's Bonferroni level (Holm's first, strictest step).
The spread of a paired difference is taken as ``seed_sd x sqrt 2``: two runs' independent seed-to-seed
variation. Pairing by seed removes what the two runs share, so this errs on the safe side.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from spikebench.model.registry import NEURON_MODELS
from spikebench.study.config import SWEEPS, selected_studies, study_factors
from spikebench.study.outcomes import Outcome

ALPHA = 0.05
POWER = 0.8
DEFAULT_SEED_SD = 0.002
"""Seed-to-seed standard deviation of the test accuracy assumed when no measured runs say otherwise: 0.2
points, the upper end of what converged MNIST CNNs show (0.1-0.2 points)."""
MOST_SEEDS = 1000
LARGEST_DIFFERENCE = 1.0
"""Accuracies are proportions, so no true difference between two exceeds 1 (100 points): a design whose
detectable difference is larger can detect none (two pairs of very different runs, say)."""


LARGEST_EFFECT = 1e6
"""The largest standardised effect the solver looks for: beyond it a design detects nothing at any accuracy."""
POWER_TOLERANCE = 1e-3


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(256)
_QUANTILES = (_NODES + 1) / 2
"""Gauss-Legendre nodes on (0, 1): the variance's chi-square quantiles the power integral is taken over."""


def paired_t_power(effect: float, pairs: int, alpha: float) -> float:
    """The power of a two-sided paired t-test on ``pairs`` pairs at level ``alpha`` when the true mean difference
    is ``effect`` standard deviations of the differences: the noncentral t's mass beyond both critical values,
    integrated over the quantiles of the variance's chi-square (scipy's noncentral t turns NaN for one degree
    of freedom and large noncentralities, the very cases of 2-3 pairs at small levels)."""
    freedom = pairs - 1
    critical = stats.t.ppf(1 - alpha / 2, freedom)
    noncentrality = effect * math.sqrt(pairs)
    bound = critical * np.sqrt(stats.chi2.ppf(_QUANTILES, freedom) / freedom)
    rejection = stats.norm.sf(bound - noncentrality) + stats.norm.cdf(-bound - noncentrality)
    return float(np.dot(_WEIGHTS, rejection) / 2)


@functools.cache
def detectable_effect(pairs: int, alpha: float, power: float = POWER) -> float:
    """The standardised effect (mean difference / its standard deviation) that a two-sided paired t-test on
    ``pairs`` pairs detects with probability ``power`` at level ``alpha``, solved on the noncentral t with
    Brent's method and checked (the power there within ``POWER_TOLERANCE`` of ``power``); infinite where no
    effect up to ``LARGEST_EFFECT`` reaches that power. (statsmodels' solver stops at a bound without an error
    for 2-3 pairs at small levels, returning effects with 5-17% power.)"""
    upper = 1.0
    while paired_t_power(upper, pairs, alpha) < power:
        upper *= 2
        if upper > LARGEST_EFFECT:
            return math.inf
    effect = optimize.brentq(lambda value: paired_t_power(value, pairs, alpha) - power, 0.0, upper, xtol=1e-12)
    if abs(paired_t_power(effect, pairs, alpha) - power) > POWER_TOLERANCE:
        return math.inf
    return float(effect)


def detectable_difference(sd_difference: float, pairs: int, alpha: float, power: float = POWER) -> float:
    """The smallest true mean difference a two-sided paired t-test on ``pairs`` pairs with this spread of the
    differences finds with probability ``power`` at level ``alpha``; NaN where it is undefined, infinite where
    no difference is detectable (``detects_nothing``)."""
    if pairs < 2 or not math.isfinite(sd_difference) or sd_difference == 0:
        return math.nan
    return detectable_effect(pairs, alpha, power) * sd_difference


def detects_nothing(difference: float) -> bool:
    """Whether a detectable difference lies beyond the accuracy scale (``LARGEST_DIFFERENCE``)."""
    return difference > LARGEST_DIFFERENCE


@dataclass(frozen=True)
class PrimaryFamily:
    """One factor's primary comparisons in one study: each of ``comparisons`` levels against the baseline, on
    ``blocks_per_seed`` blocks per seed."""

    study: str
    factor: str
    baseline: str
    comparisons: int
    blocks_per_seed: int
    seeds: int

    @property
    def level(self) -> float:
        """The family's Bonferroni level: Holm's first step."""
        return ALPHA / self.comparisons

    def detectable(self, seed_sd: float, seeds: int | None = None) -> float:
        pairs = self.blocks_per_seed * (self.seeds if seeds is None else seeds)
        return detectable_difference(seed_sd * math.sqrt(2), pairs, self.level)

    def seeds_needed(self, difference: float, seed_sd: float) -> int | None:
        """The fewest seeds at which ``difference`` is detected with 80% power; None beyond ``MOST_SEEDS``."""
        seeds = next(
            (
                count
                for count in range(1, MOST_SEEDS + 1)
                if self.blocks_per_seed * count >= 2 and self.detectable(seed_sd, count) <= difference
            ),
            None,
        )
        return seeds


def _level_count(study: dict, axis: str, surrogate_taking: bool) -> int:
    values = study.get(axis, [None])
    if axis == "neuron" and surrogate_taking:
        values = [neuron for neuron in values if NEURON_MODELS[neuron].uses_surrogate]
    return len(values)


def primary_families(config: dict) -> list[PrimaryFamily]:
    """The primary family of every factor a selected study compares against a baseline. Blocks per seed count
    the combinations of the other factors; for the surrogate and its scale or width only the neuron models that
    take a surrogate, for a neuron model the pairs it has with a surrogate-taking model."""
    families = []
    for name, study in selected_studies(config).items():
        factors = study_factors(study)
        for factor in factors:
            if factor not in study["baseline"] or len(study[factor]) < 2:
                continue
            surrogate_axis = factor in ("surrogate", *SWEEPS)
            blocks = math.prod(_level_count(study, other, surrogate_axis) for other in factors if other != factor)
            families.append(
                PrimaryFamily(
                    study=name,
                    factor=factor,
                    baseline=str(study["baseline"][factor]),
                    comparisons=len(study[factor]) - 1,
                    blocks_per_seed=blocks,
                    seeds=len(study["seed"]),
                )
            )
    return families


def measured_seed_sd(runs_csv: str | Path) -> tuple[float, int] | None:
    """The pooled within-combination standard deviation of the test accuracy of runs that learned, from a
    merged ``runs.csv``, with its degrees of freedom; None without two learned seeds of any combination."""
    path = Path(runs_csv)
    if not path.is_file():
        return None
    runs = pd.read_csv(path)
    learned = runs[runs["outcome"] == Outcome.LEARNED]
    groups = learned.groupby(["dataset", "neuron", "surrogate", "scale", "backprop"], dropna=False)["test_acc_at_best"]
    squares = groups.apply(lambda values: ((values - values.mean()) ** 2).sum()).sum()
    freedom = int((groups.count() - 1).clip(lower=0).sum())
    if freedom < 1:
        return None
    return math.sqrt(squares / freedom), freedom


def design_lines(config: dict, seed_sd: float, source: str, detect: float | None) -> list[str]:
    """The primary families as a table: comparisons, pairs, what each can detect, and the seeds a wanted
    difference needs (``detect`` and the printed differences in accuracy points)."""
    families = primary_families(config)
    if not families:
        return ["No study compares levels against a baseline: nothing to plan."]
    width = max(len(family.study) for family in families) + 2
    header = f"  {'study':{width}s}{'factor':11s}{'baseline':16s}{'compared':>9s}{'pairs':>7s}{'detectable':>12s}"
    lines = [
        f"Primary comparisons (80% power at Holm's first step; seed-to-seed SD {100 * seed_sd:.2f} points, {source}):",
        header + (f"{f'seeds for {detect:g} pt':>18s}" if detect is not None else ""),
    ]
    for family in families:
        detectable = family.detectable(seed_sd)
        if math.isnan(detectable):
            shown = "too few"
        else:
            shown = "none" if detects_nothing(detectable) else f"{100 * detectable:.2f} pt"
        row = (
            f"  {family.study:{width}s}{family.factor:11s}{family.baseline:16s}{family.comparisons:>9d}"
            f"{family.blocks_per_seed * family.seeds:>7d}{shown:>12s}"
        )
        if detect is not None:
            needed = family.seeds_needed(detect / 100, seed_sd)
            row += f"{needed if needed is not None else f'> {MOST_SEEDS}':>18}"
        lines.append(row)
    lines.append(
        "  pairs: blocks per seed x seeds, before failures (a run that does not learn leaves its pair);"
        " detectable: the smallest true difference in test accuracy found with 80% power (none: not even 100 points)."
    )
    return lines
