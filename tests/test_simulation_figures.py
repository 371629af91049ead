"""The neuron simulation figures draw each model's threshold where the model has it."""

import numpy as np
import pytest

from conftest import REPO, load_yaml
from spikebench.report.registry import SIMULATION_CAPTIONS, simulation_caption
from spikebench.report.simulation import SIMULATION_FIGURES

LIF_THRESHOLD, ABSS_THRESHOLD = 1.0, 0.7


@pytest.fixture(scope="module")
def simulation():
    return load_yaml(REPO / "config/config.yaml")["simulation"]


def draw(simulation, name):
    lif = {**simulation["lif"], "threshold": LIF_THRESHOLD}
    abss = {**simulation["abss"], "threshold": ABSS_THRESHOLD}
    spec = SIMULATION_FIGURES[name]
    return spec.plot(spec.traces(lif, abss, simulation[name]), LIF_THRESHOLD, ABSS_THRESHOLD)


def horizontal_lines(axis):
    return {
        (float(line.get_ydata()[0]), line.get_linestyle())
        for line in axis.get_lines()
        if len(set(np.asarray(line.get_ydata(), dtype=float))) == 1
    }


def test_abss_population_marks_v_th_as_the_half_probability_potential(simulation):
    potential_axis = draw(simulation, "abss_population").axes[0]
    assert horizontal_lines(potential_axis) == {(ABSS_THRESHOLD, ":")}
    title = potential_axis.get_title(loc="left")
    assert "dotted: firing probability 1/2 at V_th = 0.7" in title and "w_ar" in title, "and why V jumps after a spike"


def test_lif_vs_abss_marks_the_hard_and_the_soft_threshold(simulation):
    axes = {axis.get_ylabel(): axis for axis in draw(simulation, "lif_vs_abss").axes}
    assert horizontal_lines(axes["LIF V"]) == {(LIF_THRESHOLD, "--")}
    assert horizontal_lines(axes["ABSS V"]) == {(ABSS_THRESHOLD, ":")}
    assert [text.get_text() for text in axes["ABSS V"].get_legend().get_texts()] == ["V_th = 0.7: p = 1/2"]


def test_every_simulation_figure_has_its_own_caption_with_the_configs_parameters(simulation):
    assert set(SIMULATION_CAPTIONS) == set(SIMULATION_FIGURES)
    captions = {
        name: simulation_caption(name, simulation["lif"], simulation["abss"], simulation[name])
        for name in SIMULATION_FIGURES
    }
    assert len(set(captions.values())) == len(captions)
    assert f"w_ar = {simulation['abss']['w_ar']:g}" in captions["abss_population"]
    assert "autoregressive" in captions["abss_population"] and "{" not in "".join(captions.values())
