"""The summary page: headline tables, what never learned and why, and every figure, in one HTML file.

``results/summary.html`` is self-contained (figures embedded as data URIs) so it can be mailed as it is.
"""

from __future__ import annotations

import html
import logging
import time
from pathlib import Path

import pandas as pd

from spikebench.report import html_page
from spikebench.report.findings import study_findings
from spikebench.report.registry import STUDY_FIGURES
from spikebench.report.statistics import PRIMARY
from spikebench.report.tables import GROUP, read_tables
from spikebench.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)


PRIMARY_COLUMNS = {
    "study": "study",
    "factor": "factor",
    "level": "level",
    "baseline": "baseline",
    "failures": "failed: level / baseline, of blocks",
    "p_failure_adjusted": "failure p (McNemar, Holm)",
    "n_pairs": "pairs where both learned",
    "difference": "accuracy difference, points (95% CI)",
    "p_adjusted": "p (Holm)",
    "verdict": "verdict",
    "detectable": "detectable difference, points",
}
ANALYSIS = (
    "Two outcomes are analysed apart. <b>Failure</b>: a run failed unless its best validation accuracy beats the"
    " validation split's majority-class share (what a constant answer scores) in a one-sided binomial test at 5%"
    " divided by the epochs it was picked from; its failure kind is recorded. Failure rates are compared with the"
    " baseline's by the exact McNemar test on blocks (runs sharing everything but the factor compared, seed"
    " included). <b>Accuracy</b> (test, at the best validation epoch) is compared only over blocks where both runs"
    " learned, by the paired t-test, with TOST for equivalence within the study's margin. The <b>primary</b> family"
    " answers each factor's question pooled over the other factors (Holm over the factor's levels); the"
    " <b>exploratory</b> family repeats it within every context (Holm over the study's exploratory comparisons) and"
    " suggests rather than concludes. Each accuracy verdict is <i>different</i>, <i>equivalent</i>, or"
    " <i>inconclusive</i> with the smallest difference the design detects with 80% power."
)

READABLE = {
    "dataset": "data set",
    "scale": "scale k",
    "backprop": "backprop",
    "learned_runs": "learned",
    "zero_gradient_runs": "runs without gradient",
    "initial_gradient_norm_median": "first gradient's norm (median)",
    "steady_state_gain": "steady-state gain U / I",
    "reason": "why",
}
"""Column headers as a reader says them; unlisted columns lose their underscores."""


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=lambda column: READABLE.get(column, column.replace("_", " ")))


def _percent(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f}"


def _interval(mean: float, low: float, high: float, n: int) -> str:
    """``92.1 (91.0-93.2)`` in %, or with fewer than two values ``92.1 (n = 1)``: no interval from one value."""
    if pd.isna(mean):
        return "none learned"
    if n < 2 or pd.isna(low):
        return f"{_percent(mean)} (n = {n})"
    return f"{_percent(mean)} ({_percent(low)}-{_percent(high)})"


FAILURE_KINDS = ("at_chance", "silent", "no_gradient", "diverged", "diverged_after_learning", "missing")


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per combination, readable: failures with their kinds, accuracy in % with its interval."""
    ordered = summary.sort_values(["failure_rate", "test_acc_mean"], ascending=[True, False])
    rows = []
    for row in ordered.to_dict("records"):
        kinds = ", ".join(f"{row[kind]} {kind.replace('_', ' ')}" for kind in FAILURE_KINDS if row.get(kind, 0))
        rows.append(
            {
                **{READABLE.get(column, column): row[column] for column in GROUP if column != "scale"},
                "scale k": "" if pd.isna(row["scale"]) else f"{row['scale']:g}",
                "width": "" if pd.isna(row["width"]) else f"{row['width']:.4g}",
                "runs": row["runs"],
                "failed (kinds)": f"{row['failures']}" + (f" ({kinds})" if kinds else ""),
                "failure rate, % (95% CI)": (
                    f"{_percent(row['failure_rate'])} ({_percent(row['failure_rate_ci95_low'])}-"
                    f"{_percent(row['failure_rate_ci95_high'])})"
                ),
                "test accuracy of learned runs, % (95% CI)": _interval(
                    row["test_acc_mean"], row["test_acc_ci95_low"], row["test_acc_ci95_high"], row["learned_runs"]
                ),
                "s / epoch": f"{row['mean_seconds_per_epoch']:.1f}",
            }
        )
    return pd.DataFrame(rows)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _in_percent(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The columns starting with ``prefix`` (rates) in %, their names saying so."""
    columns = [column for column in frame.columns if column.startswith(prefix)]
    return frame.assign(**{column: (frame[column] * 100).round(2) for column in columns}).rename(
        columns={column: f"{column} (%)" for column in columns}
    )


