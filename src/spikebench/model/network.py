"""The study's convolutional SNN: 12C5-MP2-64C5-MP2-FC10, a spiking layer after each stage.

Both engines share the weights and the cells (``spikebench.model.cells``) and differ only in how time is run:

- ``reference``: one time step per iteration, recomputing the whole network on the static image each step,
  as snnTorch's tutorials do.
- ``fast``: whole sequences per layer. The static image's first convolution and pooling are computed once;
  the linear layer sees all time steps as one batch; the second convolution gets channels-last spikes one
  step at a time; evaluation runs piece by piece of at most ``IMAGES_PER_PIECE`` images.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from spikebench.model.cells import NeuronSettings, State
from spikebench.model.registry import NEURON_MODELS
from spikebench.model.topology import STAGES, Stage, in_features
from spikebench.neurons import native
from spikebench.neurons.surrogates import SpikeFunction, make_spike_function

ENGINES = ("fast", "reference")
PRECISIONS = ("fp32", "bf16")
"""``bf16``: the connection layers (convolutions, the linear layer) compute in bfloat16 under autocast; their
outputs return to float32 before the neurons, so the membrane state, the spikes' surrogate gradients, the loss
and the optimizer stay in float32."""
IMAGES_PER_PIECE = 256
"""At most this many images per forward pass of the fast engine without autograd on a CPU (evaluation): a
batch of 1,000 runs 5-10% faster in pieces of 256 than of 128 or 512 or whole, as their per-step tensors stay
in cache. Each image's output is bit for bit the same whatever the piece (tested)."""


class ForwardResult(NamedTuple):
    """Output spikes ``[T, B, 10]``, final state per layer, spike counts and sizes per layer, optional traces."""

    spikes: torch.Tensor
    state: list[State]
    layer_spikes: list[torch.Tensor]
    layer_neurons: list[int]
    layer_outputs: list[torch.Tensor] | None
    membranes: list[torch.Tensor] | None


