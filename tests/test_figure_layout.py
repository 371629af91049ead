"""Every study figure at one and at three seeds, and every simulation figure with the full and the quick
config's parameters: no text over text, nothing cut off, every axis labelled; and the rules the figures share
(one colour per surrogate everywhere, failed runs drawn apart, nothing dropped without a note)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection

from conftest import REPO, load_yaml
from figure_layout import assert_clean_layout, layout_problems
from spikebench.report.registry import STUDY_FIGURES
from spikebench.report.simulation import SIMULATION_FIGURES
from spikebench.report.study_figures import draw_study_figure
from spikebench.report.style import surrogate_colors
from spikebench.study.config import validate_config
from synthetic_study import synthetic_tables


@pytest.fixture(scope="module", params=[1, 3], ids=["one seed", "three seeds"])
def tables(request, tmp_path_factory):
    return synthetic_tables(tmp_path_factory.mktemp(f"seeds{request.param}"), list(range(request.param)))


@pytest.mark.parametrize("name", STUDY_FIGURES)
def test_study_figure_layout(tables, name):
    figure = draw_study_figure(name, tables)
    try:
        assert_clean_layout(figure, name)
    finally:
        plt.close(figure)


def _simulation_parameters(config_name: str) -> dict:
    config = load_yaml(REPO / "config" / config_name)
    validate_config(config)
    return config["simulation"]


@pytest.mark.parametrize("config_name", ["config.yaml", "quick.yaml"])
@pytest.mark.parametrize("name", SIMULATION_FIGURES)
def test_simulation_figure_layout(name, config_name):
    simulation = _simulation_parameters(config_name)
    spec = SIMULATION_FIGURES[name]
    table = spec.traces(simulation["lif"], simulation["abss"], simulation[name])
    figure = spec.plot(table, simulation["lif"]["threshold"], simulation["abss"]["threshold"])
    try:
        assert_clean_layout(figure, name)
    finally:
        plt.close(figure)


def test_the_layout_check_sees_overlapping_text_and_clipped_markers():
    figure, axis = plt.subplots()
    axis.text(0.5, 0.5, "first label", transform=axis.transAxes)
    axis.text(0.51, 0.5, "second label", transform=axis.transAxes)
    axis.scatter([0, 1], [0, 1])
    axis.set_xlim(0, 0.5)
    problems = " ".join(layout_problems(figure))
    plt.close(figure)
    assert "'first label' overlaps 'second label'" in problems
    assert "marker(s) outside the axes" in problems and "has no label" in problems


def test_the_layout_check_sees_a_legend_over_the_data_and_not_one_beside_it():
    # matplotlib's own style: the figure modules' themes set elsewhere in the session must not move the legends.
    with plt.style.context("default"):
        figure, (covered, clear) = plt.subplots(1, 2)
        for axis, place in ((covered, "upper left"), (clear, "lower right")):
            axis.axhline(1.0, linestyle="--", label="threshold")
            axis.plot([0.4, 0.6], [0.45, 0.5], marker="o", label="potential")
            axis.set(xlim=(0, 1), ylim=(-0.1, 1.1), title=place, xlabel="step", ylabel="V")
            axis.legend(loc=place)
        problems = layout_problems(figure)
    plt.close(figure)
    assert problems == ["the legend of 'upper left' covers 'threshold'"]


def _face_colors(figure) -> set[tuple]:
    return {
        tuple(np.round(color[:3], 3))
        for axis in figure.axes
        for collection in axis.collections
        if isinstance(collection, PathCollection)
        for color in collection.get_facecolors()
    }


@pytest.mark.parametrize("name", ["seed_spread", "accuracy_vs_cost", "accuracy_vs_scale"])
def test_a_surrogate_keeps_its_colour_in_every_figure(tables, name):
    figure = draw_study_figure(name, tables)
    colors = _face_colors(figure)
    plt.close(figure)
    atan = tuple(np.round(surrogate_colors()["atan"], 3))
    assert atan in colors


def test_failed_runs_are_drawn_hollow_and_named_in_the_legend(tables):
    for name in ["seed_spread", "accuracy_vs_cost", "accuracy_vs_updates"]:
        figure = draw_study_figure(name, tables)
        texts = " ".join(text.get_text() for text in figure.findobj(plt.Text))
        hollow = [
            collection
            for axis in figure.axes
            for collection in axis.collections
            if isinstance(collection, PathCollection)
            and len(collection.get_offsets())
            and (np.asarray(collection.get_facecolors())[:, 3] == 0).all()
        ]
        plt.close(figure)
        assert hollow and "failed" in texts, name


def test_runs_a_log_axis_cannot_show_are_named_in_the_figure(tables):
    figure = draw_study_figure("accuracy_vs_updates", tables)
    texts = " ".join(text.get_text() for text in figure.findobj(plt.Text))
    plt.close(figure)
    silent = tables["runs"]["best_epoch"].eq(0).sum()
    assert silent and f"not shown: {silent} run" in texts
