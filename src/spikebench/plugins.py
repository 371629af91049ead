"""Bring your own neuron model or surrogate gradient: the public plugin API.

A plugin is a module that registers names, and nothing else, when imported::

    from spikebench.plugins import register_neuron, register_surrogate

    register_neuron("alif", "spikebench_alif.cells:ALIFCell", description="adaptive-threshold LIF")
    register_surrogate(
        "superspike", "spikebench_alif.surrogates:superspike", defaults={"beta": 10.0}, scale="beta",
        width="spikebench_alif.surrogates:superspike_width",
    )

Everything is named by import path, ``module:attribute``, so that importing the plugin (as Snakemake does
while it plans the jobs) imports no torch: keep the cells and spike functions in modules of their own.
spikebench finds plugins two ways, before it validates a config: the modules a config lists under
``plugins:``, and every installed package's entry points in the group ``spikebench.plugins`` (the entry
point's value is the plugin module). Built-in models and surrogates are registered by the same two functions.

A plugin that fails to import, or registers a name already taken, is refused with the plugin and the name,
and leaves the registries as they were.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
from collections.abc import Iterable

from spikebench.model.registry import NEURON_MODELS, NeuronModelSpec, register_neuron
from spikebench.neurons.surrogates import SURROGATES, SurrogateSpec, register_surrogate
from spikebench.utils.registry import UNNAMED_ORIGIN, RegistrationError

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "load_plugins", "register_neuron", "register_surrogate"]

ENTRY_POINT_GROUP = "spikebench.plugins"
BUILT_IN_ORIGINS = ("snntorch", "spikebench")
"""The origins of the built-in models and surrogates; any other origin is a plugin's."""


class PluginError(ValueError):
    """A plugin could not be loaded; the message names the plugin, the problem and the fix."""


_loaded: set[str] = set()
"""Plugin modules already loaded in this process: loading is idempotent."""


def _load_one(module: str, how: str) -> None:
    if module in _loaded:
        return
    neurons: dict[str, NeuronModelSpec] = dict(NEURON_MODELS)
    surrogates: dict[str, SurrogateSpec] = dict(SURROGATES)
    try:
        importlib.import_module(module)
    except RegistrationError as error:
        problem = f"{error}"
    except ImportError as error:
        problem = f"it does not import ({error}); install it, or put its directory on PYTHONPATH"
    except Exception as error:  # noqa: BLE001 (whatever a plugin raises, it is reported, not half-registered)
        problem = f"importing it raised {type(error).__name__}: {error}"
    else:
        _name_origins(NEURON_MODELS, neurons, module)
        _name_origins(SURROGATES, surrogates, module)
        _loaded.add(module)
        return
    NEURON_MODELS.clear()
    NEURON_MODELS.update(neurons)
    SURROGATES.clear()
    SURROGATES.update(surrogates)
    raise PluginError(f"plugin {module} ({how}): {problem}")


def _name_origins(registry: dict, before: dict, module: str) -> None:
    """Record ``module`` as the origin of what it registered without naming one."""
    for name in set(registry) - set(before):
        if registry[name].origin == UNNAMED_ORIGIN:
            registry[name] = dataclasses.replace(registry[name], origin=module)


def entry_point_plugins() -> list[str]:
    """The plugin modules installed packages declare in the entry-point group ``spikebench.plugins``."""
    return [entry.value for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]


def load_plugins(modules: Iterable[str] = ()) -> None:
    """Import the installed packages' plugins (entry points), then ``modules`` (a config's ``plugins:``), each
    once per process. ``PluginError`` for the first that fails, with nothing of it registered."""
    for module in entry_point_plugins():
        _load_one(module, f"entry point of group {ENTRY_POINT_GROUP}")
    for module in modules:
        _load_one(module, "listed under plugins: in the config")
