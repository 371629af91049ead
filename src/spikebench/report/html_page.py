"""Self-contained HTML pages from the Jinja2 templates in ``templates/``: the summary page and one page per
table share one style sheet (``page.css``, inlined) and embed their figures and downloads as data URIs, so
that a page can be mailed as it is. Autoescaping is on: every value from a table, a config or a run's files
reaches the page as text, never as markup."""

from __future__ import annotations

import base64
import functools
import importlib.resources
import re
from pathlib import Path
from typing import NamedTuple

import jinja2
import pandas as pd
from markupsafe import Markup

TEMPLATES = importlib.resources.files("spikebench.report") / "templates"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("spikebench.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, title: str, **values) -> str:
    """The page ``template`` with ``values``, titled ``title``, carrying the shared style sheet."""
    css = (TEMPLATES / "page.css").read_text()
    return _environment().get_template(template).render(title=title, css=Markup(css), **values)


def data_uri(content: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


class Figure(NamedTuple):
    """A figure as a page embeds it: its PNG as a data URI, under a heading, with its caption."""

    name: str
    title: str
    source: str
    caption: str

    @classmethod
    def from_png(cls, path: str | Path, name: str, caption: str) -> Figure:
        return cls(name, name.replace("_", " "), data_uri(Path(path).read_bytes(), "image/png"), caption)


NUMBER = re.compile(r"^\s*[-+\u2212]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?")
"""A cell that starts with a number (``94.1``, ``0.0041%``, ``1,024``, ``-0.3 [-1.2, 0.6]``)."""


def numeric_columns(frame: pd.DataFrame) -> list[int]:
    """1-based positions of the columns whose every filled cell starts with a number: right-aligned, so that
    digits line up; text columns stay left-aligned."""
    positions = []
    for position, column in enumerate(frame.columns, start=1):
        values = frame[column].dropna()
        cells = [str(value) for value in values if str(value).strip()]
        if cells and all(NUMBER.match(cell) for cell in cells):
            positions.append(position)
    return positions


def table(frame: pd.DataFrame, table_id: str, classes: str = "") -> Markup:
    """``frame`` as an HTML table (pandas escapes every cell) in a box that scrolls sideways rather than
    overflow the page; numeric columns right-aligned (``numeric_columns``)."""
    rendered = frame.to_html(
        index=False,
        table_id=table_id,
        na_rep="",
        float_format=lambda x: f"{x:.4g}",
        border=0,
        classes=classes or None,
        escape=True,
    )
    selectors = ", ".join(f"#{table_id} td:nth-child({position})" for position in numeric_columns(frame))
    style = f"<style>{selectors} {{ text-align: right; }}</style>" if selectors else ""
    return Markup(f"{style}<div class='scroll'>{rendered}</div>")
