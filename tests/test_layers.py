import pytest
import torch

from helpers import loop_lif
from spikebench.neurons import functional
from spikebench.neurons.layers import TorchAdaptiveLIFLayer, TorchBernoulliLayer, TorchLIFLayer


def test_lif_layer_steps_equal_the_per_neuron_loop():
    inputs = torch.rand((120, 5, 10), generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2.5
    layer = TorchLIFLayer(num_neurons=10, tau=4.0)
    spikes = torch.stack([layer(x) for x in inputs])
    assert spikes.dtype == torch.float64 and spikes.shape == inputs.shape
    torch.testing.assert_close(spikes, loop_lif(inputs, layer.params), rtol=0, atol=0)
    torch.testing.assert_close(layer.forward_sequence(inputs).spikes, spikes, rtol=0, atol=0)


def test_state_persists_across_calls_until_reset():
    layer = TorchLIFLayer(num_neurons=3)
    x = torch.full((2, 3), 0.5)
    layer(x)
    first = layer.v.clone()
    layer(x)
    assert torch.all(layer.v > first)
    layer.reset_state()
    assert layer.v is None
    layer(x)
    torch.testing.assert_close(layer.v, first)


def test_bernoulli_layer_is_reproducible_with_a_seed():
    x = torch.rand((4, 10), generator=torch.Generator().manual_seed(0))
    runs = []
    for seed in (3, 3, 4):
        layer = TorchBernoulliLayer(num_neurons=10, seed=seed)
        runs.append(torch.stack([layer(x) for _ in range(50)]))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    assert set(runs[0].unique().tolist()) <= {0.0, 1.0}


def test_bernoulli_layer_matches_functional_sequence():
    inputs = torch.rand((40, 2, 10), generator=torch.Generator().manual_seed(1))
    layer = TorchBernoulliLayer(num_neurons=10, tau=3.0, w_ar=0.2, seed=9)
    stepped = torch.stack([layer(x) for x in inputs])
    sequence = functional.abss_sequence(
        inputs, functional.ABSSParameters(tau=3.0, w_ar=0.2), torch.Generator().manual_seed(9)
    )
    assert torch.equal(stepped, sequence.spikes)


def test_adaptive_layer_tracks_its_threshold():
    params = functional.AdaptiveLIFParameters(adaptive=True, eta=0.2, tau=2.0)
    layer = TorchAdaptiveLIFLayer(num_neurons=4, params=params, seed=0)
    for _ in range(20):
        layer(torch.full((1, 4), 3.0))
    assert torch.all(layer.threshold > 1.0) and torch.all(layer.threshold <= params.max_threshold)


def test_layers_are_differentiable():
    x = torch.rand((3, 10), requires_grad=True)
    for layer in (TorchLIFLayer(num_neurons=10, tau=1.5), TorchBernoulliLayer(num_neurons=10, seed=0)):
        total = sum(layer(x * 4).sum() for _ in range(5))
        (grad,) = torch.autograd.grad(total, x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("layer_class", [TorchLIFLayer, TorchBernoulliLayer, TorchAdaptiveLIFLayer])
def test_clear_errors_for_bad_input(layer_class):
    layer = layer_class(num_neurons=10)
    with pytest.raises(TypeError, match="expects a torch.Tensor, got list"):
        layer([0.0] * 10)
    with pytest.raises(ValueError, match=r"\(batch, num_neurons\) with num_neurons=10, got \(2, 9\)"):
        layer(torch.zeros(2, 9))
    with pytest.raises(ValueError, match="got \\(10,\\)"):
        layer(torch.zeros(10))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.zeros(2, 10, dtype=torch.long))
    layer(torch.zeros(2, 10))
    with pytest.raises(ValueError, match="reset_state"):
        layer(torch.zeros(3, 10))
    with pytest.raises(ValueError, match="positive integer"):
        layer_class(num_neurons=0)


def test_unknown_surrogate_is_named():
    with pytest.raises(ValueError, match="unknown surrogate 'fast'"):
        TorchLIFLayer(num_neurons=2, surrogate="fast")


def test_the_public_import_paths_reach_the_same_layers():
    import spikebench.layers
    import spikebench.neurons

    for name in ("TorchLIFLayer", "TorchBernoulliLayer", "TorchAdaptiveLIFLayer"):
        assert getattr(spikebench.layers, name) is getattr(spikebench.neurons, name) is globals()[name]
    assert spikebench.neurons.lif_step is functional.lif_step
    with pytest.raises(AttributeError, match="no attribute 'lif_stepp'"):
        spikebench.neurons.lif_stepp  # noqa: B018
