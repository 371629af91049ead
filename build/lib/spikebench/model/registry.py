"""Registry of the neuron models the training grid compares: the one list the schema, grid, network and docs
read. Each spec names the cell that steps it (``spikebench.model.cells``) instead of holding it, so that
the workflow can read the registry without importing torch."""

from __future__ import annotations

from dataclasses import dataclass

from spikebench.utils.registry import by_name, resolve

CELLS_MODULE = "spikebench.model.cells"


@dataclass(frozen=True)
class NeuronModelSpec:
    name: str
    origin: str
    uses_surrogate: bool
    description: str
    cell: str
    """Class name of its cell in ``spikebench.model.cells``."""

    def cell_class(self) -> type:
        return resolve(CELLS_MODULE, self.cell)


NEURON_MODELS: dict[str, NeuronModelSpec] = by_name(
    NeuronModelSpec("leaky", "snntorch", True, "first-order leaky integrator, U <- beta U + I", "LeakyCell"),
    NeuronModelSpec(
        "synaptic",
        "snntorch",
        True,
        "second order: synaptic current (alpha) feeds U (beta)",
        "SynapticCell",
    ),
    NeuronModelSpec("alpha", "snntorch", True, "alpha-kernel neuron: excitatory and inhibitory currents", "AlphaCell"),
    NeuronModelSpec("lapicque", "snntorch", True, "RC-circuit neuron, R = 1, C = 1.44", "LapicqueCell"),
    NeuronModelSpec("lif", "spikebench", True, "spikebench LIF: V += (I - V) dt / tau, reset to V_reset", "LIFCell"),
    NeuronModelSpec(
        "abss",
        "spikebench",
        False,
        "autoregressive Bernoulli spike sampling; straight-through estimator on the spike probability",
        "ABSSCell",
    ),
)

NO_SURROGATE = "none"
"""Surrogate label of runs whose neuron model has its own gradient estimator (no surrogate applies)."""
