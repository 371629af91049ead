"""The compiled neuron kernels (``spikebench.neurons.native``) against the fast engine's eager operations: the
same numbers bit for bit, forward and backward, or the eager path where they cannot run."""

import shutil

import pytest
import snntorch.functional as SF
import torch
import torch.nn.functional as F

from spikebench.model.cells import AlphaCell, LeakyCell, LIFCell, NeuronSettings, SynapticCell
from spikebench.model.network import ConvSNN
from spikebench.neurons import native
from spikebench.neurons.functional import LIFParameters
from spikebench.neurons.surrogates import make_spike_function

NATIVE_MODELS = ("leaky", "synaptic", "alpha", "lapicque", "lif")
NATIVE_SURROGATES = ("fast_sigmoid", "atan", "triangular", "straight_through_estimator", "sparse_fast_sigmoid")
UNUSUAL = NeuronSettings(
    beta=0.6,
    alpha=0.8,
    threshold=0.75,
    lapicque_r=2.0,
    lapicque_c=0.9,
    lif=LIFParameters(tau=3.0, threshold=0.8, reset=0.1),
)
HAS_COMPILER = shutil.which(native._compiler()[0]) is not None


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
def test_the_kernels_build_and_load_where_a_c_compiler_is_found():
    status = native.status()
    assert status.available, status.detail


def training_windows(neuron, surrogate, settings, precision="fp32"):
    """Spikes, final states and parameter gradients of two windows (3 and 5 steps, the second starting from the
    first's detached state, as truncated BPTT runs), and a no-grad evaluation."""
    torch.manual_seed(3)
    model = ConvSNN(neuron, surrogate, settings, precision=precision)
    gain = 30.0 if surrogate == "sparse_fast_sigmoid" else 1.0
    with torch.no_grad():
        model.conv1.weight.mul_(3.0)
        model.conv2.weight.mul_(gain)
        model.fc.weight.mul_(gain)
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.rand((16, 1, 28, 28), generator=generator), torch.randint(0, 10, (16,), generator=generator)
    state, tensors, gradients = None, [], []
    for window in (3, 5):
        result = model(images, window, state)
        loss = SF.ce_rate_loss()(result.spikes, labels)
        gradients += torch.autograd.grad(loss, list(model.parameters()))
        state = [tuple(tensor.detach() for tensor in layer) for layer in result.state]
        tensors += [result.spikes, *[tensor for layer in state for tensor in layer]]
    with torch.no_grad():
        tensors.append(model(images, 5).spikes)
    return tensors + gradients, sum(gradient.abs().sum() for gradient in gradients)


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
@pytest.mark.parametrize("settings", [NeuronSettings(), UNUSUAL], ids=["default", "unusual"])
@pytest.mark.parametrize("surrogate", NATIVE_SURROGATES)
@pytest.mark.parametrize("neuron", NATIVE_MODELS)
def test_the_kernels_give_the_eager_engines_numbers_bit_for_bit(neuron, surrogate, settings):
    compiled, gradient_total = training_windows(neuron, surrogate, settings)
    with native.disabled():
        expected, _ = training_windows(neuron, surrogate, settings)
    assert gradient_total > 0, "the gradients must not all vanish"
    for index, (x, y) in enumerate(zip(compiled, expected, strict=True)):
        assert torch.equal(x, y), f"tensor {index} differs"
        assert torch.equal(torch.signbit(x), torch.signbit(y)), f"tensor {index} differs in the sign of a zero"


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
def test_a_bf16_network_gets_the_eager_engines_numbers_bit_for_bit():
    """In bf16 the native pooling reads the convolutions' bfloat16 outputs and rounds their gradients."""
    compiled, _ = training_windows("leaky", "atan", NeuronSettings(), precision="bf16")
    with native.disabled():
        expected, _ = training_windows("leaky", "atan", NeuronSettings(), precision="bf16")
    assert all(torch.equal(x, y) for x, y in zip(compiled, expected, strict=True))


def pooling_input(dtype, shape=(6, 16, 8, 8)):
    """A channels-last convolution output with what can trip a maximum: ties (+0 against -0 too), NaNs of
    either sign, infinities."""
    values = torch.randn(shape, generator=torch.Generator().manual_seed(5))
    values[0] = 0.5
    values[1, :, 0, 0], values[1, :, 1, 1], values[1, :3, 0, 1] = float("nan"), float("nan"), -float("nan")
    values[2] = -float("inf")
    values[3, :, 0, 1] = float("inf")
    values[4, :, 0, 0], values[4, :, 0, 1], values[4, :, 1, :2] = -0.0, 0.0, -1.0
    return values.to(dtype).contiguous(memory_format=torch.channels_last)


def pooled_with_gradient(pool, values):
    values = values.clone().requires_grad_()
    pooled = pool(values)
    gradient = torch.randn(pooled.shape, generator=torch.Generator().manual_seed(6))
    gradient[0, 0, 0, 0], gradient[0, 1, 0, 0], gradient[1, 0, 1, 1] = -0.0, float("nan"), 1e-40
    pooled.backward(gradient)
    return pooled, values.grad


