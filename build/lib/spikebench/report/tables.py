"""Merge the per-run outputs into tidy tables, count what failed, and compare levels with the baselines
(``spikebench.report.statistics``).

Merging only reads what each run wrote. A run whose files are absent appears with status ``missing``; runs
that diverged or stayed silent keep their status. Every file's columns and types are checked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from spikebench.model.gains import neuron_gains
from spikebench.model.topology import LAYER_NAMES
from spikebench.neurons.surrogates import surrogate_width
from spikebench.report.registry import TABLES
from spikebench.report.statistics import (
    COMPARISON_COLUMNS,
    MISSING,
    OMNIBUS_COLUMNS,
    beats_chance,
    study_comparisons,
    wilson_interval,
)
from spikebench.run.contract import (
    EPOCH_COLUMNS,
    EPOCH_TYPES,
    WORKLOAD_COLUMNS,
    RunOutputError,
    differing_keys,
    read_summary,
    read_workload,
    settings_fingerprint,
)
from spikebench.study.config import AXES, Run, format_width
from spikebench.study.settings import RunSettings
from spikebench.utils.atomic import atomic_write

log = logging.getLogger(__name__)

GROUP = ["dataset", "neuron", "surrogate", "scale", "backprop"]


class RunFiles(NamedTuple):
    """One run's outputs as the merge reads them (``spikebench.run.contract``); ``benchmark`` is the training
    job's Snakemake benchmark file, if any."""

    epochs: Path
    summary: Path
    workload: Path
    benchmark: Path | None = None


def read_epochs(path: str | Path) -> pd.DataFrame:
    """``epochs.csv`` with its columns checked and typed; ``RunOutputError`` naming the file otherwise."""
    frame = pd.read_csv(path)
    if list(frame.columns) != EPOCH_COLUMNS:
        missing = [c for c in EPOCH_COLUMNS if c not in frame.columns]
        extra = [c for c in frame.columns if c not in EPOCH_COLUMNS]
        raise RunOutputError(f"{path}: columns differ from the expected ones (missing {missing}, unexpected {extra})")
    try:
        return frame.astype(EPOCH_TYPES)
    except (ValueError, TypeError) as error:
        raise RunOutputError(f"{path}: a column has the wrong type ({error})") from error


def read_benchmark_seconds(path: str | Path) -> float:
    """Wall seconds of a job from its Snakemake ``benchmark:`` file (column ``s``)."""
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


VERSIONED = ("spikebench", "torch", "snntorch")
INITIAL_COLUMNS = ("val_acc", "val_loss", *(f"spike_rate_{layer}" for layer in LAYER_NAMES))
"""What the epoch-0 row tells about the untrained network, kept in the runs table as ``initial_<column>``."""


def total_norm(norms: dict[str, float]) -> float:
    """The L2 norm over all parameters, from the norm of each tensor; NaN if none was measured."""
    return float(np.sqrt(np.sum(np.square(list(norms.values()))))) if norms else np.nan


