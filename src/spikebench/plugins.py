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

Plugins run only by the user's consent, never by a config's alone (docs: Extending, Plugins, What runs):

- every installed package's entry points in the group ``spikebench.plugins`` (the entry point's value is the
  plugin module): installing the package is the consent;
- the modules a config lists under ``plugins:``, imported from the installed packages and ``PYTHONPATH``, with
  the working directory and the results directory taken off ``sys.path``, so that a planted file next to a
  config or among results is never imported; standard-library modules are refused;
- modules in the directories the environment variable ``SPIKEBENCH_PLUGIN_PATH`` names: the explicit opt-in
  for a plugin that is not installed.

A plugin that fails to import, registers nothing, registers a name already taken, exits the interpreter or
takes longer than ``SPIKEBENCH_PLUGIN_IMPORT_TIMEOUT`` seconds (default 30) to import is refused with the
plugin, the problem and the fix, and leaves the registries as they were. ``loaded_plugins()`` tells which ran,
from where and at what version: the summary page lists them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from spikebench.model.registry import NEURON_MODELS, NeuronModelSpec, register_neuron
from spikebench.neurons.surrogates import SURROGATES, SurrogateSpec, register_surrogate
from spikebench.utils.registry import UNNAMED_ORIGIN, RegistrationError

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "PluginOrigin",
    "load_config_plugins",
    "load_plugins",
    "loaded_plugins",
    "register_neuron",
    "register_surrogate",
]

ENTRY_POINT_GROUP = "spikebench.plugins"
LOCAL_PLUGIN_PATH = "SPIKEBENCH_PLUGIN_PATH"
"""Environment variable: directories (separated by ``os.pathsep``) whose modules the user allows as plugins."""
IMPORT_TIMEOUT = "SPIKEBENCH_PLUGIN_IMPORT_TIMEOUT"
"""Environment variable: the seconds a plugin may take to import (default ``DEFAULT_IMPORT_TIMEOUT``)."""
DEFAULT_IMPORT_TIMEOUT = 30.0
BUILT_IN_ORIGINS = ("snntorch", "spikebench")
"""The origins of the built-in models and surrogates; any other origin is a plugin's."""


class PluginError(ValueError):
    """A plugin could not be loaded; the message names the plugin, the problem and the fix."""


@dataclass(frozen=True)
class PluginOrigin:
    """Where a loaded plugin came from: what the summary page lists."""

    module: str
    how: str
    """``entry point``, ``plugins: in the config`` or ``SPIKEBENCH_PLUGIN_PATH``."""
    file: str
    distribution: str | None
    version: str | None
    registered: tuple[str, ...]

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "registered": list(self.registered)}


_loaded: dict[str, PluginOrigin] = {}
"""Plugin modules already loaded in this process: loading is idempotent."""


def loaded_plugins() -> list[PluginOrigin]:
    """The plugins loaded in this process, in the order they were loaded."""
    return list(_loaded.values())


