"""The report's tables and study figures, one spec each: what the workflow builds, where the report files
them, and (for figures) which function of ``spikebench.report.study_figures`` draws them.

Read by the workflow, which imports neither pandas' plotting nor matplotlib: functions are named, not held.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

FIGURES_MODULE = "spikebench.report.study_figures"


@dataclass(frozen=True)
class TableSpec:
    name: str
    category: str
    """The HTML report's category."""


@dataclass(frozen=True)
class StudyFigureSpec:
    name: str
    category: str
    draw: str
    """Function of ``spikebench.report.study_figures``: tables -> figure."""

    def drawer(self) -> Callable:
        return getattr(importlib.import_module(FIGURES_MODULE), self.draw)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("epochs", "Training"),
        TableSpec("runs", "Training"),
        TableSpec("summary", "Comparison"),
        TableSpec("comparisons", "Comparison"),
        TableSpec("never_learned", "Comparison"),
    )
}

STUDY_FIGURES: dict[str, StudyFigureSpec] = {
    spec.name: spec
    for spec in (
        StudyFigureSpec("accuracy_heatmap", "Comparison", "accuracy_heatmap"),
        StudyFigureSpec("learning_curves", "Training", "learning_curves"),
        StudyFigureSpec("seed_spread", "Comparison", "seed_spread"),
        StudyFigureSpec("surrogate_ranking", "Comparison", "surrogate_ranking"),
        StudyFigureSpec("backprop_comparison", "Comparison", "backprop_comparison"),
        StudyFigureSpec("accuracy_vs_cost", "Cost", "accuracy_vs_cost"),
        StudyFigureSpec("seconds_per_epoch", "Cost", "seconds_per_epoch"),
    )
}
