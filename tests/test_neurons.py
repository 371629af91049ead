"""LIF and ABSS dynamics against closed forms, statistics and a per-neuron loop written from the equations."""

import itertools
import math

import pytest
import torch

from helpers import loop_lif
from spikebench.layers import TorchBernoulliLayer
from spikebench.neurons import functional
from spikebench.neurons.surrogates import SURROGATES, make_spike_function


def closed_form_first_spike(current, params=functional.LIFParameters()):
    """V_n = I (1 - (1 - dt/tau)^n): the first n with V_n >= V_th (1-based step count)."""
    decay = 1 - params.dt / params.tau
    return math.ceil(math.log(1 - params.threshold / current) / math.log(decay))


@pytest.mark.parametrize("current", [1.05, 1.5, 2.0, 5.0])
def test_lif_fires_first_where_the_closed_form_predicts_then_periodically(current):
    steps = 400
    trace = functional.lif_sequence(torch.full((steps, 1), current))
    spike_times = trace.spikes[:, 0].nonzero().flatten().tolist()
    first = closed_form_first_spike(current)
    assert spike_times[0] == first - 1
    intervals = {b - a for a, b in zip(spike_times, spike_times[1:], strict=False)}
    assert intervals == {first}


def test_lif_below_threshold_never_fires():
    trace = functional.lif_sequence(torch.full((2000, 3), 0.999))
    assert trace.spikes.sum() == 0


def test_lif_rate_rises_with_input():
    currents = torch.linspace(1.1, 4.0, 12)
    rates = functional.lif_sequence(currents.expand(500, -1).clone()).spikes.mean(0)
    assert torch.all(rates[1:] >= rates[:-1]) and rates[-1] > rates[0]


def test_lif_fires_at_exact_threshold():
    params = functional.LIFParameters(tau=1.0, dt=1.0, threshold=1.0)
    spikes, state, v = functional.lif_step(torch.tensor([1.0]), functional.lif_initial_state(torch.zeros(1)), params)
    assert spikes.item() == 1.0 and v.item() == 1.0 and state.v.item() == params.reset


def test_vectorised_lif_equals_per_neuron_loop():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand((300, 4, 7), generator=generator, dtype=torch.float64) * 3
    params = functional.LIFParameters(tau=5.0, dt=0.5, threshold=1.2, reset=-0.1)
    trace = functional.lif_sequence(inputs, params)
    assert trace.spikes.sum() > 50
    torch.testing.assert_close(trace.spikes, loop_lif(inputs, params), rtol=0, atol=0)


def test_abss_with_clamped_potential_fires_at_the_escape_noise_rate():
    """tau = dt makes V = I every step, and w_ar = 0 removes feedback: the rate must be
    sigmoid((I - threshold) / temperature)."""
    params = functional.ABSSParameters(tau=1.0, dt=1.0, w_ar=0.0, threshold=0.8, temperature=0.3)
    levels = torch.tensor([-2.0, -0.5, 0.0, 0.7, 0.8, 1.2, 2.5])
    samples = 20_000
    inputs = levels.expand(samples, -1).clone()
    trace = functional.abss_sequence(inputs, params, torch.Generator().manual_seed(1))
    rates = trace.spikes.mean(0)
    p = torch.sigmoid((levels - 0.8) / 0.3)
    tolerance = 4.5 * torch.sqrt(p * (1 - p) / samples)
    assert torch.all((rates - p).abs() < tolerance), (rates, p)


def test_abss_at_rest_fires_rarely_and_its_rate_rises_with_a_constant_input():
    layer = TorchBernoulliLayer(num_neurons=1000, seed=0)
    rates = [
        float(layer.forward_sequence(torch.full((200, 1, 1000), current)).spikes.mean())
        for current in (0.0, 0.25, 0.5, 1.0, 2.0, 3.0)
    ]
    assert rates[0] < 0.05, "a neuron at rest fires on under 5% of steps"
    assert all(low < high for low, high in itertools.pairwise(rates)), rates


def test_abss_gradient_is_the_escape_noise_derivative():
    params = functional.ABSSParameters(tau=1.0, dt=1.0, w_ar=0.0, threshold=1.0, temperature=0.2)
    current = torch.tensor([0.0, 0.9, 1.0, 1.4], requires_grad=True)
    spikes, _, _ = functional.abss_step(current, functional.abss_initial_state(current), params, torch.Generator())
    spikes.sum().backward()
    p = torch.sigmoid((current.detach() - 1.0) / 0.2)
    torch.testing.assert_close(current.grad, p * (1 - p) / 0.2)


