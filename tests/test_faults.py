"""Hostile and corrupt files, killed jobs: nothing runs code it should not, corrupt state never blocks a run,
nothing is left behind, and every refusal names its file and its fix."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import config_for, synthetic_data_file, train, train_until_first_checkpoint, write_idx
from spikebench.data.datasets import DATASETS, STAGING_PREFIX, DataError, fetch, load_prepared
from spikebench.run.contract import TIMING_COLUMNS, RunOutputError, settings_fingerprint
from spikebench.run.workload import run_workload
from spikebench.study.config import ConfigError, expand_runs, validate_config
from spikebench.study.settings import RunSettings
from spikebench.utils.atomic import TEMPORARY_PREFIX, atomic_write_text
from spikebench.utils.logs import attempts_log, logged


class PlantedCode:
    """Unpickling this runs a shell command that leaves a marker file: what a crafted checkpoint could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return synthetic_data_file(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def uninterrupted(data_file, tmp_path_factory):
    directory = tmp_path_factory.mktemp("uninterrupted")
    train(CONFIG, data_file, directory)
    return directory


CONFIG = config_for(training={"max_epochs": 2})


def without_timing(path):
    return pd.read_csv(path).drop(columns=TIMING_COLUMNS)


@pytest.mark.parametrize("kind", ["planted code", "truncated", "garbage", "empty"])
def test_an_unreadable_checkpoint_is_moved_aside_and_the_run_completes(data_file, uninterrupted, tmp_path, kind):
    marker = tmp_path / "code-ran"
    out = tmp_path / "run"
    out.mkdir()
    checkpoint = out / "checkpoint.pt"
    if kind == "planted code":
        torch.save({"settings_hash": PlantedCode(marker)}, checkpoint)
    elif kind == "truncated":
        torch.save({"model": torch.zeros(1000)}, checkpoint)
        checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    elif kind == "garbage":
        checkpoint.write_bytes(os.urandom(2000))
    else:
        checkpoint.write_bytes(b"")
    original = checkpoint.read_bytes()
    summary = train(CONFIG, data_file, out)
    assert not marker.exists(), "the planted checkpoint ran code"
    (kept,) = summary["discarded_checkpoints"]
    assert kept.startswith(str(checkpoint) + ".unreadable-") and open(kept, "rb").read() == original
    assert not checkpoint.exists() and summary["status"] == "ok"
    pd.testing.assert_frame_equal(without_timing(out / "epochs.csv"), without_timing(uninterrupted / "epochs.csv"))


def test_a_planted_model_file_runs_no_code_and_names_itself(data_file, tmp_path):
    marker = tmp_path / "code-ran"
    model = tmp_path / "model.pt"
    torch.save({"conv1.weight": PlantedCode(marker)}, model)
    (run,) = expand_runs(CONFIG).values()
    with pytest.raises(RunOutputError, match=f"{model}: not a readable state dict of tensors"):
        run_workload(run.as_dict(), RunSettings.from_config(CONFIG).as_dict(), model, data_file, tmp_path / "w.json", 1)
    assert not marker.exists(), "the planted model file ran code"


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"run_id": "mnist-leaky-atan-k2-bptt-s9"}, "the weights of run 'mnist-leaky-atan-k2-bptt-s9', not of"),
        ({"settings_hash": "0" * 64}, "weights made with other settings than this config's"),
        (None, "holds \\['conv1.weight'\\], not run_id, settings_hash, state_dict"),
    ],
)
def test_the_workload_refuses_weights_another_run_or_setting_made(data_file, tmp_path, identity, message):
    (run,) = expand_runs(CONFIG).values()
    settings = RunSettings.from_config(CONFIG).as_dict()
    weights = {"conv1.weight": torch.zeros(1)}
    saved = {
        "run_id": run.run_id,
        "settings_hash": settings_fingerprint(run.as_dict(), settings),
        "state_dict": weights,
    }
    model = tmp_path / "model.pt"
    torch.save(weights if identity is None else {**saved, **identity}, model)
    with pytest.raises(RunOutputError, match=f"{model}: {message}"):
        run_workload(run.as_dict(), settings, model, data_file, tmp_path / "w.json", 1)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "pickled object"])
def test_a_corrupt_data_file_names_itself_and_how_to_rebuild_it(data_file, tmp_path, kind):
    path = tmp_path / "mnist.npz"
    if kind == "truncated":
        path.write_bytes(data_file.read_bytes()[:5000])
    elif kind == "garbage":
        path.write_bytes(os.urandom(5000))
    else:
        np.save(path.with_suffix(".npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
        path.with_suffix(".npy").rename(path)
    with pytest.raises(DataError) as caught:
        load_prepared(path)
    message = str(caught.value)
    assert str(path) in message and f"snakemake --cores 1 --force {path}" in message
    assert "allow_pickle" not in message


def test_a_missing_data_file_names_itself(tmp_path):
    with pytest.raises(DataError, match="no such compact data file"):
        load_prepared(tmp_path / "absent.npz")


def invalid(config):
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    return str(caught.value)


def test_impossible_settings_stop_before_any_job():
    config = config_for(backprop="tbptt")
    config["training"]["tbptt_window"] = config["model"]["steps"]
    config["data"]["validation_size"] = 60_000
    message = invalid(config)
    assert "config key 'training.tbptt_window'" in message and "BPTT under another name" in message
    assert "config key 'data.validation_size'" in message and "set it below 60000" in message


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("training", "adam_eps", 2.0), ("model", "steps", 100_000)],
)
def test_absurd_values_are_refused_by_the_schema(section, key, value):
    config = config_for()
    config[section][key] = value
    assert f"config key '{section}.{key}'" in invalid(config)