def merge_runs(
    runs: list[Run], files: dict[str, RunFiles], settings: dict
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stack every run's epochs, build one row per expected run (absent runs get status ``missing``) and
    one row per run and parameter tensor of its initial gradient norms. Each run's files must prove that this
    run made them with ``settings`` (``RunSettings.as_dict``; ``check_run_outputs``)."""
    epoch_frames, rows, gradient_rows = [], [], []
    for run in runs:
        paths = files[run.run_id]
        row = run.as_dict()
        if not Path(paths.summary).is_file() or not Path(paths.epochs).is_file():
            log.warning("%s: no outputs at %s; marked missing", run.run_id, paths.summary)
            rows.append({**row, "status": MISSING})
            continue
        epochs = read_epochs(paths.epochs)
        summary = read_summary(paths.summary)
        check_run_outputs(run, settings, summary, epochs, paths)
        epoch_frames.append(epochs)
        row.update(run_row(summary, epochs))
        gradient_rows.extend(
            {**run.as_dict(), "parameter": name, "gradient_norm": norm}
            for name, norm in summary["initial_gradient_norms"].items()
        )
        if Path(paths.workload).is_file():
            row.update(read_workload(paths.workload))
        if paths.benchmark is not None and Path(paths.benchmark).is_file():
            row["job_seconds"] = read_benchmark_seconds(paths.benchmark)
        rows.append(row)
    epochs = pd.concat(epoch_frames, ignore_index=True) if epoch_frames else pd.DataFrame(columns=EPOCH_COLUMNS)
    table = pd.DataFrame(rows)
    for column in RUN_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    table["outcome"] = table.apply(run_outcome, axis=1) if len(table) else pd.Series(dtype=str)
    return epochs, table[RUN_COLUMNS], pd.DataFrame(gradient_rows, columns=INITIAL_GRADIENT_COLUMNS)


FATE_FIELDS = (
    "status",
    "best_epoch",
    "best_val_acc",
    "test_acc_at_best",
    "epochs_run",
    "stopped_early",
    "diverged_epoch",
    "diverged_batch",
    "divergence",
    "wall_seconds",
)
"""What became of a run, as ``summary.json`` says it: copied to the runs table, where they follow the axes."""
COPIED_FIELDS = (
    *FATE_FIELDS,
    "test_samples",
    "optimizer_updates_per_epoch",
    "device",
    "threads",
    "train_samples",
    "validation_samples",
    "validation_majority_rate",
)
"""``summary.json`` fields the runs table keeps as they are."""
BEST_EPOCH_COLUMNS = ("spike_rate_conv1", "spike_rate_conv2", "spike_rate_output", "test_output_spikes")


def run_row(summary: dict, epochs: pd.DataFrame) -> dict:
    """A finished run's columns of the runs table from its ``summary.json`` and ``epochs.csv`` (the workload
    and the job's time aside)."""
    best = epochs[epochs["epoch"] == summary["best_epoch"]]
    initial = epochs[epochs["epoch"] == 0]
    trained = epochs[epochs["epoch"] > 0]
    return {
        **{field: summary[field] for field in COPIED_FIELDS},
        "mean_epoch_seconds": trained["epoch_seconds"].mean() if len(trained) else np.nan,
        "train_samples_per_second": trained["train_samples_per_second"].mean() if len(trained) else np.nan,
        "engine": summary["config"]["engine"],
        "num_classes": summary["data"].get("num_classes", 10),
        **{f"{package}_version": summary["versions"].get(package) for package in VERSIONED},
        **{column: best[column].iloc[0] if len(best) else np.nan for column in BEST_EPOCH_COLUMNS},
        **{f"initial_{column}": initial[column].iloc[0] if len(initial) else np.nan for column in INITIAL_COLUMNS},
        "initial_gradient_norm": total_norm(summary["initial_gradient_norms"]),
    }


INITIAL_GRADIENT_COLUMNS = ["run_id", *AXES, "parameter", "gradient_norm"]
FRACTIONS = ["train_acc", "val_acc", "test_acc", *(f"spike_rate_{layer}" for layer in LAYER_NAMES)]
"""Columns of ``epochs.csv`` that lie in [0, 1]."""


def check_run_outputs(run: Run, settings: dict, summary: dict, epochs: pd.DataFrame, paths: RunFiles) -> None:
    """That ``summary.json`` and ``epochs.csv`` are this run's, made with ``settings``, and consistent: else
    ``RunOutputError`` naming the file, the field and what to do."""
    rerun = f"; delete {Path(paths.summary).parent} and rerun to train it again"
    for axis, expected in run.as_dict().items():
        if summary[axis] != expected:
            raise RunOutputError(
                f"{paths.summary}: field {axis!r} is {summary[axis]!r}, but this directory is run {run.run_id}'s"
                f" ({axis} {expected!r}){rerun}"
            )
    if summary["settings_hash"] != settings_fingerprint(run.as_dict(), settings):
        changed = differing_keys(settings, summary["config"]) or ["settings_hash"]
        raise RunOutputError(
            f"{paths.summary}: made with other settings than this config's (differing: {', '.join(changed)}){rerun}"
        )
    strangers = sorted(set(epochs["run_id"]) - {run.run_id})
    if strangers:
        raise RunOutputError(f"{paths.epochs}: rows of another run ({', '.join(strangers)}), not {run.run_id}{rerun}")
    numbers = epochs["epoch"].tolist()
    if numbers != list(range(summary["epochs_run"] + 1)):
        raise RunOutputError(
            f"{paths.epochs}: epochs {numbers}, but summary.json says {summary['epochs_run']} epochs after epoch 0"
            f" (duplicate, missing or extra rows){rerun}"
        )
    outside = [column for column in FRACTIONS if not epochs[column].dropna().between(0, 1).all()]
    if outside:
        raise RunOutputError(f"{paths.epochs}: {', '.join(outside)} outside [0, 1]{rerun}")
    if summary["best_epoch"] is not None:
        best = epochs[epochs["epoch"] == summary["best_epoch"]]
        if best.empty or best["val_acc"].item() != summary["best_val_acc"]:
            raise RunOutputError(
                f"{paths.summary}: best_epoch {summary['best_epoch']} and best_val_acc {summary['best_val_acc']}"
                f" do not match {paths.epochs}{rerun}"
            )


RUN_COLUMNS = [
    "run_id",
    *AXES,
    "width",
    *FATE_FIELDS,
    "mean_epoch_seconds",
    "train_samples_per_second",
    "job_seconds",
    "engine",
    "device",
    "threads",
    "spike_rate_conv1",
    "spike_rate_conv2",
    "spike_rate_output",
    "test_output_spikes",
    "train_samples",
    "validation_samples",
    "validation_majority_rate",
    "test_samples",
    "num_classes",
    *(f"{package}_version" for package in VERSIONED),
    "optimizer_updates_per_epoch",
    "outcome",
    "studies",
    *(f"initial_{column}" for column in INITIAL_COLUMNS),
    "initial_gradient_norm",
    *WORKLOAD_COLUMNS,
]


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """Half-width of the 95% t confidence interval of the mean, and the mean."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else np.nan
    if len(values) < 2:
        return np.nan, mean
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))), mean


OUTCOMES = ("learned", "at_chance", "silent", "no_gradient", "diverged", "diverged_after_learning", MISSING)
"""What became of a run: ``learned`` (finished, and its best validation accuracy beats the validation split's
majority-class share, what a constant answer scores, by a one-sided binomial test at 5% divided by the epochs
it was picked from), or the way it failed. ``diverged_after_learning``: it learned, then something became NaN
or infinite; a failure like the others (its training did not finish), its accuracy used nowhere. The test set
decides nothing here."""


def run_outcome(row: pd.Series) -> str:
    if row["status"] in (MISSING, "no_gradient", "silent"):
        return row["status"]
    learned = beats_chance(
        row["best_val_acc"],
        int(row["validation_samples"]),
        row["validation_majority_rate"],
        evaluations=int(row["epochs_run"]) + 1,
    )
    if row["status"] == "diverged":
        return "diverged_after_learning" if learned and row["best_epoch"] >= 1 else "diverged"
    return "learned" if learned else "at_chance"


def width_column(runs: pd.DataFrame, surrogate_params: dict[str, dict]) -> list[float]:
    """Each run's surrogate derivative width at half maximum (``spikebench.neurons.surrogate_widths``) to four
    significant digits, as a width study's levels; NaN where it has none."""
    widths = []
    for surrogate, scale in zip(runs["surrogate"], runs["scale"], strict=True):
        width = surrogate_width(surrogate, surrogate_params.get(surrogate), None if pd.isna(scale) else scale)
        widths.append(np.nan if width is None else float(format_width(width)))
    return widths


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x neuron x surrogate x backprop: how many runs failed (with a Wilson 95% interval of the
    failure rate) and how, and the test accuracy over the runs that learned only, with their count."""
    rows = []
    for key, group in runs.groupby(GROUP, sort=True, dropna=False):
        outcomes = group["outcome"].value_counts()
        learned = group[group["outcome"] == "learned"]
        accuracy = learned["test_acc_at_best"].to_numpy(dtype=float)
        half_width, mean = t_interval(accuracy)
        failures = len(group) - len(learned)
        failure_low, failure_high = wilson_interval(failures, len(group))
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "width": group["width"].iloc[0],
                "runs": len(group),
                "learned_runs": len(learned),
                "failures": failures,
                "failure_rate": failures / len(group),
                "failure_rate_ci95_low": failure_low,
                "failure_rate_ci95_high": failure_high,
                **{outcome: int(outcomes.get(outcome, 0)) for outcome in OUTCOMES[1:]},
                "test_acc_mean": mean,
                "test_acc_std": float(accuracy.std(ddof=1)) if len(accuracy) > 1 else np.nan,
                "test_acc_ci95_low": mean - half_width,
                "test_acc_ci95_high": mean + half_width,
                "learned": bool(len(learned)),
                "mean_epochs_to_best": float(learned["best_epoch"].mean()),
                "mean_seconds_per_epoch": float(group["mean_epoch_seconds"].mean()),
                "optimizer_updates_per_epoch": float(group["optimizer_updates_per_epoch"].mean()),
                "activation_sparsity": float(learned["activation_sparsity"].mean()),
                "effective_acs": float(learned["effective_acs"].mean()),
                "effective_macs": float(learned["effective_macs"].mean()),
            }
        )
    return pd.DataFrame(rows)


def never_learned(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Combinations none of whose runs learned, with the reason the data shows."""
    rows = []
    for _, combination in summary[~summary["learned"]].iterrows():
        group = runs
        for column in GROUP:
            same = group[column].isna() if pd.isna(combination[column]) else group[column] == combination[column]
            group = group[same]
        rows.append({**{column: combination[column] for column in GROUP}, "reason": _reason(group)})
    return pd.DataFrame(rows, columns=[*GROUP, "reason"])


def _reason(group: pd.DataFrame) -> str:
    statuses = group["status"].value_counts()
    if statuses.get(MISSING, 0) == len(group):
        return "no run finished (outputs missing)"
    if statuses.get("diverged", 0):
        diverged = group[group["status"] == "diverged"]
        where = "; ".join(
            f"the {row.divergence} became NaN or infinite in epoch {int(row.diverged_epoch)},"
            f" batch {int(row.diverged_batch)}"
            for row in diverged.itertuples()
        )
        return f"diverged in {len(diverged)} of {len(group)} runs: {where}"
    if statuses.get("no_gradient", 0) == len(group):
        return (
            "every gradient was exactly zero through epoch 1 (initial gradient norm 0): the surrogate passes no"
            " gradient at the untrained network's membrane potentials, so the weights could never change"
        )
    if statuses.get("silent", 0) == len(group):
        if (group["spike_rate_conv2"] == 0).all():
            return (
                "the second spiking layer never fired, so nothing reached the output layer: every prediction is class 0"
            )
        return "the output layer never spiked, so every prediction is class 0"
    if (group["spike_rate_output"] == 0).all():
        return "the output layer never spiked during training, so no gradient reached the weights"
    return (
        "the output layer spiked but the best validation accuracy did not beat the majority class's share"
        " (one-sided binomial test)"
    )


INITIAL_RATES = [f"initial_spike_rate_{layer}" for layer in LAYER_NAMES]


def initialisation(runs: pd.DataFrame) -> pd.DataFrame:
    """Per combination: the untrained network as its runs measured it before their first update (validation
    accuracy, spike rate of every layer, the first gradient's norm), how many had no gradient at all, and how
    many learned, so the report can say why a combination never learned."""
    measured = runs[runs["status"] != MISSING]
    rows = []
    for key, group in measured.groupby(GROUP, sort=True, dropna=False):
        norms = group["initial_gradient_norm"]
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "runs": len(group),
                "learned_runs": int((group["outcome"] == "learned").sum()),
                "zero_gradient_runs": int((norms == 0).sum()),
                "initial_gradient_norm_min": norms.min(),
                "initial_gradient_norm_median": norms.median(),
                "initial_gradient_norm_max": norms.max(),
                "initial_val_acc": group["initial_val_acc"].mean(),
                **{column: group[column].mean() for column in INITIAL_RATES},
            }
        )
    return pd.DataFrame(rows)