def test_abss_reset_and_autoregressive_feedback():
    params = functional.ABSSParameters(tau=4.0, dt=1.0, w_ar=0.5)
    state = functional.ABSSState(v=torch.tensor([0.2, 0.2]), spikes=torch.tensor([1.0, 0.0]))
    current = torch.tensor([1.0, 1.0])
    spikes, new_state, v = functional.abss_step(current, state, params, torch.Generator().manual_seed(0))
    expected = 0.2 + (1.0 - 0.2) / 4.0 + torch.tensor([0.5, 0.0])
    torch.testing.assert_close(v, expected)
    torch.testing.assert_close(new_state.v, torch.where(spikes.bool(), 0.0, expected))
    assert torch.equal(new_state.spikes, spikes)


def loop_abss(inputs, params, uniforms):
    steps, count = inputs.shape
    spikes = torch.zeros_like(inputs)
    v = [0.0] * count
    previous = [0.0] * count
    for t in range(steps):
        for n in range(count):
            v[n] += (inputs[t, n].item() - v[n]) / params.tau * params.dt + params.w_ar * previous[n]
            fired = uniforms[t, n].item() < 1 / (1 + math.exp(-(v[n] - params.threshold) / params.temperature))
            spikes[t, n] = float(fired)
            previous[n] = float(fired)
            if fired:
                v[n] = 0.0
    return spikes


def test_vectorised_abss_equals_per_neuron_loop_with_the_same_draws():
    inputs = torch.linspace(-2, 2, 6, dtype=torch.float64).expand(200, -1).clone()
    params = functional.ABSSParameters(tau=3.0, dt=1.0, w_ar=0.7, threshold=0.5, temperature=0.4)
    trace = functional.abss_sequence(inputs, params, torch.Generator().manual_seed(5))
    draws = torch.Generator().manual_seed(5)
    uniforms = torch.stack([torch.rand(6, generator=draws, dtype=torch.float64) for _ in range(200)])
    torch.testing.assert_close(trace.spikes, loop_abss(inputs, params, uniforms), rtol=0, atol=0)


def test_adaptive_threshold_stays_within_bounds_and_adapts():
    params = functional.AdaptiveLIFParameters(
        tau=2.0,
        threshold=0.2,
        adaptive=True,
        noise=True,
        stochastic=True,
        eta=0.3,
        min_threshold=0.7,
        max_threshold=1.6,
    )
    inputs = torch.rand((500, 8, 16), generator=torch.Generator().manual_seed(2)) * 6 - 2
    state = functional.adaptive_lif_initial_state(inputs[0], params)
    thresholds = []
    for current in inputs:
        _, state, _ = functional.adaptive_lif_step(current, state, params, generator=torch.Generator().manual_seed(3))
        thresholds.append(state.threshold)
    thresholds = torch.stack(thresholds)
    assert thresholds.min() >= 0.7 and thresholds.max() <= 1.6
    assert thresholds.max() == pytest.approx(1.6)
    torch.testing.assert_close(thresholds[0], torch.full_like(thresholds[0], 0.7))


def test_adaptive_threshold_update_rule():
    params = functional.AdaptiveLIFParameters(tau=1.0, adaptive=True, eta=0.1)
    state = functional.AdaptiveLIFState(v=torch.zeros(2), threshold=torch.tensor([1.5, 1.5]))
    spikes, state, _ = functional.adaptive_lif_step(torch.tensor([2.0, 0.5]), state, params)
    assert spikes.tolist() == [1.0, 0.0]
    torch.testing.assert_close(state.threshold, torch.tensor([1.6, 1.5 - 0.1 * 0.5]))


def test_adaptive_lif_without_options_equals_plain_lif():
    inputs = torch.rand((200, 3, 5), generator=torch.Generator().manual_seed(4)) * 3
    plain = functional.lif_sequence(inputs, functional.LIFParameters(tau=3.0), record=True)
    group = functional.adaptive_lif_sequence(inputs, functional.AdaptiveLIFParameters(tau=3.0), record=True)
    assert torch.equal(plain.spikes, group.spikes) and torch.equal(plain.potentials, group.potentials)


