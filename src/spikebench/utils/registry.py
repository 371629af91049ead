"""The registries' idioms: specs keyed by their name, registered one by one (built-ins and plugins alike), and
functions or classes named by import path instead of held, so that reading a registry (as the workflow does)
imports neither torch nor matplotlib."""

from __future__ import annotations

import importlib
import re
from typing import Any, Protocol, TypeVar

from spikebench.utils.text import matches_whole


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


UNNAMED_ORIGIN = "a plugin"
"""The origin a registration records unless told; ``spikebench.plugins`` replaces it with the plugin's module."""
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
"""A registered name: it becomes part of run ids (``mnist-<neuron>-<surrogate>-...``), so no dashes."""
IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
"""``package.module:attribute``."""


class RegistrationError(ValueError):
    """A name or import path that a registry refuses; the message says which and what to do."""


def register(registry: dict[str, Spec], spec: Spec, kind: str, paths: dict[str, str | None]) -> Spec:
    """Add ``spec`` to ``registry`` under its name, after checking the name is free and well formed and that
    ``paths`` (field -> import path) are ``module:attribute``; nothing is added if a check fails."""
    if not matches_whole(NAME, spec.name):
        raise RegistrationError(
            f"{kind} name {spec.name!r}: use lower-case letters, digits and underscores, starting with a letter"
            " (the name becomes part of run ids)"
        )
    if spec.name in registry:
        raise RegistrationError(
            f"{kind} {spec.name!r} is already registered (by {registry[spec.name].origin}); register yours under"
            " another name"
        )
    for field, path in paths.items():
        if path is not None and not matches_whole(IMPORT_PATH, path):
            raise RegistrationError(f"{kind} {spec.name!r}: {field} {path!r} is not an import path 'module:attribute'")
    registry[spec.name] = spec
    return spec


def resolve_path(path: str) -> Any:
    """The attribute an import path ``module:attribute`` names, importing its module on first use."""
    module, name = path.split(":")
    return resolve(module, name)
