"""The study's figures, drawn from the merged tables; ``spikebench.report.registry.STUDY_FIGURES`` lists them.

Every function takes the tables (``epochs``, ``runs``, ``summary``, ``comparisons``) and returns a figure; a
figure whose data the config does not produce (a backprop comparison without a backprop study, say) says so
on its canvas instead of failing. The rules they share live in ``spikebench.report.figure_parts``: a level
keeps its colour everywhere, a failed run is hollow, what is not drawn is named in a note, n is stated, and
an accuracy axis is never narrower than the test set can resolve.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from spikebench.model.backprop import BACKPROP_METHODS, backprop_label
from spikebench.report.combinations import t_interval
from spikebench.report.figure_parts import (
    ACCURACY,
    accuracy_axis,
    column_labels,
    failed,
    finished_runs,
    missing_note,
    n_statement,
    note_below,
    present_surrogate_colors,
    registry_order,
    run_legend_handles,
    scatter_runs,
    shares_points,
    surrogate_label,
    upright_columns,
)
from spikebench.report.registry import STUDY_FIGURES
from spikebench.report.statistics import LEARNED, MISSING, NOT_TESTABLE, PRIMARY, level_name
from spikebench.report.style import apply_style, backprop_colors, save_figure
from spikebench.report.tables import read_tables
from spikebench.study.outcomes import Outcome
from spikebench.utils.text import counted

Tables = dict[str, pd.DataFrame]


def _placeholder(message: str) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(7, 2.5))
    axis.axis("off")
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=12)
    return figure


def _in_studies(runs: pd.DataFrame, names: set[str], tables: Tables) -> pd.Series:
    """Whether each run belongs to one of the studies ``names``."""
    members = tables["study_runs"]
    return runs["run_id"].isin(members.loc[members["study"].isin(names), "run_id"])


def _at_configured_scale(frame: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """The rows of runs of studies that keep each surrogate at its configured scale, so that a figure by
    neuron and surrogate never pools a scale sweep's runs; everything if every study sweeps the scale."""
    studies = tables["studies"]
    fixed = set(studies.loc[~studies["sweeps_scale"].astype(bool), "study"])
    if not fixed:
        return frame
    runs = tables["runs"]
    return frame[frame["run_id"].isin(runs.loc[_in_studies(runs, fixed, tables), "run_id"])]


def _seeds(data: pd.DataFrame, columns: list[str]) -> pd.Series:
    return data.groupby(columns, dropna=False)["seed"].nunique()


def _surrogate_columns(data: pd.DataFrame) -> pd.DataFrame:
    """``label``: the surrogate with its scale, in registry order then by scale (the column order)."""
    rank = {name: index for index, name in enumerate(registry_order(data["surrogate"], "surrogate"))}
    labels = [surrogate_label(*pair) for pair in zip(data["surrogate"], data["scale"], strict=True)]
    labels = pd.Series(labels, index=data.index)
    labels = labels.map(dict(zip(*_labelled(labels), strict=True)))
    return data.assign(label=labels, rank=data["surrogate"].map(rank)).sort_values(["rank", "scale"])


def _labelled(labels: pd.Series) -> tuple[list[str], list[str]]:
    """The distinct column labels and how a heatmap shows them (``column_labels``)."""
    distinct = list(dict.fromkeys(labels))
    return distinct, column_labels(distinct)


def accuracy_heatmap(tables: Tables) -> plt.Figure:
    data = _at_configured_scale(finished_runs(tables["runs"]), tables)
    if data.empty:
        return _placeholder("No finished BPTT runs yet.")
    data = _surrogate_columns(data).assign(failed=lambda frame: failed(frame))
    columns, rows = list(dict.fromkeys(data["label"])), registry_order(data["neuron"], "neuron")
    datasets = sorted(data["dataset"].unique())
    figure, axes = plt.subplots(
        1, len(datasets), figsize=(2.6 + 1.3 * len(columns) * len(datasets), 2.2 + 0.6 * len(rows)), squeeze=False
    )
    for axis, dataset in zip(axes[0], datasets, strict=True):
        _heatmap_panel(axis, data[data["dataset"] == dataset], rows, columns)
        seeds = _seeds(data[data["dataset"] == dataset], ["neuron", "label"])
        axis.set_title(
            f"{dataset}, BPTT: mean test accuracy of the runs\nthat learned, {n_statement(seeds, 'seeds')} per cell",
            fontsize="medium",
        )
        note_below(
            axis,
            "Hatched grey: no run of the cell learned. Blank: not run (a model without surrogate has one column). "
            "'k/n failed': runs the mean leaves out.",
            width=60,
        )
    return figure