def test_seeds_reproduce_stochastic_traces_bit_for_bit():
    inputs = torch.rand((100, 4, 10), generator=torch.Generator().manual_seed(0)) * 2
    params = functional.AdaptiveLIFParameters(noise=True, stochastic=True, adaptive=True)

    def run(seed):
        abss = functional.abss_sequence(inputs, generator=torch.Generator().manual_seed(seed), record=True)
        group = functional.adaptive_lif_sequence(
            inputs, params, generator=torch.Generator().manual_seed(seed), record=True
        )
        return abss.spikes, abss.potentials, group.spikes, group.potentials

    first, second, other = run(7), run(7), run(8)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("surrogate", list(SURROGATES))
def test_lif_gradients_are_finite_and_nonzero_for_every_surrogate(surrogate):
    torch.manual_seed(0)
    weights = torch.rand(8, 6) * 0.5
    weights.requires_grad_()
    inputs = torch.rand(30, 4, 8)
    # SparseFastSigmoid only passes gradient where V - V_th > B = 1, so drive the neurons harder for it.
    params = functional.LIFParameters(tau=2.0, threshold=0.5 if surrogate == "sparse_fast_sigmoid" else 1.0)
    gain = 4.0 if surrogate == "sparse_fast_sigmoid" else 1.0
    trace = functional.lif_sequence(inputs @ weights * gain, params, make_spike_function(surrogate))
    trace.spikes.sum().backward()
    assert torch.isfinite(weights.grad).all()
    assert weights.grad.abs().sum() > 0


def test_abss_gradient_is_finite_and_nonzero():
    weights = torch.randn(8, 6, requires_grad=True, generator=torch.Generator().manual_seed(0))
    inputs = torch.rand(30, 4, 8, generator=torch.Generator().manual_seed(1))
    trace = functional.abss_sequence(inputs @ weights, generator=torch.Generator().manual_seed(2))
    trace.spikes.sum().backward()
    assert torch.isfinite(weights.grad).all() and weights.grad.abs().sum() > 0


def test_abss_straight_through_gradient_is_that_of_the_probability():
    v = torch.tensor([0.3, -1.0], requires_grad=True)
    spikes = functional.bernoulli_straight_through(torch.sigmoid(v), torch.Generator().manual_seed(0))
    assert set(spikes.tolist()) <= {0.0, 1.0}
    spikes.sum().backward()
    torch.testing.assert_close(v.grad, torch.sigmoid(v) * (1 - torch.sigmoid(v)))


def test_lif_spike_function_gradient_is_snntorch_surrogate():
    v = torch.tensor([0.8, 1.3], requires_grad=True)
    spikes = functional.threshold_crossing(v - 1.0, make_spike_function("fast_sigmoid", {"slope": 10}))
    spikes.sum().backward()
    torch.testing.assert_close(v.grad, 1 / (10 * (v.detach() - 1).abs() + 1) ** 2)


@pytest.mark.parametrize("reset", [0.0, -0.5])
def test_reset_where_fired_equals_where_and_masks_the_gradient(reset):
    generator = torch.Generator().manual_seed(4)
    v = (torch.randn((64, 3, 5, 5), generator=generator) * 3).contiguous(memory_format=torch.channels_last)
    v.requires_grad_()
    spikes = (torch.rand(v.shape, generator=generator) < 0.3).float().requires_grad_()
    result = functional.reset_where_fired(v, spikes, reset)
    assert torch.equal(result, torch.where(spikes > 0, reset, v))
    assert result.stride() == v.stride()
    (grad_v, grad_spikes) = torch.autograd.grad(result.sum(), (v, spikes), allow_unused=True)
    assert torch.equal(grad_v, 1 - spikes.detach()) and grad_spikes is None


@pytest.mark.parametrize("compare", [torch.gt, torch.ge, torch.eq, torch.lt])
def test_compare_as_float_equals_the_cast_bool_comparison(compare):
    left = torch.tensor([-1.0, -0.0, 0.0, 0.5, 1.0, 2.0, float("inf"), float("nan")]).requires_grad_()
    result = functional.compare_as_float(compare, left, 0.5)
    assert torch.equal(result, compare(left, 0.5).float()) and result.dtype == left.dtype
    assert not result.requires_grad
