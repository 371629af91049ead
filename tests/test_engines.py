"""The fast engine against the reference engine (snnTorch's modules, one step per call), model by model."""

import pytest
import snntorch.functional as SF
import torch

from spikebench.model import cells
from spikebench.model.cells import NeuronSettings, heaviside
from spikebench.model.network import IMAGES_PER_PIECE, ConvSNN
from spikebench.model.registry import NEURON_MODELS
from spikebench.neurons.surrogates import SURROGATES, make_spike_function

STEPS = 8
SURROGATE_PARAMS = {"stochastic_spike_operator": {"variance": 0.0}}
"""SSO draws noise from torch's global generator in its backward pass, in an order each engine visits
differently; with zero variance its gradient is deterministic and the engines must agree exactly."""
OUTPUT_GAIN = {"sparse_fast_sigmoid": 30.0, "stochastic_spike_operator": 10.0}
"""Gain on the second and last layers' weights for surrogates whose gradient is zero unless the output layer
is driven hard: snnTorch's SparseFastSigmoid
passes gradient only where U - threshold > B (= 1), SSO without noise only where a neuron spiked."""


def pair(neuron, surrogate, params=None, output_gain=1.0, settings=NeuronSettings()):
    torch.manual_seed(3)
    fast = ConvSNN(neuron, surrogate, settings, surrogate_params=params, engine="fast")
    reference = ConvSNN(neuron, surrogate, settings, surrogate_params=params, engine="reference")
    reference.load_state_dict(fast.state_dict())
    with torch.no_grad():
        for model in (fast, reference):
            model.conv1.weight.mul_(3.0)
            model.conv2.weight.mul_(output_gain)
            model.fc.weight.mul_(output_gain)
    fast.seed_generators(0)
    reference.seed_generators(0)
    return fast, reference


def images_and_labels():
    generator = torch.Generator().manual_seed(0)
    return torch.rand((4, 1, 28, 28), generator=generator), torch.tensor([3, 1, 4, 1])


def test_every_registered_neuron_model_has_a_cell():
    for spec in NEURON_MODELS.values():
        assert issubclass(spec.cell_class(), cells.Cell), spec.name


UNUSUAL_SETTINGS = NeuronSettings(beta=0.6, alpha=0.8, threshold=0.75, lapicque_r=2.0, lapicque_c=0.9)
"""Constants off the defaults, where the fast engine's shortcuts for threshold 1 and R = 1 do not apply."""


SNNTORCH_MODELS = [name for name, spec in NEURON_MODELS.items() if spec.origin == "snntorch"]


@pytest.mark.parametrize(
    ("neuron", "settings"),
    [pytest.param(neuron, NeuronSettings(), id=neuron) for neuron in NEURON_MODELS]
    + [pytest.param(neuron, UNUSUAL_SETTINGS, id=f"{neuron}-unusual") for neuron in SNNTORCH_MODELS],
)
def test_engines_give_identical_spikes_and_membranes(neuron, settings):
    surrogate = "atan" if NEURON_MODELS[neuron].uses_surrogate else None
    fast, reference = pair(neuron, surrogate, settings=settings)
    images, _ = images_and_labels()
    a, b = fast(images, STEPS, record=True), reference(images, STEPS, record=True)
    assert a.layer_outputs[0].sum() > 0, "the test input must make the first layer spike"
    for layer, (x, y) in enumerate(zip(a.layer_outputs, b.layer_outputs, strict=True)):
        assert torch.equal(x, y), f"layer {layer} spikes differ"
    # The fast engine sums the second convolution in another order (channels-last): float32 rounding, carried
    # through 25 steps of membrane recursion, moves single membranes by up to ~5e-6 on some CPUs (AMD EPYC).
    for layer, (x, y) in enumerate(zip(a.membranes, b.membranes, strict=True)):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5, msg=f"layer {layer} membranes differ")
    for x, y in zip(a.state, b.state, strict=True):
        for u, v in zip(x, y, strict=True):
            torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("neuron", ["leaky", "alpha"])
