"""Stateful PyTorch layers over the functional neurons: one ``forward`` call advances one time step.

``forward(x)`` takes ``x`` of shape ``(batch, num_neurons)`` and returns float spikes of the same shape. The
state persists across calls until ``reset_state()``; a call whose batch size differs from the stored state
raises instead of silently mixing two sequences. For whole sequences use ``forward_sequence`` (``[T, batch,
num_neurons]``), which always starts from a fresh state. After a step, ``v`` is the membrane potential after
its reset and ``last_potential`` the potential that was compared with the threshold.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spikebench.neurons import functional
from spikebench.neurons.surrogates import make_spike_function


class _SteppedNeuronLayer(nn.Module):
    """Shared shape checks and state handling; subclasses supply ``_initial_state`` and ``_step``."""

    def __init__(self, num_neurons: int):
        super().__init__()
        if not isinstance(num_neurons, int) or num_neurons < 1:
            raise ValueError(f"num_neurons must be a positive integer, got {num_neurons!r}")
        self.num_neurons = num_neurons
        self.state: tuple | None = None
        self.last_potential: torch.Tensor | None = None

    def reset_state(self) -> None:
        self.state = None
        self.last_potential = None

    @property
    def v(self) -> torch.Tensor | None:
        """Membrane potential after the last step (after its reset), or None before the first step."""
        return None if self.state is None else self.state.v

    def _check(self, x: Any, rank: int, layout: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != rank or x.shape[-1] != self.num_neurons:
            raise ValueError(
                f"{type(self).__name__} expects input of shape {layout} with num_neurons={self.num_neurons},"
                f" got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__} expects a floating-point tensor, got {x.dtype}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, 2, "(batch, num_neurons)")
        if self.state is None:
            self.state = self._initial_state(x)
        elif self.state.v.shape != x.shape:
            raise ValueError(
                f"{type(self).__name__}: input batch {tuple(x.shape)} differs from the state's"
                f" {tuple(self.state.v.shape)}; call reset_state() before starting a new sequence"
            )
        spikes, self.state, self.last_potential = self._step(x, self.state)
        return spikes

    def forward_sequence(self, x: torch.Tensor, record: bool = False) -> functional.Trace:
        """Run a whole ``[T, batch, num_neurons]`` sequence from a fresh state; the layer's state is untouched."""
        self._check(x, 3, "(steps, batch, num_neurons)")
        return functional.run_sequence(self._step, x, self._initial_state(x[0]), record)


class TorchLIFLayer(_SteppedNeuronLayer):
    """Leaky integrate-and-fire neurons with a snnTorch surrogate gradient (``surrogate``, ``surrogate_params``)."""

    def __init__(
        self,
        num_neurons: int,
        tau: float = 20.0,
        dt: float = 1.0,
        threshold: float = 1.0,
        reset: float = 0.0,
        surrogate: str = "fast_sigmoid",
        surrogate_params: dict | None = None,
    ):
        super().__init__(num_neurons)
        self.params = functional.LIFParameters(tau=tau, dt=dt, threshold=threshold, reset=reset)
        self.spike_fn = make_spike_function(surrogate, surrogate_params)

    def _initial_state(self, like):
        return functional.lif_initial_state(like, self.params)

    def _step(self, current, state):
        return functional.lif_step(current, state, self.params, self.spike_fn)


class TorchAdaptiveLIFLayer(_SteppedNeuronLayer):
    """The LIF group variant: optional membrane noise, stochastic firing and adaptive thresholds.

    Stochastic parts draw from ``generator`` (or a generator seeded with ``seed``) for exact reproducibility.
    """

    def __init__(
        self,
        num_neurons: int,
        params: functional.AdaptiveLIFParameters | None = None,
        surrogate: str = "fast_sigmoid",
        surrogate_params: dict | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(num_neurons)
        self.params = params or functional.AdaptiveLIFParameters()
        self.spike_fn = make_spike_function(surrogate, surrogate_params)
        self.generator = generator if generator is not None else _seeded_generator(seed)

    @property
    def threshold(self) -> torch.Tensor | None:
        return None if self.state is None else self.state.threshold

    def _initial_state(self, like):
        return functional.adaptive_lif_initial_state(like, self.params)

    def _step(self, current, state):
        generator = _generator_on(self.generator, current)
        return functional.adaptive_lif_step(current, state, self.params, self.spike_fn, generator)


class TorchBernoulliLayer(_SteppedNeuronLayer):
    """Autoregressive Bernoulli spike sampling (ABSS) neurons with escape noise around a threshold.

    Each step fires with probability ``sigmoid((V - threshold) / temperature)`` (``functional.abss_step``):
    about 1% of steps at rest with the defaults, rising with the input. Gradients pass the Bernoulli sample
    straight through to that probability.
    """

    def __init__(
        self,
        num_neurons: int,
        tau: float = 20.0,
        dt: float = 1.0,
        w_ar: float = 0.5,
        threshold: float = 1.0,
        temperature: float = 0.2,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(num_neurons)
        self.params = functional.ABSSParameters(tau=tau, dt=dt, w_ar=w_ar, threshold=threshold, temperature=temperature)
        self.generator = generator if generator is not None else _seeded_generator(seed)

    def _initial_state(self, like):
        return functional.abss_initial_state(like)

    def _step(self, current, state):
        return functional.abss_step(current, state, self.params, _generator_on(self.generator, current))


def _seeded_generator(seed: int | None) -> torch.Generator | None:
    if seed is None:
        return None
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def _generator_on(generator: torch.Generator | None, tensor: torch.Tensor) -> torch.Generator | None:
    if generator is not None and generator.device != tensor.device:
        raise ValueError(
            f"the layer's generator is on {generator.device} but the input is on {tensor.device};"
            " pass a generator created on the input's device"
        )
    return generator
