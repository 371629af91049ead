"""What became of a run: one name per fate, read by the run contract, the statistics, the estimate and the
report."""

from enum import StrEnum


class Outcome(StrEnum):
    """What became of a run, as the merge decides it from the run's status and accuracies
    (``spikebench.report.merge.run_outcome``): ``learned``, or the way it failed. Members compare equal to their
    names as strings, which is how the tables write them."""

    LEARNED = "learned"
    AT_CHANCE = "at_chance"
    SILENT = "silent"
    NO_GRADIENT = "no_gradient"
    DIVERGED = "diverged"
    DIVERGED_AFTER_LEARNING = "diverged_after_learning"
    MISSING = "missing"
    """The run wrote no summary."""
