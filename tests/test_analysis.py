"""Merging per-run outputs, statistics over seeds, and the explanations of what never learned."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import example_summary, write_run
from spikebench.report.registry import TABLES
from spikebench.report.tables import (
    MISSING,
    RunFiles,
    build_tables,
    merge_runs,
    never_learned,
    paired_comparisons,
    summarize,
    t_interval,
)
from spikebench.run.contract import EPOCHS_FILE, SUMMARY_FILE, WORKLOAD_FILE, RunOutputError
from spikebench.study.config import Run


def files_in(directories):
    return {
        run_id: RunFiles(*(Path(directory) / name for name in (EPOCHS_FILE, SUMMARY_FILE, WORKLOAD_FILE)))
        for run_id, directory in directories.items()
    }


@pytest.fixture
def study(tmp_path):
    runs, dirs = [], {}
    accuracy = {"atan": [0.90, 0.92, 0.91], "fast_sigmoid": [0.80, 0.81, 0.79], "sigmoid": [0.905, 0.915, 0.90]}
    for surrogate, values in accuracy.items():
        for seed, value in enumerate(values):
            run = Run("mnist", "leaky", surrogate, "bptt", seed)
            runs.append(run)
            dirs[run.run_id] = tmp_path / run.run_id
            write_run(dirs[run.run_id], run, [value - 0.1, value])
    for seed in range(3):
        silent = Run("mnist", "lapicque", "atan", "bptt", seed)
        runs.append(silent)
        dirs[silent.run_id] = tmp_path / silent.run_id
        write_run(dirs[silent.run_id], silent, [0.098], status="silent", output_spikes=0.0, conv2_rate=0.0)
    diverged = Run("mnist", "synaptic", "atan", "bptt", 0)
    runs.append(diverged)
    dirs[diverged.run_id] = tmp_path / diverged.run_id
    write_run(dirs[diverged.run_id], diverged, [0.1], status="diverged")
    missing = Run("mnist", "alpha", "atan", "bptt", 0)
    runs.append(missing)
    dirs[missing.run_id] = tmp_path / missing.run_id
    return runs, dirs


def test_merge_keeps_every_run_and_marks_missing_ones(study):
    runs, dirs = study
    epochs, table = merge_runs(runs, files_in(dirs))
    assert len(table) == len(runs)
    assert table.set_index("run_id").loc["mnist-alpha-atan-bptt-s0", "status"] == MISSING
    assert set(table["status"]) == {"ok", "silent", "diverged", MISSING}
    assert len(epochs) == 9 * 2 + 3 + 1
    assert table.set_index("run_id").loc["mnist-leaky-atan-bptt-s1", "test_acc_at_best"] == 0.92


def test_merge_rejects_wrong_columns_and_types(study, tmp_path):
    runs, dirs = study
    path = dirs[runs[0].run_id] / "epochs.csv"
    frame = pd.read_csv(path)
    frame.drop(columns=["val_acc"]).to_csv(path, index=False)
    with pytest.raises(RunOutputError, match="missing \\['val_acc'\\]"):
        merge_runs(runs, files_in(dirs))
    frame.assign(epoch="first").to_csv(path, index=False)
    with pytest.raises(RunOutputError, match="wrong type"):
        merge_runs(runs, files_in(dirs))


def test_summary_statistics_over_seeds(study):
    runs, dirs = study
    _, table = merge_runs(runs, files_in(dirs))
    summary = summarize(table).set_index(["neuron", "surrogate"])
    atan = summary.loc[("leaky", "atan")]
    values = np.array([0.90, 0.92, 0.91])
    assert atan["seeds"] == 3 and atan["test_acc_mean"] == pytest.approx(values.mean())
    assert atan["test_acc_std"] == pytest.approx(values.std(ddof=1))
    half = 4.302652729911275 * values.std(ddof=1) / np.sqrt(3)
    assert atan["test_acc_ci95_low"] == pytest.approx(values.mean() - half)
    assert atan["learned"] and not summary.loc[("lapicque", "atan"), "learned"]
    assert summary.loc[("alpha", "atan"), "missing"] == 1 and summary.loc[("alpha", "atan"), "seeds"] == 0


def test_paired_comparisons_separate_real_differences_from_seed_noise(study):
    runs, dirs = study
    _, table = merge_runs(runs, files_in(dirs))
    comparisons = paired_comparisons(table, "surrogate", ["dataset", "neuron", "backprop"]).set_index("level")
    assert comparisons.loc["atan", "rank"] == 1 and comparisons.loc["atan", "best"] == "atan"
    assert comparisons.loc["fast_sigmoid", "larger_than_seed_noise"]
    assert comparisons.loc["fast_sigmoid", "difference_to_best"] == pytest.approx(-0.11)
    assert not comparisons.loc["sigmoid", "larger_than_seed_noise"]
    assert comparisons.loc["fast_sigmoid", "paired_seeds"] == 3


def test_never_learned_says_why(study):
    runs, dirs = study
    _, table = merge_runs(runs, files_in(dirs))
    reasons = never_learned(summarize(table), table).set_index("neuron")["reason"]
    assert "second spiking layer never fired" in reasons["lapicque"]
    assert "diverged in epoch 2" in reasons["synaptic"]
    assert "no run finished" in reasons["alpha"]
    assert "leaky" not in reasons.index


def test_t_interval_of_a_single_value_is_undefined():
    half_width, mean = t_interval(np.array([0.5]))
    assert np.isnan(half_width) and mean == 0.5


def test_tables_are_written_even_without_comparisons(tmp_path):
    run = Run("mnist", "abss", "none", "bptt", 0)
    write_run(tmp_path / run.run_id, run, [0.5])
    out = {name: tmp_path / f"{name}.csv" for name in TABLES}
    frames = build_tables([run.as_dict()], list(files_in({run.run_id: tmp_path / run.run_id}).values()), out)
    assert list(frames) == list(TABLES)
    assert list(pd.read_csv(out["comparisons"]).columns)[-1] == "larger_than_seed_noise"
    assert len(pd.read_csv(out["runs"])) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": {"model": {}}}, "field 'config' lacks training, data, device, engine"),
        ({"device": None}, "field 'device' is None, not of type"),
        ({"epochs_run": True}, "field 'epochs_run' is True, not of type"),
        ({"status": "fine"}, "field 'status' is 'fine', not one of"),
    ],
)
def test_a_malformed_summary_names_its_file_and_field(study, change, message):
    runs, dirs = study
    path = dirs[runs[0].run_id] / SUMMARY_FILE
    path.write_text(json.dumps(example_summary(runs[0], **change)))
    with pytest.raises(RunOutputError, match=f"{path}: {message}"):
        merge_runs(runs, files_in(dirs))


def test_a_summary_missing_a_field_names_it(study):
    runs, dirs = study
    path = dirs[runs[0].run_id] / SUMMARY_FILE
    summary = example_summary(runs[0])
    del summary["device_name"]
    path.write_text(json.dumps(summary))
    with pytest.raises(RunOutputError, match=f"{path}: field 'device_name' is missing"):
        merge_runs(runs, files_in(dirs))
    path.write_text("{not json")
    with pytest.raises(RunOutputError, match=f"{path}: not valid JSON"):
        merge_runs(runs, files_in(dirs))
