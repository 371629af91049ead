"""spikebench's neuron library: functional LIF and ABSS steps, their PyTorch layers, and the surrogate registry.

- ``spikebench.neurons.functional``: pure steps ``step(input, state, params) -> (spikes, state, potential)``
  and whole-sequence runs, as Norse's functional API;
- ``spikebench.neurons.layers``: stateful ``nn.Module`` layers over them (``TorchLIFLayer`` ...);
- ``spikebench.neurons.surrogates``: surrogate gradients by name, reusing snnTorch's functions.

The functional API and the layers are also reachable from here (``from spikebench import neurons;
neurons.lif_step``). They load on first use, so that the workflow can read the surrogate registry without
importing torch.
"""

from __future__ import annotations

import importlib

_FUNCTIONAL = (
    "LIFParameters",
    "LIFState",
    "AdaptiveLIFParameters",
    "AdaptiveLIFState",
    "ABSSParameters",
    "ABSSState",
    "Trace",
    "lif_initial_state",
    "lif_step",
    "lif_sequence",
    "adaptive_lif_initial_state",
    "adaptive_lif_step",
    "adaptive_lif_sequence",
    "abss_initial_state",
    "abss_step",
    "abss_sequence",
    "run_sequence",
    "step_through",
)
_LAYERS = ("TorchLIFLayer", "TorchAdaptiveLIFLayer", "TorchBernoulliLayer")
_HOMES = {**dict.fromkeys(_FUNCTIONAL, "functional"), **dict.fromkeys(_LAYERS, "layers")}

__all__ = [*_FUNCTIONAL, *_LAYERS]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
