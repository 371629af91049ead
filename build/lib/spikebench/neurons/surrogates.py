"""Registry of surrogate gradients: config name -> snnTorch factory and its default parameters.

spikebench reuses snnTorch's surrogate functions rather than rewriting them, so a spike function made
here is bit-for-bit the one snnTorch's neurons use. Every spike function takes ``x = V - V_th`` and returns
``(x > 0).float()`` in the forward pass. The registry names snnTorch's factories instead of holding them so
that the Snakefile can read it without importing torch.

One exception, by default: snnTorch's ``Sigmoid`` backward computes ``k exp(-k x) / (exp(-k x) + 1)^2``,
which overflows to ``inf / inf = NaN`` in float32 once ``k x < -88`` (``x < -3.55`` for ``k = 25``), a
membrane potential the study's network reaches in its first batch. With ``numerics="stable"`` the sigmoid
surrogate uses ``stable_sigmoid``, the same derivative written as ``k s (1 - s)`` with ``s = sigmoid(k x)``;
tests prove it equal to snnTorch's wherever snnTorch's is finite. ``numerics="snntorch"`` keeps snnTorch's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spikebench.neurons.surrogate_widths import derivative_width, scale_for_width
from spikebench.utils.registry import by_name, resolve

SpikeFunction = Callable[["torch.Tensor"], "torch.Tensor"]  # noqa: F821 (torch is imported lazily)


NUMERICS = ("stable", "snntorch")


@dataclass(frozen=True)
class SurrogateSpec:
    name: str
    snntorch_factory: str
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    stable_factory: str | None = None
    """A function of ``spikebench.neurons.stable_surrogates`` replacing snnTorch's where its numerics fail."""
    scale: str | None = None
    """The parameter that sets how sharply the gradient peaks at threshold (a study's ``scale`` axis sets it);
    None where no parameter does (the gradient's width is fixed or it is not a peak)."""

    def factory(self, numerics: str = "stable", **params: Any) -> SpikeFunction:
        if numerics == "stable" and self.stable_factory:
            return resolve("spikebench.neurons.stable_surrogates", self.stable_factory)(**params)
        return resolve("snntorch.surrogate", self.snntorch_factory)(**params)


SURROGATES: dict[str, SurrogateSpec] = by_name(
    SurrogateSpec("fast_sigmoid", "fast_sigmoid", {"slope": 25}, "derivative of x / (1 + k|x|)", scale="slope"),
    SurrogateSpec("triangular", "triangular", {"threshold": 1}, "+/- threshold on either side of 0"),
    SurrogateSpec(
        "sigmoid",
        "sigmoid",
        {"slope": 25},
        "derivative of the logistic sigmoid",
        stable_factory="sigmoid",
        scale="slope",
    ),
    SurrogateSpec(
        "sparse_fast_sigmoid",
        "SFS",
        {"slope": 25, "B": 1},
        "fast sigmoid, zero below x = B (sparse gradient)",
        scale="slope",
    ),
    SurrogateSpec(
        "spike_rate_escape",
        "spike_rate_escape",
        {"beta": 1, "slope": 25},
        "Boltzmann escape-rate derivative",
        scale="slope",
    ),
    SurrogateSpec(
        "stochastic_spike_operator",
        "SSO",
        {"mean": 0, "variance": 0.2},
        "1 above threshold, uniform noise below (draws from torch's global generator)",
    ),
    SurrogateSpec(
        "straight_through_estimator",
        "straight_through_estimator",
        {},
        "identity gradient",
    ),
    SurrogateSpec("atan", "atan", {"alpha": 2.0}, "derivative of arctan(pi x alpha / 2) / pi", scale="alpha"),
)


def surrogate_scale(name: str, params: dict[str, Any] | None = None) -> float | None:
    """The value of the surrogate's scale parameter in ``params`` (else its default); None if it has none."""
    spec = SURROGATES[name]
    if spec.scale is None:
        return None
    return float((params or {}).get(spec.scale, spec.defaults[spec.scale]))


def with_scale(name: str, params: dict[str, Any] | None, scale: float | None) -> dict[str, Any]:
    """``params`` with the surrogate's scale parameter set to ``scale`` (unchanged if either is None)."""
    spec = SURROGATES[name]
    params = dict(params or {})
    if scale is not None and spec.scale is not None:
        params[spec.scale] = scale
    return params


def make_spike_function(name: str, params: dict[str, Any] | None = None, numerics: str = "stable") -> SpikeFunction:
    """Build the named surrogate spike function, overriding its defaults with ``params``."""
    if numerics not in NUMERICS:
        raise ValueError(f"unknown surrogate numerics {numerics!r}; known: {', '.join(NUMERICS)}")
    try:
        spec = SURROGATES[name]
    except KeyError:
        raise ValueError(f"unknown surrogate {name!r}; known: {sorted(SURROGATES)}") from None
    params = dict(params or {})
    unknown = set(params) - set(spec.defaults)
    if unknown:
        raise ValueError(f"surrogate {name!r} takes parameters {sorted(spec.defaults)}, got unknown {sorted(unknown)}")
    return spec.factory(numerics, **{**spec.defaults, **params})


def full_params(name: str, params: dict[str, Any] | None = None, scale: float | None = None) -> dict[str, Any]:
    """Every parameter of surrogate ``name``: its defaults, overridden by ``params``, then by ``scale``."""
    return {**SURROGATES[name].defaults, **with_scale(name, params, scale)}


def surrogate_width(name: str, params: dict[str, Any] | None = None, scale: float | None = None) -> float | None:
    """Full width at half maximum of the surrogate's derivative (``spikebench.neurons.surrogate_widths``) with
    ``params`` and ``scale``; None where it has none (and for the label ``none`` of models without surrogate)."""
    if name not in SURROGATES:
        return None
    return derivative_width(name, full_params(name, params, scale))


def scale_at_width(name: str, width: float, params: dict[str, Any] | None = None) -> float | None:
    """The scale at which surrogate ``name`` (other parameters from ``params``) is ``width`` wide, to six
    significant digits so that the run id (``-k<scale>``) names it exactly; None for a surrogate without a
    scale, which runs once at its fixed width. ``WidthError`` where no scale gives that width."""
    if SURROGATES[name].scale is None:
        return None
    return float(f"{scale_for_width(name, width, full_params(name, params)):.6g}")
