"""Words for numbers, the same on the summary page and in the figures, and the check of names."""

from __future__ import annotations

import re


def counted(number: int, noun: str) -> str:
    """``1 run``, ``3 runs``: a count with its noun, plural unless it is one."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def matches_whole(pattern: str | re.Pattern[str], text: str) -> bool:
    """Whether ``pattern`` matches all of ``text``: the one check of every name that reaches a path, a run id or
    a page. ``re.search`` or ``re.match`` with ``...$`` would also take a name that ends in a newline."""
    return re.fullmatch(pattern, text) is not None
