"""What a reviewer would reject in a figure, from matplotlib's rendered bounding boxes: text over text, text or
data points cut off by their axes, a legend drawn over its axes' data, an axis whose values no label names."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.text import Text
from matplotlib.transforms import Bbox

TOLERANCE_PX = 1.0
"""Overlaps or overhangs smaller than this (in pixels at the figure's dpi) are rounding, not layout."""


def _drawn(text: Text) -> bool:
    """Visible, not empty, and not a tick label of an axes switched off (placeholders switch theirs off)."""
    if not (text.get_visible() and text.get_text().strip()):
        return False
    axis = text.axes
    return axis is None or axis.axison or text in axis.texts or text is axis.title


def _tick_labels(figure: plt.Figure) -> tuple[set[Text], set[Text]]:
    """Every tick label object, and those matplotlib draws: a tick beyond the view limits keeps a visible label
    that is never drawn."""
    every, drawn = set(), set()
    for axis in figure.axes:
        for scale in (axis.xaxis, axis.yaxis):
            low, high = sorted(scale.get_view_interval())
            slack = 1e-9 * max(abs(low), abs(high), 1.0)
            for tick in scale.majorTicks + scale.minorTicks:
                labels = (tick.label1, tick.label2)
                every.update(labels)
                if low - slack <= tick.get_loc() <= high + slack:
                    drawn.update(labels)
    return every, drawn


def _texts(figure: plt.Figure, renderer) -> list[tuple[Text, object]]:
    every_tick_label, drawn_tick_labels = _tick_labels(figure)
    return [
        (text, text.get_window_extent(renderer))
        for text in figure.findobj(Text)
        if _drawn(text) and (text not in every_tick_label or text in drawn_tick_labels)
    ]


def _overlap(first, second) -> bool:
    width = min(first.x1, second.x1) - max(first.x0, second.x0)
    height = min(first.y1, second.y1) - max(first.y0, second.y0)
    return width > TOLERANCE_PX and height > TOLERANCE_PX


def _inside(box, bounds) -> bool:
    return (
        box.x0 >= bounds.x0 - TOLERANCE_PX
        and box.x1 <= bounds.x1 + TOLERANCE_PX
        and box.y0 >= bounds.y0 - TOLERANCE_PX
        and box.y1 <= bounds.y1 + TOLERANCE_PX
    )


def _data_points(axis: plt.Axes) -> np.ndarray:
    """Display coordinates of every marker drawn in ``axis`` (scatter points and marked line vertices)."""
    points = []
    for collection in axis.collections:
        if isinstance(collection, PathCollection) and collection.get_visible() and len(collection.get_offsets()):
            points.append(collection.get_offset_transform().transform(collection.get_offsets()))
    for line in axis.lines:
        if line.get_visible() and line.get_marker() not in (None, "None", "", " ") and len(line.get_xydata()):
            points.append(line.get_transform().transform(line.get_xydata()))
    return np.concatenate(points) if points else np.empty((0, 2))


def layout_problems(figure: plt.Figure) -> list[str]:
    """Every overlap of two texts, every text or marker cut off by its axes, and every unlabelled axis."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    problems = []
    texts = _texts(figure, renderer)
    for (first, first_box), (second, second_box) in itertools.combinations(texts, 2):
        if _overlap(first_box, second_box):
            problems.append(f"{first.get_text()!r} overlaps {second.get_text()!r}")
    for text, box in texts:
        clip = text.get_clip_box() if text.get_clip_on() else None
        if clip is not None and not _inside(box, clip):
            problems.append(f"{text.get_text()!r} is cut off by its axes")
    for axis in figure.axes:
        if not axis.axison:
            continue
        points = _data_points(axis)
        finite = points[np.isfinite(points).all(axis=1)]
        bounds = axis.get_window_extent(renderer)
        outside = finite[
            (finite[:, 0] < bounds.x0 - TOLERANCE_PX)
            | (finite[:, 0] > bounds.x1 + TOLERANCE_PX)
            | (finite[:, 1] < bounds.y0 - TOLERANCE_PX)
            | (finite[:, 1] > bounds.y1 + TOLERANCE_PX)
        ]
        if len(outside):
            problems.append(f"{len(outside)} marker(s) outside the axes titled {axis.get_title()!r}")
        problems.extend(_legend_over_data(axis, finite, renderer))
        problems.extend(_unlabelled(figure, axis))
    return problems


def _legend_over_data(axis: plt.Axes, points: np.ndarray, renderer) -> list[str]:
    """A legend inside its axes must leave the lines and markers it explains readable."""
    legend = axis.get_legend()
    if legend is None or not legend.get_visible():
        return []
    box = legend.get_window_extent(renderer)
    inner = Bbox.from_extents(
        box.x0 + TOLERANCE_PX, box.y0 + TOLERANCE_PX, box.x1 - TOLERANCE_PX, box.y1 - TOLERANCE_PX
    )
    covered = [
        line.get_label()
        for line in axis.lines
        if line.get_visible()
        and line.get_linestyle() not in ("None", "", " ")
        and line.get_transform().transform_path(line.get_path()).intersects_bbox(inner, filled=False)
    ]
    inside = (
        (points[:, 0] > inner.x0) & (points[:, 0] < inner.x1) & (points[:, 1] > inner.y0) & (points[:, 1] < inner.y1)
    )
    if inside.any():
        covered.append(f"{int(inside.sum())} marker(s)")
    return [f"the legend of {axis.get_title()!r} covers {', '.join(map(repr, covered))}"] if covered else []


def _unlabelled(figure: plt.Figure, axis: plt.Axes) -> list[str]:
    """An axis whose tick labels show needs its own label, or the figure's for its side."""
    problems = []
    for side, tick_labels, label, figure_label in (
        ("x", axis.get_xticklabels(), axis.get_xlabel(), figure._supxlabel),
        ("y", axis.get_yticklabels(), axis.get_ylabel(), figure._supylabel),
    ):
        shows_ticks = any(tick.get_visible() and tick.get_text() for tick in tick_labels)
        if shows_ticks and not label.strip() and figure_label is None:
            problems.append(f"the {side} axis of {axis.get_title() or axis.get_label()!r} has no label")
    return problems


def assert_clean_layout(figure: plt.Figure, name: str) -> None:
    problems = layout_problems(figure)
    assert not problems, f"{name}: " + "; ".join(problems)