def _context_rows(context: dict, runs: pd.DataFrame) -> list[tuple[str, str]]:
    data, training, model = context["data"], context["training"], context["model"]
    finished = runs[runs["status"] != "missing"]
    sizes = "; ".join(
        f"{column.split('_')[0]} {int(finished[column].iloc[0]):,}"
        for column in ("train_samples", "validation_samples", "test_samples")
        if column in finished and len(finished) and finished[column].notna().any()
    )
    scales = ", ".join(f"{name} {params}" for name, params in model["surrogate_params"].items()) or "snnTorch's"
    seeds = ", ".join(map(str, sorted(runs["seed"].unique())))
    versions = finished.iloc[0] if len(finished) else None
    compute = finished["wall_seconds"].sum() / 3600 if "wall_seconds" in finished else float("nan")
    return [
        ("config", ", ".join(context["config_files"]) + f" (results in {context['results']}/)"),
        ("studies", ", ".join(context["studies"])),
        ("images per split", sizes or "no run finished"),
        ("data", f"validation hold-out {data['validation_size']:,}, split seed {data['split_seed']}"),
        ("time steps", str(model["steps"])),
        (
            "training",
            f"up to {_count(training['max_epochs'], 'epoch')}, patience {training['patience']},"
            f" batch {training['batch_size']}, Adamax lr {training['learning_rate']:g}",
        ),
        ("seeds", seeds),
        ("surrogate scales set", scales),
        ("engine, device, threads", _how_runs_ran(finished, context)),
        (
            "versions",
            "unknown"
            if versions is None
            else f"spikebench {versions['spikebench_version']}, torch {versions['torch_version']},"
            f" snnTorch {versions['snntorch_version']}",
        ),
        ("spikebench commit", context["commit"] or "not a git checkout"),
        ("compute", f"{compute:.2f} h of training-job wall time over {len(finished)} finished runs"),
        ("built", time.strftime("%Y-%m-%d %H:%M %Z")),
    ]


def _how_runs_ran(finished: pd.DataFrame, context: dict) -> str:
    """Engine, device and threads as the finished runs recorded them (not as the current config says), every
    value that occurs; the config's where no run finished."""
    if finished.empty:
        return f"{context['engine']}, {context['device']}, {context['threads']} per job (config; no run finished)"

    def values(column: str) -> str:
        return " / ".join(str(value) for value in sorted(set(finished[column].dropna()), key=str)) or "unknown"

    threads = " / ".join(str(int(value)) for value in sorted(set(finished["threads"].dropna())))
    return f"{values('engine')}, {values('device')}, {threads or 'unknown'} per job (as the runs recorded them)"


def _context_block(context: dict, runs: pd.DataFrame) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
        for key, value in _context_rows(context, runs)
    )
    return f"<table class='context' id='context'>{rows}</table>"


