"""Registry of the backprop methods the training grid compares: the one list the schema, grid and docs read.

Each method is a way to cut a sequence of time steps into windows, with one weight update per window and the
state carried (detached) from one window to the next.
"""

from __future__ import annotations

BACKPROP_METHODS: dict[str, str] = {
    "bptt": "backpropagation through time: one update after all steps",
    "tbptt": "truncated BPTT: one update every tbptt_window steps",
    "rtrl": "snnTorch-style RTRL: one update after every step, the gradient of that step alone",
}


def update_windows(backprop: str, steps: int, tbptt_window: int) -> list[int]:
    """Time steps between weight updates: all of them (BPTT), K (TBPTT), or one (snnTorch's RTRL)."""
    if backprop not in BACKPROP_METHODS:
        raise ValueError(f"unknown backprop method {backprop!r}; known: {', '.join(BACKPROP_METHODS)}")
    window = {"bptt": steps, "tbptt": min(tbptt_window, steps), "rtrl": 1}[backprop]
    return [window] * (steps // window) + ([steps % window] if steps % window else [])
