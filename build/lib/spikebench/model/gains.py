"""Each neuron model's steady-state gain: the membrane potential ``U / I`` a constant input settles at, with
spiking switched off. Closed forms of the equations in ``spikebench.model.cells`` (tests step the cells to the
same numbers); no torch, so the merge can state them.

The models start in very different regimes from the same weights: a synaptic neuron integrates its input
twice (``1 / ((1 - alpha) (1 - beta))`` = 20 at the study's alpha 0.9, beta 0.5), a leaky one once
(``1 / (1 - beta)`` = 2), Lapicque's settles at ``I R`` and spikebench's LIF and ABSS at the input itself. So at
initialisation one model fires while another is silent, before any learning.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from spikebench.model.registry import NEURON_MODELS
from spikebench.utils.registry import resolve_path

if TYPE_CHECKING:
    from spikebench.study.settings import ModelSettings


def alpha_kernel_scale(alpha: float, beta: float) -> float:
    """snnTorch's ``tau_alpha = log(alpha) / (log(beta) - log(alpha)) + 1``, which scales the alpha neuron's U."""
    return math.log(alpha) / (math.log(beta) - math.log(alpha)) + 1


def leaky_gain(model: ModelSettings) -> float:
    return 1 / (1 - model.beta)


def synaptic_gain(model: ModelSettings) -> float:
    return 1 / ((1 - model.alpha) * (1 - model.beta))


def alpha_gain(model: ModelSettings) -> float:
    return alpha_kernel_scale(model.alpha, model.beta) * (1 / (1 - model.alpha) - 1 / (1 - model.beta))


def lapicque_gain(model: ModelSettings) -> float:
    return model.lapicque_r


def unit_gain(model: ModelSettings) -> float:
    """spikebench's LIF and ABSS settle at the input itself."""
    return 1.0


def neuron_gains(model: ModelSettings) -> dict[str, float]:
    """The steady-state gain of every registered neuron model at the config's ``model`` settings (its spec's
    ``gain``); NaN for a model registered without one."""
    return {
        name: float(resolve_path(spec.gain)(model)) if spec.gain else math.nan for name, spec in NEURON_MODELS.items()
    }
