"""Registry of the neuron models the training grid compares: the one list the schema, grid and docs read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NeuronModelSpec:
    name: str
    origin: str
    uses_surrogate: bool
    description: str


NEURON_MODELS: dict[str, NeuronModelSpec] = {
    spec.name: spec
    for spec in (
        NeuronModelSpec("leaky", "snntorch", True, "first-order leaky integrator, U <- beta U + I"),
        NeuronModelSpec("synaptic", "snntorch", True, "second order: synaptic current (alpha) feeds U (beta)"),
        NeuronModelSpec("alpha", "snntorch", True, "alpha-kernel neuron: excitatory and inhibitory currents"),
        NeuronModelSpec("lapicque", "snntorch", True, "RC-circuit neuron, R = 1, C = 1.44"),
        NeuronModelSpec("lif", "spikebench", True, "spikebench LIF: V += (I - V) dt / tau, reset to V_reset"),
        NeuronModelSpec(
            "abss",
            "spikebench",
            False,
            "autoregressive Bernoulli spike sampling; straight-through estimator on the spike probability",
        ),
    )
}

NO_SURROGATE = "none"
"""Surrogate label of runs whose neuron model has its own gradient estimator (no surrogate applies)."""
