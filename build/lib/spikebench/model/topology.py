"""The study's network, 12C5-MP2-64C5-MP2-FC10, declared once: its stages in order, each a connection layer
(with an optional flatten before it and max pooling after it) followed by a spiking layer.

The network (both engines), the workload metrics, the benchmark and the per-run output columns iterate
these stages. No torch here: the workflow reads the layer names.
"""

from __future__ import annotations

import math
from typing import NamedTuple

INPUT_SHAPE = (1, 28, 28)
"""Channels, height, width of an input image."""


class Stage(NamedTuple):
    """One connection layer and the spiking layer after it."""

    layer: str
    """Name of the spiking layer (the output columns' ``spike_rate_<layer>``)."""
    connection: str
    """Attribute of the connection module on the network (its parameters' state-dict prefix)."""
    kind: str
    """``conv`` (a 2-D convolution) or ``linear``."""
    out_features: int
    """Output channels of a convolution, output units of a linear layer."""
    kernel: int = 0
    pool: int = 0
    """Max-pooling window after the connection, 0 for none."""
    flatten: bool = False
    """Whether the input is flattened to one feature vector first."""


STAGES: tuple[Stage, ...] = (
    Stage("conv1", "conv1", "conv", 12, kernel=5, pool=2),
    Stage("conv2", "conv2", "conv", 64, kernel=5, pool=2),
    Stage("output", "fc", "linear", 10, flatten=True),
)
LAYER_NAMES = tuple(stage.layer for stage in STAGES)


class StageShapes(NamedTuple):
    """A stage's input shape, the shape its connection computes (before pooling), and its output shape."""

    inputs: tuple[int, ...]
    connection: tuple[int, ...]
    outputs: tuple[int, ...]


def stage_shapes(input_shape: tuple[int, ...] = INPUT_SHAPE) -> list[StageShapes]:
    """Per-sample shapes through the stages (valid convolutions, pooling windows that tile the map)."""
    shapes, current = [], tuple(input_shape)
    for stage in STAGES:
        inputs = (math.prod(current),) if stage.flatten else current
        if stage.kind == "conv":
            _, height, width = inputs
            connection = (stage.out_features, height - stage.kernel + 1, width - stage.kernel + 1)
        else:
            connection = (stage.out_features,)
        outputs = connection
        if stage.pool:
            channels, height, width = connection
            outputs = (channels, height // stage.pool, width // stage.pool)
        shapes.append(StageShapes(inputs, connection, outputs))
        current = outputs
    return shapes


def in_features(stage_index: int) -> int:
    """Input channels of a convolution, input units of a linear layer."""
    return stage_shapes()[stage_index].inputs[0]


def dense_operations_per_step() -> int:
    """Synaptic operations of all connection layers for one sample and one time step with every input and
    weight non-zero (biases excluded): NeuroBench's ``Dense`` count, per step."""
    total = 0
    for stage, shapes in zip(STAGES, stage_shapes(), strict=True):
        fan_in = shapes.inputs[0] * stage.kernel**2 if stage.kind == "conv" else shapes.inputs[0]
        total += math.prod(shapes.connection) * fan_in
    return total
