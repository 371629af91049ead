"""The Snakemake report's front page (``report/workflow.rst``): the summary page's smoke-test banner and context
rows, and one line per study, as reStructuredText text.

Snakemake renders that page with nothing but the config, so the workflow hands it these values under
``config["report_context"]`` while it plans. Every string is escaped here: a study's description, a plugin's
file name or a colleague's ``runs.csv`` reaches the page as text, never as a directive or a link.
"""

from __future__ import annotations

import logging
import string
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from spikebench.report.context import context_rows, smoke_test_reasons

log = logging.getLogger(__name__)

RUN_COLUMNS = ("seed", "status", "surrogate")
"""What the context rows read from the runs table; a table without them is not the merged runs table."""

_BREAKS = {"Cc", "Zl", "Zp"}
"""Control characters and line or paragraph separators: in reStructuredText any of them can start a new block."""


def rst_text(value: object) -> str:
    """``value`` as inline reStructuredText that shows exactly its characters: every punctuation mark
    backslash-escaped (no markup, role, reference, substitution or directive can form) and every control or
    line-separator character a space (no new block can start)."""
    shown = (" " if unicodedata.category(character) in _BREAKS else character for character in str(value))
    return "".join(f"\\{character}" if character in string.punctuation else character for character in shown)


def planned_runs(runs: Iterable[dict]) -> pd.DataFrame:
    """The design's runs as the context rows read them before any has finished: every one missing."""
    frame = pd.DataFrame(list(runs), columns=[*RUN_COLUMNS])
    return frame.assign(status="missing")


def _runs_so_far(runs_table: Path, planned: pd.DataFrame) -> pd.DataFrame:
    """The merged runs table where there is a readable one (the report is made after the runs), else the plan."""
    if not runs_table.is_file():
        return planned
    try:
        runs = pd.read_csv(runs_table)
    except (OSError, ValueError) as error:
        log.warning("%s is not readable (%s): the report's front page shows the plan instead", runs_table, error)
        return planned
    missing = [column for column in RUN_COLUMNS if column not in runs]
    if missing:
        log.warning("%s has no %s column: the report's front page shows the plan instead", runs_table, missing)
        return planned
    return runs


def study_line(name: str, design: dict) -> str:
    """One study as the front page lists it: its description, then its design, axis by axis."""
    axes = [("data sets", "dataset"), ("neurons", "neuron"), ("surrogates", "surrogate")]
    axes += [(label, axis) for label, axis in (("scales", "scale"), ("surrogate widths", "width")) if axis in design]
    axes += [("backprop", "backprop"), ("seeds", "seed")]
    listed = "; ".join(f"{label} {', '.join(map(str, design[axis]))}" for label, axis in axes)
    description = design.get("description", "")
    return rst_text(f"{name}: {description} {listed}." if description else f"{name}: {listed}.")


def front_page(context: dict, studies: dict[str, dict], runs: Iterable[dict], runs_table: Path) -> dict:
    """The front page's banner, context rows and study lines, escaped: from the merged runs table once it exists
    (its seeds, image counts and machine load), from the plan before."""
    planned = planned_runs(runs)
    recorded = _runs_so_far(Path(runs_table), planned)
    try:
        rows = context_rows(context, recorded)
    except (KeyError, TypeError, ValueError) as error:
        log.warning("%s does not read as a runs table (%s): the report's front page shows the plan", runs_table, error)
        recorded, rows = planned, context_rows(context, planned)
    return {
        "smoke_test": [rst_text(reason) for reason in smoke_test_reasons(context, recorded)],
        "rows": [[rst_text(key), rst_text(value)] for key, value in rows],
        "studies": [study_line(name, design) for name, design in studies.items()],
    }
