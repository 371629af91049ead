"""The summary page: headline tables, what never learned and why, and every figure, in one HTML file.

``results/summary.html`` is self-contained (figures embedded as data URIs) so it can be mailed as it is.
"""

from __future__ import annotations

import base64
import html
import logging
from pathlib import Path

import pandas as pd

from spikebench.report.findings import study_findings
from spikebench.report.statistics import COMPARISON_COLUMNS
from spikebench.report.tables import GROUP, read_tables
from spikebench.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)


def _image(path: str | Path, alt: str) -> str:
    encoded = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}">'


def _table(frame: pd.DataFrame, table_id: str) -> str:
    return frame.to_html(index=False, table_id=table_id, na_rep="", float_format=lambda x: f"{x:.4g}", border=0)


SIGNIFICANT_COLUMNS = [
    column
    for column in COMPARISON_COLUMNS
    if column not in ("baseline_mean", "level_mean", "test", "p_wilcoxon", "significant", "note")
]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1.5rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f3f3f3; } td:nth-child(-n+4) { text-align: left; }
img { max-width: 100%; margin: 0.5rem 0 1.5rem; border: 1px solid #eee; }
.note { background: #fff8e1; padding: 0.6rem 1rem; border-left: 4px solid #f0ad4e; }
"""


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
        _table(gains, "gains-table"),
    ]
    dead = initial[initial["zero_gradient_runs"] > 0]
    if not dead.empty:
        parts.append(
            "<p class='note'>In these combinations the first gradient was exactly zero in some runs: the surrogate"
            " passes no gradient at the untrained network's membrane potentials, so those weights never changed"
            " (status no_gradient). Their accuracy says nothing about the neuron model or the surrogate's shape.</p>"
        )
        parts.append(_table(dead[[*GROUP, "runs", "zero_gradient_runs", "initial_gradient_norm_median"]], "dead-table"))
    return parts


def render_summary_page(
    table_paths: dict[str, str],
    figure_paths: dict[str, str],
    simulation_paths: dict[str, str],
    skipped: list[dict[str, str]],
    out_path: str | Path,
) -> None:
    """Write the self-contained summary page: headline tables, what never learned, and every figure."""
    tables = read_tables(table_paths)
    summary, runs = tables["summary"], tables["runs"]
    headline = summary.sort_values(["failure_rate", "test_acc_mean"], ascending=[True, False])[
        [
            *GROUP,
            "runs",
            "learned_runs",
            "failure_rate",
            "failure_rate_ci95_low",
            "failure_rate_ci95_high",
            "test_acc_mean",
            "test_acc_ci95_low",
            "test_acc_ci95_high",
            "at_chance",
            "silent",
            "no_gradient",
            "diverged",
            "missing",
            "mean_seconds_per_epoch",
        ]
    ]
    outcome_counts = runs["outcome"].value_counts().to_dict()
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>spikebench summary</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>spikebench: study summary</h1>",
        f"<p>{len(runs)} runs: "
        + ", ".join(f"{count} {outcome.replace('_', ' ')}" for outcome, count in outcome_counts.items())
        + ".</p>",
        "<h2>Failures and test accuracy per combination</h2>",
        "<p>A run failed if it diverged, stayed silent, is missing, or finished at chance (its test accuracy does"
        " not beat guessing in a one-sided binomial test at 5%); the failure rate has a Wilson 95% interval. Test"
        " accuracy (at each run's best validation epoch) is averaged over the runs that learned only, with a 95% t"
        " interval; no run is left out of the counts.</p>",
        _table(headline, "summary-table"),
    ]
    never = tables["never_learned"]
    parts.append("<h2>Combinations that never learned</h2>")
    if never.empty:
        parts.append("<p>Every combination has at least one run that learned.</p>")
    else:
        parts.append("<p class='note'>No run of these learned; the reason is what the runs recorded.</p>")
        parts.append(_table(never, "never-learned-table"))
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
    parts.append("<h2>Comparisons with the pre-specified baselines</h2>")
    findings = study_findings(tables["comparisons"], tables["omnibus"])
    if not findings:
        parts.append("<p>No study varies a factor, so there is nothing to compare.</p>")
    for study, sentences in findings.items():
        parts.append(f"<h3>Study {html.escape(study)}</h3><ul>")
        parts.extend(f"<li>{html.escape(sentence)}</li>" for sentence in sentences)
        parts.append("</ul>")
    significant = tables["comparisons"][tables["comparisons"]["significant"].astype(bool)]
    if not significant.empty:
        parts.append(_table(significant[SIGNIFICANT_COLUMNS], "significant-table"))
    parts.append("<h2>Figures</h2>")
    for name, path in figure_paths.items():
        parts.append(f"<h3>{html.escape(name.replace('_', ' '))}</h3>{_image(path, name)}")
    parts.append("<h2>Neuron simulation</h2>")
    for name, path in simulation_paths.items():
        parts.append(f"<h3>{html.escape(name.replace('_', ' '))}</h3>{_image(path, name)}")
    parts.append("</body></html>")
    atomic_write_text(out_path, "\n".join(parts))