def _is_under(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _local_plugin_directories() -> list[Path]:
    listed = os.environ.get(LOCAL_PLUGIN_PATH, "")
    return [Path(entry).resolve() for entry in listed.split(os.pathsep) if entry]


def _trusted_path(untrusted: Iterable[Path]) -> list[str]:
    """``sys.path`` without the working directory and anything inside the untrusted directories, after the
    directories the user allowed (``SPIKEBENCH_PLUGIN_PATH``)."""
    working_directory, refused = Path.cwd().resolve(), list(untrusted)

    def trusted(entry: str) -> bool:
        if entry in ("", "."):
            return False
        resolved = Path(entry).resolve()
        return resolved != working_directory and not any(_is_under(resolved, directory) for directory in refused)

    return [*map(str, _local_plugin_directories()), *filter(trusted, sys.path)]


@contextlib.contextmanager
def _search_path(path: list[str]) -> Iterator[None]:
    """Imports inside see ``path`` as ``sys.path``."""
    saved = sys.path[:]
    sys.path[:] = path
    try:
        yield
    finally:
        sys.path[:] = saved


def _import_timeout() -> float:
    try:
        return float(os.environ.get(IMPORT_TIMEOUT, DEFAULT_IMPORT_TIMEOUT))
    except ValueError:
        raise PluginError(f"{IMPORT_TIMEOUT}={os.environ[IMPORT_TIMEOUT]!r} is not a number of seconds") from None


class _ImportTooSlow(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """``_ImportTooSlow`` after ``seconds``, where a timer can interrupt (the main thread on POSIX)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _ImportTooSlow

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _distribution_of(module: str) -> tuple[str | None, str | None]:
    names = importlib.metadata.packages_distributions().get(module.split(".")[0], [])
    if not names:
        return None, None
    return names[0], importlib.metadata.version(names[0])


def _refusal(module: str, untrusted: list[Path], timeout: float) -> str | None:
    """Import ``module`` as a plugin; the problem if it may not or cannot be one, None once it registered."""
    if module.split(".")[0] in sys.stdlib_module_names:
        return (
            "it is a standard-library module, not a plugin; list the module that calls register_neuron or"
            " register_surrogate"
        )
    neurons, surrogates = set(NEURON_MODELS), set(SURROGATES)
    try:
        with _search_path(_trusted_path(untrusted)), _time_limit(timeout):
            imported = importlib.import_module(module)
    except RegistrationError as error:
        return f"{error}"
    except _ImportTooSlow:
        return (
            f"it took longer than {timeout:g} s to import; keep a plugin's import light (no data, no torch at the"
            f" top level), or raise {IMPORT_TIMEOUT}"
        )
    except ImportError as error:
        return (
            f"it does not import ({error}); install it (pip install -e <its directory>), or allow its directory"
            f" with {LOCAL_PLUGIN_PATH}=<directory>: the working directory and the results directory are never"
            " searched for plugins"
        )
    except (SystemExit, KeyboardInterrupt) as error:
        return (
            f"importing it raised {type(error).__name__}({error}); a plugin only registers names when imported,"
            " it must not exit"
        )
    except Exception as error:  # noqa: BLE001 (whatever a plugin raises, it is reported, not half-registered)
        return f"importing it raised {type(error).__name__}: {error}"
    file = Path(getattr(imported, "__file__", None) or module).resolve()
    if any(_is_under(file, directory) for directory in untrusted):
        return f"it was found in {file}, inside the results directory; plugins are never imported from results"
    if set(NEURON_MODELS) == neurons and set(SURROGATES) == surrogates:
        return (
            "it registers no neuron model and no surrogate; a plugin module calls"
            " spikebench.plugins.register_neuron or register_surrogate when imported"
        )
    return None


def _load_one(module: str, how: str, untrusted: list[Path]) -> None:
    if module in _loaded:
        return
    neurons: dict[str, NeuronModelSpec] = dict(NEURON_MODELS)
    surrogates: dict[str, SurrogateSpec] = dict(SURROGATES)
    already_imported = set(sys.modules)
    problem = _refusal(module, untrusted, _import_timeout())
    if problem is None:
        _name_origins(NEURON_MODELS, neurons, module)
        _name_origins(SURROGATES, surrogates, module)
        imported = sys.modules[module]
        file = str(getattr(imported, "__file__", None) or module)
        if how != "entry point" and any(_is_under(Path(file).resolve(), d) for d in _local_plugin_directories()):
            how = LOCAL_PLUGIN_PATH
        distribution, version = _distribution_of(module)
        registered = tuple(sorted((set(NEURON_MODELS) - set(neurons)) | (set(SURROGATES) - set(surrogates))))
        _loaded[module] = PluginOrigin(module, how, file, distribution, version, registered)
        return
    NEURON_MODELS.clear()
    NEURON_MODELS.update(neurons)
    SURROGATES.clear()
    SURROGATES.update(surrogates)
    # Only what this import added goes: a refused name such as os.path was imported long before, and others use it.
    for name in [name for name in set(sys.modules) - already_imported if name.split(".")[0] == module.split(".")[0]]:
        del sys.modules[name]
    raise PluginError(f"plugin {module} ({HOW[how]}): {problem}")


HOW = {
    "entry point": f"entry point of group {ENTRY_POINT_GROUP}",
    "plugins: in the config": "listed under plugins: in the config",
}


def _name_origins(registry: dict, before: dict, module: str) -> None:
    """Record ``module`` as the origin of what it registered without naming one."""
    for name in set(registry) - set(before):
        if registry[name].origin == UNNAMED_ORIGIN:
            registry[name] = dataclasses.replace(registry[name], origin=module)


def entry_point_plugins(untrusted: Iterable[Path] = ()) -> list[str]:
    """The plugin modules installed packages declare in the entry-point group ``spikebench.plugins``, found on
    the same path as the plugins themselves (never the working directory's metadata)."""
    path = _trusted_path(list(untrusted))
    return [
        entry.value
        for distribution in importlib.metadata.distributions(path=path)
        for entry in distribution.entry_points.select(group=ENTRY_POINT_GROUP)
    ]


def load_plugins(modules: Iterable[str] = (), results: str | Path | None = None) -> None:
    """Import the installed packages' plugins (entry points), then ``modules`` (a config's ``plugins:``), each
    once per process, never from the working directory or ``results`` (the config's results directory).
    ``PluginError`` for the first that fails, with nothing of it registered."""
    untrusted = [Path(results).resolve()] if results else []
    for module in dict.fromkeys(entry_point_plugins(untrusted)):
        _load_one(module, "entry point", untrusted)
    for module in modules:
        _load_one(module, "plugins: in the config", untrusted)


def load_config_plugins(config: dict) -> None:
    """``load_plugins`` for a validated config: its ``plugins:``, never imported from its ``results:``."""
    load_plugins(config.get("plugins", []), results=config.get("results", "results"))
