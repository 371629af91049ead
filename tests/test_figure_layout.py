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


def _figure_text(figure) -> str:
    return " ".join(text.get_text() for text in figure.findobj(plt.Text))


def test_cost_error_bars_only_where_a_bar_s_runs_differ_in_seed_alone(tables):
    runs = tables["runs"]
    mixed = draw_study_figure("seconds_per_epoch", tables)
    one_surrogate = runs[((runs["surrogate"] == "atan") & (runs["scale"] == 2)) | (runs["neuron"] == "abss")]
    seed_only = draw_study_figure("seconds_per_epoch", {**tables, "runs": one_surrogate})
    try:
        assert "no error bars" in _figure_text(mixed) and not mixed.axes[0].lines, "a spread over surrogates"
        seeds = runs["seed"].nunique()
        if seeds > 1:
            assert "1 s.d." in _figure_text(seed_only) and seed_only.axes[0].lines
        else:
            assert "one run per bar" in _figure_text(seed_only) and not seed_only.axes[0].lines
    finally:
        plt.close(mixed)
        plt.close(seed_only)


def test_without_a_sweep_accuracy_against_width_draws_each_surrogate_at_its_one_width(tables):
    studies = tables["studies"].assign(sweeps_scale=False)
    figure = draw_study_figure("accuracy_vs_scale", {**tables, "studies": studies})
    try:
        assert "no study sweeps a scale or width (BPTT runs" in _figure_text(figure)
        points = _markers(figure.axes)
        runs = tables["runs"]
        assert points == len(runs[runs["width"].notna() & (runs["backprop"] == "bptt")]), "every BPTT run, once"
        assert_clean_layout(figure, "accuracy_vs_scale without a sweep")
    finally:
        plt.close(figure)


def _markers(axes) -> int:
    """The markers drawn: finite offsets of the axes' scatter collections."""
    offsets = [c.get_offsets() for axis in axes for c in axis.collections if isinstance(c, PathCollection)]
    return sum(int(np.isfinite(np.asarray(o, dtype=float)).all(axis=1).sum()) for o in offsets if len(o))


def test_failures_are_drawn_at_any_n_and_no_difference_from_fewer_than_two_pairs(tables):
    figure = draw_study_figure("baseline_comparisons", tables)
    comparisons = tables["comparisons"]
    primary = comparisons[comparisons["family"] == "primary"]
    try:
        failure_axes, accuracy_axes = figure.axes[0::2], figure.axes[1::2]
        assert len(failure_axes) == primary.groupby(["study", "dataset", "factor", "context"]).ngroups
        assert _markers(failure_axes) == 2 * len(primary), "each level's failures and its baseline's, every row"
        assert _markers(accuracy_axes) == (primary["n_pairs"] >= 2).sum(), "a difference only from two pairs"
        if (primary["n_pairs"] < 2).any():
            assert "learned; not drawn;" in _figure_text(figure)
        assert_clean_layout(figure, "baseline_comparisons")
    finally:
        plt.close(figure)


def test_the_ten_ramps_of_lif_vs_abss_have_a_key():
    simulation = _simulation_parameters("quick.yaml")
    spec = SIMULATION_FIGURES["lif_vs_abss"]
    table = spec.traces(simulation["lif"], simulation["abss"], simulation["lif_vs_abss"])
    figure = spec.plot(table, simulation["lif"]["threshold"], simulation["abss"]["threshold"])
    try:
        keys = [axis for axis in figure.axes if "gain on the ramp" in axis.get_ylabel()]
        assert len(keys) == 1 and keys[0].get_ylim() == pytest.approx((0.8, 1.2))
    finally:
        plt.close(figure)
