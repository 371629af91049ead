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

SMOKE_SHAPES = ((2, 3, 4, 4), (2, 10))
"""The inputs a spiking layer sees: a convolutional layer's current (a batch of two, three channels of 4 x 4)
and the output layer's (a batch of two, ten classes)."""

GUIDE = "docs: Extending, Benchmark your own neuron model"

CELL_CONTRACT = (
    "a cell's fast_step(current, state) returns (spikes, state, membrane): spikes and membrane tensors of"
    " current's shape and dtype, whatever that shape is, and state a tuple of num_states such tensors"
)

SURROGATE_CONTRACT = (
    "a surrogate's spike function maps x = V - V_th to the step (x > 0) as a float tensor in its forward pass,"
    " and gives a finite derivative everywhere, x = 0 included, in its backward pass"
)


def _numbers(values: torch.Tensor) -> str:
    """``[-1, -0.1, 0, 0.1, inf]``: float32 values as a reader writes them, not as their doubles print."""
    return "[" + ", ".join(f"{value:.3g}" for value in values.tolist()) + "]"


def _found(tensor: object) -> str:
    return f"{list(tensor.shape)} {tensor.dtype}" if isinstance(tensor, torch.Tensor) else type(tensor).__name__


def _step_problem(cell: Cell, shape: tuple[int, ...]) -> str | None:
    current = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    if cell.uses_generator:
        cell.generator = torch.Generator().manual_seed(0)
    try:
        spikes, state, membrane = cell.fast_step(current, cell.initial_state(current))
    except Exception as error:  # noqa: BLE001 (a plugin's failure is reported, whatever it is)
        return (
            f"its cell failed one step on a float32 input of shape {list(shape)}: {type(error).__name__}: {error}."
            f" Fix: {CELL_CONTRACT}"
        )
    for what, tensor in [("spikes", spikes), ("membrane", membrane), *(("a state tensor", t) for t in state)]:
        if not isinstance(tensor, torch.Tensor) or tensor.shape != current.shape or tensor.dtype != current.dtype:
            return (
                f"one step of its cell on a float32 input of shape {list(shape)} returned {what} of"
                f" {_found(tensor)}. Fix: {CELL_CONTRACT} (spikes as a float, e.g. self.spike_fn(...) or"
                " (membrane > threshold).to(current.dtype))"
            )
    if len(state) != cell.num_states:
        return (
            f"its cell returned {len(state)} state tensors but declares num_states = {cell.num_states}."
            " Fix: set the class attribute num_states to the number of tensors in the state fast_step returns"
        )
    return None


def cell_problem(spec: NeuronModelSpec) -> str | None:
    """What is wrong with a neuron model's cell on one step of a convolutional and of a flat input, with the
    contract it breaks and the fix; None if nothing is."""
    try:
        cell_class = spec.cell_class()
    except (ImportError, AttributeError) as error:
        return (
            f"its cell {spec.cell} does not import ({error}). Fix: register the cell as 'module:Class', with"
            " the module importable where the plugin is"
        )
    if not (isinstance(cell_class, type) and issubclass(cell_class, Cell)):
        return (
            f"its cell {spec.cell} is not a subclass of spikebench.model.cells.Cell. Fix: derive it from Cell"
            f" and define fast_step ({GUIDE})"
        )
    if cell_class.fast_step is Cell.fast_step:
        return f"its cell {spec.cell} does not define fast_step. Fix: {CELL_CONTRACT} ({GUIDE})"
    try:
        settings = NeuronSettings(params=MappingProxyType(dict(spec.parameters)))
        cell = cell_class(settings, make_spike_function("fast_sigmoid") if spec.uses_surrogate else None)
    except Exception as error:  # noqa: BLE001 (a plugin's failure is reported, whatever it is)
        return (
            f"its cell could not be built: {type(error).__name__}: {error}. Fix: a cell is built as"
            " Cell(settings, spike_fn), with its constants read from settings.params"
        )
    for shape in SMOKE_SHAPES:
        problem = _step_problem(cell, shape)
        if problem:
            return problem
    return None


def surrogate_problem(spec: SurrogateSpec) -> str | None:
    """What is wrong with a surrogate's spike function on a few numbers around 0, with the contract it breaks and
    the fix; None if nothing is."""
    x = torch.tensor([-1.0, -0.1, 0.0, 0.1, 1.0], requires_grad=True)
    try:
        spikes = make_spike_function(spec.name)(x)
        spikes.sum().backward()
    except Exception as error:  # noqa: BLE001 (a plugin's failure is reported, whatever it is)
        return (
            f"its spike function failed on five numbers: {type(error).__name__}: {error}. Fix: {SURROGATE_CONTRACT}"
            f" ({GUIDE})"
        )
    if not isinstance(spikes, torch.Tensor) or not torch.equal(spikes.detach(), (x > 0).float()):
        found = _numbers(spikes.detach()) if isinstance(spikes, torch.Tensor) else type(spikes).__name__
        return (
            f"its forward pass gives {found} at {_numbers(x.detach())}, not the step (x > 0)."
            f" Fix: {SURROGATE_CONTRACT}; the surrogate's shape belongs in the backward pass only"
            " (a torch.autograd.Function)"
        )
    if x.grad is None or not torch.isfinite(x.grad).all():
        gradient = "no gradient" if x.grad is None else _numbers(x.grad)
        return (
            f"its backward pass at {_numbers(x.detach())} is {gradient}. Fix: {SURROGATE_CONTRACT};"
            " bound the derivative at 0, as fast_sigmoid's 1 / (k |x| + 1)^2 is"
        )
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
