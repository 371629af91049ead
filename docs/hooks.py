"""MkDocs hook: reference pages written from spikebench's single sources, and the changelog from the
repository's CHANGELOG.md, so that neither can drift from what the code and the history say."""

import re
from pathlib import Path

from spikebench.reference import REFERENCES

REFERENCE = re.compile(r"^<!-- reference: ([\w-]+) -->$", re.MULTILINE)
CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "changelog.md":
        return CHANGELOG.read_text()
    return REFERENCE.sub(lambda match: REFERENCES[match.group(1)](), markdown)
