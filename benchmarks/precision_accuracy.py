"""Does bf16 answer the same question as fp32? Pairs the runs of two runs tables made from one grid in the two
precisions (config/precision.yaml, then with config/precision_bf16.yaml) and prints, per grid point, both
test accuracies and fates; then, over the pairs where both runs learned, the mean paired difference
(bf16 - fp32, percentage points) with its 95% t interval and the paired t-test, and whether the fates agree.

    python benchmarks/precision_accuracy.py results/precision/tables/runs.csv \\
                                            results/precision_bf16/tables/runs.csv

The last line is JSON with the same numbers.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
from scipy import stats

from spikebench.report.combinations import t_interval
from spikebench.report.statistics import LEARNED
from spikebench.study.config import AXES

PRECISIONS = ("fp32", "bf16")


def paired_runs(fp32: pd.DataFrame, bf16: pd.DataFrame) -> pd.DataFrame:
    """One row per grid point both tables hold: each precision's test accuracy and outcome."""
    keys = [axis for axis in AXES if axis in fp32.columns]
    columns = [*keys, "test_acc_at_best", "outcome"]
    return fp32[columns].merge(bf16[columns], on=keys, suffixes=("_fp32", "_bf16"), validate="one_to_one")


def compare(pairs: pd.DataFrame) -> dict:
    learned = pairs[(pairs["outcome_fp32"] == LEARNED) & (pairs["outcome_bf16"] == LEARNED)]
    differences = 100 * (learned["test_acc_at_best_bf16"] - learned["test_acc_at_best_fp32"])
    half_width, mean = t_interval(differences.to_numpy())
    p_value = stats.ttest_rel(learned["test_acc_at_best_bf16"], learned["test_acc_at_best_fp32"]).pvalue
    return {
        "pairs": len(pairs),
        "pairs_both_learned": len(learned),
        "fates_agree": int((pairs["outcome_fp32"] == pairs["outcome_bf16"]).sum()),
        "mean_difference_points": mean,
        "ci95_low_points": mean - half_width,
        "ci95_high_points": mean + half_width,
        "paired_t_p_value": float(p_value) if len(learned) >= 2 else None,
        "mean_fp32_percent": 100 * learned["test_acc_at_best_fp32"].mean(),
        "mean_bf16_percent": 100 * learned["test_acc_at_best_bf16"].mean(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fp32_runs", help="runs.csv of the fp32 grid")
    parser.add_argument("bf16_runs", help="runs.csv of the same grid in bf16")
    args = parser.parse_args()
    pairs = paired_runs(pd.read_csv(args.fp32_runs), pd.read_csv(args.bf16_runs))
    shown = pairs.assign(
        **{f"test % {name}": 100 * pairs[f"test_acc_at_best_{name}"] for name in PRECISIONS},
    ).drop(columns=[f"test_acc_at_best_{name}" for name in PRECISIONS])
    print(shown.to_string(index=False, float_format=lambda value: f"{value:.2f}"))
    result = compare(pairs)
    print(
        f"\n{result['pairs_both_learned']} of {result['pairs']} pairs both learned; fates agree in"
        f" {result['fates_agree']}. bf16 - fp32: {result['mean_difference_points']:+.2f} points"
        f" (95% CI {result['ci95_low_points']:+.2f} to {result['ci95_high_points']:+.2f}),"
        f" paired t p = {result['paired_t_p_value']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
