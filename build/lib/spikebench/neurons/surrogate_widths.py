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


def _fast_sigmoid(params: dict[str, Any]) -> float:
    return 2 * FAST_SIGMOID_HALF / params["slope"]


def _sigmoid(params: dict[str, Any]) -> float:
    return 2 * SIGMOID_HALF / params["slope"]


def _atan(params: dict[str, Any]) -> float:
    return 4 / (math.pi * params["alpha"])


def _sparse_fast_sigmoid(params: dict[str, Any]) -> float:
    return FAST_SIGMOID_HALF * (params["B"] + 1 / params["slope"])


def _spike_rate_escape(params: dict[str, Any]) -> float:
    return 2 * math.log(2) / params["beta"]


WIDTHS: dict[str, Callable[[dict[str, Any]], float]] = {
    "fast_sigmoid": _fast_sigmoid,
    "sigmoid": _sigmoid,
    "atan": _atan,
    "sparse_fast_sigmoid": _sparse_fast_sigmoid,
    "spike_rate_escape": _spike_rate_escape,
}
"""Per surrogate with a half maximum, its FWHM from its full parameter set."""


def _inverse_sparse_fast_sigmoid(width: float, params: dict[str, Any]) -> float:
    floor = FAST_SIGMOID_HALF * params["B"]
    if width <= floor:
        raise WidthError(
            f"sparse_fast_sigmoid with B = {params['B']:g} is at least {floor:.4g} wide at any slope; ask for a wider"
            " width or set a smaller B in model.surrogate_params"
        )
    return 1 / (width / FAST_SIGMOID_HALF - params["B"])


SCALES_FOR_WIDTH: dict[str, Callable[[float, dict[str, Any]], float]] = {
    "fast_sigmoid": lambda width, params: 2 * FAST_SIGMOID_HALF / width,
    "sigmoid": lambda width, params: 2 * SIGMOID_HALF / width,
    "atan": lambda width, params: 4 / (math.pi * width),
    "sparse_fast_sigmoid": _inverse_sparse_fast_sigmoid,
}
"""Per surrogate whose scale sets its width, the scale that gives a width (the inverse of ``WIDTHS``)."""


def derivative_width(name: str, params: dict[str, Any]) -> float | None:
    """The FWHM of surrogate ``name``'s derivative with its full parameters ``params``; None if it has none."""
    width = WIDTHS.get(name)
    return None if width is None else float(width(params))


def scale_for_width(name: str, width: float, params: dict[str, Any]) -> float:
    """The value of the surrogate's scale parameter that makes its derivative ``width`` wide, the other
    parameters taken from ``params``; ``WidthError`` saying why where none does."""
    inverse = SCALES_FOR_WIDTH.get(name)
    if inverse is None:
        reason = (
            "its scale (slope) sets only the height of its derivative"
            if name in WIDTHS
            else "its derivative has no half maximum"
        )
        raise WidthError(f"surrogate {name} cannot be set to a width: {reason}")
    return float(inverse(width, params))
