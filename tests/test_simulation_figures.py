"""The neuron simulation figures draw each model's threshold where the model has it."""

import numpy as np
import pytest

from conftest import REPO, load_yaml
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
    assert [text.get_text() for text in potential_axis.texts] == ["firing probability 1/2 at V_th = 0.7"]


def test_lif_vs_abss_marks_the_hard_and_the_soft_threshold(simulation):
    axes = {axis.get_ylabel(): axis for axis in draw(simulation, "lif_vs_abss").axes}
    assert horizontal_lines(axes["LIF V"]) == {(LIF_THRESHOLD, "--")}
    assert horizontal_lines(axes["ABSS V"]) == {(ABSS_THRESHOLD, ":")}
    assert [text.get_text() for text in axes["ABSS V"].get_legend().get_texts()] == ["V_th = 0.7: p = 1/2"]
