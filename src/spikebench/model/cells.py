"""The neuron models of the training grid, each runnable by two engines that give the same numbers.

A cell owns one spiking layer's dynamics and offers:

- ``step(current, state) -> (spikes, state, membrane)``: one time step. In the ``reference`` engine the
  snnTorch models call snnTorch's own modules (``snn.Leaky`` ...), as users write it today; ``lif`` and
  ``abss`` use spikebench's functional steps, as ``TorchLIFLayer`` and ``TorchBernoulliLayer`` do.
- ``sequence(currents, state) -> (spikes, state, membranes or None)``: a whole sequence in one call (the
  ``fast`` engine), over a list of per-step currents (the same static tensor at every step for the first
  layer), returning per-step lists. It runs spikebench's functional re-implementation of the same equations,
  with snnTorch's surrogate spike functions, in the native kernels (``spikebench.neurons.native``) where a
  model declares its ``native_dynamics`` and they can run it: the same numbers bit for bit.

The snnTorch equations, with ``H`` the Heaviside step and the reset taken from the previous membrane
(snnTorch's default ``reset_delay``), detached:

- leaky:    ``U = beta U + I - H(U_prev - th) th``
- synaptic: ``S = alpha S + I``; ``U = beta U + S - H(U_prev - th) th``
- alpha:    ``E = alpha E + I``; ``N = beta N - I``; ``U = tau_a (E + N)`` with
            ``tau_a = log(alpha) / (log(beta) - log(alpha)) + 1``; all three zeroed where ``U_prev > th``
- lapicque: ``U = I dt / C + (1 - dt / (R C)) U - H(U_prev - th) th``
Spikes are ``spike_fn(U - th)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

import snntorch
import torch
from torch import nn

from spikebench.model.registry import NEURON_MODELS
from spikebench.neurons import functional, native
from spikebench.neurons.surrogates import SpikeFunction

if TYPE_CHECKING:
    from spikebench.study.settings import ModelSettings

State = tuple[torch.Tensor, ...]
StepResult = tuple[torch.Tensor, State, torch.Tensor]


class NeuronSettings(NamedTuple):
    """What a cell needs from the config's ``model`` section."""

    beta: float = 0.5
    alpha: float = 0.9
    threshold: float = 1.0
    lapicque_r: float = 1.0
    lapicque_c: float = 1.44
    lif: functional.LIFParameters = functional.LIFParameters(tau=2.0)
    abss: functional.ABSSParameters = functional.ABSSParameters(tau=2.0)
    params: Mapping[str, float] = MappingProxyType({})
    """The neuron model's own constants (``NeuronModelSpec.parameters``, overridden by ``model.neuron_params``)."""

    @classmethod
    def from_model(cls, model: ModelSettings, neuron: str) -> NeuronSettings:
        defaults = NEURON_MODELS[neuron].parameters
        return cls(
            params=MappingProxyType({**defaults, **model.neuron_params.get(neuron, {})}),
            beta=model.beta,
            alpha=model.alpha,
            threshold=model.threshold,
            lapicque_r=model.lapicque_r,
            lapicque_c=model.lapicque_c,
            lif=functional.LIFParameters(**model.lif),
            abss=functional.ABSSParameters(**model.abss),
        )


def heaviside(membrane: torch.Tensor, threshold: float) -> torch.Tensor:
    """``H(U - th)`` as ``U > th``: equal for every finite float (a difference of two distinct floats never
    rounds to zero), and one pass over the tensor fewer."""
    return functional.compare_as_float(torch.gt, membrane, threshold)


def delayed_reset(membrane: torch.Tensor, threshold: float) -> torch.Tensor:
    """snnTorch's ``mem_reset``: the Heaviside of the previous membrane, detached (forward of any surrogate)."""
    return heaviside(membrane, threshold)


def threshold_reset(reset: torch.Tensor, threshold: float) -> torch.Tensor:
    """``reset * threshold`` (subtracted from the membrane); the 0/1 ``reset`` itself at the usual threshold 1,
    which is the same numbers without a pass over the tensor."""
    return reset if threshold == 1 else reset * threshold


def fire(spike_fn: SpikeFunction, membrane: torch.Tensor, threshold: float) -> torch.Tensor:
    """``spike_fn(U - th)``. Without a graph to record (evaluation), its forward pass directly: every
    surrogate's forward is snnTorch's Heaviside ``U - th > 0``, and skipping the autograd function saves
    two passes over the tensor."""
    if membrane.requires_grad:
        return spike_fn(membrane - threshold)
    return heaviside(membrane, threshold)


