"""Every table of the merge (``spikebench.report.registry.TABLES``), written from the runs' own outputs: the
merged runs and epochs (``merge``), per-combination outcomes (``combinations``), the untrained network
(``initial_state``), the studies, and the comparisons with the baselines (``statistics``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from spikebench.report.combinations import never_learned, summarize
from spikebench.report.initial_state import initialisation, neuron_gain_table
from spikebench.report.merge import RunFiles, merge_runs, width_column
from spikebench.report.registry import TABLES
from spikebench.report.statistics import COMPARISON_COLUMNS, OMNIBUS_COLUMNS, study_comparisons
from spikebench.study.config import SWEEPS, Run
from spikebench.study.settings import RunSettings
from spikebench.utils.atomic import atomic_write

log = logging.getLogger(__name__)


def study_table(studies: dict[str, dict]) -> pd.DataFrame:
    """One row per study: what it compares, against which baseline, over how many runs."""
    return pd.DataFrame(
        [
            {
                "study": name,
                "runs": len(design["runs"]),
                "factors": ";".join(design["factors"]),
                "sweeps_scale": bool(set(SWEEPS) & set(design["factors"])),
                "baseline": "; ".join(f"{factor}={level}" for factor, level in design["baseline"].items()),
            }
            for name, design in studies.items()
        ],
        columns=["study", "runs", "factors", "sweeps_scale", "baseline"],
    )


def study_runs(studies: dict[str, dict]) -> pd.DataFrame:
    """Which runs each study compares, one row per (study, run): a run that two studies share has a row in
    each."""
    return pd.DataFrame(
        [(name, run_id) for name, design in studies.items() for run_id in design["runs"]], columns=["study", "run_id"]
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP: CSV injection)."""


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula prefixed with an apostrophe, as
    OWASP advises: a run's recorded strings (a device name, say) come from files a colleague may have edited."""

    def safe(value: object) -> object:
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    text = frame.select_dtypes(include=["object", "string"]).columns
    return frame.assign(**{str(column): frame[column].map(safe) for column in text})


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_write(path, "w") as stream:
        spreadsheet_safe(frame).to_csv(stream, index=False, float_format="%.10g")


def build_tables(
    runs: list[dict], files: list[RunFiles], studies: dict[str, dict], settings: dict, out: dict[str, str]
) -> dict[str, pd.DataFrame]:
    """Write the tables of ``spikebench.report.registry.TABLES`` (paths in ``out``) from the runs' own
    outputs; ``files`` holds each run's files, in the order of ``runs``; ``studies`` each study's run ids,
    factors and baseline (``spikebench.study.config.study_designs``); ``settings`` the runs' expected
    ``RunSettings.as_dict``."""
    expected = [Run.from_dict(run) for run in runs]
    if len(files) != len(expected):
        raise ValueError(f"{len(expected)} runs but output files of {len(files)}")
    model = RunSettings.from_config(settings).model
    epochs, run_table, gradients = merge_runs(
        expected, {run.run_id: paths for run, paths in zip(expected, files, strict=True)}, settings
    )
    run_table["width"] = width_column(run_table, model.surrogate_params)
    summary = summarize(run_table)
    comparisons, omnibus = [], []
    for name, design in studies.items():
        pairwise, overall = study_comparisons(
            run_table[run_table["run_id"].isin(design["runs"])],
            name,
            design["baseline"],
            design["factors"],
            design["equivalence_margin"],
        )
        comparisons.append(pairwise)
        omnibus.append(overall)
    frames = {
        "epochs": epochs,
        "runs": run_table,
        "summary": summary,
        "comparisons": _stacked(comparisons, COMPARISON_COLUMNS),
        "omnibus": _stacked(omnibus, OMNIBUS_COLUMNS),
        "never_learned": never_learned(summary, run_table),
        "initialisation": initialisation(run_table),
        "initial_gradients": gradients,
        "neuron_gains": neuron_gain_table(run_table, model),
        "studies": study_table(studies),
        "study_runs": study_runs(studies),
    }
    frames = {name: frames[name] for name in TABLES}
    for name, frame in frames.items():
        write_csv(frame, out[name])
    log.info(
        "%d runs (%s), %d epochs, %d combinations, %d never learned, %d of %d comparisons significant after Holm",
        len(run_table),
        ", ".join(f"{count} {outcome}" for outcome, count in run_table["outcome"].value_counts().items()),
        len(epochs),
        len(summary),
        len(frames["never_learned"]),
        int(frames["comparisons"]["significant"].sum()),
        len(frames["comparisons"]),
    )
    return frames


def _stacked(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def read_tables(paths: dict[str, str]) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(path) for name, path in paths.items()}