def test_evaluation_piece_by_piece_equals_the_reference_engine(neuron):
    fast, reference = pair(neuron, "atan")
    images = torch.rand((IMAGES_PER_PIECE + 44, 1, 28, 28), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        first = [model(images, 3, record=True) for model in (fast, reference)]
        second = [
            model(images, STEPS - 3, result.state, record=True)
            for model, result in zip((fast, reference), first, strict=True)
        ]
    for a, b in (first, second):
        assert a.layer_neurons == b.layer_neurons
        for x, y in zip(a.layer_outputs, b.layer_outputs, strict=True):
            assert torch.equal(x, y)
        assert [int(n) for n in a.layer_spikes] == [int(n) for n in b.layer_spikes]
        for x, y in zip(a.membranes, b.membranes, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-6)
    assert second[0].layer_outputs[0].sum() > 0


CASES = [
    (neuron, surrogate)
    for neuron, spec in NEURON_MODELS.items()
    for surrogate in (SURROGATES if spec.uses_surrogate else [None])
]


@pytest.mark.parametrize(("neuron", "surrogate"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_engines_give_the_same_finite_nonzero_gradients(neuron, surrogate):
    params = SURROGATE_PARAMS.get(surrogate)
    fast, reference = pair(neuron, surrogate, params, OUTPUT_GAIN.get(surrogate, 1.0))
    images, labels = images_and_labels()
    loss_fn = SF.ce_rate_loss()
    gradients = []
    for model in (fast, reference):
        loss = loss_fn(model(images, STEPS).spikes, labels)
        gradients.append(torch.autograd.grad(loss, list(model.parameters())))
    for (name, _), g_fast, g_reference in zip(fast.named_parameters(), *gradients, strict=True):
        assert torch.isfinite(g_fast).all() and torch.isfinite(g_reference).all(), name
        # The engines sum the same terms in different orders (over time, and over channels-last memory), so
        # elements near zero differ by float32 rounding of the largest terms: about 1e-5 of the largest.
        scale = g_reference.abs().max().item()
        torch.testing.assert_close(g_fast, g_reference, rtol=1e-4, atol=1e-4 * max(scale, 1e-6), msg=name)
    assert sum(g.abs().sum() for g in gradients[0]) > 0


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_stochastic_spike_operator_with_noise_gives_finite_nonzero_gradients(engine):
    torch.manual_seed(0)
    model = ConvSNN("leaky", "stochastic_spike_operator", engine=engine)
    images, labels = images_and_labels()
    loss = SF.ce_rate_loss()(model(images * 3, STEPS).spikes, labels)
    gradients = torch.autograd.grad(loss, list(model.parameters()))
    assert all(torch.isfinite(g).all() for g in gradients)
    assert sum(g.abs().sum() for g in gradients) > 0


@pytest.mark.parametrize("surrogate", list(SURROGATES))
def test_every_surrogate_fires_on_the_heaviside_the_fast_engine_evaluates_with(surrogate):
    x = torch.tensor([-1e30, -2.0, -1e-38, -0.0, 0.0, 1e-45, 1e-38, 0.5, 3.0, float("inf")])
    threshold = 1.0
    membrane = x + threshold
    assert torch.equal(make_spike_function(surrogate)(membrane - threshold), heaviside(membrane, threshold))
    assert torch.equal(make_spike_function(surrogate)(x), (x > 0).float())


def test_stable_sigmoid_equals_snntorch_where_snntorch_is_finite():
    x = torch.linspace(-6, 6, 2001, requires_grad=True)
    stable = make_spike_function("sigmoid", {"slope": 25}, numerics="stable")
    original = make_spike_function("sigmoid", {"slope": 25}, numerics="snntorch")
    (stable_grad,) = torch.autograd.grad(stable(x).sum(), x)
    (original_grad,) = torch.autograd.grad(original(x).sum(), x)
    assert torch.equal(stable(x), original(x))
    finite = torch.isfinite(original_grad)
    assert not finite.all(), "snnTorch's sigmoid no longer overflows: the stable variant may be dropped"
    torch.testing.assert_close(stable_grad[finite], original_grad[finite], rtol=1e-5, atol=1e-5)
    assert torch.isfinite(stable_grad).all()


def test_snntorch_numerics_reproduce_the_reference_nan():
    torch.manual_seed(3)
    model = ConvSNN("leaky", "sigmoid", engine="reference", surrogate_numerics="snntorch")
    with torch.no_grad():
        model.conv1.weight.mul_(3.0)
    images, labels = images_and_labels()
    loss = SF.ce_rate_loss()(model(images, STEPS).spikes, labels)
    gradients = torch.autograd.grad(loss, list(model.parameters()))
    assert any(torch.isnan(g).any() for g in gradients)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_bf16_runs_the_connections_in_bfloat16_and_keeps_the_neurons_in_float32(engine, monkeypatch):
    torch.manual_seed(3)
    exact = ConvSNN("leaky", "atan", engine=engine)
    rounded = ConvSNN("leaky", "atan", engine=engine, precision="bf16")
    rounded.load_state_dict(exact.state_dict())
    with torch.no_grad():
        for model in (exact, rounded):
            model.conv1.weight.mul_(3.0)
    images, labels = images_and_labels()
    exact_result = exact(images, STEPS)
    seen = []
    for name in ("conv2d", "linear"):
        original = getattr(torch.nn.functional, name)

        def recorded(*args, original=original, name=name, **kwargs):
            output = original(*args, **kwargs)
            seen.append((name, output.dtype))
            return output

        monkeypatch.setattr(torch.nn.functional, name, recorded)
    results = [exact_result, rounded(images, STEPS)]
    assert {dtype for _, dtype in seen} == {torch.bfloat16} and {name for name, _ in seen} == {"conv2d", "linear"}
    assert all(tensor.dtype == torch.float32 for state in results[1].state for tensor in state)
    assert results[1].spikes.dtype == torch.float32
    loss = SF.ce_rate_loss()(results[1].spikes, labels)
    gradients = torch.autograd.grad(loss, list(rounded.parameters()))
    assert all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in gradients)
    assert sum(g.abs().sum() for g in gradients) > 0
    # Spikes are thresholded currents: bfloat16's 8-bit mantissa flips a few neurons near threshold only.
    agreement = (results[0].spikes == results[1].spikes).float().mean().item()
    assert agreement > 0.95


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision 'fp16'; known: fp32, bf16"):
        ConvSNN("leaky", "atan", precision="fp16")
