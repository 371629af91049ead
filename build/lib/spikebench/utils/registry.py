"""The registries' two idioms: specs keyed by their name, and functions or classes named instead of held, so
that reading a registry (as the workflow does) imports neither torch nor matplotlib."""

from __future__ import annotations

import importlib
from typing import Any, Protocol, TypeVar


class Named(Protocol):
    name: str


Spec = TypeVar("Spec", bound=Named)


def by_name(*specs: Spec) -> dict[str, Spec]:
    """The specs keyed by their names, in the given order; a repeated name is an error."""
    registry = {spec.name: spec for spec in specs}
    if len(registry) != len(specs):
        raise ValueError(f"a name is registered twice: {[spec.name for spec in specs]}")
    return registry


def resolve(module: str, name: str) -> Any:
    """``module.name``, importing ``module`` on first use."""
    return getattr(importlib.import_module(module), name)
