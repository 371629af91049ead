"""One seaborn style for every figure of the report, and how figures are saved."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402


def apply_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=1.0)


def save_figure(figure: plt.Figure, png_path: str | Path, svg_path: str | Path) -> None:
    """Write the PNG for the report and a vector SVG."""
    for path in (png_path, svg_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.align_ylabels()
    figure.savefig(png_path, dpi=150, bbox_inches="tight")
    figure.savefig(svg_path, bbox_inches="tight")
    plt.close(figure)
