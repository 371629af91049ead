"""The five neuron simulation figures: traces as tidy tables, and their plots.

``SIMULATION_FIGURES`` maps each figure name (the ``simulate`` rule's wildcard and the config's
``simulation`` keys) to the function computing its traces and the one plotting them. A trace table has one
row per time step and neuron with columns ``model, time_step, neuron, input, potential, spike``
(``potential`` before the reset of that step).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import pandas as pd
import torch

from spikebench.neurons import functional
from spikebench.report import trace_plots
from spikebench.report.style import save_figure

TRACE_COLUMNS = ["model", "time_step", "neuron", "input", "potential", "spike"]


def _tidy(model: str, inputs: torch.Tensor, trace: functional.Trace) -> pd.DataFrame:
    steps, count = inputs.shape
    return pd.DataFrame(
        {
            "model": model,
            "time_step": torch.arange(steps).repeat_interleave(count).numpy(),
            "neuron": torch.arange(count).repeat(steps).numpy(),
            "input": inputs.reshape(-1).numpy(),
            "potential": trace.potentials.reshape(-1).detach().numpy(),
            "spike": trace.spikes.reshape(-1).detach().numpy().astype(int),
        }
    )


def _lif(params: dict) -> functional.LIFParameters:
    return functional.LIFParameters(**params)


def _relu_ramp(figure: dict) -> tuple[torch.Tensor, torch.Tensor]:
    ramp = torch.linspace(figure["ramp_start"], figure["ramp_end"], figure["steps"])
    return ramp, torch.relu(ramp)


def _population_inputs(figure: dict) -> torch.Tensor:
    half = figure["current_spread"] / 2
    currents = torch.linspace(figure["current"] - half, figure["current"] + half, figure["neurons"])
    return currents.expand(figure["steps"], -1).clone()


def _generator(seed: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def lif_single(lif: dict, abss: dict, figure: dict) -> pd.DataFrame:
    inputs = torch.full((figure["steps"], 1), float(figure["current"]))
    return _tidy("LIF", inputs, functional.lif_sequence(inputs, _lif(lif), record=True))


def lif_relu(lif: dict, abss: dict, figure: dict) -> pd.DataFrame:
    ramp, current = _relu_ramp(figure)
    inputs = current.unsqueeze(1)
    table = _tidy("LIF", inputs, functional.lif_sequence(inputs, _lif(lif), record=True))
    table["ramp"] = ramp.numpy()
    return table


def lif_population(lif: dict, abss: dict, figure: dict) -> pd.DataFrame:
    inputs = _population_inputs(figure)
    return _tidy("LIF", inputs, functional.lif_sequence(inputs, _lif(lif), record=True))


def abss_population(lif: dict, abss: dict, figure: dict) -> pd.DataFrame:
    inputs = _population_inputs(figure)
    trace = functional.abss_sequence(inputs, functional.ABSSParameters(**abss), _generator(figure["seed"]), record=True)
    return _tidy("ABSS", inputs, trace)


def lif_vs_abss(lif: dict, abss: dict, figure: dict) -> pd.DataFrame:
    """The same ReLU ramp, scaled by a gain from 0.8 to 1.2 per neuron, drives 10 LIF and 10 ABSS neurons."""
    _, current = _relu_ramp(figure)
    gains = torch.linspace(0.8, 1.2, figure["neurons"])
    inputs = current.unsqueeze(1) * gains
    lif_trace = functional.lif_sequence(inputs, _lif(lif), record=True)
    abss_trace = functional.abss_sequence(
        inputs, functional.ABSSParameters(**abss), _generator(figure["seed"]), record=True
    )
    table = pd.concat([_tidy("LIF", inputs, lif_trace), _tidy("ABSS", inputs, abss_trace)], ignore_index=True)
    return table.assign(gain=gains.numpy()[table["neuron"]])


class SimulationFigure(NamedTuple):
    """A figure's traces (simulation parameters -> tidy table) and its plot (table, LIF threshold, ABSS
    threshold -> figure)."""

    traces: Callable[[dict, dict, dict], pd.DataFrame]
    plot: Callable[..., plt.Figure]


SIMULATION_FIGURES: dict[str, SimulationFigure] = {
    "lif_single": SimulationFigure(lif_single, trace_plots.plot_lif_single),
    "lif_relu": SimulationFigure(lif_relu, trace_plots.plot_lif_relu),
    "lif_population": SimulationFigure(lif_population, trace_plots.plot_lif_population),
    "abss_population": SimulationFigure(abss_population, trace_plots.plot_abss_population),
    "lif_vs_abss": SimulationFigure(lif_vs_abss, trace_plots.plot_lif_vs_abss),
}
"""Keyed like the config's ``simulation`` figures (the schema's ``trace_figure`` entries; a test keeps them equal)."""


def simulate_figure(
    name: str, lif: dict, abss: dict, figure: dict, csv_path: str | Path, png_path: str | Path, svg_path: str | Path
) -> pd.DataFrame:
    """Compute one figure's traces, write them as CSV and draw the figure as PNG and SVG."""
    spec = SIMULATION_FIGURES[name]
    table = spec.traces(lif, abss, figure)
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False)
    save_figure(spec.plot(table, lif["threshold"], abss["threshold"]), png_path, svg_path)
    return table
