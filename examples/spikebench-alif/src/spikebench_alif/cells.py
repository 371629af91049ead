"""The adaptive-threshold LIF (ALIF) of Bellec et al. (2018) as a spikebench cell.

Per step, with ``z`` the previous step's spikes (detached, as snnTorch detaches its reset):

    a_t = rho a_{t-1} + z_{t-1}                 adaptation: every spike adds one, then decays by rho
    A_t = theta + gamma a_t                     the threshold it fires at
    U_t = beta U_{t-1} + I_t - theta z_{t-1}    leaky membrane, reset by subtracting the base threshold
    z_t = spike_fn(U_t - A_t)                   fires through the run's surrogate

``beta`` and ``theta`` are the config's ``model.beta`` and ``model.threshold``; ``rho`` and ``gamma`` are this
plugin's constants. The same step runs in both engines (no separate reference implementation).
"""

from __future__ import annotations

import torch

from spikebench.model.cells import Cell

RHO = 0.9
"""Decay of the adaptation per step: a spike's effect on the threshold halves in about 6.6 steps."""
GAMMA = 0.2
"""Threshold increase per unit of adaptation."""


class ALIFCell(Cell):
    num_states = 3
    """Adaptation ``a``, the previous spikes ``z`` and the membrane ``U`` (last, as every cell's)."""

    def fast_step(self, current: torch.Tensor, state):
        adaptation, previous_spikes, membrane = state
        threshold = self.settings.threshold
        adaptation = RHO * adaptation + previous_spikes
        membrane = self.settings.beta * membrane + current - threshold * previous_spikes
        spikes = self.spike_fn(membrane - (threshold + GAMMA * adaptation))
        return spikes, (adaptation, spikes.detach(), membrane), membrane
