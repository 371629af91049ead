"""Training runs: determinism, resume after a kill, divergence, silence, early stopping and the outputs."""

import gzip
import json
import os
import platform
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, SCHEMA
from spikebench.backprop import update_windows
from spikebench.columns import EPOCH_COLUMNS, TIMING_COLUMNS
from spikebench.config import expand_runs, validate_config
from spikebench.datasets import DATASETS, prepare
from spikebench.train import RunSettings, Trainer, train_run


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def synthetic_digits(count, rng):
    """A learnable stand-in for MNIST: each class lights up its own 6x6 patch, with noise."""
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28))
    for index, label in enumerate(labels):
        row, column = 2 + 8 * (label // 4), 2 + 8 * (label % 4)
        images[index, row : row + 6, column : column + 6] = 255
    return images, labels


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(0)
    spec = DATASETS["mnist"]
    for split, count in (("train", 400), ("test", 100)):
        images, labels = synthetic_digits(count, rng)
        write_idx(directory / spec.file(split, "images").name, images)
        write_idx(directory / spec.file(split, "labels").name, labels)
    path = directory / "mnist.npz"
    prepare("mnist", directory, path, validation_size=100, split_seed=0)
    return path


def config_for(neuron="leaky", surrogate="atan", backprop="bptt", **overrides):
    config = {
        "device": "cpu",
        "engine": "fast",
        "model": {"steps": 6},
        "training": {"batch_size": 50, "eval_batch_size": 100, "max_epochs": 3, "patience": 5},
        "studies": {
            "test": {
                "dataset": ["mnist"],
                "neuron": [neuron],
                "surrogate": [surrogate],
                "backprop": [backprop],
                "seed": [0],
            }
        },
    }
    for section, values in overrides.items():
        config[section].update(values)
    validate_config(config, SCHEMA)
    return config


def train(config, data_file, out_dir, threads=1):
    (run,) = expand_runs(config).values()
    return train_run(run.as_dict(), RunSettings.from_config(config).as_dict(), data_file, out_dir, threads)


def without_timing(path):
    return pd.read_csv(path).drop(columns=TIMING_COLUMNS)


def test_a_run_learns_and_writes_its_outputs(data_file, tmp_path, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    summary = train(config_for(), data_file, tmp_path)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8", "cuBLAS needs it to be deterministic on a GPU"
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert list(epochs.columns) == EPOCH_COLUMNS
    assert epochs["epoch"].tolist() == [1, 2, 3]
    assert epochs["run_id"].unique().tolist() == ["mnist-leaky-atan-bptt-s0"]
    assert summary["status"] == "ok" and summary["epochs_run"] == 3 and not summary["stopped_early"]
    assert summary["best_val_acc"] == epochs["val_acc"].max() > 0.5
    best = epochs.loc[epochs["val_acc"].idxmax()]
    assert summary["best_epoch"] == best["epoch"] and summary["test_acc_at_best"] == best["test_acc"]
    assert summary["versions"]["snntorch"] and summary["threads"] == 1 and summary["device"] == "cpu"
    assert summary["keeps_freed_memory"] == (platform.libc_ver()[0] == "glibc")
    assert summary["config"]["model"]["steps"] == 6 and summary["data"]["num_validation"] == 100
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    weights = torch.load(tmp_path / "model.pt")
    assert set(weights) >= {"conv1.weight", "conv2.weight", "fc.weight"}
    assert not (tmp_path / "checkpoint.pt").exists()
    assert (tmp_path / "epochs.csv").stat().st_mode & 0o044, "results must be readable by the group and others"


def test_same_seed_gives_byte_identical_epochs(data_file, tmp_path):
    config = config_for("synaptic", "fast_sigmoid", training={"max_epochs": 2})
    train(config, data_file, tmp_path / "a")
    train(config, data_file, tmp_path / "b")
    a, b = without_timing(tmp_path / "a/epochs.csv"), without_timing(tmp_path / "b/epochs.csv")
    assert a.to_csv(index=False) == b.to_csv(index=False)
    first, second = torch.load(tmp_path / "a/model.pt"), torch.load(tmp_path / "b/model.pt")
    assert all(torch.equal(first[name], second[name]) for name in first)


@pytest.mark.parametrize(("neuron", "surrogate", "backprop"), [("leaky", "atan", "tbptt"), ("abss", "none", "rtrl")])
def test_resume_after_a_crash_ends_like_an_uninterrupted_run(
    data_file, tmp_path, monkeypatch, neuron, surrogate, backprop
):
    config = config_for(neuron, "atan" if surrogate == "none" else surrogate, backprop, training={"tbptt_window": 4})
    train(config, data_file, tmp_path / "whole")

    original = Trainer._checkpoint

    def crash_after_first_epoch(self, progress):
        original(self, progress)
        raise KeyboardInterrupt("simulated preemption")

    monkeypatch.setattr(Trainer, "_checkpoint", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(config, data_file, tmp_path / "resumed")
    assert (tmp_path / "resumed/checkpoint.pt").exists() and not (tmp_path / "resumed/epochs.csv").exists()
    monkeypatch.setattr(Trainer, "_checkpoint", original)
    train(config, data_file, tmp_path / "resumed")
    whole, resumed = without_timing(tmp_path / "whole/epochs.csv"), without_timing(tmp_path / "resumed/epochs.csv")
    pd.testing.assert_frame_equal(whole, resumed)
    first, second = torch.load(tmp_path / "whole/model.pt"), torch.load(tmp_path / "resumed/model.pt")
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_sigterm_then_rerun_resumes_from_the_checkpoint(data_file, tmp_path):
    config = config_for(training={"max_epochs": 4})
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "spikebench.train",
        "--config",
        str(config_path),
        "--run",
        "mnist-leaky-atan-bptt-s0",
        "--data",
        str(data_file),
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    if process.returncode == 0:
        pytest.fail("the run finished before it could be interrupted; make it longer")
    assert process.returncode == -signal.SIGTERM
    assert not (out / "epochs.csv").exists()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "resuming after epoch" in result.stderr
    train(config, data_file, tmp_path / "whole")
    pd.testing.assert_frame_equal(without_timing(out / "epochs.csv"), without_timing(tmp_path / "whole/epochs.csv"))


def test_divergence_stops_the_run_and_is_recorded(data_file, tmp_path, monkeypatch):
    original = Trainer.train_epoch

    def loss_becomes_nan(self, epoch):
        if epoch == 2:
            real = self.loss_fn
            self.loss_fn = lambda spikes, labels: real(spikes, labels) * float("nan")
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", loss_becomes_nan)
    summary = train(config_for(), data_file, tmp_path)
    assert summary["status"] == "diverged" and summary["diverged_epoch"] == 2
    assert summary["epochs_run"] == 1 and summary["best_epoch"] == 1
    assert pd.read_csv(tmp_path / "epochs.csv")["epoch"].tolist() == [1]


def test_a_network_whose_output_never_spikes_is_silent(data_file, tmp_path):
    summary = train(
        config_for("lapicque", "fast_sigmoid", model={"threshold": 50.0}, training={"max_epochs": 1}),
        data_file,
        tmp_path,
    )
    assert summary["status"] == "silent" and summary["test_output_spikes_at_best"] == 0
    counts = np.bincount(np.load(data_file)["test_labels"], minlength=10)
    assert summary["test_acc_at_best"] == pytest.approx(counts[0] / counts.sum())


def test_early_stopping_on_validation(data_file, tmp_path):
    summary = train(config_for(training={"max_epochs": 30, "patience": 1, "learning_rate": 1e-9}), data_file, tmp_path)
    assert summary["stopped_early"] and summary["epochs_run"] == summary["best_epoch"] + 1 < 30


@pytest.mark.parametrize(("backprop", "windows"), [("bptt", [25]), ("tbptt", [10, 10, 5]), ("rtrl", [1] * 25)])
def test_update_windows(backprop, windows):
    assert update_windows(backprop, 25, 10) == windows


def test_unknown_backprop_method_names_the_known_ones():
    with pytest.raises(ValueError, match="bptt, tbptt, rtrl"):
        update_windows("bppt", 25, 10)


def test_engines_train_alike(data_file, tmp_path):
    """Two epochs of the full training loop: per-epoch accuracies match between the engines."""
    runs = {}
    for engine in ("fast", "reference"):
        config = config_for("alpha", "fast_sigmoid", training={"max_epochs": 2})
        config["engine"] = engine
        train(config, data_file, tmp_path / engine)
        runs[engine] = pd.read_csv(tmp_path / engine / "epochs.csv")
    for column in ("train_acc", "val_acc", "test_acc"):
        np.testing.assert_allclose(runs["fast"][column], runs["reference"][column], atol=0.02)
    np.testing.assert_allclose(runs["fast"]["train_loss"], runs["reference"]["train_loss"], rtol=1e-3)


def test_entry_point_rejects_an_unknown_run(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "spikebench.train", "--config", str(REPO / "config/quick.yaml"), "--run", "nope"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert result.returncode != 0 and "run 'nope' is not in" in result.stderr