class Cell(nn.Module):
    """One spiking layer; subclasses define ``num_states``, ``fast_step`` and, where it differs, ``reference_step``."""

    num_states = 1
    uses_generator = False

    def __init__(self, settings: NeuronSettings, spike_fn: SpikeFunction | None):
        super().__init__()
        self.settings = settings
        self.spike_fn = spike_fn

    def initial_state(self, like: torch.Tensor) -> State:
        return tuple(torch.zeros_like(like) for _ in range(self.num_states))

    def fast_step(self, current: torch.Tensor, state: State) -> StepResult:
        raise NotImplementedError

    def reference_step(self, current: torch.Tensor, state: State) -> StepResult:
        return self.fast_step(current, state)

    def native_dynamics(self) -> native.Dynamics | None:
        """The model's constants for the native kernels (``spikebench.neurons.native``), None if they do not
        run it."""
        return None

    def sequence(self, currents: Sequence[torch.Tensor], state: State, record: bool = False):
        native_result = self.native_sequence(list(currents), state, record)
        if native_result is not None:
            return native_result
        return functional.step_through(self.fast_step, currents, state, record)

    def native_sequence(self, drives: list[torch.Tensor], state: State, record: bool):
        """The sequence in the native kernels where they run this model on these tensors, else None."""
        dynamics = self.native_dynamics()
        if dynamics is None or record or not native.applies(self.spike_fn, [*drives, *state]):
            return None
        return (*native.sequence(dynamics, self.spike_fn, drives, state), None)


class SnnTorchCell(Cell):
    """A cell whose reference engine is snnTorch's own module (``self.reference``), stepped with explicit state.

    snnTorch's modules return ``(spikes, *state)`` with the membrane last, in the order they take the state.
    The fast engine follows snnTorch's order in one template, reset -> charge -> fire: the reset is the
    Heaviside of the previous membrane; each model's ``charge`` computes the new state from its input term
    and that reset; the surrogate fires on the new membrane.
    """

    def reference_step(self, current, state):
        spikes, *new_state = self.reference(current, *state)
        return spikes, tuple(new_state), new_state[-1]

    def input_term(self, current: torch.Tensor) -> torch.Tensor:
        """What the update takes from the input alone: the input itself, unless a model scales it."""
        return current

    def charge(self, drive: torch.Tensor, state: State, reset: torch.Tensor) -> State:
        raise NotImplementedError

    def driven_step(self, drive: torch.Tensor, state: State, reset: torch.Tensor) -> StepResult:
        threshold = self.settings.threshold
        new_state = self.charge(drive, state, reset)
        membrane = new_state[-1]
        return fire(self.spike_fn, membrane, threshold), new_state, membrane

    def fast_step(self, current, state):
        return self.driven_step(self.input_term(current), state, delayed_reset(state[-1], self.settings.threshold))

    def sequence(self, currents, state, record=False):
        # A static input is one tensor repeated at every step: its input term is computed once, the same
        # numbers as at every step.
        drives: dict[int, torch.Tensor] = {}
        for current in currents:
            if id(current) not in drives:
                drives[id(current)] = self.input_term(current)
        per_step = [drives[id(current)] for current in currents]
        native_result = self.native_sequence(per_step, state, record)
        if native_result is not None:
            return native_result
        # Each step's reset is the Heaviside of the previous membrane, which the previous step's spikes already
        # are (snnTorch computes its reset with the spike function's forward pass too): one pass fewer a step.
        reset = delayed_reset(state[-1], self.settings.threshold)
        spikes, membranes = [], []
        for drive in per_step:
            spike, state, membrane = self.driven_step(drive, state, reset)
            reset = spike.detach()
            spikes.append(spike)
            if record:
                membranes.append(membrane)
        return spikes, state, membranes if record else None


class LeakyCell(SnnTorchCell):
    def __init__(self, settings, spike_fn):
        super().__init__(settings, spike_fn)
        self.reference = snntorch.Leaky(beta=settings.beta, threshold=settings.threshold, spike_grad=spike_fn)

    def native_dynamics(self):
        return native.Dynamics("leaky", self.settings.threshold, self.settings.beta)

    def charge(self, drive, state, reset):
        (membrane,) = state
        return (self.settings.beta * membrane + drive - threshold_reset(reset, self.settings.threshold),)


