"""Train one run of the grid: one (dataset, neuron, surrogate, backprop, seed) point, start to finish.

    python -m spikebench.train --config config/quick.yaml --run mnist-leaky-atan-bptt-s0

The run writes ``epochs.csv`` (one row per epoch), ``summary.json`` and ``model.pt`` (best validation
weights) to its directory. After every epoch it writes ``checkpoint.pt`` atomically; rerunning a killed job
resumes from the last completed epoch and ends with the same results as an uninterrupted run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import snntorch
import snntorch.functional as SF
import torch

import spikebench
from spikebench.allocator import keep_freed_memory
from spikebench.atomic import atomic_write, atomic_write_text
from spikebench.backprop import update_windows
from spikebench.cells import NeuronSettings
from spikebench.columns import EPOCH_COLUMNS, LAYER_NAMES
from spikebench.config import Run, expand_runs, validate_config
from spikebench.datasets import load_prepared
from spikebench.network import ConvSNN, detach_state
from spikebench.neuron_models import NO_SURROGATE

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class RunSettings:
    """Everything a run depends on, taken from the validated config."""

    model: dict
    training: dict
    data: dict
    device: str
    engine: str

    @classmethod
    def from_config(cls, config: dict) -> RunSettings:
        return cls(**{setting.name: config[setting.name] for setting in fields(cls)})

    def as_dict(self) -> dict:
        return {setting.name: getattr(self, setting.name) for setting in fields(self)}


class Split:
    """One split held in memory as uint8 on the training device; batches are scaled to [0, 1] on demand."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, limit: int | None, device: torch.device):
        count = len(labels) if limit is None else min(limit, len(labels))
        self.images = torch.from_numpy(np.ascontiguousarray(images[:count])).to(device)
        self.labels = torch.from_numpy(labels[:count].astype(np.int64)).to(device)

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].unsqueeze(1).float().div_(255.0), self.labels[index]


