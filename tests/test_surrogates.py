"""Every surrogate's backward pass against the derivative snnTorch 1.0.0 defines (quirks included), at several
scales: the known truth is the formula, written here independently of snnTorch's code."""

import math

import pytest
import torch

from spikebench.neurons.surrogate_widths import (
    WidthError,
    fast_sigmoid_scale,
    fast_sigmoid_width,
    numeric_scale_for_width,
    spike_rate_escape_width,
)
from spikebench.neurons.surrogates import SURROGATES, make_spike_function, scale_at_width, surrogate_width

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


def measured_width(name, params):
    """The full width at half maximum of the backward pass, read off a fine grid around its peak."""
    peak_x = {"spike_rate_escape": 1.0, "sparse_fast_sigmoid": params.get("B", 0.0)}.get(name, 0.0)
    x = torch.linspace(peak_x - 8, peak_x + 8, 1_600_001, dtype=torch.float64)
    grad = gradient(name, params, "stable", x=x).abs()
    above = x[grad >= grad.max() / 2]
    return float(above.max() - above.min())


@pytest.mark.parametrize(
    ("name", "params"),
    [(name, params) for name, cases in SCALES.items() if SURROGATES[name].width for params in cases],
    ids=str,
)
def test_the_closed_form_width_is_the_backward_pass_width(name, params):
    assert surrogate_width(name, params) == pytest.approx(measured_width(name, params), abs=4e-5, rel=1e-3)


def test_surrogates_without_a_half_maximum_have_no_width():
    assert {name for name in SURROGATES if surrogate_width(name) is None} == {
        "triangular",
        "straight_through_estimator",
        "stochastic_spike_operator",
    }


@pytest.mark.parametrize("name", [name for name, spec in SURROGATES.items() if spec.scale_for_width])
@pytest.mark.parametrize("width", [0.01, 0.05, 0.64, 2.0])
def test_the_scale_at_a_width_gives_that_width(name, width):
    if name == "sparse_fast_sigmoid" and width <= 0.5:
        with pytest.raises(WidthError, match="at least 0.414"):
            scale_at_width(name, width)
        return
    scale = scale_at_width(name, width)
    assert surrogate_width(name, scale=scale) == pytest.approx(width, rel=1e-5)
    assert measured_width(name, {**SURROGATES[name].defaults, SURROGATES[name].scale: scale}) == pytest.approx(
        width, rel=1e-3, abs=4e-5
    )


def test_the_study_widths_at_slope_50_and_alpha_2():
    assert surrogate_width("fast_sigmoid", scale=50) == pytest.approx(0.016569, abs=1e-6)
    assert surrogate_width("atan", scale=2) == pytest.approx(0.63662, abs=1e-5)


@pytest.mark.parametrize("name", ["spike_rate_escape", "triangular", "straight_through_estimator"])
def test_a_width_no_scale_can_give_is_refused_with_the_reason(name):
    if SURROGATES[name].scale is None:
        assert scale_at_width(name, 0.1) is None, "runs once, at its fixed width"
        return
    with pytest.raises(WidthError, match="its slope does not change the width"):
        scale_at_width(name, 0.1)


@pytest.mark.parametrize("width", [0.003, 0.0166, 0.64, 5.0])
def test_the_numeric_inverse_finds_the_closed_form_scale(width):
    """A plugin surrogate registered with a width but no inverse is set to a width by bisection."""
    params = {"slope": 25}
    found = numeric_scale_for_width(fast_sigmoid_width, width, params, "slope")
    assert found == pytest.approx(fast_sigmoid_scale(width, params), rel=1e-9)


def test_the_numeric_inverse_refuses_what_no_scale_gives():
    with pytest.raises(WidthError, match="does not change the width"):
        numeric_scale_for_width(spike_rate_escape_width, 0.5, {"beta": 1, "slope": 25}, "slope")
    with pytest.raises(WidthError, match="no slope between 1e-6 and 1e6"):
        numeric_scale_for_width(fast_sigmoid_width, 1e-9, {"slope": 25}, "slope")


FUSED = [name for name, spec in SURROGATES.items() if spec.fused_factory is not None]


def test_every_deterministic_snntorch_surrogate_has_a_fused_spike_function():
    # The stochastic spike operator draws noise in its backward pass; the sigmoid's default is spikebench's own
    # stable one, which the fast and reference engines share.
    assert set(FUSED) == set(SURROGATES) - {"stochastic_spike_operator", "sigmoid"}


def fused_inputs() -> list[torch.Tensor]:
    """float32 membranes minus threshold: random over several magnitudes, the values where the rules change
    (0, +-1, B = 0.5 and 2), extremes, and a channels-last tensor as the fast engine's convolutional layers
    hand over."""
    generator = torch.Generator().manual_seed(4)
    random = torch.randn(4096, generator=generator) * torch.logspace(-6, 2, 4096)
    edges = torch.tensor([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-45, -1e-45, 3e30, -3e30, float("inf"), float("-inf")])
    channels_last = torch.randn((3, 5, 4, 4), generator=generator).contiguous(memory_format=torch.channels_last)
    return [torch.cat([random, edges]), channels_last]


def spikes_and_gradient(spike_function, x):
    inputs = x.clone().requires_grad_(True)
    spikes = spike_function(inputs)
    spikes.backward(torch.empty_like(x).normal_(generator=torch.Generator().manual_seed(5)))
    return spikes.detach(), inputs.grad


@pytest.mark.parametrize(
    ("name", "params"), [(name, params) for name in FUSED for params in SCALES[name]], ids=lambda value: str(value)
)
def test_a_fused_spike_function_gives_snntorch_s_numbers_bit_for_bit(name, params):
    for x in fused_inputs():
        snntorch_spikes, snntorch_grad = spikes_and_gradient(make_spike_function(name, params, "snntorch"), x)
        fused_spikes, fused_grad = spikes_and_gradient(make_spike_function(name, params, fused=True), x)
        assert torch.equal(fused_spikes, snntorch_spikes)
        assert torch.equal(fused_grad, snntorch_grad)


@pytest.mark.parametrize("params", SCALES["sigmoid"], ids=str)
def test_the_stable_sigmoid_computes_its_formula_left_to_right(params):
    slope = params["slope"]
    for x in fused_inputs():
        _, gradient = spikes_and_gradient(make_spike_function("sigmoid", params), x)
        incoming = torch.empty_like(x).normal_(generator=torch.Generator().manual_seed(5))
        logistic = torch.sigmoid(slope * x)
        assert torch.equal(gradient, incoming * slope * logistic * (1 - logistic))
