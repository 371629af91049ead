"""Training runs: determinism, resume after a kill, divergence, silence, early stopping and the outputs."""

import json
import os
import platform
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import snntorch.functional as SF
import torch
import yaml

from conftest import REPO
from helpers import config_for, synthetic_data_file, train, train_until_first_checkpoint
from spikebench.model.backprop import update_windows, updates_per_batch
from spikebench.model.network import ConvSNN, detach_state
from spikebench.model.topology import LAYER_NAMES
from spikebench.neurons import native
from spikebench.run import cli
from spikebench.run.checkpoint import TrainingState
from spikebench.run.contract import EPOCH_COLUMNS, SUMMARY_FIELDS, TIMING_COLUMNS
from spikebench.run.outcome import classify
from spikebench.run.setup import check_precision, configure_process
from spikebench.run.trainer import Trainer, train_batch
from spikebench.study.config import expand_runs
from spikebench.study.settings import RunSettings


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return synthetic_data_file(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def finished(data_file, tmp_path_factory):
    """Uninterrupted runs shared by the tests that compare against one: ``finished(config)`` trains once per
    distinct config and returns its output directory."""
    directories = {}

    def run_directory(config):
        key = json.dumps(config, sort_keys=True)
        if key not in directories:
            directories[key] = tmp_path_factory.mktemp("finished")
            train(config, data_file, directories[key])
        return directories[key]

    return run_directory


def without_timing(path):
    return pd.read_csv(path).drop(columns=TIMING_COLUMNS)


def test_a_run_learns_and_writes_its_outputs(finished):
    directory = finished(config_for())
    summary = json.loads((directory / "summary.json").read_text())
    assert list(summary) == list(SUMMARY_FIELDS)
    epochs = pd.read_csv(directory / "epochs.csv")
    assert list(epochs.columns) == EPOCH_COLUMNS
    assert epochs["epoch"].tolist() == [0, 1, 2, 3], "epoch 0 is the untrained network"
    untrained = epochs.iloc[0]
    assert np.isnan(untrained["train_loss"]) and np.isnan(untrained["train_samples_per_second"])
    assert 0 <= untrained["val_acc"] <= 1 and untrained[[f"spike_rate_{layer}" for layer in LAYER_NAMES]].notna().all()
    assert epochs["run_id"].unique().tolist() == ["mnist-leaky-atan-k2-bptt-s0"]
    assert summary["status"] == "ok" and summary["epochs_run"] == 3 and not summary["stopped_early"]
    norms = summary["initial_gradient_norms"]
    assert list(norms) == list(dict(ConvSNN("leaky", "atan").named_parameters()))
    assert all(norm >= 0 for norm in norms.values()) and sum(norms.values()) > 0
    assert summary["best_val_acc"] == epochs["val_acc"].max() > 0.5
    best = epochs.loc[epochs["val_acc"].idxmax()]
    assert summary["best_epoch"] == best["epoch"] and summary["test_acc_at_best"] == best["test_acc"]
    assert summary["versions"]["snntorch"] and summary["threads"] == 1 and summary["device"] == "cpu"
    assert summary["keeps_freed_memory"] == (platform.libc_ver()[0] == "glibc")
    assert summary["native_neuron_kernels"] == native.status().available
    assert summary["config"]["model"]["steps"] == 6 and summary["data"]["num_validation"] == 100
    saved = torch.load(directory / "model.pt", weights_only=True)
    assert saved["run_id"] == summary["run_id"] and saved["settings_hash"] == summary["settings_hash"]
    assert set(saved["state_dict"]) >= {"conv1.weight", "conv2.weight", "fc.weight"}
    assert not (directory / "checkpoint.pt").exists()
    assert (directory / "epochs.csv").stat().st_mode & 0o044, "results must be readable by the group and others"


def test_process_settings_make_gpu_runs_deterministic(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    environment = configure_process(1, torch.device("cpu"))
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8", "cuBLAS needs it to be deterministic on a GPU"
    assert torch.are_deterministic_algorithms_enabled() and environment.threads == torch.get_num_threads() == 1


def test_same_seed_gives_byte_identical_epochs(data_file, finished, tmp_path):
    config = config_for("synaptic", "fast_sigmoid", training={"max_epochs": 2})
    train(config, data_file, tmp_path)
    a, b = without_timing(finished(config) / "epochs.csv"), without_timing(tmp_path / "epochs.csv")
    assert a.to_csv(index=False) == b.to_csv(index=False)
    assert_same_weights(finished(config) / "model.pt", tmp_path / "model.pt")


def assert_same_weights(first_path, second_path):
    first = torch.load(first_path, weights_only=True)["state_dict"]
    second = torch.load(second_path, weights_only=True)["state_dict"]
    assert list(first) == list(second) and all(torch.equal(first[name], second[name]) for name in first)


@pytest.mark.parametrize(("neuron", "surrogate", "backprop"), [("leaky", "atan", "tbptt"), ("abss", "none", "rtrl")])
def test_resume_after_a_crash_ends_like_an_uninterrupted_run(
    data_file, finished, tmp_path, monkeypatch, neuron, surrogate, backprop
):
    config = config_for(neuron, "atan" if surrogate == "none" else surrogate, backprop, training={"tbptt_window": 4})

    train_until_first_checkpoint(config, data_file, tmp_path, monkeypatch)
    assert (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "epochs.csv").exists()
    train(config, data_file, tmp_path)
    whole = finished(config)
    pd.testing.assert_frame_equal(without_timing(whole / "epochs.csv"), without_timing(tmp_path / "epochs.csv"))
    assert_same_weights(whole / "model.pt", tmp_path / "model.pt")


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_job_resumes_from_the_checkpoint_when_rerun(finished, data_file, tmp_path, kill):
    config = config_for()
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "spikebench.run",
        "--config",
        str(config_path),
        "--run",
        "mnist-leaky-atan-k2-bptt-s0",
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
    process.send_signal(kill)
    process.wait(timeout=60)
    if process.returncode == 0:
        pytest.fail("the run finished before it could be interrupted; make it longer")
    assert process.returncode == -kill
    assert not (out / "epochs.csv").exists()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "resuming after epoch" in result.stderr
    whole = finished(config)
    pd.testing.assert_frame_equal(without_timing(out / "epochs.csv"), without_timing(whole / "epochs.csv"))


def test_divergence_stops_the_run_and_is_recorded(data_file, tmp_path, monkeypatch):
    original = Trainer.train_epoch

    def loss_becomes_nan(self, epoch):
        if epoch == 3:
            real = self.setup.loss_fn
            self.setup.loss_fn = lambda spikes, labels: real(spikes, labels) * float("nan")
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", loss_becomes_nan)
    summary = train(config_for(), data_file, tmp_path)
    assert summary["status"] == "diverged" and summary["diverged_epoch"] == 3
    assert summary["diverged_batch"] == 0 and summary["divergence"] == "loss"
    assert summary["epochs_run"] == 2 and summary["best_epoch"] == 2
    assert pd.read_csv(tmp_path / "epochs.csv")["epoch"].tolist() == [0, 1, 2]


def test_status_follows_divergence_then_no_gradient_then_silence():
    untrained = {
        "epoch": 0,
        "val_acc": 0.1,
        "spike_rate_output": 0.0,
        "val_output_spikes": 0.0,
        "test_output_spikes": 0.0,
    }
    row = {**untrained, "epoch": 1, "val_acc": 0.3}
    assert classify(TrainingState(rows=[untrained, row], best_epoch=1)) == "silent"
    assert classify(TrainingState(rows=[untrained, row], best_epoch=1, diverged_epoch=2)) == "diverged"
    assert classify(TrainingState(rows=[untrained, row], no_gradient=True)) == "no_gradient"
    firing = {**row, "test_output_spikes": 3.0}
    assert classify(TrainingState(rows=[untrained, firing], best_epoch=1)) == "ok"
    assert classify(TrainingState(rows=[untrained, firing], best_epoch=0)) == "ok", "silent only if it never fired"
    assert classify(TrainingState(rows=[untrained])) == "ok"


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
        [sys.executable, "-m", "spikebench.run", "--config", str(REPO / "config/quick.yaml"), "--run", "nope"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert result.returncode != 0 and "run 'nope' is not in" in result.stderr


def test_one_update_per_batch_is_one_step_on_the_weighted_truncated_gradients():
    """rtrl_one_update, the control for update count: its one step per batch takes the one-step truncated
    gradients of every window, weighted by their share of steps, as computed window by window here."""
    torch.manual_seed(0)
    model = ConvSNN("leaky", "atan")
    images, labels = torch.rand(4, 1, 28, 28), torch.tensor([1, 2, 3, 4])
    loss_fn = SF.ce_rate_loss()
    windows = update_windows("rtrl_one_update", 4, 5)
    assert windows == [1, 1, 1, 1] and updates_per_batch("rtrl_one_update", windows) == 1
    assert updates_per_batch("rtrl", windows) == 4
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    train_batch(model, optimizer, loss_fn, images, labels, windows, update_per_window=False)
    accumulated = {name: parameter.grad.clone() for name, parameter in model.named_parameters()}
    expected = {name: torch.zeros_like(parameter) for name, parameter in model.named_parameters()}
    state = None
    for window in windows:
        model.zero_grad()
        result = model(images, window, state)
        loss_fn(result.spikes, labels).backward()
        for name, parameter in model.named_parameters():
            expected[name] += parameter.grad * window / sum(windows)
        state = detach_state(result.state)
    for name in expected:
        torch.testing.assert_close(accumulated[name], expected[name])
    adamax = torch.optim.Adamax(model.parameters())
    train_batch(model, adamax, loss_fn, images, labels, windows, update_per_window=False)
    assert all(state["step"] == 1 for state in adamax.state.values())


def test_evaluation_leaves_the_training_draws_of_a_stochastic_neuron_untouched(
    data_file, finished, tmp_path, monkeypatch
):
    """ABSS samples its spikes: evaluating (the epoch-0 row, or any extra evaluation) must not move the generators
    training draws from, so the training trajectory is the same with or without it."""
    config = config_for("abss", "atan", training={"max_epochs": 2})
    evaluate = Trainer.evaluate

    def evaluate_twice(self, name):
        evaluate(self, name)
        return evaluate(self, name)

    monkeypatch.setattr(Trainer, "evaluate", evaluate_twice)
    train(config, data_file, tmp_path)
    monkeypatch.undo()
    once, twice = without_timing(finished(config) / "epochs.csv"), without_timing(tmp_path / "epochs.csv")
    pd.testing.assert_frame_equal(once, twice)
    assert once["train_loss"].iloc[1:].notna().all()


def test_the_single_run_command_will_not_overwrite_a_finished_run_unasked(finished, data_file, tmp_path, capsys):
    config = config_for()
    directory = finished(config)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    (run_id,) = expand_runs(config)
    arguments = ["--config", str(config_path), "--run", run_id, "--data", str(data_file), "--out", str(directory)]
    before = (directory / "summary.json").read_text()
    with pytest.raises(SystemExit) as refused:
        cli.main(arguments)
    assert refused.value.code == 2 and "holds a finished run (summary.json); pass --force" in capsys.readouterr().err
    assert (directory / "summary.json").read_text() == before, "nothing was touched"
    fresh = tmp_path / "fresh"
    cli.main([*arguments[:-1], str(fresh)])
    assert (fresh / "summary.json").is_file()


def test_bf16_is_refused_on_a_cpu_without_bfloat16_arithmetic():
    check_precision("fp32", torch.device("cpu"), cpu_flags=set())
    check_precision("bf16", torch.device("cpu"), cpu_flags={"avx512f", "avx512_bf16"})
    with pytest.raises(RuntimeError, match="has none of avx512_bf16, amx_bf16.*set precision: fp32"):
        check_precision("bf16", torch.device("cpu"), cpu_flags={"avx2"})


def test_fp32_leaves_the_settings_and_their_fingerprint_as_before_precision_existed():
    config = config_for()
    fp32 = RunSettings.from_config(config).as_dict()
    assert "precision" not in fp32
    assert RunSettings.from_config({**config, "precision": "bf16"}).as_dict()["precision"] == "bf16"
    assert RunSettings.from_config(fp32).precision == "fp32"
