"""Self-contained HTML pages: the summary page and one page per table share one style and one way to embed a
figure, a table or a file, so that a page can be mailed as it is."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1.5rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f3f3f3; white-space: normal; vertical-align: bottom; } td:nth-child(-n+5) { text-align: left; }
table.context td, table.context th { text-align: left; } table.context th { background: none; width: 14rem; }
img { max-width: 100%; margin: 0.5rem 0 0.2rem; border: 1px solid #eee; }
figure { margin: 0 0 1.8rem; } figcaption { font-size: 0.9rem; color: #444; max-width: 60rem; }
.note { background: #fff8e1; padding: 0.6rem 1rem; border-left: 4px solid #f0ad4e; }
"""


def data_uri(content: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


def image(path: str | Path, alt: str) -> str:
    return f'<img src="{data_uri(Path(path).read_bytes(), "image/png")}" alt="{html.escape(alt)}">'


def figure(path: str | Path, name: str, caption: str) -> str:
    return f"<figure>{image(path, name)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def table(frame: pd.DataFrame, table_id: str) -> str:
    """``frame`` as an HTML table in a box that scrolls sideways rather than overflow the page."""
    rendered = frame.to_html(index=False, table_id=table_id, na_rep="", float_format=lambda x: f"{x:.4g}", border=0)
    return f"<div class='scroll'>{rendered}</div>"


def page(title: str, body: list[str], style: str = "") -> str:
    return "\n".join(
        [
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
            f"<style>{STYLE}{style}</style></head><body>",
            *body,
            "</body></html>",
        ]
    )
