"""The plugin's closed forms, without torch: spikebench reads them while planning a study (the width of an
equal-width study's surrogate) and while merging its results (the steady-state gain)."""

from __future__ import annotations

import math


def alif_gain(model) -> float:
    """ALIF's steady-state gain U / I: with spiking switched off the threshold never moves, so its membrane
    settles as a leaky integrator's, at ``I / (1 - beta)``."""
    return 1 / (1 - model.beta)


def gaussian_width(params: dict) -> float:
    """Full width at half maximum of the Gaussian surrogate's derivative: ``2 sqrt(2 ln 2) sigma``."""
    return 2 * math.sqrt(2 * math.log(2)) * params["sigma"]