def neuron_gain_table(runs: pd.DataFrame, model: dict) -> pd.DataFrame:
    """Per neuron model of the grid: its steady-state gain (``spikebench.model.gains``) beside the spike rates
    its untrained networks fired at (mean and range over the runs; the forward pass, hence the rates, does not
    depend on the surrogate)."""
    gains = neuron_gains(model)
    rows = []
    for neuron, group in runs[runs["status"] != MISSING].groupby("neuron", sort=False):
        rates = {}
        for column in INITIAL_RATES:
            rates.update({f"{column}_mean": group[column].mean(), f"{column}_max": group[column].max()})
        rows.append({"neuron": neuron, "steady_state_gain": gains[neuron], "runs": len(group), **rates})
    order = {neuron: index for index, neuron in enumerate(gains)}
    return pd.DataFrame(rows).sort_values("neuron", key=lambda column: column.map(order)) if rows else pd.DataFrame()


def studies_of(studies: dict[str, dict]) -> dict[str, str]:
    """Per run id, the studies it belongs to, joined by ``;``."""
    names: dict[str, list[str]] = {}
    for name, design in studies.items():
        for run_id in design["runs"]:
            names.setdefault(run_id, []).append(name)
    return {run_id: ";".join(members) for run_id, members in names.items()}


def study_table(studies: dict[str, dict]) -> pd.DataFrame:
    """One row per study: what it compares, against which baseline, over how many runs."""
    return pd.DataFrame(
        [
            {
                "study": name,
                "runs": len(design["runs"]),
                "factors": ";".join(design["factors"]),
                "sweeps_scale": bool({"scale", "width"} & set(design["factors"])),
                "baseline": "; ".join(f"{factor}={level}" for factor, level in design["baseline"].items()),
            }
            for name, design in studies.items()
        ],
        columns=["study", "runs", "factors", "sweeps_scale", "baseline"],
    )


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_write(path, "w") as stream:
        frame.to_csv(stream, index=False, float_format="%.10g")


