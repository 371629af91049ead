"""Self-contained HTML pages from the Jinja2 templates in ``templates/``: the summary page and one page per
table share one style sheet (``page.css``, inlined) and embed their figures and downloads as data URIs, so
that a page can be mailed as it is. Autoescaping is on: every value from a table, a config or a run's files
reaches the page as text, never as markup."""

from __future__ import annotations

import base64
import functools
import importlib.resources
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


def table(frame: pd.DataFrame, table_id: str, classes: str = "") -> Markup:
    """``frame`` as an HTML table (pandas escapes every cell) in a box that scrolls sideways rather than
    overflow the page."""
    rendered = frame.to_html(
        index=False,
        table_id=table_id,
        na_rep="",
        float_format=lambda x: f"{x:.4g}",
        border=0,
        classes=classes or None,
        escape=True,
    )
    return Markup(f"<div class='scroll'>{rendered}</div>")