def _heatmap_panel(axis: plt.Axes, runs: pd.DataFrame, rows: list[str], columns: list[str]) -> None:
    def grid(values: pd.DataFrame, how: str) -> pd.DataFrame:
        table = values.pivot_table(index="neuron", columns="label", values=how[0], aggfunc=how[1])
        return table.reindex(index=rows, columns=columns)

    accuracy = grid(runs[~runs["failed"]], ("test_acc_at_best", "mean"))
    notes = _heatmap_notes(accuracy, grid(runs, ("failed", "sum")), grid(runs, ("failed", "count")))
    sns.heatmap(
        accuracy * 100,
        annot=notes,
        fmt="",
        cmap="viridis",
        vmin=0,
        vmax=100,
        ax=axis,
        cbar_kws={"label": "test accuracy (%)"},
        linewidths=0.5,
        annot_kws={"fontsize": "small"},
    )
    for (row, column), note in np.ndenumerate(notes):
        if note.startswith("none learned"):
            axis.add_patch(
                plt.Rectangle((column, row), 1, 1, facecolor="#d9d9d9", hatch="//", edgecolor="white", zorder=0)
            )
            axis.text(column + 0.5, row + 0.5, note, ha="center", va="center", fontsize="small")
    axis.set_xlabel("surrogate gradient")
    axis.set_ylabel("neuron model")
    axis.grid(False)
    axis.tick_params(axis="both", rotation=0, labelsize="small")
    upright_columns(axis)


def _heatmap_notes(accuracy: pd.DataFrame, failures: pd.DataFrame, runs: pd.DataFrame) -> np.ndarray:
    """Per cell the mean accuracy of runs that learned, in %, and how many runs failed."""
    notes = np.full(accuracy.shape, "", dtype=object)
    for (row, column), value in np.ndenumerate(accuracy.to_numpy()):
        total, failures_here = runs.iat[row, column], failures.iat[row, column]
        if pd.isna(total):
            continue
        mean = "none learned" if pd.isna(value) else f"{100 * value:.1f}"
        notes[row, column] = mean + (f"\n{int(failures_here)}/{int(total)} failed" if failures_here else "")
    return notes


def learning_curves(tables: Tables) -> plt.Figure:
    epochs = _at_configured_scale(tables["epochs"], tables)
    epochs = epochs[epochs["backprop"] == "bptt"]
    if epochs.empty:
        return _placeholder("No BPTT epochs recorded yet.")
    outcome = tables["runs"].set_index("run_id")["outcome"]
    data = epochs.assign(
        val_acc_percent=epochs["val_acc"] * 100,
        run=np.where(epochs["run_id"].map(outcome) == LEARNED, "learned", "failed (did not learn)"),
    )
    palette = present_surrogate_colors(data["surrogate"])
    grid = sns.relplot(
        data=data,
        x="epoch",
        y="val_acc_percent",
        hue="surrogate",
        hue_order=list(palette),
        palette=palette,
        style="run",
        style_order=[fate for fate in ("learned", "failed (did not learn)") if fate in set(data["run"])],
        col="neuron",
        col_order=registry_order(data["neuron"], "neuron"),
        col_wrap=3,
        kind="line",
        errorbar=("pi", 100),
        height=2.8,
        aspect=1.3,
        markers=bool(data["epoch"].max() <= 3),
        dashes=True,
        facet_kws={"sharey": True},
    )
    grid.set_axis_labels("epoch (0: untrained)", "validation accuracy (%)")
    grid.set_titles("{col_name}")
    for axis in grid.axes.flat:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    sns.move_legend(grid, "upper left", bbox_to_anchor=(1.0, 0.95))
    seeds = _seeds(data, ["neuron", "surrogate", "run"])
    band = (
        "one seed each: no band"
        if seeds.max() == 1
        else f"line: mean, band: range over seeds, {n_statement(seeds, 'seeds')}"
    )
    grid.figure.suptitle(f"Validation accuracy per epoch, BPTT ({band}; dashed: runs that failed)", y=1.03)
    return grid.figure


def _dodged(data: pd.DataFrame, neurons: list[str], column: str, levels: list[str]) -> pd.Series:
    """x positions: each neuron model at its index in ``neurons``, its ``levels`` of ``column`` side by side."""
    slot = 0.8 / max(data.groupby("neuron")[column].nunique().max(), 1)
    present = data.groupby("neuron")[column].agg(lambda values: [level for level in levels if level in set(values)])
    return pd.Series(
        [
            neurons.index(neuron) + (present[neuron].index(level) - (len(present[neuron]) - 1) / 2) * slot
            for neuron, level in zip(data["neuron"], data[column], strict=True)
        ],
        index=data.index,
    )


