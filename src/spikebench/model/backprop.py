"""Registry of the backprop methods the training grid compares: the one list the schema, grid and docs read.

Each method is a way to cut a sequence of time steps into windows, with one weight update per window and the
state carried (detached) from one window to the next.
"""

from __future__ import annotations

from typing import NamedTuple

from spikebench.utils.registry import by_name


class BackpropSpec(NamedTuple):
    name: str
    label: str
    """How figures and the report name it."""
    description: str


BACKPROP_METHODS: dict[str, BackpropSpec] = by_name(
    BackpropSpec("bptt", "BPTT", "backpropagation through time: one update after all steps"),
    BackpropSpec("tbptt", "TBPTT", "truncated BPTT: one update every tbptt_window steps"),
    BackpropSpec(
        "rtrl",
        "snnTorch RTRL (TBPTT, 1-step window)",
        "snnTorch's 'RTRL': TBPTT with a window of one step, one update after every step with the gradient of"
        " that step alone; not real-time recurrent learning, and no credit assignment across steps",
    ),
)


def backprop_label(name: str) -> str:
    return BACKPROP_METHODS[name].label if name in BACKPROP_METHODS else name


def update_windows(backprop: str, steps: int, tbptt_window: int) -> list[int]:
    """Time steps between weight updates: all of them (BPTT), K (TBPTT), or one (snnTorch's RTRL)."""
    if backprop not in BACKPROP_METHODS:
        raise ValueError(f"unknown backprop method {backprop!r}; known: {', '.join(BACKPROP_METHODS)}")
    window = {"bptt": steps, "tbptt": min(tbptt_window, steps), "rtrl": 1}[backprop]
    return [window] * (steps // window) + ([steps % window] if steps % window else [])
