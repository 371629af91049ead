"""The report's tables and study figures, one spec each: what the workflow builds, where the report files
them, and (for figures) which function of ``spikebench.report.study_figures`` draws them.

Read by the workflow, which imports neither pandas' plotting nor matplotlib: functions are named, not held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spikebench.utils.registry import by_name, resolve

FIGURES_MODULE = "spikebench.report.study_figures"


@dataclass(frozen=True)
class ReportEntry:
    """A table or figure of the report: its name, and the HTML report's category that files it."""

    name: str
    category: str


@dataclass(frozen=True)
class StudyFigureSpec(ReportEntry):
    draw: str
    """Function of ``spikebench.report.study_figures``: tables -> figure."""

    def drawer(self) -> Callable:
        return resolve(FIGURES_MODULE, self.draw)


TABLES: dict[str, ReportEntry] = by_name(
    ReportEntry("studies", "Comparison"),
    ReportEntry("epochs", "Training"),
    ReportEntry("runs", "Training"),
    ReportEntry("summary", "Comparison"),
    ReportEntry("comparisons", "Comparison"),
    ReportEntry("omnibus", "Comparison"),
    ReportEntry("never_learned", "Comparison"),
    ReportEntry("initialisation", "Initialisation"),
    ReportEntry("initial_gradients", "Initialisation"),
    ReportEntry("neuron_gains", "Initialisation"),
)

STUDY_FIGURES: dict[str, StudyFigureSpec] = by_name(
    StudyFigureSpec("accuracy_heatmap", "Comparison", "accuracy_heatmap"),
    StudyFigureSpec("learning_curves", "Training", "learning_curves"),
    StudyFigureSpec("seed_spread", "Comparison", "seed_spread"),
    StudyFigureSpec("baseline_comparisons", "Comparison", "baseline_comparisons"),
    StudyFigureSpec("backprop_comparison", "Comparison", "backprop_comparison"),
    StudyFigureSpec("accuracy_vs_updates", "Comparison", "accuracy_vs_updates"),
    StudyFigureSpec("accuracy_vs_scale", "Comparison", "accuracy_vs_scale"),
    StudyFigureSpec("initial_state", "Initialisation", "initial_state"),
    StudyFigureSpec("accuracy_vs_cost", "Cost", "accuracy_vs_cost"),
    StudyFigureSpec("seconds_per_epoch", "Cost", "seconds_per_epoch"),
)