def _initialisation_section(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The neuron models' gains and initial activity, and the combinations whose first gradient was zero."""
    gains, initial = tables["neuron_gains"], tables["initialisation"]
    if gains.empty:
        return []
    parts = [
        "<h2>Before training: gains and initial activity</h2>",
        "<p>Each neuron model's steady-state gain U / I (the membrane potential a constant unit input settles at)"
        " and the spike rates its untrained networks fired at on the validation set. The models start from the"
        " same weights in different regimes: a learning difference between them can be one of initial activity.</p>",
        html_page.table(_readable(_in_percent(gains, "initial_spike_rate")), "gains-table"),
    ]
    dead = initial[initial["zero_gradient_runs"] > 0]
    if not dead.empty:
        parts.append(
            "<p class='note'>In these combinations the first gradient was exactly zero in some runs: the surrogate"
            " passes no gradient at the untrained network's membrane potentials, so those weights never changed"
            " (status no_gradient). Their accuracy says nothing about the neuron model or the surrogate's shape.</p>"
        )
        dead = dead[[*GROUP, "runs", "zero_gradient_runs", "initial_gradient_norm_median"]]
        parts.append(html_page.table(_readable(dead), "dead-table"))
    return parts


def _difference(row: dict) -> str:
    if pd.isna(row["mean_difference"]):
        return ""
    if pd.isna(row["ci95_low"]):
        return f"{100 * row['mean_difference']:+.2f}"
    return f"{100 * row['mean_difference']:+.2f} ({100 * row['ci95_low']:+.2f} to {100 * row['ci95_high']:+.2f})"


def primary_table(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The primary family, one readable row per level: failures, then the accuracy verdict."""
    rows = []
    for row in comparisons[comparisons["family"] == PRIMARY].to_dict("records"):
        rows.append(
            {
                **{column: row.get(column) for column in PRIMARY_COLUMNS},
                "failures": f"{row['level_failures']} / {row['baseline_failures']}, of {row['n_blocks']}",
                "difference": _difference(row),
                "detectable": ""
                if pd.isna(row["detectable_difference"])
                else f"{100 * row['detectable_difference']:.2f}",
            }
        )
    return pd.DataFrame(rows, columns=list(PRIMARY_COLUMNS)).rename(columns=PRIMARY_COLUMNS)


def _comparisons_section(tables: dict[str, pd.DataFrame]) -> list[str]:
    """How the comparisons are made, the findings of every study in words, and the primary family's table."""
    parts = ["<h2>Comparisons with the pre-specified baselines</h2>", f"<p>{ANALYSIS}</p>"]
    findings = study_findings(tables["comparisons"], tables["omnibus"])
    if not findings:
        parts.append("<p>No study varies a factor, so there is nothing to compare.</p>")
    for study, sentences in findings.items():
        parts.append(f"<h3>Study {html.escape(study)}</h3><ul>")
        parts.extend(f"<li>{html.escape(sentence)}</li>" for sentence in sentences)
        parts.append("</ul>")
    primary = primary_table(tables["comparisons"])
    if not primary.empty:
        parts.append(html_page.table(primary, "primary-table"))
    return parts


def render_summary_page(
    table_paths: dict[str, str],
    figure_paths: dict[str, str],
    simulation_paths: dict[str, str],
    skipped: list[dict[str, str]],
    context: dict,
    out_path: str | Path,
) -> None:
    """Write the self-contained summary page: where the numbers come from, headline tables, what never learned
    and why, the comparisons in words, and every figure with its caption."""
    tables = read_tables(table_paths)
    summary, runs = tables["summary"], tables["runs"]
    outcome_counts = runs["outcome"].value_counts().to_dict()
    parts = [
        "<h1>spikebench: study summary</h1>",
        _context_block(context, runs),
        f"<p>{_count(len(runs), 'run')}: "
        + ", ".join(f"{count} {outcome.replace('_', ' ')}" for outcome, count in outcome_counts.items())
        + ".</p>",
        "<h2>Failures and test accuracy per combination</h2>",
        "<p>A run failed if it diverged (before or after learning), never had a gradient, stayed silent, is"
        " missing, or finished at chance (its best validation accuracy does not beat the validation split's"
        " majority-class share); the failure rate has a Wilson 95% interval. Test accuracy (at each run's best"
        " validation epoch, in %) is averaged over the runs that learned only, with a 95% t interval where two or"
        " more learned; no run is left out of the counts. Scale k is the surrogate's slope (atan: alpha); width is"
        " its derivative's full width at half maximum, in units of V - V_th.</p>",
        html_page.table(headline_table(summary), "summary-table"),
    ]
    never = tables["never_learned"]
    parts.append("<h2>Combinations that never learned</h2>")
    if never.empty:
        parts.append("<p>Every combination has at least one run that learned.</p>")
    else:
        parts.append("<p class='note'>No run of these learned; the reason is what the runs recorded.</p>")
        parts.append(html_page.table(_readable(never), "never-learned-table"))
    if skipped:
        neurons = sorted({row["neuron"] for row in skipped})
        parts.append(
            "<h2>Skipped combinations</h2><p class='note'>"
            + ", ".join(neurons)
            + " has its own gradient estimator (straight-through on the spike probability), so no surrogate applies:"
            f" the {len(skipped)} neuron x surrogate combinations the studies list for it run once per seed, with"
            " surrogate <code>none</code>, instead of as duplicates.</p>"
        )
    parts.extend(_initialisation_section(tables))
    parts.extend(_comparisons_section(tables))
    parts.append("<h2>Figures</h2>")
    for name, path in figure_paths.items():
        parts.append(
            f"<h3>{html.escape(name.replace('_', ' '))}</h3>{html_page.figure(path, name, STUDY_FIGURES[name].caption)}"
        )
    parts.append("<h2>Neuron simulation</h2>")
    for name, path in simulation_paths.items():
        caption = "Potentials before each step's reset; parameters from the config's simulation section."
        parts.append(f"<h3>{html.escape(name.replace('_', ' '))}</h3>{html_page.figure(path, name, caption)}")
    atomic_write_text(out_path, html_page.page("spikebench summary", parts))
