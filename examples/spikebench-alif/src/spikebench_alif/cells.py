"""The adaptive-threshold LIF (ALIF) of Bellec et al. (2018) as a spikebench cell.

Per step, with ``z`` the previous step's spikes (detached, as snnTorch detaches its reset):

    a_t = rho a_{t-1} + z_{t-1}                 adaptation: every spike adds one, then decays by rho
    A_t = theta + gamma a_t                     the threshold it fires at
    U_t = beta U_{t-1} + I_t - theta z_{t-1}    leaky membrane, reset by subtracting the base threshold
    z_t = spike_fn(U_t - A_t)                   fires through the run's surrogate

``beta`` and ``theta`` are the config's ``model.beta`` and ``model.threshold``; ``rho`` (the adaptation's decay per
step, 0.9 by default: a spike's effect on the threshold halves in about 6.6 steps) and ``gamma`` (the threshold's
rise per unit of adaptation, 0.2) are this model's own parameters, registered in ``plugin.py`` and set in a config
under ``model.neuron_params.alif``. The same step runs in both engines (no separate reference implementation).
"""

from __future__ import annotations

import torch

from spikebench.model.cells import Cell


class ALIFCell(Cell):
    num_states = 3
    """Adaptation ``a``, the previous spikes ``z`` and the membrane ``U`` (last, as every cell's)."""

    def fast_step(self, current: torch.Tensor, state):
        adaptation, previous_spikes, membrane = state
        threshold, params = self.settings.threshold, self.settings.params
        adaptation = params["rho"] * adaptation + previous_spikes
        membrane = self.settings.beta * membrane + current - threshold * previous_spikes
        spikes = self.spike_fn(membrane - (threshold + params["gamma"] * adaptation))
        return spikes, (adaptation, spikes.detach(), membrane), membrane
