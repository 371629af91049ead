"""What the study figures share: labels, one run per marker (hollow where it failed), notes for what a figure
leaves out, the n it rests on, and accuracy axes no narrower than the test set can resolve."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from spikebench.model.registry import NEURON_MODELS, NO_SURROGATE
from spikebench.neurons.surrogates import SURROGATES
from spikebench.report.statistics import LEARNED, MISSING
from spikebench.report.style import FAILED_LABEL, neuron_markers, surrogate_colors

ACCURACY = "test accuracy at best epoch (%)"
SHARED_LABEL = "larger: runs on one point (area ~ count)"
MANY_COLUMNS = 4
"""Beyond this many columns a heatmap's column labels stand upright, one line each, so they cannot collide."""
RESOLVING_HALF_WIDTHS = 4
"""An accuracy axis spans at least this many half-widths of the 95% binomial interval of one run's test
accuracy, so that a difference of a few test images never fills the axis."""


def surrogate_label(surrogate: str, scale: float) -> str:
    """``atan alpha=2``: a surrogate with its scale parameter's name and value, where it has one."""
    if pd.isna(scale) or surrogate == NO_SURROGATE:
        return surrogate
    spec = SURROGATES.get(surrogate)
    parameter = spec.scale if spec is not None and spec.scale else "scale"
    return f"{surrogate} {parameter}={scale:.3g}"


def registry_order(levels, factor: str) -> list[str]:
    """The levels present, in their registry's order (surrogates, neuron models), unknown ones last."""
    known = {"surrogate": [*SURROGATES, NO_SURROGATE], "neuron": list(NEURON_MODELS)}[factor]
    present = list(dict.fromkeys(levels))
    return [level for level in known if level in present] + sorted(set(present) - set(known))


def n_statement(counts: pd.Series, unit: str) -> str:
    """``n = 3 seeds``, ``n = 1-3 seeds`` or ``n = 1 seed`` from the count per group; ``unit`` in the plural."""
    low, high = int(counts.min()), int(counts.max())
    return f"n = {low if low == high else f'{low}-{high}'} {unit.removesuffix('s') if high == 1 else unit}"


def failed(data: pd.DataFrame) -> pd.Series:
    return data["outcome"] != LEARNED


def finished_runs(runs: pd.DataFrame, backprop: str | None = "bptt") -> pd.DataFrame:
    """Runs with a test accuracy (learned or not), of one backprop method or (None) all."""
    data = runs[(runs["status"] != MISSING) & runs["test_acc_at_best"].notna()]
    return data[data["backprop"] == backprop] if backprop else data


def scatter_runs(
    axis: plt.Axes, data: pd.DataFrame, x: str, y: str, colors: dict, color_by: str, size: float = 42
) -> None:
    """One marker per run, coloured by ``color_by`` (``colors``), shaped by neuron model; hollow where the run
    failed; runs that share a point exactly drawn once, with an area that grows with their count."""
    markers = neuron_markers()
    for (color_key, neuron, did_fail), rows in data.groupby([color_by, "neuron", failed(data)], sort=False):
        color = colors.get(color_key, "grey")
        points = rows.groupby([rows[x].round(9), rows[y].round(9)]).size().reset_index(name="runs")
        axis.scatter(
            points[x],
            points[y],
            marker=markers.get(neuron, "o"),
            s=size * points["runs"],
            facecolors="none" if did_fail else [color],
            edgecolors=[color],
            linewidths=1.3,
            zorder=3,
        )


def shares_points(data: pd.DataFrame, x: str, y: str, color_by: str) -> bool:
    """Whether two runs of one colour and marker fall on one point (``scatter_runs`` then enlarges it)."""
    keys = [color_by, "neuron", failed(data), data[x].round(9), data[y].round(9)]
    return bool((data.groupby(keys).size() > 1).any())


def run_legend_handles(colors: dict, neurons: list[str], any_failed: bool, shared: bool = False) -> list:
    """Legend entries: a colour per level shown, a marker per neuron model, the hollow failed run, and (where
    runs share points) the larger marker of several runs."""
    markers = neuron_markers()
    handles = [plt.Line2D([], [], color=color, linewidth=6, label=label) for label, color in colors.items()]
    handles += [
        plt.Line2D([], [], color="black", marker=markers.get(name, "o"), linestyle="none", label=name)
        for name in neurons
    ]
    if any_failed:
        handles.append(
            plt.Line2D([], [], color="black", marker="o", markerfacecolor="none", linestyle="none", label=FAILED_LABEL)
        )
    if shared:
        handles.append(
            plt.Line2D([], [], color="black", marker="o", markersize=11, linestyle="none", label=SHARED_LABEL)
        )
    return handles


def column_labels(labels: list[str]) -> list[str]:
    """Labels of heatmap columns: two lines (name, scale) when few, one line otherwise (``upright_columns``)."""
    return [label.replace(" ", "\n", 1) if len(labels) <= MANY_COLUMNS else label for label in labels]


def upright_columns(axis: plt.Axes) -> None:
    """Column labels stand upright where there are many of them (``column_labels``)."""
    if len(axis.get_xticklabels()) > MANY_COLUMNS:
        axis.tick_params(axis="x", rotation=90)


def present_surrogate_colors(levels) -> dict:
    palette = surrogate_colors()
    return {level: palette.get(level, "grey") for level in registry_order(levels, "surrogate")}


def note_below(axis: plt.Axes, text: str, width: int = 90) -> None:
    """A note under the axis' x label: what the figure leaves out, and why."""
    axis.annotate(
        textwrap.fill(text, width),
        xy=(0.5, 0),
        xycoords=axis.xaxis.label,
        xytext=(0, -6),
        textcoords="offset points",
        ha="center",
        va="top",
        fontsize="small",
        color="#444444",
    )


def missing_note(runs: pd.DataFrame) -> str:
    """The runs of ``runs`` that wrote nothing, which no per-run figure can draw."""
    missing = int((runs["status"] == MISSING).sum())
    return f"{missing} run(s) wrote no outputs (missing) and are not shown. " if missing else ""


def accuracy_axis(axis: plt.Axes, accuracy_percent: pd.Series, test_samples: pd.Series) -> None:
    """Label the y axis and set its range: the data with a margin, and at least ``RESOLVING_HALF_WIDTHS``
    binomial half-widths of a run's test accuracy (its test split's size), within 0-100% and a small margin."""
    values = accuracy_percent.dropna()
    if values.empty:
        axis.set_ylabel(ACCURACY)
        return
    share = float(np.clip(values.mean() / 100, 0.05, 0.95))
    samples = float(test_samples.dropna().min()) if test_samples.notna().any() else np.inf
    half_width = 100 * 1.96 * np.sqrt(share * (1 - share) / samples)
    low, high = float(values.min()), float(values.max())
    span = max(high - low, RESOLVING_HALF_WIDTHS * half_width) * 1.15 + 1.0
    middle = (low + high) / 2
    bottom = float(np.clip(middle - span / 2, -2, max(102 - span, -2)))
    axis.set_ylim(bottom, bottom + span)
    axis.set_ylabel(ACCURACY)
