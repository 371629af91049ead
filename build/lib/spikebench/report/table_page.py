"""One table of the merge as its own self-contained HTML page, so that the Snakemake report shows the table
itself (the report only displays images, HTML and PDF; any other file is a download).

The page carries the CSV it was made from, byte for byte, as a download link, and shows its first
``max_rows`` rows: the full study's per-epoch table runs to tens of thousands of rows.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd

from spikebench.report import html_page
from spikebench.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

TABLE_PAGE_ROWS = 2000
"""Rows shown on a table's page; the CSV behind the download link has them all."""

BREAK_AFTER_UNDERSCORE = "_\u200b"
"""Headers keep the CSV's column names, and a zero-width space after each underscore lets a long name wrap
there rather than mid-word."""


def render_table_page(
    csv_path: str | Path, name: str, caption: str, out_path: str | Path, max_rows: int = TABLE_PAGE_ROWS
) -> None:
    content = Path(csv_path).read_bytes()
    frame = pd.read_csv(io.BytesIO(content))
    title = name.replace("_", " ")
    shown = (
        f"all {len(frame):,} rows"
        if len(frame) <= max_rows
        else f"the first {max_rows:,} of {len(frame):,} rows (the CSV has them all)"
    )
    shown_frame = frame.head(max_rows).rename(columns=lambda column: column.replace("_", BREAK_AFTER_UNDERSCORE))
    page = html_page.render(
        "table.html.j2",
        f"spikebench table: {title}",
        table_title=title,
        caption=caption,
        name=name,
        columns=len(frame.columns),
        shown=shown,
        download=html_page.data_uri(content, "text/csv"),
        size=len(content),
        table=None if frame.empty else html_page.table(shown_frame, f"{name}-table", "wide-cells"),
    )
    atomic_write_text(out_path, page)
    log.info("%s: %s of %d columns on %s", csv_path, shown, len(frame.columns), out_path)
