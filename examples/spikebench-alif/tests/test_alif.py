"""The example plugin against plain Python: the ALIF cell against a loop over floats, the Gaussian surrogate's
backward pass against its formula, and its width against the backward pass."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import spikebench_alif
from spikebench.model.cells import NeuronSettings
from spikebench_alif.cells import ALIFCell
from spikebench_alif.closed_forms import gaussian_width
from spikebench_alif.surrogates import gaussian

RHO, GAMMA = 0.8, 0.3


def alif_by_hand(inputs: list[float], beta: float, threshold: float) -> tuple[list[float], list[float]]:
    """Spikes and membranes of one ALIF neuron, step by step, as the equations in ``cells`` write it."""
    adaptation = previous = membrane = 0.0
    spikes, membranes = [], []
    for current in inputs:
        adaptation = RHO * adaptation + previous
        membrane = beta * membrane + current - threshold * previous
        previous = 1.0 if membrane - (threshold + GAMMA * adaptation) > 0 else 0.0
        spikes.append(previous)
        membranes.append(membrane)
    return spikes, membranes


def test_the_cell_steps_as_the_equations_say():
    settings = NeuronSettings(beta=0.5, threshold=1.0, params={"rho": RHO, "gamma": GAMMA})
    cell = ALIFCell(settings, gaussian(0.3))
    generator = torch.Generator().manual_seed(0)
    currents = torch.rand(30, 4, generator=generator, dtype=torch.float64) * 1.5
    state = cell.initial_state(currents[0])
    spikes, membranes = [], []
    for current in currents:
        fired, state, membrane = cell.fast_step(current, state)
        spikes.append(fired)
        membranes.append(membrane)
    spikes, membranes = torch.stack(spikes), torch.stack(membranes)
    assert spikes.sum() > 5, "the input drives it to fire, so the adaptation is exercised"
    for neuron in range(4):
        expected_spikes, expected_membranes = alif_by_hand(currents[:, neuron].tolist(), 0.5, 1.0)
        assert spikes[:, neuron].tolist() == expected_spikes
        assert membranes[:, neuron].tolist() == pytest.approx(expected_membranes, abs=1e-12)


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0])
def test_the_surrogate_is_a_step_forward_and_a_gaussian_backward(sigma):
    x = torch.linspace(-3, 3, 601, dtype=torch.float64, requires_grad=True)
    out = gaussian(sigma)(x)
    assert torch.equal(out, (x > 0).to(x.dtype))
    out.sum().backward()
    formula = [math.exp(-0.5 * (value / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma) for value in x.tolist()]
    assert x.grad.tolist() == pytest.approx(formula, rel=1e-12)
    assert math.isfinite(float(x.grad[300])), "finite at 0"


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0])
def test_the_width_is_the_backward_passes_width(sigma):
    x = torch.linspace(-8, 8, 1_600_001, dtype=torch.float64, requires_grad=True)
    gaussian(sigma)(x).sum().backward()
    above = x.detach()[x.grad >= x.grad.max() / 2]
    assert gaussian_width({"sigma": sigma}) == pytest.approx(float(above.max() - above.min()), abs=2e-5)


def test_the_plugin_registers_without_importing_torch():
    code = (
        "import sys, spikebench_alif.plugin\n"
        "from spikebench.model.registry import NEURON_MODELS\n"
        "from spikebench.neurons.surrogates import SURROGATES\n"
        "print('alif' in NEURON_MODELS, 'gaussian' in SURROGATES, 'torch' in sys.modules)\n"
    )
    source = Path(spikebench_alif.__file__).parents[1]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment)
    assert result.stdout.split() == ["True", "True", "False"]
