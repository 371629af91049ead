"""Merging per-run outputs, statistics over seeds, and the explanations of what never learned."""

import json

import numpy as np
import pandas as pd
import pytest

from spikebench.analysis import (
    MISSING,
    MergeError,
    merge_runs,
    never_learned,
    paired_comparisons,
    summarize,
    t_interval,
)
from spikebench.columns import EPOCH_COLUMNS
from spikebench.config import Run
from spikebench.summary_page import build_tables


def write_run(directory, run, accuracies, status="ok", output_spikes=100.0, conv2_rate=0.1):
    directory.mkdir(parents=True)
    rows = []
    for epoch, accuracy in enumerate(accuracies, start=1):
        rows.append(
            {
                **run.as_dict(),
                "epoch": epoch,
                "train_loss": 1.0,
                "train_acc": accuracy,
                "val_loss": 1.0,
                "val_acc": accuracy,
                "test_acc": accuracy,
                "spike_rate_conv1": 0.2,
                "spike_rate_conv2": conv2_rate,
                "spike_rate_output": 0.01 if output_spikes else 0.0,
                "val_output_spikes": output_spikes,
                "test_output_spikes": output_spikes,
                "epoch_seconds": 2.0,
                "train_samples_per_second": 500.0,
            }
        )
    pd.DataFrame(rows, columns=EPOCH_COLUMNS).to_csv(directory / "epochs.csv", index=False)
    best = int(np.argmax(accuracies)) + 1 if accuracies else None
    summary = {
        **run.as_dict(),
        "status": status,
        "best_epoch": best,
        "best_val_acc": max(accuracies) if accuracies else None,
        "test_acc_at_best": max(accuracies) if accuracies else None,
        "epochs_run": len(accuracies),
        "stopped_early": False,
        "diverged_epoch": 2 if status == "diverged" else None,
        "wall_seconds": 4.0,
        "config": {"engine": "fast"},
        "device": "cpu",
        "threads": 1,
    }
    (directory / "summary.json").write_text(json.dumps(summary))


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
    epochs, table = merge_runs(runs, dirs)
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
    with pytest.raises(MergeError, match="missing \\['val_acc'\\]"):
        merge_runs(runs, dirs)
    frame.assign(epoch="first").to_csv(path, index=False)
    with pytest.raises(MergeError, match="wrong type"):
        merge_runs(runs, dirs)


def test_summary_statistics_over_seeds(study):
    runs, dirs = study
    _, table = merge_runs(runs, dirs)
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
    _, table = merge_runs(runs, dirs)
    comparisons = paired_comparisons(table, "surrogate", ["dataset", "neuron", "backprop"]).set_index("level")
    assert comparisons.loc["atan", "rank"] == 1 and comparisons.loc["atan", "best"] == "atan"
    assert comparisons.loc["fast_sigmoid", "larger_than_seed_noise"]
    assert comparisons.loc["fast_sigmoid", "difference_to_best"] == pytest.approx(-0.11)
    assert not comparisons.loc["sigmoid", "larger_than_seed_noise"]
    assert comparisons.loc["fast_sigmoid", "paired_seeds"] == 3


def test_never_learned_says_why(study):
    runs, dirs = study
    _, table = merge_runs(runs, dirs)
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
    out = {name: tmp_path / f"{name}.csv" for name in ("epochs", "runs", "summary", "comparisons", "never_learned")}
    build_tables([run.as_dict()], {run.run_id: tmp_path / run.run_id}, {}, out)
    assert list(pd.read_csv(out["comparisons"]).columns)[-1] == "larger_than_seed_noise"
    assert len(pd.read_csv(out["runs"])) == 1
