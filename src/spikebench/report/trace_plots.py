"""Plots of the neuron simulation traces (``spikebench.report.simulation``): potentials, thresholds, spikes."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from spikebench.report.style import apply_style

TIME_LABEL = "time (steps)"
POTENTIAL_LABEL = "potential V (a.u.)"
INPUT_LABEL = "input I (a.u.)"
MODEL_COLORS = {"LIF": "#1f77b4", "ABSS": "#d62728"}
MODEL_PALETTES = {"LIF": "crest", "ABSS": "flare"}
AFTER_SPIKE = {"ABSS": "\nafter a spike: V reset to 0, lifted by w_ar s_prev on the next step"}
"""Why an ABSS trace jumps up right after each spike, where a LIF trace starts again from V_reset."""


def _stacked_axes(heights: list[float], width: float = 9.0) -> tuple[plt.Figure, list[plt.Axes]]:
    apply_style()
    figure, axes = plt.subplots(
        len(heights), 1, sharex=True, figsize=(width, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    return figure, list(axes)


def _spike_train(axis: plt.Axes, table: pd.DataFrame, color: str) -> None:
    times = table.loc[table["spike"] == 1, "time_step"]
    axis.vlines(times, 0, 1, color=color, linewidth=1.2)
    axis.set_yticks([])
    axis.set_ylim(0, 1)
    axis.set_ylabel("spikes")


def _raster(axis: plt.Axes, table: pd.DataFrame, color: str, label: str) -> None:
    spikes = table[table["spike"] == 1]
    axis.scatter(spikes["time_step"], spikes["neuron"], marker="|", s=60, color=color, linewidths=1.2)
    neurons = sorted(table["neuron"].unique())
    axis.set_ylim(-0.7, len(neurons) - 0.3)
    axis.set_yticks(neurons[:: max(1, len(neurons) // 5)])
    axis.set_ylabel(f"{label} neuron")


def _potentials(axis: plt.Axes, table: pd.DataFrame, model: str, legend: bool) -> None:
    count = table["neuron"].nunique()
    sns.lineplot(
        data=table,
        x="time_step",
        y="potential",
        hue="neuron",
        palette=sns.color_palette(MODEL_PALETTES[model], count),
        linewidth=1.0,
        legend="full" if legend else False,
        ax=axis,
    )
    axis.set_ylabel(POTENTIAL_LABEL)
    if legend:
        axis.legend(title="neuron", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", ncol=1)


def _threshold_line(axis: plt.Axes, threshold: float) -> None:
    axis.axhline(threshold, color="black", linestyle="--", linewidth=1.0, label=f"threshold V_th = {threshold:g}")


def _escape_threshold_line(axis: plt.Axes, threshold: float) -> None:
    """ABSS has no hard threshold: V_th is where its firing probability sigmoid((V - V_th) / T) is one half."""
    axis.axhline(threshold, color="black", linestyle=":", linewidth=1.0, label=f"V_th = {threshold:g}: p = 1/2")


def plot_lif_single(table: pd.DataFrame, lif_threshold: float, abss_threshold: float) -> plt.Figure:
    figure, (potential_axis, spike_axis) = _stacked_axes([3.2, 0.9])
    current = table["input"].iloc[0]
    potential_axis.plot(table["time_step"], table["potential"], color=MODEL_COLORS["LIF"], label="V (before reset)")
    _threshold_line(potential_axis, lif_threshold)
    potential_axis.set_ylabel(POTENTIAL_LABEL)
    potential_axis.set_title(f"One LIF neuron, constant input I = {current:g}")
    potential_axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    _spike_train(spike_axis, table, MODEL_COLORS["LIF"])
    spike_axis.set_xlabel(TIME_LABEL)
    return figure


def plot_lif_relu(table: pd.DataFrame, lif_threshold: float, abss_threshold: float) -> plt.Figure:
    figure, (input_axis, potential_axis, spike_axis) = _stacked_axes([2.0, 2.6, 0.9])
    input_axis.plot(table["time_step"], table["ramp"], color="grey", linestyle=":", label="ramp x")
    input_axis.plot(table["time_step"], table["input"], color="black", label="ReLU(x) = input I")
    input_axis.set_ylabel(INPUT_LABEL)
    input_axis.legend(loc="upper left")
    input_axis.set_title("LIF neuron driven by the ReLU of a ramp")
    potential_axis.plot(table["time_step"], table["potential"], color=MODEL_COLORS["LIF"], label="V (before reset)")
    _threshold_line(potential_axis, lif_threshold)
    potential_axis.set_ylabel(POTENTIAL_LABEL)
    # Centre left, below the threshold line: the potential rests at 0 while the ReLU holds the input at 0.
    potential_axis.legend(loc="center left")
    _spike_train(spike_axis, table, MODEL_COLORS["LIF"])
    spike_axis.set_xlabel(TIME_LABEL)
    return figure


def _population(
    table: pd.DataFrame,
    label: str,
    threshold: float,
    threshold_line: Callable[[plt.Axes, float], None],
    threshold_name: str,
) -> plt.Figure:
    """Potentials coloured by each neuron's constant input (colour bar), and a raster with one row per neuron
    in order of input, labelled with its input and its firing rate."""
    figure, (potential_axis, raster_axis) = _stacked_axes([3.2, 2.6])
    inputs = table[table["time_step"] == 0].set_index("neuron")["input"].sort_values()
    norm = Normalize(inputs.min(), inputs.max() if inputs.max() > inputs.min() else inputs.min() + 1)
    colormap = plt.get_cmap(MODEL_PALETTES[label] if label == "ABSS" else "viridis")
    for neuron, current in inputs.items():
        trace = table[table["neuron"] == neuron]
        potential_axis.plot(trace["time_step"], trace["potential"], color=colormap(norm(current)), linewidth=1.0)
    threshold_line(potential_axis, threshold)
    potential_axis.set_ylabel(POTENTIAL_LABEL)
    style = "dotted" if label == "ABSS" else "dashed"
    potential_axis.set_title(
        f"{len(inputs)} {label} neurons, constant inputs {inputs.min():.2f} to {inputs.max():.2f}\n"
        f"{style}: {threshold_name} V_th = {threshold:g}" + AFTER_SPIKE.get(label, ""),
        fontsize="medium",
        loc="left",
    )
    figure.colorbar(ScalarMappable(norm, colormap), ax=[potential_axis, raster_axis], label=INPUT_LABEL, pad=0.02)
    rows = {neuron: row for row, neuron in enumerate(inputs.index)}
    spikes = table[table["spike"] == 1]
    raster_axis.scatter(
        spikes["time_step"],
        spikes["neuron"].map(rows),
        marker="|",
        s=60,
        c=[colormap(norm(inputs[neuron])) for neuron in spikes["neuron"]],
        linewidths=1.2,
    )
    rates = table.groupby("neuron")["spike"].mean()
    raster_axis.set_yticks(
        list(rows.values()), [f"I={inputs[n]:.2f}, {100 * rates[n]:.0f}%" for n in rows], fontsize="x-small"
    )
    raster_axis.set_ylim(-0.7, len(rows) - 0.3)
    raster_axis.set_ylabel("neuron (input, rate)")
    raster_axis.set_xlabel(TIME_LABEL)
    return figure


def plot_lif_population(table: pd.DataFrame, lif_threshold: float, abss_threshold: float) -> plt.Figure:
    return _population(table, "LIF", lif_threshold, _threshold_line, "threshold")


def plot_abss_population(table: pd.DataFrame, lif_threshold: float, abss_threshold: float) -> plt.Figure:
    return _population(table, "ABSS", abss_threshold, _escape_threshold_line, "firing probability 1/2 at")


def plot_lif_vs_abss(table: pd.DataFrame, lif_threshold: float, abss_threshold: float) -> plt.Figure:
    lif, abss = table[table["model"] == "LIF"], table[table["model"] == "ABSS"]
    figure, axes = _stacked_axes([1.8, 2.4, 2.4, 1.6, 1.6], width=9.5)
    input_axis, lif_axis, abss_axis, lif_raster, abss_raster = axes
    count = lif["neuron"].nunique()
    shades = sns.color_palette("Greys", count)
    sns.lineplot(data=lif, x="time_step", y="input", hue="neuron", palette=shades, legend=False, ax=input_axis)
    input_axis.set_ylabel("ReLU input I")
    input_axis.set_title("The same ReLU input drives LIF (blue) and ABSS (red) neurons")
    gains = lif.groupby("neuron")["gain"].first()
    figure.colorbar(
        ScalarMappable(Normalize(gains.min(), gains.max()), sns.color_palette("Greys", as_cmap=True)),
        ax=list(axes),
        label=f"gain on the ramp, neurons 0-{count - 1} (lighter: lower, in every panel)",
        fraction=0.03,
        pad=0.02,
    )
    _potentials(lif_axis, lif, "LIF", legend=False)
    _threshold_line(lif_axis, lif_threshold)
    lif_axis.set_ylabel("LIF V")
    lif_axis.legend(loc="center left", fontsize="small")
    _potentials(abss_axis, abss, "ABSS", legend=False)
    _escape_threshold_line(abss_axis, abss_threshold)
    abss_axis.set_ylabel("ABSS V")
    abss_axis.legend(loc="upper left", fontsize="small")
    _raster(lif_raster, lif, MODEL_COLORS["LIF"], "LIF")
    _raster(abss_raster, abss, MODEL_COLORS["ABSS"], "ABSS")
    abss_raster.set_xlabel(TIME_LABEL)
    return figure