def same_bits(x, y):
    as_integers = torch.int16 if x.dtype == torch.bfloat16 else torch.int32
    return x.dtype == y.dtype and torch.equal(
        x.contiguous(memory_format=torch.channels_last).view(as_integers),
        y.contiguous(memory_format=torch.channels_last).view(as_integers),
    )


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
@pytest.mark.parametrize("shape", [(6, 16, 8, 8), (128, 64, 8, 8)], ids=["small", "on several threads"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_native_max_pooling_is_pytorchs_bit_for_bit(dtype, shape):
    values = pooling_input(dtype, shape)
    assert native.pools(values, 2)
    pooled, gradient = pooled_with_gradient(native.max_pool, values)
    expected_pooled, expected_gradient = pooled_with_gradient(lambda x: F.max_pool2d(x, 2).float(), values)
    assert pooled.is_contiguous(memory_format=torch.channels_last)
    assert same_bits(pooled, expected_pooled), "NaN payloads, infinities and ties included"
    assert same_bits(gradient, expected_gradient), "zeros' signs, NaN and bfloat16 rounding included"


def test_native_max_pooling_leaves_other_poolings_to_pytorch():
    values = pooling_input(torch.float32)
    assert not native.pools(values, 3)
    assert not native.pools(values.contiguous(), 2), "channels first"
    assert not native.pools(values.double(), 2)
    assert not native.pools(values[:, :, :7, :7].contiguous(memory_format=torch.channels_last), 2), "odd sizes"
    assert not native.pools(values[:, :12].contiguous(memory_format=torch.channels_last), 2), "the first layer's"
    with native.disabled():
        assert not native.pools(values, 2)


def cell_gradients(cell_class, settings, shape=(64, 33)):
    """A cell's sequence on distinct per-step drives (some steps' spikes unused by the loss), from an initial
    state that needs gradients, with the loss on the final state too: every gradient the kernels return."""
    generator = torch.Generator().manual_seed(7)
    cell = cell_class(settings, make_spike_function("atan", fused=True))
    drives = [(torch.randn(shape, generator=generator) * 1.5).requires_grad_() for _ in range(6)]
    state = tuple((torch.rand(shape, generator=generator) * 1.2).requires_grad_() for _ in range(cell.num_states))
    spikes, final, _ = cell.sequence(drives, state)
    loss = sum(spike.sum() * (step + 1) for step, spike in enumerate(spikes) if step != 2)
    loss = loss + sum((tensor**2).sum() for tensor in final)
    # Alpha's initial membrane only sets the first reset, which is detached: it gets no gradient.
    return [*spikes, *final, *torch.autograd.grad(loss, [*drives, *state], allow_unused=True)]


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
@pytest.mark.parametrize("cell_class", [LeakyCell, SynapticCell, AlphaCell, LIFCell])
@pytest.mark.parametrize("settings", [NeuronSettings(), UNUSUAL], ids=["default", "unusual"])
def test_initial_and_final_state_gradients_equal_the_eager_engines(cell_class, settings):
    compiled = cell_gradients(cell_class, settings)
    with native.disabled():
        expected = cell_gradients(cell_class, settings)
    for index, (x, y) in enumerate(zip(compiled, expected, strict=True)):
        assert (x is None and y is None) or torch.equal(x, y), f"tensor {index} differs"


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
def test_the_kernels_give_the_same_numbers_on_any_number_of_threads():
    threads, large = torch.get_num_threads(), (256, 200)
    try:
        torch.set_num_threads(1)
        single = cell_gradients(SynapticCell, NeuronSettings(), large)
        torch.set_num_threads(max(threads, 2))
        several = cell_gradients(SynapticCell, NeuronSettings(), large)
    finally:
        torch.set_num_threads(threads)
    assert large[0] * large[1] > 32768, "large enough to run on several threads (PARALLEL_ABOVE)"
    assert all(torch.equal(x, y) for x, y in zip(single, several, strict=True))


def test_other_surrogates_and_layouts_run_the_eager_path():
    tensor = torch.zeros(4, 3)
    assert native.surrogate_code(make_spike_function("fast_sigmoid", fused=True)) is not None
    assert native.surrogate_code(make_spike_function("spike_rate_escape", fused=True)) is None
    assert native.surrogate_code(make_spike_function("fast_sigmoid")) is None, "snnTorch's own: not fused"
    spike_fn = make_spike_function("fast_sigmoid", fused=True)
    assert not native.applies(spike_fn, [tensor, tensor.double()])
    assert not native.applies(spike_fn, [tensor, tensor.t()])
    with native.disabled():
        assert not native.applies(spike_fn, [tensor, tensor])


@pytest.fixture
def fresh_library(monkeypatch, tmp_path):
    """A library looked up again, in an empty cache."""
    monkeypatch.setenv("SPIKEBENCH_CACHE", str(tmp_path))
    native._library.cache_clear()
    yield
    native._library.cache_clear()


def test_disabled_kernels_leave_the_eager_path_with_the_same_result(fresh_library, monkeypatch):
    monkeypatch.setenv(native.DISABLE, "0")
    assert native.status() == native.NativeStatus(False, "disabled (SPIKEBENCH_NATIVE=0)")
    model = ConvSNN("leaky", "fast_sigmoid")
    assert model(torch.rand(2, 1, 28, 28), 3).spikes.shape == (3, 2, 10)


def test_a_failing_compiler_is_reported_and_the_engine_runs_eager(fresh_library, monkeypatch, caplog):
    monkeypatch.setenv("CC", "false")
    status = native.status()
    assert not status.available and status.detail.startswith("not compiled: false ")
    assert "native neuron kernels unavailable" in caplog.text
    model = ConvSNN("synaptic", "atan")
    assert model(torch.rand(2, 1, 28, 28), 3).spikes.shape == (3, 2, 10)


def test_an_unwritable_cache_is_reported_and_the_engine_runs_eager(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("SPIKEBENCH_CACHE", str(blocker))
    native._library.cache_clear()
    try:
        status = native.status()
        assert not status.available and f"cannot write {blocker / 'native'}" in status.detail
        assert ConvSNN("alpha", "fast_sigmoid")(torch.rand(2, 1, 28, 28), 3).spikes.shape == (3, 2, 10)
    finally:
        native._library.cache_clear()