class ConvSNN(nn.Module):
    def __init__(
        self,
        neuron: str,
        surrogate: str | None,
        settings: NeuronSettings = NeuronSettings(),
        surrogate_params: dict | None = None,
        engine: str = "fast",
        surrogate_numerics: str = "stable",
        precision: str = "fp32",
    ):
        super().__init__()
        _check_choices(neuron=(neuron, NEURON_MODELS), engine=(engine, ENGINES), precision=(precision, PRECISIONS))
        self.engine, self.precision = engine, precision
        for index, stage in enumerate(STAGES):
            setattr(self, stage.connection, _connection(stage, in_features(index)))
        spike_fn = _spike_function(surrogate, surrogate_params, surrogate_numerics, engine)
        cell = NEURON_MODELS[neuron].cell_class()
        self.cells = nn.ModuleList(cell(settings, spike_fn) for _ in STAGES)

    def connections(self) -> list[nn.Module]:
        """The connection layers in stage order (``STAGES``)."""
        return [getattr(self, stage.connection) for stage in STAGES]

    def seed_generators(self, seed: int, device: torch.device | str = "cpu") -> None:
        """Give every stochastic layer its own generator, so each layer draws in time order in both engines."""
        for index, cell in enumerate(self.cells):
            if cell.uses_generator:
                cell.generator = torch.Generator(device=device)
                cell.generator.manual_seed(seed * 1000 + index)

    def generator_states(self) -> list[torch.Tensor | None]:
        return [cell.generator.get_state() if cell.uses_generator else None for cell in self.cells]

    def set_generator_states(self, states: list[torch.Tensor | None]) -> None:
        for cell, state in zip(self.cells, states, strict=True):
            if state is not None:
                cell.generator.set_state(state)

    @contextmanager
    def separate_draws(self, seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
        """Inside the block the stochastic layers draw from generators seeded with ``seed``; after it they go on
        from where they were, as if the block had drawn nothing."""
        before = self.generator_states()
        self.seed_generators(seed, device)
        try:
            yield
        finally:
            self.set_generator_states(before)

    def forward(
        self,
        images: torch.Tensor,
        steps: int,
        state: list[State] | None = None,
        record: bool = False,
    ) -> ForwardResult:
        """Present ``images`` ``[B, 1, 28, 28]`` for ``steps`` steps starting from ``state`` (zeros if None)."""
        if self.engine == "reference":
            return _reference_forward(self, images, steps, state, record)
        batch = images.shape[0]
        stochastic = any(cell.uses_generator for cell in self.cells)
        if torch.is_grad_enabled() or stochastic or images.device.type != "cpu" or batch <= IMAGES_PER_PIECE:
            return self._fast(images, steps, state, record)
        # Without a backward pass every image is independent of the others, and on a CPU a piece of the batch
        # keeps each step's tensors in cache (1.7 MB per layer-1 tensor at 256 images, 6.9 MB at 1,000). Not
        # for stochastic layers, whose draws would otherwise land on other images than in the reference engine.
        pieces = [
            (images[start : start + IMAGES_PER_PIECE], _slice_state(state, start))
            for start in range(0, batch, IMAGES_PER_PIECE)
        ]
        return _concatenate([self._fast(piece, steps, piece_state, record) for piece, piece_state in pieces])

    def _fast(self, images, steps, state, record):
        # Between the convolutional layers a sequence stays a list of per-step tensors: stacking it (and the
        # split or stack its backward pass needs) would copy every step for nothing.
        layout = _Layout(nhwc=not self.cells[0].uses_generator)
        # The image is the same at every step: the first stage runs on it once.
        first = STAGES[0]
        drive = layout.convolution_output(self.connect(first, images))
        currents = [layout.enter(_fast_pool(first, drive))] * steps
        states, spikes_per_layer, membranes = [], [], []
        for index, (stage, cell) in enumerate(zip(STAGES, self.cells, strict=True)):
            spatial = stage.kind == "conv"
            if state is not None:
                initial = tuple(layout.enter_view(t) for t in state[index]) if spatial else state[index]
            else:
                initial = cell.initial_state(currents[0])
            spikes, final, membrane = cell.sequence(currents, initial, record=record)
            if index + 1 < len(STAGES):
                currents = self._spike_drive(STAGES[index + 1], spikes, layout)
            if spatial:
                spikes, final = [layout.leave(t) for t in spikes], tuple(layout.leave(t) for t in final)
                membrane = [layout.leave(t) for t in membrane] if record else None
            states.append(final)
            spikes_per_layer.append(spikes)
            membranes.append(membrane)
        return _result(spikes_per_layer, states, membranes if record else None)

    def _spike_drive(self, stage: Stage, spikes: list[torch.Tensor], layout: _Layout) -> list[torch.Tensor]:
        """A stage on the previous layer's per-step spikes (in ``layout``): its per-step input currents. A
        convolution runs one step per call (its output and gradient exist one step at a time: less memory than
        the reference, and faster than 3, 5 or 25 steps per call); a linear layer sees all steps as one batch."""
        connection = getattr(self, stage.connection)
        if stage.kind == "conv":
            return _convolve_steps(stage, connection, spikes, layout, self.precision)
        stacked = torch.stack(spikes)
        inputs, weight = stacked, connection.weight
        if stage.flatten:
            inputs, weight = stacked.flatten(2), layout.linear_weight(weight, stacked.shape[2:])
        with _autocast(inputs, self.precision):
            currents = F.linear(inputs, weight, connection.bias)
        # unbind, not per-step indexing: each indexing op's backward would fill and add a whole [T, ...] gradient.
        return currents.float().unbind(0)

    def connect(self, stage: Stage, inputs: torch.Tensor) -> torch.Tensor:
        """A stage's connection layer on ``inputs``, in the network's precision; the output in float32."""
        with _autocast(inputs, self.precision):
            return getattr(self, stage.connection)(inputs).float()


def _convolve_steps(
    stage: Stage, connection: nn.Conv2d, spikes: list[torch.Tensor], layout: _Layout, precision: str
) -> list[torch.Tensor]:
    """A convolutional stage on per-step spikes, one step per call. The weight is laid out like the
    channels-last inputs once per sequence, not reordered by oneDNN at every step, and one autocast region
    spans all steps, so that bf16 casts it once too; bf16 outputs are pooled before they return to float32
    (max pooling commutes with the exact conversion), a quarter of the values to convert."""
    weight = connection.weight.contiguous(memory_format=torch.channels_last)
    with _autocast(weight, precision):
        return [
            layout.enter_view(_fast_pool(stage, F.conv2d(layout.channels_last(step), weight, connection.bias)))
            for step in spikes
        ]


def _fast_pool(stage: Stage, tensor: torch.Tensor) -> torch.Tensor:
    """A stage's pooling in float32: spikebench's native max pooling where it applies (``native.pools``: the
    same numbers, one pass each way, and one byte per output kept for the backward pass), else PyTorch's."""
    if native.pools(tensor, stage.pool):
        return native.max_pool(tensor)
    return _pool(stage, tensor).float()


def _spike_function(surrogate: str | None, params: dict | None, numerics: str, engine: str) -> SpikeFunction | None:
    """The fast engine takes the fused spike functions (the same numbers in fewer passes), the reference engine
    snnTorch's own, as users write it; None for neuron models without a surrogate."""
    return make_spike_function(surrogate, params, numerics, fused=engine == "fast") if surrogate else None


def _check_choices(**choices: tuple[str, object]) -> None:
    """``ValueError`` naming the first choice whose value is not among its known ones."""
    for kind, (value, known) in choices.items():
        if value not in known:
            label = "neuron model" if kind == "neuron" else kind
            raise ValueError(f"unknown {label} {value!r}; known: {', '.join(known)}")


def _autocast(inputs: torch.Tensor, precision: str) -> torch.autocast:
    return torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _reference_forward(network: ConvSNN, images, steps, state, record) -> ForwardResult:
    """The reference engine: every stage, connection and cell, one step at a time, as snnTorch's examples run."""
    states = list(state) if state is not None else [None] * len(network.cells)
    spikes_per_layer = [[] for _ in network.cells]
    membranes = [[] for _ in network.cells]
    for _ in range(steps):
        current = images
        for index, (stage, cell) in enumerate(zip(STAGES, network.cells, strict=True)):
            inputs = current.flatten(1) if stage.flatten else current
            current = _pool(stage, network.connect(stage, inputs))
            if states[index] is None:
                states[index] = cell.initial_state(current)
            current, states[index], membrane = cell.reference_step(current, states[index])
            spikes_per_layer[index].append(current)
            if record:
                membranes[index].append(membrane)
    return _result(spikes_per_layer, states, membranes if record else None)


def _connection(stage: Stage, in_features: int) -> nn.Module:
    if stage.kind == "conv":
        return nn.Conv2d(in_features, stage.out_features, stage.kernel)
    return nn.Linear(in_features, stage.out_features)


def _pool(stage: Stage, tensor: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(tensor, stage.pool) if stage.pool else tensor


def _result(spikes_per_layer: list[list[torch.Tensor]], states, membranes) -> ForwardResult:
    """The result from per-layer lists of per-step spikes (and membranes, if recorded)."""
    record = membranes is not None
    return ForwardResult(
        spikes=torch.stack(spikes_per_layer[-1]),
        state=states,
        # Added up in float64: a whole sequence of a large batch may fire more spikes than float32 counts
        # exactly (2^24); one step's count stays below that.
        layer_spikes=[
            torch.stack([step.detach().sum() for step in layer]).double().sum() for layer in spikes_per_layer
        ],
        layer_neurons=[layer[0].numel() for layer in spikes_per_layer],
        layer_outputs=[torch.stack(layer) for layer in spikes_per_layer] if record else None,
        membranes=[torch.stack(layer) for layer in membranes] if record else None,
    )


class _Layout:
    """Where the fast engine keeps the convolutional spiking layers: NHWC (channels last) or NCHW.

    In NHWC the first layer's spikes reach the second convolution as a channels-last tensor without a copy
    (oneDNN's convolution and pooling run about 1.7x faster so), and the second layer's spikes reach the linear
    layer without a transposing copy, the linear layer taking its weights in the matching (height, width,
    channel) order. A stochastic layer stays in NCHW, where its random draws land on the same neurons as in
    the reference engine, and its spikes are copied to channels-last instead.
    """

    def __init__(self, nhwc: bool):
        self.nhwc = nhwc

    def convolution_output(self, tensor: torch.Tensor) -> torch.Tensor:
        """The first convolution's output, channels-last in NHWC: pooling it then runs 2x faster, copy included,
        and the pooled tensor is NHWC already."""
        return tensor.contiguous(memory_format=torch.channels_last) if self.nhwc else tensor

    def enter(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.movedim(-3, -1).contiguous() if self.nhwc else tensor

    def enter_view(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.movedim(-3, -1) if self.nhwc else tensor

    def leave(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.movedim(-1, -3) if self.nhwc else tensor

    def linear_weight(self, weight: torch.Tensor, features_shape: torch.Size) -> torch.Tensor:
        """A linear layer's ``[out, C * H * W]`` weights reordered for inputs flattened in this layout."""
        if not self.nhwc:
            return weight
        height, width, channels = features_shape
        return weight.unflatten(1, (channels, height, width)).permute(0, 2, 3, 1).flatten(1)

    def channels_last(self, tensor: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` with channels-last strides, a view in NHWC and a copy in NCHW."""
        if self.nhwc:
            return tensor.permute(0, 3, 1, 2)
        return tensor.contiguous(memory_format=torch.channels_last)


def _slice_state(state: list[State] | None, start: int) -> list[State] | None:
    if state is None:
        return None
    return [tuple(tensor[start : start + IMAGES_PER_PIECE] for tensor in layer) for layer in state]


def _concatenate(pieces: list[ForwardResult]) -> ForwardResult:
    """One result from the results of consecutive pieces of a batch (``[T, B, ...]`` outputs, ``[B, ...]`` state)."""

    def sequences_per_layer(field: str) -> list[torch.Tensor] | None:
        if getattr(pieces[0], field) is None:
            return None
        return [torch.cat(layer, 1) for layer in zip(*(getattr(piece, field) for piece in pieces), strict=True)]

    return ForwardResult(
        spikes=torch.cat([piece.spikes for piece in pieces], 1),
        state=[
            tuple(torch.cat(tensors) for tensors in zip(*layer, strict=True))
            for layer in zip(*(piece.state for piece in pieces), strict=True)
        ],
        layer_spikes=[sum(layer) for layer in zip(*(piece.layer_spikes for piece in pieces), strict=True)],
        layer_neurons=[sum(layer) for layer in zip(*(piece.layer_neurons for piece in pieces), strict=True)],
        layer_outputs=sequences_per_layer("layer_outputs"),
        membranes=sequences_per_layer("membranes"),
    )


def detach_state(state: list[State]) -> list[State]:
    return [tuple(tensor.detach() for tensor in layer) for layer in state]
