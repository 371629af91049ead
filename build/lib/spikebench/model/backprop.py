"""Registry of the backprop methods the training grid compares: the one list the schema, grid and docs read.

Each method is a way to cut a sequence of time steps into windows, the state carried (detached) from one
window to the next, and either one weight update per window or one per batch.
"""

from __future__ import annotations

from typing import NamedTuple

from spikebench.utils.registry import by_name


class BackpropSpec(NamedTuple):
    name: str
    label: str
    """How figures and the report name it."""
    description: str
    window: str
    """The update window: ``all`` steps, the config's ``tbptt_window``, or ``one`` step."""
    relative_cost: float
    """An epoch's cost against BPTT's, for the cluster's runtime limits (``spikebench.study.resources``): more
    weight updates and shorter sequences per call cost more. ``benchmarks/train_throughput.py --backprop``
    measured 1.2x (tbptt, window 5) and 1.75x (rtrl) for the fast engine and 1.1x for the reference; the
    margin keeps the limits safe on slower nodes. rtrl_one_update runs rtrl's passes with one optimizer step
    per batch, so rtrl's bound holds for it."""
    update_per_window: bool = True
    """One optimizer step per window; otherwise the windows' gradients add up to one step per batch."""


BACKPROP_METHODS: dict[str, BackpropSpec] = by_name(
    BackpropSpec("bptt", "BPTT", "backpropagation through time: one update after all steps", "all", 1.0),
    BackpropSpec("tbptt", "TBPTT", "truncated BPTT: one update every tbptt_window steps", "tbptt_window", 1.3),
    BackpropSpec(
        "rtrl",
        "snnTorch RTRL (TBPTT, 1-step window)",
        "snnTorch's 'RTRL': TBPTT with a window of one step, one update after every step with the gradient of"
        " that step alone; not real-time recurrent learning, and no credit assignment across steps",
        "one",
        2.5,
    ),
    BackpropSpec(
        "rtrl_one_update",
        "1-step truncation, one update per batch",
        "the control that separates truncation from update count: rtrl's one-step truncated gradients, summed"
        " over the steps (each weighted by 1 / steps, as the rate loss averages over time) into one update per"
        " batch, as BPTT makes",
        "one",
        2.5,
        update_per_window=False,
    ),
)


def backprop_label(name: str) -> str:
    return BACKPROP_METHODS[name].label if name in BACKPROP_METHODS else name


def _spec(backprop: str) -> BackpropSpec:
    if backprop not in BACKPROP_METHODS:
        raise ValueError(f"unknown backprop method {backprop!r}; known: {', '.join(BACKPROP_METHODS)}")
    return BACKPROP_METHODS[backprop]


def update_windows(backprop: str, steps: int, tbptt_window: int) -> list[int]:
    """Time steps per window of a batch: all of them (BPTT), K (TBPTT), or one (snnTorch's RTRL)."""
    window = {"all": steps, "tbptt_window": min(tbptt_window, steps), "one": 1}[_spec(backprop).window]
    return [window] * (steps // window) + ([steps % window] if steps % window else [])


def updates_per_batch(backprop: str, windows: list[int]) -> int:
    return len(windows) if _spec(backprop).update_per_window else 1
