"""Registry of the neuron models the training grid compares: the one list the schema, grid, network and docs
read. Built-in models and plugins (``spikebench.plugins``) are registered the same way, by ``register_neuron``.
Each spec names its cell (and its gain) by import path instead of holding it, so that the workflow can read
the registry without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from spikebench.utils.registry import UNNAMED_ORIGIN, register, resolve_path

CELLS = "spikebench.model.cells"
GAINS = "spikebench.model.gains"


@dataclass(frozen=True)
class NeuronModelSpec:
    name: str
    origin: str
    """Who registered it: ``snntorch`` or ``spikebench`` for the built-ins, the plugin's module otherwise."""
    uses_surrogate: bool
    """Whether it fires through a surrogate spike function; a model with its own gradient estimator (ABSS) runs
    once per seed with surrogate ``none``."""
    description: str
    cell: str
    """Import path ``module:Class`` of its cell, a ``spikebench.model.cells.Cell``."""
    gain: str | None = None
    """Import path ``module:function`` of its steady-state gain U / I from the config's model settings, no torch
    (``spikebench.model.gains``); None where none is given."""
    parameters: dict[str, float] = field(default_factory=dict)
    """Its own constants and their defaults, which ``model.neuron_params`` overrides; its cell reads them as
    ``self.settings.params``."""

    def cell_class(self) -> type:
        return resolve_path(self.cell)


NEURON_MODELS: dict[str, NeuronModelSpec] = {}


def register_neuron(
    name: str,
    cell: str,
    *,
    description: str,
    uses_surrogate: bool = True,
    gain: str | None = None,
    parameters: dict[str, float] | None = None,
    origin: str = UNNAMED_ORIGIN,
) -> NeuronModelSpec:
    """Register a neuron model under ``name``: its cell class by import path ``module:Class`` (a
    ``spikebench.model.cells.Cell`` subclass), whether it fires through a surrogate, and optionally its
    steady-state gain by import path ``module:function`` and its own ``parameters`` with their defaults (the
    config's ``model.neuron_params`` overrides them). ``RegistrationError`` if the name is taken or malformed."""
    spec = NeuronModelSpec(name, origin, uses_surrogate, description, cell, gain, dict(parameters or {}))
    return register(NEURON_MODELS, spec, "neuron model", {"cell": cell, "gain": gain})


register_neuron(
    "leaky",
    f"{CELLS}:LeakyCell",
    description="first-order leaky integrator, U <- beta U + I",
    gain=f"{GAINS}:leaky_gain",
    origin="snntorch",
)
register_neuron(
    "synaptic",
    f"{CELLS}:SynapticCell",
    description="second order: synaptic current (alpha) feeds U (beta)",
    gain=f"{GAINS}:synaptic_gain",
    origin="snntorch",
)
register_neuron(
    "alpha",
    f"{CELLS}:AlphaCell",
    description="alpha-kernel neuron: excitatory and inhibitory currents",
    gain=f"{GAINS}:alpha_gain",
    origin="snntorch",
)
register_neuron(
    "lapicque",
    f"{CELLS}:LapicqueCell",
    description="RC-circuit neuron, R = 1, C = 1.44",
    gain=f"{GAINS}:lapicque_gain",
    origin="snntorch",
)
register_neuron(
    "lif",
    f"{CELLS}:LIFCell",
    description="spikebench LIF: V += (I - V) dt / tau, reset to V_reset",
    gain=f"{GAINS}:unit_gain",
    origin="spikebench",
)
register_neuron(
    "abss",
    f"{CELLS}:ABSSCell",
    description="autoregressive Bernoulli spike sampling; straight-through estimator on the spike probability",
    uses_surrogate=False,
    gain=f"{GAINS}:unit_gain",
    origin="spikebench",
)

NO_SURROGATE = "none"
"""Surrogate label of runs whose neuron model has its own gradient estimator (no surrogate applies)."""
