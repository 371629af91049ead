"""The comparisons against simulated truth: under a null grid Holm keeps the family-wise error at 5%, and a
planted difference is found."""

import gc

import numpy as np
import pandas as pd
import pytest

from spikebench.report.findings import FACTOR_NOUNS
from spikebench.report.statistics import friedman, paired_comparison, study_comparisons
from spikebench.study.config import FACTORS

LEVELS = [f"level{index}" for index in range(8)]
SEEDS = 5
REPETITIONS = 400
"""Enough for a simulation error of 1.1 points on a 5% rate."""


@pytest.fixture(autouse=True)
def quick_garbage_collection():
    """statsmodels' Holm runs a full garbage collection per call; with the test process's objects frozen out of
    it (torch, pandas ...), each collection takes a millisecond instead of a tenth of a second."""
    gc.freeze()
    yield
    gc.unfreeze()


def simulated_runs(rng, planted=None):
    """One surrogate study: every level drawn from one distribution (a shared effect per seed, as the same seed
    gives the same initial weights, plus noise), except ``planted`` levels shifted by their value."""
    seed_effect = rng.normal(0, 0.01, SEEDS)
    rows = []
    for level in LEVELS:
        shift = (planted or {}).get(level, 0.0)
        for seed in range(SEEDS):
            rows.append(
                {
                    "run_id": f"mnist-leaky-{level}-bptt-s{seed}",
                    "dataset": "mnist",
                    "neuron": "leaky",
                    "surrogate": level,
                    "backprop": "bptt",
                    "seed": seed,
                    "test_acc_at_best": 0.9 + seed_effect[seed] + shift + rng.normal(0, 0.005),
                }
            )
    return pd.DataFrame(rows)


def test_holm_keeps_the_family_wise_error_at_five_percent_on_null_grids():
    rng = np.random.default_rng(0)
    any_significant, any_raw = 0, 0
    for _ in range(REPETITIONS):
        comparisons, _ = study_comparisons(simulated_runs(rng), "null", {"surrogate": LEVELS[0]}, ["surrogate"])
        assert len(comparisons) == len(LEVELS) - 1 and (comparisons["n_pairs"] == SEEDS).all()
        any_significant += bool(comparisons["significant"].any())
        any_raw += bool((comparisons["p_value"] < 0.05).any())
    rate = any_significant / REPETITIONS
    simulation_error = 3 * np.sqrt(0.05 * 0.95 / REPETITIONS)
    assert rate <= 0.05 + simulation_error, f"family-wise error {rate:.3f}"
    assert any_raw / REPETITIONS > 0.15, "without correction seven comparisons would often find something"


def test_a_planted_difference_is_found_and_the_null_levels_are_not():
    rng = np.random.default_rng(1)
    found, false = 0, 0
    repetitions = 100
    for _ in range(repetitions):
        comparisons, _ = study_comparisons(
            simulated_runs(rng, {"level3": 0.03}), "planted", {"surrogate": "level0"}, ["surrogate"]
        )
        significant = set(comparisons.loc[comparisons["significant"], "level"])
        found += "level3" in significant
        false += bool(significant - {"level3"})
    assert found >= 0.9 * repetitions and false <= 0.1 * repetitions


def test_friedman_sees_a_planted_difference_and_not_a_null():
    rng = np.random.default_rng(2)
    null = simulated_runs(rng).pivot(index="seed", columns="surrogate", values="test_acc_at_best")
    planted = simulated_runs(rng, {level: 0.03 for level in LEVELS[4:]})
    planted = planted.pivot(index="seed", columns="surrogate", values="test_acc_at_best")
    assert friedman(planted)["p_value"] < 0.001
    assert friedman(null)["test"] == "Friedman" and friedman(null)["n_blocks"] == SEEDS


@pytest.mark.parametrize(
    ("baseline", "level", "test"),
    [
        ([0.5], [0.6], "not testable: 1 pair(s), at least 2 needed"),
        ([0.5, 0.6], [0.6, 0.7], "not testable: every pair differs by the same amount"),
        ([0.5, np.nan, 0.6], [0.6, 0.7, np.nan], "not testable: 1 pair(s), at least 2 needed"),
    ],
)
def test_too_few_pairs_are_not_testable(baseline, level, test):
    result = paired_comparison(pd.Series(baseline), pd.Series(level))
    assert result["test"] == test and np.isnan(result["p_value"])


def test_a_scale_sweep_compares_scales_within_each_surrogate_and_surrogates_within_each_scale():
    rng = np.random.default_rng(3)
    rows = []
    for surrogate, scales in (("fast_sigmoid", [5.0, 50.0]), ("atan", [5.0, 50.0]), ("triangular", [np.nan])):
        for scale in scales:
            for seed in range(4):
                rows.append(
                    {
                        "run_id": f"{surrogate}-{scale}-{seed}",
                        "dataset": "mnist",
                        "neuron": "leaky",
                        "surrogate": surrogate,
                        "scale": scale,
                        "backprop": "bptt",
                        "seed": seed,
                        "test_acc_at_best": 0.9 + (0.05 if scale == 5.0 else 0) + rng.normal(0, 0.005),
                    }
                )
    baseline = {"surrogate": "fast_sigmoid", "scale": 50}
    comparisons, _ = study_comparisons(pd.DataFrame(rows), "sweep", baseline, ["surrogate", "scale", "backprop"])
    scale = comparisons[comparisons["factor"] == "scale"].set_index("context")
    assert sorted(scale.index) == ["surrogate=atan, backprop=bptt", "surrogate=fast_sigmoid, backprop=bptt"]
    assert set(scale["level"]) == {"5"} and set(scale["baseline"]) == {"50"} and (scale["n_pairs"] == 4).all()
    assert (scale["mean_difference"] > 0.04).all()
    surrogate = comparisons[comparisons["factor"] == "surrogate"]
    assert set(surrogate["context"]) == {
        "scale=5, backprop=bptt",
        "scale=50, backprop=bptt",
    }
    assert "triangular" not in set(surrogate["level"]), "no run of triangular shares a scale with the baseline"


def test_every_factor_has_words_in_the_findings():
    assert set(FACTOR_NOUNS) == set(FACTORS)
