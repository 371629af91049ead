"""The study figures and their report categories: read by the workflow (no plotting libraries needed)."""

STUDY_FIGURES: dict[str, str] = {
    "accuracy_heatmap": "Comparison",
    "learning_curves": "Training",
    "seed_spread": "Comparison",
    "surrogate_ranking": "Comparison",
    "backprop_comparison": "Comparison",
    "accuracy_vs_cost": "Cost",
    "seconds_per_epoch": "Cost",
}
