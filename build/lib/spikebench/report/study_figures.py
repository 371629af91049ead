"""The study's figures, drawn from the merged tables; ``spikebench.report.registry.STUDY_FIGURES`` lists them.

Every function takes the tables (``epochs``, ``runs``, ``summary``, ``comparisons``) and returns a figure; a
figure whose data the config does not produce (a backprop comparison without a backprop study, say) says so
on its canvas instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from spikebench.model.backprop import BACKPROP_METHODS, backprop_label
from spikebench.report.registry import STUDY_FIGURES
from spikebench.report.statistics import LEARNED, MISSING, NOT_TESTABLE, PRIMARY, level_name
from spikebench.report.style import apply_style, save_figure
from spikebench.report.tables import read_tables

Tables = dict[str, pd.DataFrame]
ACCURACY = "test accuracy at best validation epoch"


def _placeholder(message: str) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(7, 2.5))
    axis.axis("off")
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=12)
    return figure


def _finished(runs: pd.DataFrame, backprop: str | None = "bptt") -> pd.DataFrame:
    data = runs[(runs["status"] != MISSING) & runs["test_acc_at_best"].notna()]
    return data[data["backprop"] == backprop] if backprop else data


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


def surrogate_label(surrogate: str, scale: float) -> str:
    """``fast_sigmoid k=50``: a surrogate with the value of its scale parameter, where it has one."""
    return surrogate if pd.isna(scale) else f"{surrogate} k={scale:g}"


def accuracy_heatmap(tables: Tables) -> plt.Figure:
    data = _at_configured_scale(_finished(tables["runs"]), tables)
    if data.empty:
        return _placeholder("No finished BPTT runs yet.")
    data = data.assign(
        surrogate=[surrogate_label(*pair) for pair in zip(data["surrogate"], data["scale"], strict=True)]
    )
    datasets = sorted(data["dataset"].unique())
    figure, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(1.3 + 1.1 * data["surrogate"].nunique() * len(datasets), 1.6 + 0.55 * data["neuron"].nunique()),
        squeeze=False,
    )
    for axis, dataset in zip(axes[0], datasets, strict=True):
        runs = data[data["dataset"] == dataset].assign(failed=lambda frame: frame["outcome"] != LEARNED)
        learned = runs.assign(test_acc_at_best=runs["test_acc_at_best"].where(~runs["failed"]))
        grid = learned.pivot_table(index="neuron", columns="surrogate", values="test_acc_at_best", aggfunc="mean")
        counts = runs.pivot_table(index="neuron", columns="surrogate", values="failed", aggfunc=["sum", "count"])
        grid = grid.reindex(index=counts.index, columns=counts["sum"].columns)
        notes = _heatmap_notes(grid, counts["sum"], counts["count"])
        sns.heatmap(
            grid * 100,
            annot=notes,
            fmt="",
            cmap="viridis",
            vmin=0,
            vmax=100,
            ax=axis,
            cbar_kws={"label": "test accuracy (%)"},
            linewidths=0.5,
        )
        for (row, column), note in np.ndenumerate(notes):
            if note.startswith("none learned"):
                axis.add_patch(plt.Rectangle((column, row), 1, 1, color="#d9d9d9", zorder=0))
                axis.text(column + 0.5, row + 0.5, note, ha="center", va="center", fontsize="small")
        fewest, most = _seed_counts(data[data["dataset"] == dataset], ["neuron", "surrogate"])
        axis.set_title(f"{dataset}: mean test accuracy of runs that learned, {_n(fewest, most)} (BPTT)")
        axis.set_xlabel("surrogate gradient")
        axis.set_ylabel("neuron model")
        axis.grid(False)
        axis.tick_params(axis="y", rotation=0)
        axis.tick_params(axis="x", rotation=35)
        for label in axis.get_xticklabels():
            label.set_horizontalalignment("right")
    return figure


def _heatmap_notes(accuracy: pd.DataFrame, failed: pd.DataFrame, runs: pd.DataFrame) -> np.ndarray:
    """Per cell the mean accuracy of runs that learned, in %, and how many runs failed."""
    notes = np.full(accuracy.shape, "", dtype=object)
    for (row, column), value in np.ndenumerate(accuracy.to_numpy()):
        total, failures = runs.iat[row, column], failed.iat[row, column]
        if pd.isna(total):
            continue
        mean = "none learned" if pd.isna(value) else f"{100 * value:.1f}"
        notes[row, column] = mean + (f"\n{int(failures)}/{int(total)} failed" if failures else "")
    return notes


def learning_curves(tables: Tables) -> plt.Figure:
    epochs = _at_configured_scale(tables["epochs"], tables)
    epochs = epochs[epochs["backprop"] == "bptt"]
    if epochs.empty:
        return _placeholder("No BPTT epochs recorded yet.")
    data = epochs.assign(val_acc_percent=epochs["val_acc"] * 100)
    grid = sns.relplot(
        data=data,
        x="epoch",
        y="val_acc_percent",
        hue="surrogate",
        col="neuron",
        col_wrap=3,
        kind="line",
        errorbar=("pi", 100),
        height=2.8,
        aspect=1.3,
        marker="o" if data["epoch"].max() <= 3 else None,
        facet_kws={"sharey": True},
    )
    grid.set_axis_labels("epoch (0: untrained)", "validation accuracy (%)")
    grid.set_titles("{col_name}")
    for axis in grid.axes.flat:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    sns.move_legend(grid, "upper left", bbox_to_anchor=(1.0, 0.95))
    fewest, most = _seed_counts(data, ["neuron", "surrogate"])
    band = "one seed each: no band" if most == 1 else f"line: mean; band: range over seeds, {_n(fewest, most)}"
    grid.figure.suptitle(f"Validation accuracy per epoch ({band})", y=1.02)
    return grid.figure


def _seed_counts(data: pd.DataFrame, columns: list[str]) -> tuple[int, int]:
    counts = data.groupby(columns, dropna=False)["seed"].nunique()
    return int(counts.min()), int(counts.max())


def _n(low: int, high: int) -> str:
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def seed_spread(tables: Tables) -> plt.Figure:
    """Every seed's accuracy per neuron and surrogate; boxes only where each has three seeds or more."""
    data = _at_configured_scale(_finished(tables["runs"]), tables)
    if data.empty:
        return _placeholder("No finished BPTT runs yet.")
    data = data.assign(accuracy=data["test_acc_at_best"] * 100)
    fewest, most = _seed_counts(data, ["neuron", "surrogate"])
    figure, axis = plt.subplots(figsize=(max(7, 1.4 * data["neuron"].nunique()), 4.2))
    order = sorted(data["surrogate"].unique())
    if fewest >= 3:
        sns.boxplot(
            data=data, x="neuron", y="accuracy", hue="surrogate", hue_order=order, ax=axis, fliersize=0, linewidth=0.8
        )
    sns.stripplot(
        data=data,
        x="neuron",
        y="accuracy",
        hue="surrogate",
        hue_order=order,
        dodge=True,
        ax=axis,
        size=4 if fewest >= 3 else 7,
        palette="dark:black" if fewest >= 3 else None,
        legend=fewest < 3,
    )
    axis.set_xlabel("neuron model")
    axis.set_ylabel(f"{ACCURACY} (%)")
    boxes = "boxes: quartiles; " if fewest >= 3 else "too few seeds for boxes; "
    axis.set_title(f"Spread over seeds ({boxes}each dot a seed, {_n(fewest, most)} per combination)")
    axis.legend(title="surrogate", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    return figure


def accuracy_vs_cost(tables: Tables) -> plt.Figure:
    data = _finished(tables["runs"], backprop=None).dropna(subset=["activation_sparsity"])
    if data.empty:
        return _placeholder("No workload metrics yet.")
    data = data.assign(
        accuracy=data["test_acc_at_best"] * 100, synops=(data["effective_acs"] + data["effective_macs"]) / 1e6
    )
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, x, label in (
        (axes[0], "activation_sparsity", "activation sparsity (share of zero spiking outputs)"),
        (axes[1], "synops", "effective synaptic operations per sample (millions)"),
    ):
        sns.scatterplot(
            data=data, x=x, y="accuracy", hue="neuron", style="surrogate", ax=axis, s=45, legend=axis is axes[1]
        )
        axis.set_xlabel(label)
    axes[0].set_ylabel(f"{ACCURACY} (%)")
    axes[1].legend(bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    figure.suptitle("Accuracy against activity and cost (test set, best weights)")
    return figure


def _method_order(data: pd.DataFrame) -> list[str]:
    """The backprop methods present, labelled, in the registry's order."""
    return [backprop_label(name) for name in BACKPROP_METHODS if name in set(data["backprop"])]


def backprop_comparison(tables: Tables) -> plt.Figure:
    data = _finished(tables["runs"], backprop=None)
    methods = data.groupby(["dataset", "neuron", "surrogate"])["backprop"].transform("nunique")
    data = data[methods > 1]
    if data.empty:
        return _placeholder("No neuron model and surrogate was run with several backprop methods.")
    data = data.assign(accuracy=data["test_acc_at_best"] * 100, method=data["backprop"].map(backprop_label))
    order = _method_order(data)
    figure, axis = plt.subplots(figsize=(9, 4.2))
    common = {"data": data, "x": "neuron", "y": "accuracy", "hue": "method", "hue_order": order, "ax": axis}
    # The strip's dodge splits 0.8 of a category among the methods; the points' dodge spans the outer two.
    sns.pointplot(
        **common,
        dodge=0.8 - 0.8 / len(order),
        errorbar=("ci", 95) if _seed_counts(data, ["neuron", "backprop"])[0] >= 2 else None,
        linestyle="none",
        capsize=0.1,
    )
    sns.stripplot(**common, dodge=True, size=3, alpha=0.5, legend=False)
    axis.legend(title="backprop", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    axis.set_xlabel("neuron model")
    axis.set_ylabel(f"{ACCURACY} (%)")
    surrogates = ", ".join(sorted(data["surrogate"].unique()))
    fewest, most = _seed_counts(data, ["neuron", "backprop"])
    summary = "mean, 95% CI" if fewest >= 2 else "one seed: no interval"
    axis.set_title(
        f"Backprop methods, surrogate {surrogates} ({summary}; dots: seeds, {_n(fewest, most)})", fontsize="medium"
    )
    return figure


def seconds_per_epoch(tables: Tables) -> plt.Figure:
    """Seconds per epoch and per training job, per neuron model and backprop method (their costs differ by a
    factor of several); the bar is the mean over the runs, the error bar their standard deviation."""
    data = _finished(tables["runs"], backprop=None).dropna(subset=["mean_epoch_seconds"])
    if data.empty:
        return _placeholder("No timed epochs yet.")
    data = data.assign(method=data["backprop"].map(backprop_label))
    order = _method_order(data)
    fewest, most = _seed_counts(data, ["neuron", "backprop"])
    spread = "sd" if most >= 2 else None
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    panels = (
        (axes[0], data, "mean_epoch_seconds", "seconds per epoch (training + evaluation)", "Epoch (the runs' timings)"),
        (axes[1], data.dropna(subset=["job_seconds"]), "job_seconds", "seconds per training job", "Whole job"),
    )
    for axis, rows, column, label, title in panels:
        if rows.empty:
            axis.axis("off")
            axis.text(0.5, 0.5, "no Snakemake benchmark files", ha="center")
            continue
        sns.barplot(data=rows, x="neuron", y=column, hue="method", hue_order=order, ax=axis, errorbar=spread)
        axis.set_ylabel(label)
        axis.set_title(title)
        axis.set_xlabel("neuron model")
        axis.tick_params(axis="x", rotation=20)
        axis.get_legend().remove()
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, title="backprop", loc="upper left", bbox_to_anchor=(1.0, 0.9), fontsize="small")
    bars = "bars: mean over runs, error bars: 1 s.d." if spread else "one run each: no error bars"
    figure.suptitle(f"Cost per neuron model and backprop method ({bars}; {_n(fewest, most)} runs)")
    return figure


VERDICT_COLORS = {"different": "#d62728", "equivalent": "#1f77b4", "inconclusive": "#7f7f7f", NOT_TESTABLE: "#7f7f7f"}


def _comparison_label(row) -> str:
    own = "no surrogate; " if row.note.startswith("has its own") else ""
    failed = f"failed {row.level_failures}/{row.n_blocks} vs {row.baseline_failures}/{row.n_blocks}"
    return f"{backprop_label(level_name(row.factor, row.level))} ({own}{row.n_pairs} pairs learned; {failed})"


def baseline_comparisons(tables: Tables) -> plt.Figure:
    """The primary family: each level minus its study's baseline over the blocks where both runs learned, with
    the 95% t interval and the equivalence margin shaded, one panel per study and factor; colour by verdict,
    hollow where not testable; each label counts the pairs and the failures apart."""
    data = tables["comparisons"]
    data = data[data["family"] == PRIMARY].assign(note=data["note"].fillna(""))
    if data.empty:
        return _placeholder("No study varies a factor: nothing to compare with a baseline.")
    panels = list(data.groupby(["study", "dataset", "factor", "context"], sort=False))
    heights = [0.9 + 0.3 * len(rows) for _, rows in panels]
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(9.5, 0.6 + sum(heights)), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for axis, ((study, _, factor, context), rows) in zip(axes[:, 0], panels, strict=True):
        rows = rows.reset_index(drop=True)
        positions = np.arange(len(rows))
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
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_title(
            f"study {study}: each {factor} minus the baseline {level_name(factor, rows['baseline'].iloc[0])}"
            f" ({context})",
            fontsize="medium",
        )
    axes[-1, 0].set_xlabel(
        "paired difference in test accuracy of runs that learned (percentage points, 95% t interval)"
    )
    figure.suptitle(
        "Primary comparisons; red: different, blue: equivalent (shaded: margin), grey: inconclusive,"
        " hollow: not testable",
        y=1.0,
    )
    return figure


def accuracy_vs_updates(tables: Tables) -> plt.Figure:
    """Test accuracy against the optimizer updates a run made until its best epoch: the backprop methods differ
    in updates per batch as much as in truncation, and this shows the two together."""
    data = _finished(tables["runs"], backprop=None).dropna(subset=["optimizer_updates_per_epoch", "best_epoch"])
    if data.empty:
        return _placeholder("No finished runs yet.")
    data = data.assign(
        accuracy=data["test_acc_at_best"] * 100,
        updates=data["optimizer_updates_per_epoch"] * data["best_epoch"],
        method=data["backprop"].map(backprop_label),
    )
    figure, axis = plt.subplots(figsize=(9, 4.4))
    methods = [backprop_label(name) for name in BACKPROP_METHODS if name in set(data["backprop"])]
    sns.scatterplot(
        data=data, x="updates", y="accuracy", hue="method", hue_order=methods, style="neuron", s=50, ax=axis
    )
    axis.set_xscale("log")
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.margins(x=0.15)
    axis.set_xlabel("optimizer updates until the best validation epoch (log scale)")
    axis.set_ylabel(f"{ACCURACY} (%)")
    axis.set_title("Accuracy against weight updates")
    axis.legend(bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    return figure


OUTCOME_MARKERS = {
    "learned": "o",
    "at_chance": "X",
    "silent": "s",
    "no_gradient": "v",
    "diverged": "D",
    "diverged_after_learning": "P",
}


def accuracy_vs_scale(tables: Tables) -> plt.Figure:
    """Test accuracy against the width of the surrogate's derivative at half maximum (log axis), whether the
    study swept scales or widths, so that shapes line up at equal width; per neuron model, one line per surrogate
    through the mean of the seeds that learned; each seed a point whose marker says what became of it."""
    runs = tables["runs"]
    studies = tables["studies"]
    sweeping = set(studies.loc[studies["sweeps_scale"].astype(bool), "study"])
    data = runs[(runs["status"] != MISSING) & runs["width"].notna() & _in_studies(runs, sweeping, tables)]
    if data.empty:
        return _placeholder(
            "No study of this config sweeps the surrogate scale or width (a study's scale: or width: axis),"
            " so there is no accuracy against the surrogate's width to draw."
        )
    data = data.assign(accuracy=data["test_acc_at_best"] * 100)
    neurons = list(dict.fromkeys(data["neuron"]))
    surrogates = sorted(data["surrogate"].unique())
    palette = dict(zip(surrogates, sns.color_palette("colorblind", len(surrogates)), strict=True))
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
        axis.set_title(
            f"{neuron} (n = {seeds.min()}{'' if seeds.min() == seeds.max() else f'-{seeds.max()}'} seeds per point)"
        )
        axis.set_xlabel("")
        axis.set_xticks(sorted(subset["width"].unique()))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].set_ylabel(f"{ACCURACY} (%)")
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
    figure.suptitle(
        "Accuracy against surrogate width (line: mean of the seeds that learned; marker: each seed's outcome)",
        fontsize="medium",
    )
    return figure


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
    grid = initial.pivot_table(
        index="neuron", columns="column", values="initial_gradient_norm_median", aggfunc="median"
    )
    grid = grid.reindex(index=[neuron for neuron in gains["neuron"] if neuron in grid.index])
    width = max(6.0, 0.62 * grid.shape[1] + 2.5)
    figure, axes = plt.subplots(
        1, 2, figsize=(5.5 + width, 1.8 + 0.5 * len(grid)), gridspec_kw={"width_ratios": [5.5, width]}
    )
    sns.barplot(data=rates, x="rate", y="model", hue="layer", ax=axes[0], orient="h")
    axes[0].set_xlabel("spike rate before training (% of neuron-steps, validation set)")
    axes[0].set_ylabel("neuron model")
    axes[0].legend(title="layer", loc="lower right", fontsize="small")
    axes[0].set_title("Initial activity (mean over runs)")
    logged = np.log10(grid.where(grid > 0))
    labels = grid.map(lambda value: "0" if value == 0 else ("" if pd.isna(value) else f"{value:.1e}"))
    sns.heatmap(
        logged,
        annot=labels,
        fmt="",
        cmap="magma",
        ax=axes[1],
        linewidths=0.5,
        cbar_kws={"label": "log10 gradient norm"},
        annot_kws={"fontsize": 7},
    )
    axes[1].set_facecolor("#dddddd")
    axes[1].set_title("First gradient's norm (median over seeds; 0: no gradient at all)")
    axes[1].set_xlabel("surrogate gradient (k: scale)")
    axes[1].set_ylabel("")
    axes[1].tick_params(axis="x", rotation=40)
    axes[1].tick_params(axis="y", rotation=0)
    for label in axes[1].get_xticklabels():
        label.set_horizontalalignment("right")
    axes[1].grid(False)
    return figure


def plot_study_figure(name: str, table_paths: dict[str, str], png_path: str | Path, svg_path: str | Path) -> None:
    save_figure(draw_study_figure(name, read_tables(table_paths)), png_path, svg_path)


def draw_study_figure(name: str, tables: Tables) -> plt.Figure:
    """The study figure ``name`` of ``spikebench.report.registry.STUDY_FIGURES``, drawn from the tables."""
    apply_style()
    figure = STUDY_FIGURES[name].drawer()(tables)
    figure.tight_layout()
    return figure
