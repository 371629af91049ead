"""Smoke tests of the plugins' implementations, before any job: each plugin cell takes one step, each plugin
surrogate one forward and backward pass, on a few numbers.

    python -m spikebench.run.plugin_checks my_package.spikebench_plugin ...

The workflow runs this in a process of its own while it plans a config with plugins (Snakemake's own process
never imports torch) and stops, naming the plugin, the name and the problem, if anything fails. Registration
itself (``spikebench.plugins``) only checks names and paths, without torch.
"""

from __future__ import annotations

import argparse
import sys
from types import MappingProxyType

import torch

from spikebench.model.cells import Cell, NeuronSettings
from spikebench.model.registry import NEURON_MODELS, NeuronModelSpec
from spikebench.neurons.surrogates import SURROGATES, SurrogateSpec, make_spike_function
from spikebench.plugins import BUILT_IN_ORIGINS, PluginError, load_plugins

SMOKE_SHAPE = (2, 3, 4, 4)
"""A batch of two, three channels of 4 x 4: the shape of a convolutional layer's input current."""


def cell_problem(spec: NeuronModelSpec) -> str | None:
    """What is wrong with a neuron model's cell on one step of a small input, None if nothing is."""
    try:
        cell_class = spec.cell_class()
    except (ImportError, AttributeError) as error:
        return f"its cell {spec.cell} does not import ({error})"
    if not (isinstance(cell_class, type) and issubclass(cell_class, Cell)):
        return f"its cell {spec.cell} is not a subclass of spikebench.model.cells.Cell"
    if cell_class.fast_step is Cell.fast_step:
        return f"its cell {spec.cell} does not define fast_step(current, state) -> (spikes, state, membrane)"
    current = torch.rand(SMOKE_SHAPE, generator=torch.Generator().manual_seed(0))
    try:
        settings = NeuronSettings(params=MappingProxyType(dict(spec.parameters)))
        cell = cell_class(settings, make_spike_function("fast_sigmoid") if spec.uses_surrogate else None)
        if cell.uses_generator:
            cell.generator = torch.Generator().manual_seed(0)
        spikes, state, membrane = cell.fast_step(current, cell.initial_state(current))
    except Exception as error:  # noqa: BLE001 (a plugin's failure is reported, whatever it is)
        return f"its cell failed one step on an input of shape {list(SMOKE_SHAPE)}: {type(error).__name__}: {error}"
    for what, tensor in [("spikes", spikes), ("membrane", membrane), *(("a state tensor", t) for t in state)]:
        if not isinstance(tensor, torch.Tensor) or tensor.shape != current.shape or tensor.dtype != current.dtype:
            found = (
                f"{list(tensor.shape)} {tensor.dtype}" if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            )
            return (
                f"one step of its cell on a float32 input of shape {list(SMOKE_SHAPE)} returned {what} of {found};"
                " every output must have the input's shape and dtype"
            )
    if len(state) != cell.num_states:
        return f"its cell returned {len(state)} state tensors but declares num_states = {cell.num_states}"
    return None


def surrogate_problem(spec: SurrogateSpec) -> str | None:
    """What is wrong with a surrogate's spike function on a few numbers around 0, None if nothing is."""
    x = torch.tensor([-1.0, -0.1, 0.0, 0.1, 1.0], requires_grad=True)
    try:
        spikes = make_spike_function(spec.name)(x)
        spikes.sum().backward()
    except Exception as error:  # noqa: BLE001 (a plugin's failure is reported, whatever it is)
        return f"its spike function failed on five numbers: {type(error).__name__}: {error}"
    if not torch.equal(spikes.detach(), (x > 0).float()):
        return f"its forward pass gives {spikes.tolist()} at {x.tolist()}, not the step (x > 0)"
    if x.grad is None or not torch.isfinite(x.grad).all():
        gradient = None if x.grad is None else x.grad.tolist()
        return f"its backward pass at {x.tolist()} is {gradient}: it must be finite, 0 included"
    return None


def plugin_problems() -> list[str]:
    """One line per plugin model or surrogate that fails its smoke test."""
    problems = []
    for kind, registry, problem in [
        ("neuron model", NEURON_MODELS, cell_problem),
        ("surrogate", SURROGATES, surrogate_problem),
    ]:
        for name, spec in registry.items():
            if spec.origin not in BUILT_IN_ORIGINS:
                found = problem(spec)
                if found:
                    problems.append(f"plugin {spec.origin}: {kind} {name!r}: {found}")
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Smoke-test the plugins' cells and surrogates.")
    parser.add_argument("modules", nargs="*", help="plugin modules (a config's plugins:); entry points are found")
    parser.add_argument("--results", default="results", help="the config's results directory, never searched")
    args = parser.parse_args(argv)
    try:
        load_plugins(args.modules, results=args.results)
    except PluginError as error:
        parser.exit(1, f"{error}\n")
    problems = plugin_problems()
    if problems:
        parser.exit(1, "\n".join(problems) + "\n")


if __name__ == "__main__":
    sys.exit(main())