def _quartile_boxes(axis: plt.Axes, data: pd.DataFrame, width: float) -> None:
    """Boxes of the accuracies of the runs that learned, at each position with three of them or more."""
    for position, rows in data[~failed(data)].groupby("position"):
        if len(rows) >= 3:
            line = {"color": "#555555", "linewidth": 0.9}
            axis.boxplot(
                rows["accuracy"],
                positions=[position],
                widths=width,
                manage_ticks=False,
                showfliers=False,
                boxprops=line,
                whiskerprops=line,
                capprops=line,
                medianprops={"color": "black"},
            )


def seed_spread(tables: Tables) -> plt.Figure:
    """Every seed's accuracy per neuron and surrogate; boxes over the runs that learned where a combination has
    three of them or more; failed runs hollow."""
    runs = _at_configured_scale(tables["runs"][tables["runs"]["backprop"] == "bptt"], tables)
    data = finished_runs(runs)
    if data.empty:
        return _placeholder("No finished BPTT runs yet.")
    neurons = registry_order(data["neuron"], "neuron")
    colors = present_surrogate_colors(data["surrogate"])
    data = data.assign(accuracy=data["test_acc_at_best"] * 100)
    data = data.assign(position=_dodged(data, neurons, "surrogate", list(colors)))
    seeds = _seeds(data, ["neuron", "surrogate"])
    figure, axis = plt.subplots(figsize=(max(7.5, 1.5 * len(neurons) + 3), 4.8))
    boxes = seeds.min() >= 3
    if boxes:
        _quartile_boxes(axis, data, 0.6 / max(len(colors), 1))
    scatter_runs(axis, data, "position", "accuracy", colors, "surrogate")
    axis.set_xticks(range(len(neurons)), neurons)
    axis.set_xlim(-0.6, len(neurons) - 0.4)
    axis.set_xlabel("neuron model")
    accuracy_axis(axis, data["accuracy"], data["test_samples"])
    axis.set_title(
        "Test accuracy of every seed, BPTT"
        + ("; boxes: quartiles of the runs that learned" if boxes else "; too few seeds for boxes")
        + f"\n{n_statement(seeds, 'seeds')} per neuron model and surrogate",
        fontsize="medium",
    )
    axis.legend(
        handles=run_legend_handles(
            colors, [], failed(data).any(), shares_points(data, "position", "accuracy", "surrogate")
        ),
        title="surrogate",
        bbox_to_anchor=(1.01, 1),
        loc="upper left",
        fontsize="small",
    )
    if note := missing_note(runs):
        note_below(axis, note)
    return figure


def accuracy_vs_cost(tables: Tables) -> plt.Figure:
    """Per backprop method, accuracy against activity and against synaptic operations: colour per surrogate,
    marker per neuron model, failed runs hollow."""
    finished = finished_runs(tables["runs"], backprop=None)
    data = finished.dropna(subset=["activation_sparsity"])
    if data.empty:
        return _placeholder("No workload metrics yet.")
    data = data.assign(
        accuracy=data["test_acc_at_best"] * 100, synops=(data["effective_acs"] + data["effective_macs"]) / 1e6
    )
    methods = [name for name in BACKPROP_METHODS if name in set(data["backprop"])]
    colors = present_surrogate_colors(data["surrogate"])
    figure, axes = plt.subplots(
        len(methods), 2, figsize=(12, 1.2 + 3.0 * len(methods)), sharey=True, sharex="col", squeeze=False
    )
    for row, method in zip(axes, methods, strict=True):
        rows = data[data["backprop"] == method]
        for axis, x in zip(row, ("activation_sparsity", "synops"), strict=True):
            scatter_runs(axis, rows, x, "accuracy", colors, "surrogate")
            axis.margins(x=0.15)
        row[0].set_title(f"{backprop_label(method)}: {counted(len(rows), 'run')}", loc="left", fontsize="medium")
    axes[-1, 0].set_xlabel("activation sparsity (share of zero outputs)")
    axes[-1, 1].set_xlabel("synaptic operations per sample (millions)")
    accuracy_axis(axes[0, 0], data["accuracy"], data["test_samples"])
    for axis in axes[:, 0]:
        axis.set_ylabel(ACCURACY)
    axes[0, 1].legend(
        handles=run_legend_handles(
            colors,
            registry_order(data["neuron"], "neuron"),
            failed(data).any(),
            any(shares_points(data, x, "accuracy", "surrogate") for x in ("activation_sparsity", "synops")),
        ),
        bbox_to_anchor=(1.01, 1),
        loc="upper left",
        fontsize="small",
    )
    unmeasured = len(finished) - len(data)
    note = missing_note(tables["runs"]) + (
        f"{unmeasured} finished run(s) have no workload metrics and are not shown." if unmeasured else ""
    )
    if note:
        note_below(axes[-1, 0], note, width=60)
    figure.suptitle("Accuracy against activity and cost (test set, best weights), one row per backprop method")
    return figure


