"""Steady-state gains: the closed forms the report states, against stepping each model's own cell."""

import pytest
import torch

from spikebench.model.cells import NeuronSettings
from spikebench.model.gains import neuron_gains
from spikebench.model.registry import NEURON_MODELS
from spikebench.utils.registry import resolve_path

NEVER = 1e30


def stepped_gain(neuron, settings, steps=2000):
    """``U / I`` after ``steps`` steps of ``I = 1`` through the cell, its threshold out of reach."""
    silent = settings._replace(
        threshold=NEVER, lif=settings.lif._replace(threshold=NEVER), abss=settings.abss._replace(threshold=NEVER)
    )
    cell = NEURON_MODELS[neuron].cell_class()(silent, None)
    if cell.uses_generator:
        cell.generator = torch.Generator().manual_seed(0)
    current = torch.ones(1, dtype=torch.float64)
    state = cell.initial_state(current)
    with torch.no_grad():
        for _ in range(steps):
            _, state, membrane = cell.fast_step(current, state)
    return float(membrane)


@pytest.mark.parametrize("neuron", list(NEURON_MODELS))
@pytest.mark.parametrize(
    "model",
    [
        {"beta": 0.5, "alpha": 0.9, "lapicque_r": 1.0, "lapicque_c": 1.44},
        {"beta": 0.6, "alpha": 0.8, "lapicque_r": 2.0, "lapicque_c": 3.0},
    ],
)
def test_closed_form_gain_is_where_the_cell_settles(neuron, model):
    # The cells hold tau_alpha and 1 / (R C) in float32, as snnTorch does: agreement to float32's precision.
    assert resolve_path(NEURON_MODELS[neuron].gain)(NeuronSettings(**model)) == pytest.approx(
        stepped_gain(neuron, NeuronSettings(**model)), rel=1e-6
    )


def test_the_study_s_gains_as_the_readme_states_them():
    gains = neuron_gains(NeuronSettings(beta=0.5, alpha=0.9, lapicque_r=1.0, lapicque_c=1.44))
    assert {neuron: round(gain, 1) for neuron, gain in gains.items()} == {
        "leaky": 2.0,
        "synaptic": 20.0,
        "alpha": 9.4,
        "lapicque": 1.0,
        "lif": 1.0,
        "abss": 1.0,
    }
