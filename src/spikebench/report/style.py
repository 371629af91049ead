"""One seaborn style for every figure of the report, one colour per level of each factor, and how figures are
saved.

A level's colour follows its place in its registry (neuron models, surrogates, backprop methods), never the
levels a figure happens to show, so a surrogate keeps its colour from one figure to the next; plugins'
levels come after the built-ins' and leave theirs alone.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from spikebench.model.backprop import BACKPROP_METHODS, backprop_label  # noqa: E402
from spikebench.model.registry import NEURON_MODELS, NO_SURROGATE  # noqa: E402
from spikebench.neurons.surrogates import SURROGATES  # noqa: E402

NO_SURROGATE_COLOR = "#222222"
FAILED_LABEL = "hollow: run failed (did not learn)"
"""Per-run figures draw a run that did not learn (at chance, silent, no gradient, diverged, missing) hollow."""
PALETTE_ORDER = (0, 1, 2, 3, 8, 9, 5, 4, 6)
"""Seaborn's colourblind palette without its grey (7, kept for "no surrogate" and "not run"); its two palest
colours (yellow 8, light blue 9) go to the fifth and sixth levels, in the surrogate registry the rarely used
spike_rate_escape and stochastic_spike_operator, so that atan and fast_sigmoid are strong and far apart."""
NEURON_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h", "*", "p")


def apply_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=1.0)


def _colors(levels: list[str]) -> dict[str, tuple]:
    """The colourblind palette's colours (``PALETTE_ORDER``), then evenly spaced hues for levels beyond them."""
    colorblind = sns.color_palette("colorblind", 10)
    palette = [colorblind[index] for index in PALETTE_ORDER]
    extra = sns.color_palette("husl", max(len(levels) - len(palette), 0))
    return dict(zip(levels, palette + extra, strict=False))


def surrogate_colors() -> dict[str, tuple]:
    """Every registered surrogate's colour; ``none`` (a neuron model without one, like ABSS) near-black."""
    return {**_colors(list(SURROGATES)), NO_SURROGATE: NO_SURROGATE_COLOR}


def backprop_colors() -> dict[str, tuple]:
    """Keyed by the methods' labels, as figures show them (``backprop_label``)."""
    return {backprop_label(name): color for name, color in _colors(list(BACKPROP_METHODS)).items()}


def neuron_markers() -> dict[str, str]:
    return {name: NEURON_MARKERS[index % len(NEURON_MARKERS)] for index, name in enumerate(NEURON_MODELS)}


def save_figure(figure: plt.Figure, png_path: str | Path, svg_path: str | Path) -> None:
    """Write the PNG for the report and a vector SVG."""
    for path in (png_path, svg_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.align_ylabels()
    figure.savefig(png_path, dpi=150, bbox_inches="tight")
    figure.savefig(svg_path, bbox_inches="tight")
    plt.close(figure)