def test_a_data_file_from_other_settings_is_refused_with_the_fix(data_file):
    with pytest.raises(DataError) as caught:
        load_prepared(data_file, expected={"dataset": "mnist", "validation_size": 5000, "split_seed": 0})
    message = str(caught.value)
    assert str(data_file) in message and "validation_size 100" in message and "validation_size 5000" in message
    assert f"snakemake --cores 1 --force {data_file}" in message


def test_a_data_file_whose_content_changed_is_refused(data_file, tmp_path):
    with np.load(data_file, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["train_labels"] = (arrays["train_labels"] + 1) % 10
    tampered = tmp_path / "mnist.npz"
    np.savez(tampered, **arrays)
    with pytest.raises(DataError, match=f"{tampered}: its content checksum differs from the one recorded"):
        load_prepared(tampered)


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "mnist.npz"
    leftover = tmp_path / f"{TEMPORARY_PREFIX}mnist.npz.k1ll3d"
    leftover.write_bytes(b"half a data file")
    other = tmp_path / f"{TEMPORARY_PREFIX}other.npz.k1ll3d"
    other.write_bytes(b"another file's")
    atomic_write_text(target, "complete")
    assert target.read_text() == "complete" and not leftover.exists() and other.exists()


def test_a_kill_during_the_checkpoint_write_resumes_from_the_last_good_one(
    data_file, uninterrupted, tmp_path, monkeypatch
):
    train_until_first_checkpoint(CONFIG, data_file, tmp_path, monkeypatch)
    half_written = tmp_path / f"{TEMPORARY_PREFIX}checkpoint.pt.k1ll3d"
    half_written.write_bytes((tmp_path / "checkpoint.pt").read_bytes()[:1000])
    summary = train(CONFIG, data_file, tmp_path)
    assert summary["discarded_checkpoints"] == [] and not half_written.exists()
    pd.testing.assert_frame_equal(without_timing(tmp_path / "epochs.csv"), without_timing(uninterrupted / "epochs.csv"))


def test_a_retried_job_keeps_the_log_of_the_failed_attempt(tmp_path):
    log_path = tmp_path / "train.log"
    with pytest.raises(SystemExit), logged(log_path) as log:
        log.info("first attempt")
        raise RuntimeError("out of memory")
    log_path.unlink()  # as Snakemake does before each attempt
    with logged(log_path) as log:
        log.info("second attempt")
    assert "second attempt" in log_path.read_text() and "out of memory" not in log_path.read_text()
    text = attempts_log(log_path).read_text()
    assert attempts_log(log_path) == tmp_path / "train.attempts.log"
    assert text.count("attempt started") == 2 and text.index("out of memory") < text.index("second attempt")


def test_a_failure_reaches_the_terminal_once_and_its_traceback_only_the_log(tmp_path, capsys):
    log_path = tmp_path / "fetch.log"
    with pytest.raises(SystemExit) as exited, logged(log_path):
        raise ValueError("mnist: no source had the files.\nTo fix it, pass a directory")
    assert exited.value.code == 1
    terminal = capsys.readouterr().err
    assert terminal.count("no source had the files") == 1 and "To fix it, pass a directory" in terminal
    assert "Traceback" not in terminal and f"(traceback in {log_path})" in terminal
    assert "Traceback (most recent call last)" in log_path.read_text()


def test_fetch_refuses_labels_out_of_range_naming_the_source(tmp_path, shared_mnist):
    source = tmp_path / "source"
    shutil.copytree(shared_mnist, source)
    spec = DATASETS["mnist"]
    labels = spec.file("test", "labels")
    write_idx(source / labels.name, np.full(labels.shape, 10))
    with pytest.raises(DataError) as caught:
        fetch("mnist", [str(source)], tmp_path / "raw", tmp_path / "provenance.json", False)
    assert f"{source / labels.name}: label 10 out of range, expected 0..9" in str(caught.value)
    assert not (tmp_path / "raw" / labels.name).exists()


def test_a_killed_fetch_leaves_no_staging_behind(tmp_path, shared_mnist):
    source = tmp_path / "source"
    shutil.copytree(shared_mnist, source)
    raw = tmp_path / "raw"
    (raw / f"{STAGING_PREFIX}k1ll3d").mkdir(parents=True)
    (raw / f"{STAGING_PREFIX}k1ll3d" / "train-images-idx3-ubyte.gz").write_bytes(b"half")
    fetch("mnist", [str(source)], raw, tmp_path / "provenance.json", False)
    assert sorted(path.name for path in raw.iterdir()) == sorted(DATASETS["mnist"].file_names)