def build_tables(
    runs: list[dict], files: list[RunFiles], studies: dict[str, dict], settings: dict, out: dict[str, str]
) -> dict[str, pd.DataFrame]:
    """Write the tables of ``spikebench.report.registry.TABLES`` (paths in ``out``) from the runs' own
    outputs; ``files`` holds each run's files, in the order of ``runs``; ``studies`` each study's run ids,
    factors and baseline (``spikebench.study.config.study_designs``); ``settings`` the runs' expected
    ``RunSettings.as_dict``."""
    expected = [Run.from_dict(run) for run in runs]
    if len(files) != len(expected):
        raise ValueError(f"{len(expected)} runs but output files of {len(files)}")
    model = RunSettings.from_config(settings).model
    epochs, run_table, gradients = merge_runs(
        expected, {run.run_id: paths for run, paths in zip(expected, files, strict=True)}, settings
    )
    run_table["studies"] = run_table["run_id"].map(studies_of(studies))
    run_table["width"] = width_column(run_table, model.surrogate_params)
    summary = summarize(run_table)
    comparisons, omnibus = [], []
    for name, design in studies.items():
        pairwise, overall = study_comparisons(
            run_table[run_table["run_id"].isin(design["runs"])],
            name,
            design["baseline"],
            design["factors"],
            design["equivalence_margin"],
        )
        comparisons.append(pairwise)
        omnibus.append(overall)
    frames = {
        "epochs": epochs,
        "runs": run_table,
        "summary": summary,
        "comparisons": _stacked(comparisons, COMPARISON_COLUMNS),
        "omnibus": _stacked(omnibus, OMNIBUS_COLUMNS),
        "never_learned": never_learned(summary, run_table),
        "initialisation": initialisation(run_table),
        "initial_gradients": gradients,
        "neuron_gains": neuron_gain_table(run_table, model),
        "studies": study_table(studies),
    }
    frames = {name: frames[name] for name in TABLES}
    for name, frame in frames.items():
        write_csv(frame, out[name])
    log.info(
        "%d runs (%s), %d epochs, %d combinations, %d never learned, %d of %d comparisons significant after Holm",
        len(run_table),
        ", ".join(f"{count} {outcome}" for outcome, count in run_table["outcome"].value_counts().items()),
        len(epochs),
        len(summary),
        len(frames["never_learned"]),
        int(frames["comparisons"]["significant"].sum()),
        len(frames["comparisons"]),
    )
    return frames


def _stacked(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def read_tables(paths: dict[str, str]) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(path) for name, path in paths.items()}