def backprop_comparison(tables: Tables) -> plt.Figure:
    """Each backprop method's runs per neuron model: every seed (hollow where it failed) and the mean of the
    runs that learned with its 95% t interval."""
    data = finished_runs(tables["runs"], backprop=None)
    methods = data.groupby(["dataset", "neuron", "surrogate", "scale"], dropna=False)["backprop"].transform("nunique")
    data = data[methods > 1]
    if data.empty:
        return _placeholder("No neuron model and surrogate was run with several backprop methods.")
    data = data.assign(accuracy=data["test_acc_at_best"] * 100, method=data["backprop"].map(backprop_label))
    palette = backprop_colors()
    colors = {label: palette.get(label, "grey") for label in _method_order(data)}
    neurons = registry_order(data["neuron"], "neuron")
    data = data.assign(position=_dodged(data, neurons, "method", list(colors)))
    seeds = _seeds(data, ["neuron", "method"])
    figure, axis = plt.subplots(figsize=(max(7.5, 2.5 * len(neurons) + 3.5), 4.6))
    for position, rows in data[~failed(data)].groupby("position"):
        half_width, mean = t_interval(rows["accuracy"])
        axis.errorbar(
            position,
            mean,
            yerr=None if np.isnan(half_width) else half_width,
            fmt="_",
            markersize=22,
            color="black",
            capsize=4,
            zorder=4,
        )
    scatter_runs(axis, data, "position", "accuracy", colors, "method", size=30)
    axis.set_xticks(range(len(neurons)), neurons)
    axis.set_xlim(-0.6, len(neurons) - 0.4)
    axis.set_xlabel("neuron model")
    accuracy_axis(axis, data["accuracy"], data["test_samples"])
    interval = ", 95% t interval" if seeds.min() >= 2 else " (one seed: no interval)"
    axis.set_title(
        f"Backprop methods, surrogate {', '.join(sorted(data['surrogate'].unique()))}; black: mean of the runs\n"
        f"that learned{interval}; dots: seeds, {n_statement(seeds, 'seeds')} per method",
        fontsize="medium",
        loc="left",
    )
    handles = run_legend_handles(colors, [], failed(data).any(), shares_points(data, "position", "accuracy", "method"))
    handles.append(plt.Line2D([], [], color="black", marker="_", markersize=14, linestyle="none", label="mean"))
    axis.legend(handles=handles, title="backprop", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    return figure


def _method_order(data: pd.DataFrame) -> list[str]:
    """The backprop methods present, labelled, in the registry's order."""
    return [backprop_label(name) for name in BACKPROP_METHODS if name in set(data["backprop"])]


def _axes_mixed_within(data: pd.DataFrame, groups: list[str], axes: list[str]) -> list[str]:
    """The axes whose levels differ within a group of ``groups``: a spread over such runs is not seed noise."""
    levels = data.groupby(groups)[axes].nunique(dropna=False)
    return [axis for axis in axes if (levels[axis] > 1).any()]


def seconds_per_epoch(tables: Tables) -> plt.Figure:
    """Seconds per epoch and per training job, per neuron model and backprop method (their costs differ by a
    factor of several); the bar is the mean over the runs, the error bar their standard deviation where the runs
    of a bar differ in seed alone (not where they also differ in surrogate, scale or data set)."""
    data = finished_runs(tables["runs"], backprop=None).dropna(subset=["mean_epoch_seconds"])
    if data.empty:
        return _placeholder("No timed epochs yet.")
    data = data.assign(method=data["backprop"].map(backprop_label))
    order = _method_order(data)
    palette = backprop_colors()
    runs_per_bar = data.groupby(["neuron", "backprop"]).size()
    mixed = _axes_mixed_within(data, ["neuron", "backprop"], ["dataset", "surrogate", "scale"])
    spread = "sd" if runs_per_bar.max() >= 2 and not mixed else None
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    panels = (
        (axes[0], data, "mean_epoch_seconds", "seconds per epoch (training + evaluation)", "Epoch (the runs' timings)"),
        (axes[1], data.dropna(subset=["job_seconds"]), "job_seconds", "seconds per training job", "Whole job"),
    )
    for axis, rows, column, label, title in panels:
        if rows.empty:
            axis.axis("off")
            axis.text(0.5, 0.5, "no Snakemake benchmark files", ha="center")
            continue
        sns.barplot(
            data=rows,
            x="neuron",
            y=column,
            hue="method",
            hue_order=order,
            order=registry_order(rows["neuron"], "neuron"),
            palette={label: palette.get(label, "grey") for label in order},
            ax=axis,
            errorbar=spread,
        )
        axis.set_ylabel(label)
        axis.set_title(title)
        axis.set_xlabel("neuron model")
        axis.tick_params(axis="x", rotation=20)
        axis.get_legend().remove()
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, title="backprop", loc="upper left", bbox_to_anchor=(1.0, 0.9), fontsize="small")
    if spread:
        bars = "bars: mean over seeds, error bars: 1 s.d."
    elif mixed:
        bars = f"bars: mean over runs of other {' and '.join(mixed)}s, so no error bars"
    else:
        bars = "one run per bar: no error bars"
    figure.suptitle(f"Cost per neuron model and backprop method\n({bars}; {n_statement(runs_per_bar, 'runs')} per bar)")
    return figure


