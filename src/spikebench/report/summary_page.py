"""The summary page: headline tables, what never learned and why, and every figure, in one HTML file.

``results/summary.html`` is self-contained (figures embedded as data URIs) so it can be mailed as it is.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd

from spikebench.report import html_page
from spikebench.report.combinations import GROUP
from spikebench.report.context import context_rows, smoke_test_reasons
from spikebench.report.findings import study_findings
from spikebench.report.registry import STUDY_FIGURES, simulation_caption
from spikebench.report.statistics import PRIMARY
from spikebench.report.tables import read_tables
from spikebench.study.outcomes import Outcome
from spikebench.study.power import detects_nothing
from spikebench.utils.atomic import atomic_write_text
from spikebench.utils.text import counted

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


FAILURE_KINDS = tuple(outcome for outcome in Outcome if outcome != Outcome.LEARNED)


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per combination, readable: failures with their kinds, accuracy in % with its interval. Ranked by
    failure rate and accuracy only where every combination has two or more runs that learned; otherwise in the
    grid's order, since one run each is no ranking."""
    ranked = len(summary) and (summary["learned_runs"] >= 2).all()
    ordered = summary.sort_values(["failure_rate", "test_acc_mean"], ascending=[True, False]) if ranked else summary
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


def _in_percent(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The columns starting with ``prefix`` (rates) in %, their names saying so."""
    columns = [column for column in frame.columns if column.startswith(prefix)]
    percent = {column: (frame[column] * 100).map(lambda value: float(f"{value:.3g}")) for column in columns}
    return frame.assign(**percent).rename(columns={column: f"{column} (%)" for column in columns})


def _initialisation_values(tables: dict[str, pd.DataFrame]) -> dict:
    """The neuron models' gains and initial activity, and the combinations whose first gradient was zero."""
    gains, initial = tables["neuron_gains"], tables["initialisation"]
    if gains.empty:
        return {"gains": None, "dead": None}
    dead = initial[initial["zero_gradient_runs"] > 0]
    dead = dead[[*GROUP, "runs", "zero_gradient_runs", "initial_gradient_norm_median"]]
    return {
        "gains": html_page.table(_readable(_in_percent(gains, "initial_spike_rate")), "gains-table"),
        "dead": None if dead.empty else html_page.table(_readable(dead), "dead-table"),
    }


def _difference(row: dict) -> str:
    if pd.isna(row["mean_difference"]):
        return ""
    if pd.isna(row["ci95_low"]):
        return f"{100 * row['mean_difference']:+.2f}"
    return f"{100 * row['mean_difference']:+.2f} ({100 * row['ci95_low']:+.2f} to {100 * row['ci95_high']:+.2f})"


def _detectable(difference: float) -> str:
    """The detectable difference in points; beyond the scale, none is (``comparisons.csv`` keeps the number)."""
    if pd.isna(difference):
        return ""
    if not detects_nothing(difference):
        return f"{100 * difference:.2f}"
    return f"none (would take {100 * difference:.0f})" if math.isfinite(difference) else "none"


def primary_table(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The primary family, one readable row per level: failures, then the accuracy verdict."""
    rows = []
    for row in comparisons[comparisons["family"] == PRIMARY].to_dict("records"):
        rows.append(
            {
                **{column: row.get(column) for column in PRIMARY_COLUMNS},
                "failures": f"{row['level_failures']} / {row['baseline_failures']}, of {row['n_blocks']}",
                "difference": _difference(row),
                "detectable": _detectable(row["detectable_difference"]),
            }
        )
    return pd.DataFrame(rows, columns=list(PRIMARY_COLUMNS)).rename(columns=PRIMARY_COLUMNS)


def _skipped(skipped: list[dict[str, str]]) -> dict | None:
    if not skipped:
        return None
    return {"neurons": ", ".join(sorted({row["neuron"] for row in skipped})), "count": len(skipped)}


def render_summary_page(
    table_paths: dict[str, str],
    figure_paths: dict[str, str],
    simulation_paths: dict[str, str],
    skipped: list[dict[str, str]],
    context: dict,
    out_path: str | Path,
) -> None:
    """Write the self-contained summary page (``templates/summary.html.j2``): where the numbers come from,
    headline tables, what never learned and why, the comparisons in words, and every figure with its caption."""
    tables = read_tables(table_paths)
    summary, runs, never = tables["summary"], tables["runs"], tables["never_learned"]
    primary = primary_table(tables["comparisons"])
    simulation = context["simulation"]
    page = html_page.render(
        "summary.html.j2",
        "spikebench summary",
        context_rows=context_rows(context, runs),
        smoke_test=smoke_test_reasons(context, runs),
        outcomes=f"{counted(len(runs), 'run')}: "
        + ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in runs["outcome"].value_counts().items()),
        summary_table=html_page.table(headline_table(summary), "summary-table"),
        never_learned=None if never.empty else html_page.table(_readable(never), "never-learned-table"),
        skipped=_skipped(skipped),
        **_initialisation_values(tables),
        findings=study_findings(tables["comparisons"], tables["omnibus"]),
        primary=None if primary.empty else html_page.table(primary, "primary-table"),
        figures=[
            html_page.Figure.from_png(path, name, STUDY_FIGURES[name].caption) for name, path in figure_paths.items()
        ],
        simulations=[
            html_page.Figure.from_png(
                path, name, simulation_caption(name, simulation["lif"], simulation["abss"], simulation[name])
            )
            for name, path in simulation_paths.items()
        ],
    )
    atomic_write_text(out_path, page)
