"""Plots of the neuron simulation traces (``spikebench.report.simulation``): potentials, thresholds, spikes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from spikebench.report.style import apply_style

TIME_LABEL = "time (steps)"
POTENTIAL_LABEL = "potential V (a.u.)"
INPUT_LABEL = "input I (a.u.)"
MODEL_COLORS = {"LIF": "#1f77b4", "ABSS": "#d62728"}
MODEL_PALETTES = {"LIF": "crest", "ABSS": "flare"}


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


def plot_lif_single(table: pd.DataFrame, threshold: float) -> plt.Figure:
    figure, (potential_axis, spike_axis) = _stacked_axes([3.2, 0.9])
    current = table["input"].iloc[0]
    potential_axis.plot(table["time_step"], table["potential"], color=MODEL_COLORS["LIF"], label="V (before reset)")
    _threshold_line(potential_axis, threshold)
    potential_axis.set_ylabel(POTENTIAL_LABEL)
    potential_axis.set_title(f"One LIF neuron, constant input I = {current:g}")
    potential_axis.legend(loc="lower right")
    _spike_train(spike_axis, table, MODEL_COLORS["LIF"])
    spike_axis.set_xlabel(TIME_LABEL)
    return figure


def plot_lif_relu(table: pd.DataFrame, threshold: float) -> plt.Figure:
    figure, (input_axis, potential_axis, spike_axis) = _stacked_axes([2.0, 2.6, 0.9])
    input_axis.plot(table["time_step"], table["ramp"], color="grey", linestyle=":", label="ramp x")
    input_axis.plot(table["time_step"], table["input"], color="black", label="ReLU(x) = input I")
    input_axis.set_ylabel(INPUT_LABEL)
    input_axis.legend(loc="upper left")
    input_axis.set_title("LIF neuron driven by the ReLU of a ramp")
    potential_axis.plot(table["time_step"], table["potential"], color=MODEL_COLORS["LIF"], label="V (before reset)")
    _threshold_line(potential_axis, threshold)
    potential_axis.set_ylabel(POTENTIAL_LABEL)
    potential_axis.legend(loc="upper left")
    _spike_train(spike_axis, table, MODEL_COLORS["LIF"])
    spike_axis.set_xlabel(TIME_LABEL)
    return figure


def _population(table: pd.DataFrame, label: str, threshold: float | None) -> plt.Figure:
    figure, (potential_axis, raster_axis) = _stacked_axes([3.2, 2.2])
    _potentials(potential_axis, table, label, legend=True)
    if threshold is not None:
        _threshold_line(potential_axis, threshold)
    first = table[table["time_step"] == 0]
    potential_axis.set_title(
        f"{len(first)} {label} neurons, inputs {first['input'].min():.2f} to {first['input'].max():.2f}"
    )
    _raster(raster_axis, table, MODEL_COLORS[label], label)
    raster_axis.set_xlabel(TIME_LABEL)
    return figure


def plot_lif_population(table: pd.DataFrame, threshold: float) -> plt.Figure:
    return _population(table, "LIF", threshold)


def plot_abss_population(table: pd.DataFrame, threshold: float) -> plt.Figure:
    return _population(table, "ABSS", None)


def plot_lif_vs_abss(table: pd.DataFrame, threshold: float) -> plt.Figure:
    lif, abss = table[table["model"] == "LIF"], table[table["model"] == "ABSS"]
    figure, axes = _stacked_axes([1.8, 2.4, 2.4, 1.6, 1.6], width=9.5)
    input_axis, lif_axis, abss_axis, lif_raster, abss_raster = axes
    sns.lineplot(data=lif, x="time_step", y="input", hue="neuron", palette="Greys", legend=False, ax=input_axis)
    input_axis.set_ylabel("ReLU input I")
    input_axis.set_title("The same ReLU input drives LIF (blue) and ABSS (red) neurons")
    _potentials(lif_axis, lif, "LIF", legend=False)
    _threshold_line(lif_axis, threshold)
    lif_axis.set_ylabel("LIF V")
    lif_axis.legend(loc="upper left", fontsize="small")
    _potentials(abss_axis, abss, "ABSS", legend=False)
    abss_axis.set_ylabel("ABSS V")
    _raster(lif_raster, lif, MODEL_COLORS["LIF"], "LIF")
    _raster(abss_raster, abss, MODEL_COLORS["ABSS"], "ABSS")
    abss_raster.set_xlabel(TIME_LABEL)
    return figure
