"""How wide each surrogate's derivative is: its full width at half maximum (FWHM) in units of ``x = V - V_th``,
as a closed form of its parameters, and the scale that gives a wanted width.

"Scale k" is not the same width for every surrogate: at slope 50 fast_sigmoid's derivative is 0.0166 wide, atan's
at alpha 2 is 0.64. Comparing shapes at equal width separates the effect of the shape from that of the width
(Zenke & Vogels 2021). The forms follow snnTorch 1.0.0's backward passes (``tests/test_surrogates.py`` checks
each against the backward pass numerically):

- fast_sigmoid ``1 / (k|x| + 1)^2``: half maximum at ``(k|x| + 1)^2 = 2``, width ``2 (sqrt 2 - 1) / k``;
- sigmoid ``k s (1 - s)``, ``s = sigmoid(k x)``: half maximum at ``s (1 - s) = 1/8``, width ``2 ln(3 + 2 sqrt 2) / k``;
- atan ``(a / 2) / (1 + (pi a x / 2)^2)``: half maximum at ``pi a |x| / 2 = 1``, width ``4 / (pi a)``;
- sparse_fast_sigmoid: the fast sigmoid above ``x = B`` only, so one-sided from its maximum at ``B``:
  width ``(sqrt 2 - 1)(B + 1 / k)``, never below ``(sqrt 2 - 1) B`` whatever the slope;
- spike_rate_escape ``k exp(-beta |x - 1|)``: width ``2 ln 2 / beta``; its slope only scales the height, so no
  slope gives another width;
- triangular (a constant +-threshold), the straight-through estimator (a constant) and the stochastic spike
  operator (noise) have no half maximum: width None.

Pure arithmetic, no torch: the workflow reads it while planning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

FAST_SIGMOID_HALF = math.sqrt(2) - 1
SIGMOID_HALF = math.log(3 + 2 * math.sqrt(2))


class WidthError(ValueError):
    """No value of the surrogate's scale gives the wanted width."""


def fast_sigmoid_width(params: dict[str, Any]) -> float:
    return 2 * FAST_SIGMOID_HALF / params["slope"]


def sigmoid_width(params: dict[str, Any]) -> float:
    return 2 * SIGMOID_HALF / params["slope"]


def atan_width(params: dict[str, Any]) -> float:
    return 4 / (math.pi * params["alpha"])


def sparse_fast_sigmoid_width(params: dict[str, Any]) -> float:
    return FAST_SIGMOID_HALF * (params["B"] + 1 / params["slope"])


def spike_rate_escape_width(params: dict[str, Any]) -> float:
    return 2 * math.log(2) / params["beta"]


def fast_sigmoid_scale(width: float, params: dict[str, Any]) -> float:
    return 2 * FAST_SIGMOID_HALF / width


def sigmoid_scale(width: float, params: dict[str, Any]) -> float:
    return 2 * SIGMOID_HALF / width


def atan_scale(width: float, params: dict[str, Any]) -> float:
    return 4 / (math.pi * width)


def sparse_fast_sigmoid_scale(width: float, params: dict[str, Any]) -> float:
    floor = FAST_SIGMOID_HALF * params["B"]
    if width <= floor:
        raise WidthError(
            f"sparse_fast_sigmoid with B = {params['B']:g} is at least {floor:.4g} wide at any slope; ask for a wider"
            " width or set a smaller B in model.surrogate_params"
        )
    return 1 / (width / FAST_SIGMOID_HALF - params["B"])


def numeric_scale_for_width(
    width_of: Callable[[dict[str, Any]], float], width: float, params: dict[str, Any], scale: str
) -> float:
    """The value of parameter ``scale`` at which ``width_of`` gives ``width``, by bisection on a log scale between
    1e-6 and 1e6 (the schema's range of scales), for a surrogate registered without a closed-form inverse. The
    width must change monotonically with the scale; ``WidthError`` where no scale in that range gives it."""

    def log_width(log_scale: float) -> float:
        return math.log(width_of({**params, scale: math.exp(log_scale)}))

    low, high, target = math.log(1e-6), math.log(1e6), math.log(width)
    at_low, at_high = log_width(low), log_width(high)
    if at_low == at_high:
        raise WidthError(f"its {scale} does not change the width of its derivative")
    if not min(at_low, at_high) <= target <= max(at_low, at_high):
        raise WidthError(
            f"no {scale} between 1e-6 and 1e6 makes it {width:g} wide (from {math.exp(at_low):.4g} to"
            f" {math.exp(at_high):.4g})"
        )
    rising = at_high > at_low
    for _ in range(200):
        middle = (low + high) / 2
        if (log_width(middle) < target) == rising:
            low = middle
        else:
            high = middle
    return math.exp((low + high) / 2)