VERDICT_COLORS = {"different": "#d62728", "equivalent": "#1f77b4", "inconclusive": "#7f7f7f", NOT_TESTABLE: "#7f7f7f"}


MIN_PAIRS = 2
"""Pairs a drawn difference needs: one pair is one difference, with no interval and no seed noise to read it by."""


def _comparison_label(row) -> str:
    own = "no surrogate; " if row.note.startswith("has its own") else ""
    failed_runs = f"failed {row.level_failures}/{row.n_blocks} vs {row.baseline_failures}/{row.n_blocks}"
    level = backprop_label(level_name(row.factor, row.level))
    undrawn = "; not drawn" if row.n_pairs < MIN_PAIRS else ""
    return f"{level} ({own}{counted(row.n_pairs, 'pair')} learned{undrawn}; {failed_runs})"


def _comparison_panel(axis: plt.Axes, rows: pd.DataFrame) -> None:
    positions = np.arange(len(rows))
    rows = rows.assign(mean_difference=rows["mean_difference"].where(rows["n_pairs"] >= MIN_PAIRS))
    testable = (rows["verdict"] != NOT_TESTABLE).to_numpy()
    colors = rows["verdict"].map(VERDICT_COLORS).to_numpy()
    difference = rows["mean_difference"] * 100
    low = (rows["mean_difference"] - rows["ci95_low"]).fillna(0) * 100
    high = (rows["ci95_high"] - rows["mean_difference"]).fillna(0) * 100
    margin = 100 * rows["equivalence_margin"].iloc[0]
    axis.axvspan(-margin, margin, color="#1f77b4", alpha=0.08, linewidth=0)
    axis.errorbar(difference, positions, xerr=[low, high], fmt="none", ecolor=colors)
    axis.scatter(difference[testable], positions[testable], c=colors[testable], zorder=3)
    axis.scatter(
        difference[~testable], positions[~testable], facecolors="white", edgecolors=colors[~testable], zorder=3
    )
    axis.set_yticks(positions, [_comparison_label(row) for row in rows.itertuples()], fontsize="small")
    axis.set_ylim(len(rows) - 0.4, -0.6)
    axis.margins(x=0.12)
    axis.axvline(0, color="black", linewidth=0.8)


FAILURE_COLORS = {True: "#d62728", False: "#7f7f7f"}
"""Failure shares: red where McNemar's test (Holm) finds the level and its baseline fail differently."""


def _failure_panel(axis: plt.Axes, rows: pd.DataFrame) -> None:
    """Each level's share of failed runs against its baseline's, over the same blocks: drawn at any n, since a
    failure is counted, not averaged."""
    positions = np.arange(len(rows))
    baseline = rows["baseline_failures"] / rows["n_blocks"]
    level = rows["level_failures"] / rows["n_blocks"]
    differs = rows["failure_differs"].fillna(False).astype(bool)
    axis.hlines(positions, np.minimum(baseline, level), np.maximum(baseline, level), color="#bbbbbb", zorder=1)
    axis.scatter(baseline, positions, s=90, facecolors="none", edgecolors="black", zorder=3)
    axis.scatter(level, positions, s=24, c=differs.map(FAILURE_COLORS).to_list(), zorder=4)
    axis.set_yticks(positions, [_comparison_label(row) for row in rows.itertuples()], fontsize="small")
    axis.set_ylim(len(rows) - 0.4, -0.6)
    axis.set_xlim(-0.08, 1.08)
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{100 * value:.0f}%"))