class SynapticCell(SnnTorchCell):
    num_states = 2

    def __init__(self, settings, spike_fn):
        super().__init__(settings, spike_fn)
        self.reference = snntorch.Synaptic(
            alpha=settings.alpha, beta=settings.beta, threshold=settings.threshold, spike_grad=spike_fn
        )

    def native_dynamics(self):
        return native.Dynamics("synaptic", self.settings.threshold, self.settings.beta, self.settings.alpha)

    def charge(self, drive, state, reset):
        synaptic, membrane = state
        synaptic = self.settings.alpha * synaptic + drive
        membrane = self.settings.beta * membrane + synaptic - threshold_reset(reset, self.settings.threshold)
        return synaptic, membrane


class AlphaCell(SnnTorchCell):
    num_states = 3

    def __init__(self, settings, spike_fn):
        super().__init__(settings, spike_fn)
        self.reference = snntorch.Alpha(
            alpha=settings.alpha, beta=settings.beta, threshold=settings.threshold, spike_grad=spike_fn
        )
        alpha, beta = torch.as_tensor(settings.alpha), torch.as_tensor(settings.beta)
        self.tau_alpha = float(torch.log(alpha) / (torch.log(beta) - torch.log(alpha)) + 1)

    def native_dynamics(self):
        settings = self.settings
        return native.Dynamics("alpha", settings.threshold, settings.beta, settings.alpha, self.tau_alpha)

    def charge(self, drive, state, reset):
        excitatory, inhibitory, _ = state
        excitatory = self.settings.alpha * excitatory + drive
        inhibitory = self.settings.beta * inhibitory - drive
        membrane = self.tau_alpha * (excitatory + inhibitory)
        # value * (1 - reset) is snnTorch's value - value * reset for a 0/1 reset, with one pass fewer each
        # (a reset value becomes -0 instead of +0 where it was negative, which compares and adds the same).
        kept = 1 - reset
        return tuple(value * kept for value in (excitatory, inhibitory, membrane))


class LapicqueCell(SnnTorchCell):
    def __init__(self, settings, spike_fn):
        super().__init__(settings, spike_fn)
        self.reference = snntorch.Lapicque(
            R=settings.lapicque_r, C=settings.lapicque_c, threshold=settings.threshold, spike_grad=spike_fn
        )
        resistance, capacitance = torch.as_tensor(settings.lapicque_r), torch.as_tensor(settings.lapicque_c)
        self.resistance = settings.lapicque_r
        self.inverse_rc = float(1 / (resistance * capacitance))
        self.decay = float(1 - 1 / (resistance * capacitance))

    def native_dynamics(self):
        return native.Dynamics("leaky", self.settings.threshold, self.decay)

    def input_term(self, current):
        """``I dt / C``, computed as snnTorch does: ``I R / (R C)`` (``dt = 1``). At the usual ``R = 1`` without
        the multiply by R, which gives the same numbers with a pass over the tensor fewer."""
        scaled = current if self.resistance == 1 else current * self.resistance
        return scaled * self.inverse_rc

    def charge(self, drive, state, reset):
        (membrane,) = state
        return (drive + self.decay * membrane - threshold_reset(reset, self.settings.threshold),)


class LIFCell(Cell):
    """spikebench's LIF (``spikebench.neurons.lif_step``), the same function in both engines."""

    def initial_state(self, like):
        return tuple(functional.lif_initial_state(like, self.settings.lif))

    def native_dynamics(self):
        lif = self.settings.lif
        return native.Dynamics("lif", lif.threshold, leak_rate=lif.dt / lif.tau, reset_value=lif.reset)

    def fast_step(self, current, state):
        spikes, new_state, membrane = functional.lif_step(
            current, functional.LIFState(*state), self.settings.lif, self.spike_fn
        )
        return spikes, tuple(new_state), membrane


class ABSSCell(Cell):
    """spikebench's ABSS; each layer draws from its own generator so that both engines draw alike."""

    num_states = 2
    uses_generator = True

    def __init__(self, settings, spike_fn):
        super().__init__(settings, None)
        self.generator: torch.Generator | None = None

    def fast_step(self, current, state):
        spikes, new_state, membrane = functional.abss_step(
            current, functional.ABSSState(*state), self.settings.abss, self.generator
        )
        return spikes, tuple(new_state), membrane
