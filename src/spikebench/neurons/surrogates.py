"""Registry of surrogate gradients: config name -> snnTorch factory and its default parameters.

spikebench reuses snnTorch's surrogate functions rather than rewriting them, so a spike function made
here is bit-for-bit the one snnTorch's neurons use. Every spike function takes ``x = V - V_th`` and returns
``(x > 0).float()`` in the forward pass. The fast engine asks for ``fused=True``: the same numbers from
``spikebench.neurons.fused_surrogates``, in fewer passes over the tensor (tested bit for bit). The registry
names snnTorch's factories instead of holding them so that the Snakefile can read it without importing torch.

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

from spikebench.neurons.surrogate_widths import WidthError, numeric_scale_for_width
from spikebench.utils.registry import UNNAMED_ORIGIN, RegistrationError, register, resolve_path

SpikeFunction = Callable[["torch.Tensor"], "torch.Tensor"]  # noqa: F821 (torch is imported lazily)


NUMERICS = ("stable", "snntorch")


SNNTORCH = "snntorch.surrogate"
STABLE = "spikebench.neurons.stable_surrogates"
WIDTHS = "spikebench.neurons.surrogate_widths"
FUSED = "spikebench.neurons.fused_surrogates"


@dataclass(frozen=True)
class SurrogateSpec:
    name: str
    factory: str
    """Import path ``module:function`` of the factory that takes the parameters and returns the spike function."""
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    stable_factory: str | None = None
    """Import path of a factory replacing ``factory`` where its numerics fail (``numerics: stable``)."""
    scale: str | None = None
    """The parameter that sets how sharply the gradient peaks at threshold (a study's ``scale`` axis sets it);
    None where no parameter does (the gradient's width is fixed or it is not a peak)."""
    width: str | None = None
    """Import path ``module:function`` of its derivative's full width at half maximum from its full parameters,
    no torch (``spikebench.neurons.surrogate_widths``); None where it has no half maximum."""
    scale_for_width: str | None = None
    """Import path of the inverse, ``(width, params) -> scale``; where None, found numerically from ``width``."""
    fused_factory: str | None = None
    """Import path of a factory whose spike function gives ``factory``'s numbers bit for bit in fewer passes
    over the tensor (``spikebench.neurons.fused_surrogates``, tested against it); the fast engine takes it."""
    origin: str = "spikebench"

    def factory_function(self, numerics: str = "stable", fused: bool = False) -> Callable[..., SpikeFunction]:
        if numerics == "stable" and self.stable_factory:
            return resolve_path(self.stable_factory)
        return resolve_path(self.fused_factory if fused and self.fused_factory else self.factory)


SURROGATES: dict[str, SurrogateSpec] = {}


def register_surrogate(
    name: str,
    factory: str,
    *,
    defaults: dict[str, Any] | None = None,
    description: str = "",
    scale: str | None = None,
    width: str | None = None,
    scale_for_width: str | None = None,
    stable_factory: str | None = None,
    fused_factory: str | None = None,
    origin: str = UNNAMED_ORIGIN,
) -> SurrogateSpec:
    """Register a surrogate gradient under ``name``: its factory by import path ``module:function`` (called with
    the parameters, it returns a spike function whose forward pass is ``(x > 0).float()`` for ``x = V - V_th``),
    its parameters' ``defaults``, which of them is its ``scale`` (or None), and optionally its derivative's width
    at half maximum by import path (equal-width studies need it), and a ``fused_factory`` with the same numbers in
    fewer passes for the fast engine. ``RegistrationError`` if the name is taken or
    malformed, or the scale is not one of its parameters."""
    defaults = dict(defaults or {})
    spec = SurrogateSpec(
        name, factory, defaults, description, stable_factory, scale, width, scale_for_width, fused_factory, origin
    )
    if scale is not None and scale not in defaults:
        raise RegistrationError(
            f"surrogate {name!r}: its scale {scale!r} is not one of its parameters {list(defaults)}"
        )
    paths = {
        "factory": factory,
        "stable_factory": stable_factory,
        "fused_factory": fused_factory,
        "width": width,
        "scale_for_width": scale_for_width,
    }
    return register(SURROGATES, spec, "surrogate", paths)


def _builtin(name: str, snntorch_name: str, defaults: dict[str, Any], description: str, **fields: Any) -> None:
    register_surrogate(
        name, f"{SNNTORCH}:{snntorch_name}", defaults=defaults, description=description, origin="snntorch", **fields
    )


_builtin(
    "fast_sigmoid",
    "fast_sigmoid",
    {"slope": 25},
    "derivative of x / (1 + k|x|)",
    scale="slope",
    width=f"{WIDTHS}:fast_sigmoid_width",
    scale_for_width=f"{WIDTHS}:fast_sigmoid_scale",
    fused_factory=f"{FUSED}:fast_sigmoid",
)
_builtin(
    "triangular",
    "triangular",
    {"threshold": 1},
    "+/- threshold on either side of 0",
    fused_factory=f"{FUSED}:triangular",
)
_builtin(
    "sigmoid",
    "sigmoid",
    {"slope": 25},
    "derivative of the logistic sigmoid",
    stable_factory=f"{STABLE}:sigmoid",
    scale="slope",
    width=f"{WIDTHS}:sigmoid_width",
    scale_for_width=f"{WIDTHS}:sigmoid_scale",
)
_builtin(
    "sparse_fast_sigmoid",
    "SFS",
    {"slope": 25, "B": 1},
    "fast sigmoid, zero below x = B (sparse gradient)",
    scale="slope",
    width=f"{WIDTHS}:sparse_fast_sigmoid_width",
    scale_for_width=f"{WIDTHS}:sparse_fast_sigmoid_scale",
    fused_factory=f"{FUSED}:SFS",
)
_builtin(
    "spike_rate_escape",
    "spike_rate_escape",
    {"beta": 1, "slope": 25},
    "Boltzmann escape-rate derivative",
    scale="slope",
    width=f"{WIDTHS}:spike_rate_escape_width",
    fused_factory=f"{FUSED}:spike_rate_escape",
)
_builtin(
    "stochastic_spike_operator",
    "SSO",
    {"mean": 0, "variance": 0.2},
    "1 above threshold, uniform noise below (draws from torch's global generator)",
)
_builtin(
    "straight_through_estimator",
    "straight_through_estimator",
    {},
    "identity gradient",
    fused_factory=f"{FUSED}:straight_through_estimator",
)
_builtin(
    "atan",
    "atan",
    {"alpha": 2.0},
    "derivative of arctan(pi x alpha / 2) / pi",
    scale="alpha",
    width=f"{WIDTHS}:atan_width",
    scale_for_width=f"{WIDTHS}:atan_scale",
    fused_factory=f"{FUSED}:atan",
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


def make_spike_function(
    name: str, params: dict[str, Any] | None = None, numerics: str = "stable", fused: bool = False
) -> SpikeFunction:
    """Build the named surrogate spike function, overriding its defaults with ``params``; with ``fused``, its
    ``fused_factory``'s where it has one (the same numbers)."""
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
    return spec.factory_function(numerics, fused)(**{**spec.defaults, **params})


def full_params(name: str, params: dict[str, Any] | None = None, scale: float | None = None) -> dict[str, Any]:
    """Every parameter of surrogate ``name``: its defaults, overridden by ``params``, then by ``scale``."""
    return {**SURROGATES[name].defaults, **with_scale(name, params, scale)}


def surrogate_width(name: str, params: dict[str, Any] | None = None, scale: float | None = None) -> float | None:
    """Full width at half maximum of the surrogate's derivative (``spikebench.neurons.surrogate_widths``) with
    ``params`` and ``scale``; None where it has none (and for the label ``none`` of models without surrogate)."""
    spec = SURROGATES.get(name)
    if spec is None or spec.width is None:
        return None
    return float(resolve_path(spec.width)(full_params(name, params, scale)))


def scale_at_width(name: str, width: float, params: dict[str, Any] | None = None) -> float | None:
    """The scale at which surrogate ``name`` (other parameters from ``params``) is ``width`` wide, to six
    significant digits so that the run id (``-k<scale>``) names it exactly; None for a surrogate without a
    scale, which runs once at its fixed width. ``WidthError`` where no scale gives that width."""
    spec = SURROGATES[name]
    if spec.scale is None:
        return None
    if spec.width is None:
        raise WidthError(f"surrogate {name} cannot be set to a width: its derivative has no half maximum")
    params = full_params(name, params)
    if spec.scale_for_width is not None:
        scale = resolve_path(spec.scale_for_width)(width, params)
    else:
        try:
            scale = numeric_scale_for_width(resolve_path(spec.width), width, params, spec.scale)
        except WidthError as error:
            raise WidthError(f"surrogate {name} cannot be set to width {width:g}: {error}") from None
    return float(f"{scale:.6g}")