def baseline_comparisons(tables: Tables) -> plt.Figure:
    """The primary family, one row of panels per study, factor and context: left, each level's share of failed
    runs against its baseline's; right, the level minus the baseline over the blocks where both runs learned,
    with the 95% t interval and the equivalence margin shaded, coloured by verdict, hollow where not testable,
    drawn only from two or more pairs."""
    data = tables["comparisons"]
    data = data[data["family"] == PRIMARY].assign(note=data["note"].fillna(""))
    if data.empty:
        return _placeholder("No study varies a factor: nothing to compare with a baseline.")
    panels = list(data.groupby(["study", "dataset", "factor", "context"], sort=False))
    heights = [1.2 + 0.3 * len(rows) for _, rows in panels]
    figure, axes = plt.subplots(
        len(panels),
        2,
        figsize=(13, 1.2 + sum(heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights, "width_ratios": [1, 1.6]},
    )
    for (failure_axis, accuracy_axis_), ((study, _, factor, context), rows) in zip(axes, panels, strict=True):
        rows = rows.reset_index(drop=True)
        _failure_panel(failure_axis, rows)
        failure_axis.set_ylabel(factor)
        baseline = level_name(factor, rows["baseline"].iloc[0])
        failure_axis.set_title(
            f"study {study}: each {factor} against the baseline {baseline} ({context})", fontsize="medium", loc="left"
        )
        if (rows["n_pairs"] >= MIN_PAIRS).any():
            _comparison_panel(accuracy_axis_, rows)
            accuracy_axis_.tick_params(axis="y", labelleft=False)
        else:
            accuracy_axis_.axis("off")
            accuracy_axis_.text(
                0.5,
                0.5,
                f"fewer than {MIN_PAIRS} pairs where both runs learned:\nno accuracy difference drawn",
                ha="center",
                va="center",
                fontsize="small",
                color="#444444",
                transform=accuracy_axis_.transAxes,
            )
    for failure_axis, accuracy_axis_ in axes:
        failure_axis.set_xlabel("runs failed", fontsize="small")
        if accuracy_axis_.axison:
            accuracy_axis_.set_xlabel("accuracy difference, points", fontsize="small")
    axes[-1, 0].set_xlabel("runs failed\n(ring: the baseline's)", fontsize="medium")
    if axes[-1, 1].axison:
        axes[-1, 1].set_xlabel("accuracy difference, points\n(pairs where both learned, 95% t)", fontsize="medium")
    figure.suptitle(
        "Primary comparisons. Failures: red where they differ (McNemar, Holm). Accuracy: red different, blue"
        " equivalent (shaded: margin), grey inconclusive, hollow not testable",
        fontsize="medium",
    )
    return figure


def _unplaceable_note(runs: pd.DataFrame) -> str:
    by_neuron = runs.groupby("neuron").size()
    which = ", ".join(f"{neuron} {count}" for neuron, count in by_neuron.items())
    return (
        f"not shown: {len(runs)} run(s) whose best epoch was 0 (no update improved on the untrained network), "
        f"which a log axis cannot place ({which})."
    )


def accuracy_vs_updates(tables: Tables) -> plt.Figure:
    """Test accuracy against the optimizer updates a run made until its best epoch: the backprop methods differ
    in updates per batch as much as in truncation, and this shows the two together."""
    data = finished_runs(tables["runs"], backprop=None).dropna(subset=["optimizer_updates_per_epoch", "best_epoch"])
    if data.empty:
        return _placeholder("No finished runs yet.")
    data = data.assign(
        accuracy=data["test_acc_at_best"] * 100,
        updates=data["optimizer_updates_per_epoch"] * data["best_epoch"],
        method=data["backprop"].map(backprop_label),
    )
    unplaceable, shown = data[data["updates"] <= 0], data[data["updates"] > 0]
    if shown.empty:
        return _placeholder(_unplaceable_note(unplaceable))
    neurons = registry_order(shown["neuron"], "neuron")
    nudge = {neuron: 1.0 + 0.04 * (index - (len(neurons) - 1) / 2) for index, neuron in enumerate(neurons)}
    shown = shown.assign(position=shown["updates"] * shown["neuron"].map(nudge))
    palette = backprop_colors()
    colors = {label: palette.get(label, "grey") for label in _method_order(shown)}
    figure, axis = plt.subplots(figsize=(9.5, 4.6))
    scatter_runs(axis, shown, "position", "accuracy", colors, "method")
    axis.set_xscale("log")
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.margins(x=0.15)
    axis.set_xlabel("optimizer updates until the best validation epoch (log scale)")
    accuracy_axis(axis, shown["accuracy"], shown["test_samples"])
    axis.set_title(
        f"Accuracy against weight updates ({len(shown)} runs; runs with equal updates are\n"
        f"set apart by neuron model, up to {100 * (max(nudge.values()) - 1):.0f}% of the updates)",
        fontsize="medium",
    )
    axis.legend(
        handles=run_legend_handles(
            colors, neurons, failed(shown).any(), shares_points(shown, "position", "accuracy", "method")
        ),
        title="backprop",
        bbox_to_anchor=(1.01, 1),
        loc="upper left",
        fontsize="small",
    )
    if len(unplaceable) or (tables["runs"]["status"] == MISSING).any():
        note_below(
            axis, (_unplaceable_note(unplaceable) if len(unplaceable) else "") + " " + missing_note(tables["runs"])
        )
    return figure


OUTCOME_MARKERS = {
    Outcome.LEARNED: "o",
    Outcome.AT_CHANCE: "X",
    Outcome.SILENT: "s",
    Outcome.NO_GRADIENT: "v",
    Outcome.DIVERGED: "D",
    Outcome.DIVERGED_AFTER_LEARNING: "P",
}


def _runs_against_width(tables: Tables) -> tuple[pd.DataFrame, str | None]:
    """The finished runs of the studies that sweep a scale or width, and None; where none sweeps, every run of
    one backprop method (the registry's first that ran: another method's runs are not more seeds) and it."""
    runs, studies = tables["runs"], tables["studies"]
    sweeping = set(studies.loc[studies["sweeps_scale"].astype(bool), "study"])
    with_width = runs[(runs["status"] != MISSING) & runs["width"].notna()]
    swept = with_width[_in_studies(with_width, sweeping, tables)]
    if not swept.empty:
        return swept, None
    method = next((name for name in BACKPROP_METHODS if name in set(with_width["backprop"])), None)
    return with_width[with_width["backprop"] == method], method


def accuracy_vs_scale(tables: Tables) -> plt.Figure:
    """Test accuracy against the width of the surrogate's derivative at half maximum (log axis), whether the
    study swept scales or widths, so that shapes line up at equal width; per neuron model, one line per surrogate
    through the mean of the seeds that learned; each seed a point whose marker says what became of it."""
    data, method = _runs_against_width(tables)
    swept = method is None
    if data.empty:
        return _placeholder("No finished run has a surrogate, so no run has a surrogate width to draw against.")
    data = data.assign(accuracy=data["test_acc_at_best"] * 100)
    neurons = registry_order(data["neuron"], "neuron")
    palette = present_surrogate_colors(data["surrogate"])
    surrogates = list(palette)
    figure, axes = plt.subplots(
        1, len(neurons), figsize=(max(8.0, 2.5 + 4.2 * len(neurons)), 4.4), sharey=True, squeeze=False
    )
    for axis, neuron in zip(axes[0], neurons, strict=True):
        subset = data[data["neuron"] == neuron]
        for surrogate in surrogates:
            rows = subset[subset["surrogate"] == surrogate]
            if rows.empty:
                continue
            mean = rows[rows["outcome"] == LEARNED].groupby("width")["accuracy"].mean()
            axis.plot(mean.index, mean.to_numpy(), color=palette[surrogate], label=surrogate)
            for outcome, marker in OUTCOME_MARKERS.items():
                points = rows[rows["outcome"] == outcome]
                axis.scatter(
                    points["width"], points["accuracy"], color=palette[surrogate], marker=marker, s=28, zorder=3
                )
        seeds = subset.groupby(["surrogate", "width"])["seed"].nunique()
        axis.set_xscale("log")
        axis.set_title(f"{neuron} ({n_statement(seeds, 'seeds')} per point)")
        axis.set_xlabel("")
        if swept:
            axis.set_xticks(sorted(subset["width"].unique()))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.margins(x=0.1)
    accuracy_axis(axes[0, 0], data["accuracy"], data["test_samples"])
    figure.supxlabel(
        "width of the surrogate's derivative at half maximum (units of V - V_th, log scale)", fontsize="medium"
    )
    handles = [plt.Line2D([], [], color=palette[name], label=name) for name in surrogates]
    handles += [
        plt.Line2D([], [], color="black", marker=marker, linestyle="none", label=outcome.replace("_", " "))
        for outcome, marker in OUTCOME_MARKERS.items()
        if outcome in set(data["outcome"])
    ]
    axes[0, -1].legend(handles=handles, bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    what = (
        "Accuracy against surrogate width (line: mean of the seeds that learned; marker: each seed's outcome)"
        if swept
        else "Accuracy at each surrogate's one width: no study sweeps a scale or width"
        f" ({backprop_label(method)} runs; marker: each seed's outcome)"
    )
    figure.suptitle(what, fontsize="medium")
    return figure


def _name_silent_layers(axis: plt.Axes, layers: list[str]) -> None:
    """A bar of zero height is invisible: at the first silent layer's bar of each model, name its silent
    layers (the bar containers are the layers, in order; their bars the models, in order)."""
    rows = zip(*(container.patches for container in axis.containers), strict=True)
    for bars in rows:
        silent = [(layer, bar) for layer, bar in zip(layers, bars, strict=True) if bar.get_width() == 0]
        if silent:
            first = silent[0][1]
            axis.text(
                0,
                first.get_y() + first.get_height() / 2,
                f" 0: {', '.join(layer for layer, _ in silent)} silent",
                va="center",
                fontsize="x-small",
                color="#444444",
            )


def _first_gradient_panel(axis: plt.Axes, grid: pd.DataFrame) -> None:
    """The first gradient's norm per neuron model and surrogate on a log colour scale; 0 written out."""
    logged = np.log10(grid.where(grid > 0))
    labels = grid.map(lambda value: "0" if value == 0 else ("" if pd.isna(value) else f"{value:.1e}"))
    sns.heatmap(
        logged,
        annot=labels,
        fmt="",
        cmap="magma",
        ax=axis,
        linewidths=0.5,
        cbar_kws={"label": "log10 gradient norm"},
        annot_kws={"fontsize": 7},
    )
    axis.set_facecolor("#dddddd")
    axis.set_title(
        "First gradient's norm, median over seeds\n0: no gradient at all; grey: combination not run", fontsize="medium"
    )
    axis.set_xlabel("surrogate gradient")
    axis.set_ylabel("neuron model")
    axis.tick_params(axis="both", rotation=0, labelsize="small")
    upright_columns(axis)
    axis.grid(False)


def initial_state(tables: Tables) -> plt.Figure:
    """Before any update: each neuron model's spike rate per layer (its steady-state gain in the label), and
    the first gradient's norm per neuron model and surrogate (0: no gradient reaches the weights)."""
    gains, initial = tables["neuron_gains"], tables["initialisation"]
    if gains.empty or initial.empty:
        return _placeholder("No run has recorded its initial state yet.")
    rate_columns = [
        column for column in gains.columns if column.startswith("initial_spike_rate_") and column.endswith("_mean")
    ]
    rates = gains.melt(
        id_vars=["neuron", "steady_state_gain"], value_vars=rate_columns, var_name="layer", value_name="rate"
    )
    rates = rates.assign(
        layer=rates["layer"].str.removeprefix("initial_spike_rate_").str.removesuffix("_mean"),
        rate=rates["rate"] * 100,
        model=[
            f"{neuron}\n(gain {gain:.3g})"
            for neuron, gain in zip(rates["neuron"], rates["steady_state_gain"], strict=True)
        ],
    )
    initial = initial.assign(
        column=[surrogate_label(*pair) for pair in zip(initial["surrogate"], initial["scale"], strict=True)]
    )
    initial = initial.assign(column=initial["column"].map(dict(zip(*_labelled(initial["column"]), strict=True))))
    grid = initial.pivot_table(
        index="neuron", columns="column", values="initial_gradient_norm_median", aggfunc="median"
    )
    grid = grid.reindex(index=[neuron for neuron in gains["neuron"] if neuron in grid.index])
    width = max(6.0, 1.0 * grid.shape[1] + 2.5)
    figure, axes = plt.subplots(
        1, 2, figsize=(5.5 + width, 2.6 + 0.62 * len(grid)), gridspec_kw={"width_ratios": [5.5, width]}
    )
    sns.barplot(data=rates, x="rate", y="model", hue="layer", ax=axes[0], orient="h")
    _name_silent_layers(axes[0], list(dict.fromkeys(rates["layer"])))
    axes[0].set_xlabel("spike rate before training (%)")
    axes[0].set_ylabel("neuron model")
    axes[0].legend(
        title="Initial activity per layer (mean over runs)",
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=3,
        fontsize="small",
        frameon=False,
    )
    _first_gradient_panel(axes[1], grid)
    return figure


def plot_study_figure(name: str, table_paths: dict[str, str], png_path: str | Path, svg_path: str | Path) -> None:
    save_figure(draw_study_figure(name, read_tables(table_paths)), png_path, svg_path)


def draw_study_figure(name: str, tables: Tables) -> plt.Figure:
    """The study figure ``name`` of ``spikebench.report.registry.STUDY_FIGURES``, drawn from the tables."""
    apply_style()
    figure = STUDY_FIGURES[name].drawer()(tables)
    figure.tight_layout()
    return figure