def build_model(run: Run, settings: RunSettings, engine: str) -> ConvSNN:
    """The run's network, initialised from torch's global generator."""
    return ConvSNN(
        run.neuron,
        run.surrogate if run.surrogate != NO_SURROGATE else None,
        NeuronSettings.from_config(settings.model),
        settings.model["surrogate_params"].get(run.surrogate),
        engine,
        settings.model["surrogate_numerics"],
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but torch sees no CUDA device; use device: auto or cpu")
    return torch.device(name)


class BatchResult(NamedTuple):
    """What one training batch gives its epoch: the loss (the windows' losses weighted by their length),
    output spikes ``[T, B, 10]`` of all windows, and per layer the spikes fired and the neuron-steps run."""

    loss: float
    output_spikes: torch.Tensor
    layer_spikes: torch.Tensor
    layer_elements: torch.Tensor


def train_batch(model: ConvSNN, optimizer, loss_fn, images, labels, windows: list[int]) -> BatchResult:
    """Train on one batch: a forward pass, backward pass and optimizer step per window of time steps
    (``update_windows``), each window starting from the previous one's detached state."""
    steps = sum(windows)
    state, output_spikes, batch_loss = None, [], 0.0
    # Spike and neuron counts are whole numbers, exact in float64 whatever the order they are added in.
    layer_spikes = torch.zeros(len(LAYER_NAMES), dtype=torch.float64)
    layer_elements = torch.zeros(len(LAYER_NAMES), dtype=torch.float64)
    for window in windows:
        result = model(images, window, state)
        loss = loss_fn(result.spikes, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state = detach_state(result.state)
        batch_loss += loss.item() * window / steps
        output_spikes.append(result.spikes.detach())
        layer_spikes += torch.tensor([float(s) for s in result.layer_spikes], dtype=torch.float64)
        layer_elements += torch.tensor([n * window for n in result.layer_neurons], dtype=torch.float64)
    return BatchResult(batch_loss, torch.cat(output_spikes), layer_spikes, layer_elements)


def settings_hash(run: Run, settings: RunSettings) -> str:
    text = json.dumps({"run": run.as_dict(), "settings": settings.as_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Trainer:
    def __init__(self, run: Run, settings: RunSettings, data_path: str | Path, out_dir: str | Path, threads: int):
        self.run, self.settings = run, settings
        self.out_dir = Path(out_dir)
        self.threads = threads
        torch.set_num_threads(threads)
        # cuBLAS runs deterministically only with a fixed workspace, read when CUDA first creates its handle.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        self.keeps_freed_memory = keep_freed_memory()
        self.device = resolve_device(settings.device)
        splits, self.data_metadata = load_prepared(data_path)
        limits = {"train": "limit_train", "validation": "limit_validation", "test": "limit_test"}
        self.splits = {
            name: Split(split.images, split.labels, settings.data[limits[name]], self.device)
            for name, split in splits.items()
        }
        torch.manual_seed(run.seed)
        self.model = build_model(run, settings, settings.engine).to(self.device)
        self.model.seed_generators(run.seed, self.device)
        training = settings.training
        self.optimizer = torch.optim.Adamax(
            self.model.parameters(),
            lr=training["learning_rate"],
            betas=tuple(training["adam_betas"]),
            eps=training["adam_eps"],
        )
        self.loss_fn = SF.ce_rate_loss()
        self.steps = settings.model["steps"]
        self.windows = update_windows(run.backprop, self.steps, training["tbptt_window"])

    def _shuffled(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.run.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.splits["train"]), generator=generator).to(self.device)

    def train_epoch(self, epoch: int) -> dict | None:
        """One pass over the training split; returns its metrics, or None if the loss became NaN or infinite."""
        self.model.train()
        split, batch_size = self.splits["train"], self.settings.training["batch_size"]
        order = self._shuffled(epoch)
        total_loss, correct = 0.0, 0
        layer_spikes = torch.zeros(len(LAYER_NAMES), dtype=torch.float64)
        layer_elements = torch.zeros(len(LAYER_NAMES), dtype=torch.float64)
        batches = math.ceil(len(split) / batch_size)
        progress = Progress(f"epoch {epoch}", batches)
        for number, start in enumerate(range(0, len(split), batch_size)):
            images, labels = split.batch(order[start : start + batch_size])
            batch = train_batch(self.model, self.optimizer, self.loss_fn, images, labels, self.windows)
            if not math.isfinite(batch.loss):
                log.warning("%s: loss %s in epoch %d, batch %d: stopping", self.run.run_id, batch.loss, epoch, number)
                return None
            total_loss += batch.loss * len(labels)
            correct += int((batch.output_spikes.sum(0).argmax(1) == labels).sum())
            layer_spikes += batch.layer_spikes
            layer_elements += batch.layer_elements
            progress.update(number + 1)
        progress.close()
        rates = (layer_spikes / layer_elements).tolist()
        return {
            "train_loss": total_loss / len(split),
            "train_acc": correct / len(split),
            **{f"spike_rate_{layer}": rate for layer, rate in zip(LAYER_NAMES, rates, strict=True)},
        }

    @torch.no_grad()
    def evaluate(self, name: str) -> dict:
        """Loss, accuracy (spike-count argmax; ties and silence go to the lowest class) and output spikes."""
        self.model.eval()
        split, batch_size = self.splits[name], self.settings.training["eval_batch_size"]
        total_loss, correct, output_spikes = 0.0, 0, 0.0
        for start in range(0, len(split), batch_size):
            images, labels = split.batch(torch.arange(start, min(start + batch_size, len(split)), device=self.device))
            result = self.model(images, self.steps)
            total_loss += self.loss_fn(result.spikes, labels).item() * len(labels)
            correct += int((result.spikes.sum(0).argmax(1) == labels).sum())
            output_spikes += float(result.layer_spikes[-1])
        return {"loss": total_loss / len(split), "acc": correct / len(split), "output_spikes": output_spikes}

    def fit(self) -> dict:
        session_start = time.perf_counter()
        training = self.settings.training
        progress = self._resume()
        earlier_seconds = progress["seconds"]
        for epoch in range(progress["epoch"] + 1, training["max_epochs"] + 1):
            epoch_start = time.perf_counter()
            train = self.train_epoch(epoch)
            if train is None:
                progress["diverged_epoch"] = epoch
                break
            train_seconds = time.perf_counter() - epoch_start
            validation, test = self.evaluate("validation"), self.evaluate("test")
            row = {
                **self.run.as_dict(),
                "epoch": epoch,
                **train,
                "val_loss": validation["loss"],
                "val_acc": validation["acc"],
                "test_acc": test["acc"],
                "val_output_spikes": validation["output_spikes"],
                "test_output_spikes": test["output_spikes"],
                "epoch_seconds": time.perf_counter() - epoch_start,
                "train_samples_per_second": len(self.splits["train"]) / train_seconds,
            }
            progress["rows"].append(row)
            progress["epoch"] = epoch
            if validation["acc"] > progress["best_val_acc"]:
                progress.update(best_val_acc=validation["acc"], best_epoch=epoch, best_weights=self._weights())
            log.info(
                "%s epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | test acc %.4f"
                " | %.1f s, %.0f samples/s",
                self.run.run_id,
                epoch,
                row["train_loss"],
                row["train_acc"],
                row["val_loss"],
                row["val_acc"],
                row["test_acc"],
                row["epoch_seconds"],
                row["train_samples_per_second"],
            )
            if epoch - progress["best_epoch"] >= training["patience"]:
                progress["stopped_early"] = True
            progress["seconds"] = earlier_seconds + time.perf_counter() - session_start
            self._checkpoint(progress)
            if progress["stopped_early"]:
                log.info(
                    "%s: no better validation accuracy for %d epochs, stopping", self.run.run_id, training["patience"]
                )
                break
        return self._finish(progress, earlier_seconds + time.perf_counter() - session_start)

    def _weights(self) -> dict:
        return {name: tensor.detach().clone().cpu() for name, tensor in self.model.state_dict().items()}

    def _resume(self) -> dict:
        fresh = {
            "epoch": 0,
            "rows": [],
            "best_val_acc": -1.0,
            "best_epoch": 0,
            "best_weights": self._weights(),
            "stopped_early": False,
            "diverged_epoch": None,
            "seconds": 0.0,
        }
        path = self.out_dir / CHECKPOINT
        if not path.is_file():
            return fresh
        checkpoint = torch.load(path, map_location=self.device, weights_only=False)
        if checkpoint["settings_hash"] != settings_hash(self.run, self.settings):
            log.warning("%s: ignoring %s, written with other settings", self.run.run_id, path)
            return fresh
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.model.set_generator_states(checkpoint["generators"])
        torch.set_rng_state(checkpoint["torch_rng"])
        log.info("%s: resuming after epoch %d from %s", self.run.run_id, checkpoint["progress"]["epoch"], path)
        return checkpoint["progress"]

    def _checkpoint(self, progress: dict) -> None:
        checkpoint = {
            "settings_hash": settings_hash(self.run, self.settings),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generators": self.model.generator_states(),
            "torch_rng": torch.get_rng_state(),
            "progress": progress,
        }
        atomic_torch_save(checkpoint, self.out_dir / CHECKPOINT)

    def _finish(self, progress: dict, wall_seconds: float) -> dict:
        rows = progress["rows"]
        best = next((row for row in rows if row["epoch"] == progress["best_epoch"]), None)
        if progress["diverged_epoch"] is not None:
            status = "diverged"
        elif best is not None and best["test_output_spikes"] == 0:
            status = "silent"
        else:
            status = "ok"
        summary = {
            **self.run.as_dict(),
            "status": status,
            "best_epoch": progress["best_epoch"] if best else None,
            "best_val_acc": best["val_acc"] if best else None,
            "test_acc_at_best": best["test_acc"] if best else None,
            "test_output_spikes_at_best": best["test_output_spikes"] if best else None,
            "epochs_run": len(rows),
            "stopped_early": progress["stopped_early"],
            "diverged_epoch": progress["diverged_epoch"],
            "wall_seconds": wall_seconds,
            "train_samples": len(self.splits["train"]),
            "validation_samples": len(self.splits["validation"]),
            "test_samples": len(self.splits["test"]),
            "config": self.settings.as_dict(),
            "data": self.data_metadata,
            "versions": {
                "spikebench": spikebench.__version__,
                "torch": torch.__version__,
                "snntorch": snntorch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
            "threads": self.threads,
            "keeps_freed_memory": self.keeps_freed_memory,
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device)
            if self.device.type == "cuda"
            else platform.processor() or platform.machine(),
        }
        atomic_torch_save(progress["best_weights"], self.out_dir / "model.pt")
        frame = pd.DataFrame(rows, columns=EPOCH_COLUMNS)
        atomic_write_text(self.out_dir / "epochs.csv", frame.to_csv(index=False, float_format="%.10g"))
        atomic_write_text(self.out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        (self.out_dir / CHECKPOINT).unlink(missing_ok=True)
        log.info(
            "%s: %s after %d epochs; best epoch %s, val acc %s, test acc %s",
            self.run.run_id,
            status,
            len(rows),
            summary["best_epoch"],
            summary["best_val_acc"],
            summary["test_acc_at_best"],
        )
        return summary


def atomic_torch_save(obj, path: Path) -> None:
    with atomic_write(path) as out:
        torch.save(obj, out)


class Progress:
    """A batch progress bar on an interactive terminal; silent in logs and under Snakemake."""

    def __init__(self, label: str, total: int):
        self.label, self.total = label, total
        self.enabled = sys.stderr.isatty()

    def update(self, done: int) -> None:
        if self.enabled:
            filled = int(30 * done / self.total)
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def train_run(run: dict, settings: dict, data_path: str | Path, out_dir: str | Path, threads: int) -> dict:
    """Entry point of the ``train`` rule: ``run`` holds the grid axes, ``settings`` the config sections."""
    run = Run.from_dict(run)
    return Trainer(run, RunSettings(**settings), data_path, out_dir, threads).fit()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train one run of the spikebench grid without Snakemake.")
    parser.add_argument("--config", default="config/config.yaml", help="config file (default: %(default)s)")
    parser.add_argument("--run", required=True, help="run id, e.g. mnist-leaky-fast_sigmoid-bptt-s0")
    parser.add_argument("--data", help="compact data file (default: results/data/<dataset>.npz)")
    parser.add_argument("--out", help="output directory (default: results/runs/<run id>)")
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's threads)")
    parser.add_argument(
        "--schema", default=str(Path(__file__).resolve().parents[2] / "workflow/schemas/config.schema.yaml")
    )
    args = parser.parse_args(argv)
    import yaml

    with open(args.config) as stream:
        config = yaml.safe_load(stream)
    validate_config(config, args.schema)
    runs = expand_runs(config)
    if args.run not in runs:
        parser.error(f"run {args.run!r} is not in {args.config}; its runs include {', '.join(list(runs)[:5])}, ...")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run = runs[args.run]
    train_run(
        run.as_dict(),
        RunSettings.from_config(config).as_dict(),
        args.data or f"results/data/{run.dataset}.npz",
        args.out or f"results/runs/{run.run_id}",
        args.threads or config["threads"],
    )


if __name__ == "__main__":
    main()
