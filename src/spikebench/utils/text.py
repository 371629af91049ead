"""Words for numbers, the same on the summary page and in the figures."""

from __future__ import annotations


def counted(number: int, noun: str) -> str:
    """``1 run``, ``3 runs``: a count with its noun, plural unless it is one."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
