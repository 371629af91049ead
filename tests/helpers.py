"""Helpers shared by several test files: reference loops, a Snakemake runner, synthetic data and fake runs."""

from __future__ import annotations

import functools
import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO
from spikebench.data.datasets import DATASETS, prepare
from spikebench.model.registry import NO_SURROGATE
from spikebench.neurons.surrogates import surrogate_scale
from spikebench.run import checkpoint, trainer
from spikebench.run.cli import train_run
from spikebench.run.contract import EPOCH_COLUMNS, RunSummary, TrainingPaths, settings_fingerprint
from spikebench.study.config import Run, expand_runs, validate_config
from spikebench.study.settings import RunSettings

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def snakemake(*args, workdir=REPO, check=True):
    result = subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args], capture_output=True, text=True, cwd=REPO)
    if check and result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def loop_lif(inputs, params):
    """The LIF definition neuron by neuron and step by step in plain Python floats: the known truth."""
    steps, batch, count = inputs.shape
    spikes = torch.zeros_like(inputs)
    for b in range(batch):
        for n in range(count):
            v = params.reset
            for t in range(steps):
                v += (inputs[t, b, n].item() - v) / params.tau * params.dt
                if v >= params.threshold:
                    spikes[t, b, n] = 1.0
                    v = params.reset
    return spikes


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


SYNTHETIC_VALIDATION = 100


def synthetic_data_file(directory, train=400, test=100, validation=SYNTHETIC_VALIDATION):
    """A compact data file of ``synthetic_digits`` under MNIST's file names."""
    rng = np.random.default_rng(0)
    spec = DATASETS["mnist"]
    for split, count in (("train", train), ("test", test)):
        images, labels = synthetic_digits(count, rng)
        write_idx(directory / spec.file(split, "images").name, images)
        write_idx(directory / spec.file(split, "labels").name, labels)
    path = directory / "mnist.npz"
    prepare("mnist", directory, path, validation_size=validation, split_seed=0)
    return path


def grid_run(neuron, surrogate, backprop="bptt", seed=0, dataset="mnist", scale=None):
    """A ``Run`` at the surrogate's default scale unless ``scale`` is given (None where no scale applies)."""
    if surrogate != NO_SURROGATE and scale is None:
        scale = surrogate_scale(surrogate)
    return Run(dataset, neuron, surrogate, scale if surrogate != NO_SURROGATE else None, backprop, seed)


def config_for(neuron="leaky", surrogate="atan", backprop="bptt", **overrides):
    config = {
        "device": "cpu",
        "engine": "fast",
        "model": {"steps": 6},
        "data": {"validation_size": SYNTHETIC_VALIDATION},
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
    validate_config(config)
    return config


def train(config, data_file, out_dir, threads=1):
    (run,) = expand_runs(config).values()
    paths = TrainingPaths.in_directory(out_dir)
    return train_run(run.as_dict(), RunSettings.from_config(config).as_dict(), data_file, paths, threads)


def train_until_first_checkpoint(config, data_file, out_dir, monkeypatch):
    """Train ``config`` until its first checkpoint is saved, then stop as a preempted job would."""

    def crash_after_first_checkpoint(*args):
        checkpoint.save_checkpoint(*args)
        raise KeyboardInterrupt("simulated preemption")

    monkeypatch.setattr(trainer, "save_checkpoint", crash_after_first_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(config, data_file, out_dir)
    monkeypatch.undo()


@functools.cache
def _example_settings_json() -> str:
    return json.dumps(RunSettings.from_config(config_for()).as_dict())


def example_settings() -> dict:
    """The settings the example runs were made with (``config_for``'s), as the merge expects them."""
    return json.loads(_example_settings_json())


def example_summary(run: Run, **fields) -> RunSummary:
    """A complete ``summary.json`` record of ``run``, as a finished run of one epoch writes it."""
    summary = RunSummary(
        **run.as_dict(),
        settings_hash=settings_fingerprint(run.as_dict(), example_settings()),
        status="ok",
        best_epoch=1,
        best_val_acc=0.5,
        test_acc_at_best=0.5,
        test_output_spikes_at_best=100.0,
        epochs_run=1,
        optimizer_updates_per_epoch=8,
        stopped_early=False,
        diverged_epoch=None,
        diverged_batch=None,
        divergence=None,
        initial_gradient_norms={"conv1.weight": 0.5},
        wall_seconds=4.0,
        train_samples=400,
        validation_samples=100,
        test_samples=100,
        validation_majority_rate=0.1,
        config=example_settings(),
        data={"dataset": run.dataset},
        versions={"spikebench": "test"},
        threads=1,
        keeps_freed_memory=True,
        device="cpu",
        device_name="x86_64",
        discarded_checkpoints=[],
    )
    summary.update(fields)
    return summary


def write_run(directory, run, accuracies, status="ok", output_spikes=100.0, conv2_rate=0.1):
    """The outputs of a finished run whose validation and test accuracy follow ``accuracies`` per epoch."""
    directory.mkdir(parents=True)
    untrained = {"train_loss": np.nan, "train_acc": np.nan, "val_loss": 2.3, "val_acc": 0.1, "test_acc": 0.1}
    rows = [
        {
            **run.as_dict(),
            "epoch": 0,
            **untrained,
            "spike_rate_conv1": 0.1,
            "spike_rate_conv2": conv2_rate,
            "spike_rate_output": 0.0,
            "val_output_spikes": 0.0,
            "test_output_spikes": 0.0,
            "epoch_seconds": 0.5,
            "train_samples_per_second": np.nan,
        }
    ]
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
    # As the trainer picks it: the first epoch with the highest validation accuracy, the untrained epoch 0 included.
    validation = [untrained["val_acc"], *accuracies]
    best = int(np.argmax(validation)) if accuracies else None
    summary = example_summary(
        run,
        status=status,
        best_epoch=best,
        best_val_acc=validation[best] if accuracies else None,
        test_acc_at_best=[untrained["test_acc"], *accuracies][best] if accuracies else None,
        test_output_spikes_at_best=output_spikes,
        epochs_run=len(accuracies),
        diverged_epoch=2 if status == "diverged" else None,
        diverged_batch=3 if status == "diverged" else None,
        divergence="weights" if status == "diverged" else None,
        initial_gradient_norms={"conv1.weight": 0.0 if status == "no_gradient" else 0.5, "fc.weight": 0.0},
    )
    (directory / "summary.json").write_text(json.dumps(summary))
