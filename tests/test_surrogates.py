"""Every surrogate's backward pass against the derivative snnTorch 1.0.0 defines (quirks included), at several
scales: the known truth is the formula, written here independently of snnTorch's code."""

import math

import pytest
import torch

from spikebench.neurons.surrogates import SURROGATES, make_spike_function

X = torch.linspace(-3, 3, 1201, dtype=torch.float64)
"""Membrane minus threshold; the grid holds 0 and +-1 exactly, where several surrogates change their rule."""


def fast_sigmoid(x, slope):
    return 1 / (slope * x.abs() + 1) ** 2


DERIVATIVES = {
    "fast_sigmoid": lambda x, slope: fast_sigmoid(x, slope),
    "sigmoid": lambda x, slope: slope * torch.sigmoid(slope * x) * (1 - torch.sigmoid(slope * x)),
    # snnTorch passes +threshold below 0 and -threshold from 0 on: a sign-flipped straight-through estimator.
    "triangular": lambda x, threshold: torch.where(x < 0, threshold, -threshold) * torch.ones_like(x),
    # Zero unless x > B: only neurons well above threshold get a gradient.
    "sparse_fast_sigmoid": lambda x, slope, B: fast_sigmoid(x, slope) * (x > B),
    # Peaks at x = 1 (U = threshold + 1), not at the threshold.
    "spike_rate_escape": lambda x, beta, slope: slope * torch.exp(-beta * (x - 1).abs()),
    "straight_through_estimator": lambda x: torch.ones_like(x),
    "atan": lambda x, alpha: alpha / 2 / (1 + (math.pi / 2 * alpha * x) ** 2),
}
SCALES = {
    "fast_sigmoid": [{"slope": slope} for slope in (1, 5, 25, 50, 100)],
    "sigmoid": [{"slope": slope} for slope in (1, 5, 25, 50, 100)],
    "triangular": [{"threshold": threshold} for threshold in (0.5, 1, 2)],
    "sparse_fast_sigmoid": [
        {"slope": 25, "B": 1},
        {"slope": 50, "B": 1},
        {"slope": 25, "B": 0.5},
        {"slope": 5, "B": 2},
    ],
    "spike_rate_escape": [{"beta": 1, "slope": 25}, {"beta": 1, "slope": 50}, {"beta": 3, "slope": 5}],
    "straight_through_estimator": [{}],
    "atan": [{"alpha": alpha} for alpha in (0.5, 2.0, 10.0)],
}


def gradient(name, params, numerics="snntorch", x=X):
    x = x.clone().requires_grad_(True)
    spikes = make_spike_function(name, params, numerics)(x)
    assert torch.equal(spikes.detach(), (x > 0).to(spikes.dtype)), "every forward pass is the Heaviside of x > 0"
    spikes.sum().backward()
    return x.grad


def test_every_registered_surrogate_is_checked():
    assert set(SCALES) | {"stochastic_spike_operator"} == set(SURROGATES)
    for name, cases in SCALES.items():
        assert all(set(params) == set(SURROGATES[name].defaults) for params in cases), name


@pytest.mark.parametrize(
    ("name", "params"), [(name, params) for name, cases in SCALES.items() for params in cases], ids=str
)
def test_backward_is_the_defined_derivative(name, params):
    expected = DERIVATIVES[name](X, **params)
    actual = gradient(name, params)
    finite = torch.isfinite(actual)
    if name != "sigmoid":
        assert finite.all()
    torch.testing.assert_close(actual[finite], expected[finite].to(actual.dtype), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gradient(name, params, "stable"), expected, rtol=1e-10, atol=1e-12)


def test_sigmoid_of_snntorch_overflows_where_the_stable_one_does_not():
    far_below = torch.tensor([-5.0])
    assert torch.isnan(gradient("sigmoid", {"slope": 25}, x=far_below)).all(), "snnTorch's overflow in float32"
    assert torch.isfinite(gradient("sigmoid", {"slope": 25}, "stable", x=far_below)).all()


@pytest.mark.parametrize(("mean", "variance"), [(0, 0.2), (0.3, 1.0), (0, 0.0)])
def test_stochastic_spike_operator_passes_one_where_it_spiked_and_bounded_noise_elsewhere(mean, variance):
    torch.manual_seed(0)
    grad = gradient("stochastic_spike_operator", {"mean": mean, "variance": variance})
    assert (grad[X > 0] == 1).all()
    below = grad[X <= 0]
    assert ((mean - 0.5) * variance <= below).all() and (below <= (mean + 0.5) * variance).all()
    if variance:
        assert below.std() > 0.2 * variance, "uniform noise below the threshold"
