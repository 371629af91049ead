"""The training loop of one run: epochs of batches, evaluation, early stopping on validation accuracy.

Each epoch ends with a checkpoint (``spikebench.run.checkpoint``), so a killed job resumes where it stopped;
the finished run's outputs are those of ``spikebench.run.contract``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import torch
from tqdm import tqdm

from spikebench.model.network import ConvSNN, ForwardResult, detach_state
from spikebench.model.topology import LAYER_NAMES
from spikebench.run.checkpoint import TrainingState, resume, save_checkpoint, weights_of
from spikebench.run.contract import RunSummary, TrainingPaths
from spikebench.run.health import HealthMonitor, UpdateOverflow
from spikebench.run.outcome import build_summary
from spikebench.run.outputs import write_training_outputs
from spikebench.run.setup import RunSetup

log = logging.getLogger(__name__)


class SpikeTally:
    """Per spiking layer, the spikes fired and the neuron-steps run, summed over forward passes: the one way
    training and evaluation count spikes. The counts are whole numbers, exact in float64 in any order."""

    def __init__(self):
        self.spikes = torch.zeros(len(LAYER_NAMES), dtype=torch.float64)
        self.neuron_steps = torch.zeros(len(LAYER_NAMES), dtype=torch.float64)

    def add_pass(self, result: ForwardResult, steps: int) -> None:
        """Count one forward pass of ``steps`` steps."""
        self.spikes += torch.tensor([float(count) for count in result.layer_spikes], dtype=torch.float64)
        self.neuron_steps += torch.tensor([count * steps for count in result.layer_neurons], dtype=torch.float64)

    def add(self, other: SpikeTally) -> None:
        self.spikes += other.spikes
        self.neuron_steps += other.neuron_steps

    @property
    def output_spikes(self) -> float:
        return float(self.spikes[-1])

    def rates(self) -> dict[str, float]:
        rates = (self.spikes / self.neuron_steps).tolist()
        return {f"spike_rate_{layer}": rate for layer, rate in zip(LAYER_NAMES, rates, strict=True)}


class BatchResult(NamedTuple):
    """What one training batch gives its epoch: the loss (the windows' losses weighted by their length),
    output spikes ``[T, B, 10]`` of all windows, the spikes of every layer, and the final state tensors
    (membranes and currents) of every layer."""

    loss: float
    output_spikes: torch.Tensor
    spikes: SpikeTally
    final_state: list[torch.Tensor]


def train_batch(
    model: ConvSNN,
    optimizer,
    loss_fn,
    images,
    labels,
    windows: list[int],
    update_per_window: bool = True,
    before_step: Callable[[], None] | None = None,
) -> BatchResult:
    """Train on one batch: a forward and backward pass per window of time steps (``update_windows``), each
    window starting from the previous one's detached state, and an optimizer step after every window or, if
    not ``update_per_window``, one step on the gradients of all windows, each weighted by its share of steps.
    ``before_step`` is called just before every optimizer step."""
    steps = sum(windows)
    state, output_spikes, batch_loss, tally = None, [], 0.0, SpikeTally()
    if not update_per_window:
        optimizer.zero_grad(set_to_none=True)
    for window in windows:
        result = model(images, window, state)
        loss = loss_fn(result.spikes, labels)
        if update_per_window:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if before_step is not None:
                before_step()
            optimizer.step()
        else:
            (loss * (window / steps)).backward()
        state = detach_state(result.state)
        batch_loss += loss.item() * window / steps
        output_spikes.append(result.spikes.detach())
        tally.add_pass(result, window)
    if not update_per_window:
        if before_step is not None:
            before_step()
        optimizer.step()
    final_state = [tensor for layer in state for tensor in layer]
    return BatchResult(batch_loss, torch.cat(output_spikes), tally, final_state)


class Divergence(NamedTuple):
    """Where a training epoch stopped because something became non-finite (``health.DIVERGENCE_SOURCES``)."""

    batch: int
    source: str


EVALUATED_SPLITS = ("validation", "test")
EVALUATION_SEED = 1_000_000
"""Evaluation generators are seeded from here on, apart from training's (``ConvSNN.seed_generators``)."""


@torch.no_grad()
def evaluate_split(setup: RunSetup, name: str) -> dict:
    """Loss, accuracy (spike-count argmax; ties and silence go to the lowest class), output spikes, and
    the spike rate of every spiking layer, on split ``name``. Stochastic neurons draw from the split's own
    generators, the same noise at every evaluation, and leave training's draws untouched."""
    split, batch_size = setup.splits[name], setup.settings.training.eval_batch_size
    total_loss, correct, tally = 0.0, 0, SpikeTally()
    with setup.model.separate_draws(EVALUATION_SEED + 10 * setup.run.seed + EVALUATED_SPLITS.index(name), setup.device):
        setup.model.eval()
        for start in range(0, len(split), batch_size):
            images, labels = split.batch(torch.arange(start, min(start + batch_size, len(split)), device=setup.device))
            result = setup.model(images, setup.steps)
            total_loss += setup.loss_fn(result.spikes, labels).item() * len(labels)
            correct += int((result.spikes.sum(0).argmax(1) == labels).sum())
            tally.add_pass(result, setup.steps)
    return {
        "loss": total_loss / len(split),
        "acc": correct / len(split),
        "output_spikes": tally.output_spikes,
        "rates": tally.rates(),
    }


def epoch_row(
    setup: RunSetup, epoch: int, train: dict, train_seconds: float, epoch_start: float, validation: dict, test: dict
) -> dict:
    """One row of ``epochs.csv`` (``contract.EPOCH_COLUMNS``)."""
    return {
        **setup.run.as_dict(),
        "epoch": epoch,
        **train,
        "val_loss": validation["loss"],
        "val_acc": validation["acc"],
        "test_acc": test["acc"],
        "val_output_spikes": validation["output_spikes"],
        "test_output_spikes": test["output_spikes"],
        "epoch_seconds": time.perf_counter() - epoch_start,
        "train_samples_per_second": len(setup.splits["train"]) / train_seconds,
    }


class Trainer:
    def __init__(self, setup: RunSetup, paths: TrainingPaths):
        self.setup, self.paths = setup, paths
        self.run_id = setup.run.run_id
        self.health = HealthMonitor(setup.model, setup.optimizer)

    def _shuffled(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.setup.run.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.setup.splits["train"]), generator=generator).to(self.setup.device)

    def train_epoch(self, epoch: int) -> dict | Divergence:
        """One pass over the training split; returns its metrics, or where it diverged."""
        setup = self.setup
        setup.model.train()
        split, batch_size = setup.splits["train"], setup.settings.training.batch_size
        order = self._shuffled(epoch)
        total_loss, correct, tally = 0.0, 0, SpikeTally()
        # disable=None: a bar on an interactive terminal only, never in a job's log.
        with tqdm(total=math.ceil(len(split) / batch_size), desc=f"epoch {epoch}", unit="batch", disable=None) as bar:
            for number, start in enumerate(range(0, len(split), batch_size)):
                images, labels = split.batch(order[start : start + batch_size])
                batch, problem = self._train_batch(images, labels)
                if problem is not None:
                    log.warning(
                        "%s: diverged in epoch %d, batch %d: the %s became NaN or infinite; stopping",
                        *(self.run_id, epoch, number, problem),
                    )
                    return Divergence(number, problem)
                total_loss += batch.loss * len(labels)
                correct += int((batch.output_spikes.sum(0).argmax(1) == labels).sum())
                tally.add(batch.spikes)
                bar.update()
        return {"train_loss": total_loss / len(split), "train_acc": correct / len(split), **tally.rates()}

    def _train_batch(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[BatchResult | None, str | None]:
        """The batch trained, and what became non-finite in it (``health.DIVERGENCE_SOURCES``) or None."""
        setup = self.setup
        try:
            batch = train_batch(
                *(setup.model, setup.optimizer, setup.loss_fn, images, labels),
                *(setup.windows, setup.update_per_window, self.health.before_step),
            )
        except UpdateOverflow:
            return None, "optimizer update"
        return batch, self.health.batch_problem(batch.loss, batch.final_state)

    def evaluate(self, name: str) -> dict:
        return evaluate_split(self.setup, name)

    def epoch_row(
        self, epoch: int, train: dict, train_seconds: float, epoch_start: float, validation: dict | None = None
    ) -> dict:
        """The epoch's ``epochs.csv`` row: training metrics, then validation and test."""
        validation = validation or self.evaluate("validation")
        return epoch_row(self.setup, epoch, train, train_seconds, epoch_start, validation, self.evaluate("test"))

    def start(self, state: TrainingState) -> None:
        """Record epoch 0 in a fresh run: the untrained network before its first update, with no training
        metrics and the validation split's spike rates. Its weights are the best so far."""
        start = time.perf_counter()
        validation = self.evaluate("validation")
        row = self.epoch_row(
            0, {"train_loss": math.nan, "train_acc": math.nan, **validation["rates"]}, math.nan, start, validation
        )
        state.rows.append(row)
        state.best_val_acc, state.best_epoch = row["val_acc"], 0
        log_epoch(self.run_id, row)

    def fit(self) -> RunSummary:
        """Train from the checkpoint (or from scratch) until early stopping, divergence or the last epoch."""
        session_start = time.perf_counter()
        state = resume(self.paths.checkpoint, self.setup)
        earlier_seconds = state.seconds
        if not state.rows:
            self.start(state)
        for epoch in range(state.epoch + 1, self.setup.settings.training.max_epochs + 1):
            epoch_start = time.perf_counter()
            train = self.train_epoch(epoch)
            if not state.initial_gradient_norms:
                state.initial_gradient_norms = self.health.initial_gradient_norms
            if isinstance(train, Divergence):
                state.diverged_epoch, state.diverged_batch, state.divergence = epoch, train.batch, train.source
                break
            self.record_epoch(state, self.epoch_row(epoch, train, time.perf_counter() - epoch_start, epoch_start))
            state.seconds = earlier_seconds + time.perf_counter() - session_start
            save_checkpoint(self.paths.checkpoint, self.setup, state)
            if state.no_gradient or state.stopped_early:
                break
        summary = build_summary(self.setup, state, earlier_seconds + time.perf_counter() - session_start)
        write_training_outputs(self.paths, state.rows, state.best_weights, summary)
        log.info(
            "%s: %s after %d epochs; best epoch %s, val acc %s, test acc %s",
            *(self.run_id, summary["status"], summary["epochs_run"], summary["best_epoch"]),
            *(summary["best_val_acc"], summary["test_acc_at_best"]),
        )
        return summary

    def record_epoch(self, state: TrainingState, row: dict) -> None:
        """Add a finished epoch's row to ``state``: the best weights so far, and whether to stop (no gradient
        reached the weights in epoch 1, or ``patience`` epochs without a better validation accuracy)."""
        epoch, patience = row["epoch"], self.setup.settings.training.patience
        state.rows.append(row)
        state.epoch = epoch
        if row["val_acc"] > state.best_val_acc:
            state.best_val_acc, state.best_epoch = row["val_acc"], epoch
            state.best_weights = weights_of(self.setup.model)
        log_epoch(self.run_id, row)
        state.no_gradient = epoch == 1 and not self.health.gradient_seen
        state.stopped_early = epoch - state.best_epoch >= patience or state.no_gradient
        if state.no_gradient:
            log.warning(
                "%s: every gradient was exactly zero through epoch 1, so the weights cannot change and every"
                " later epoch would repeat it; stopping now with the result patience would give",
                self.run_id,
            )
        elif state.stopped_early:
            log.info("%s: no better validation accuracy for %d epochs, stopping", self.run_id, patience)


def log_epoch(run_id: str, row: dict) -> None:
    if row["epoch"] == 0:
        log.info(
            "%s epoch 0 (untrained): val loss %.4f acc %.4f | test acc %.4f | spike rates %s | %.1f s",
            run_id,
            row["val_loss"],
            row["val_acc"],
            row["test_acc"],
            ", ".join(f"{layer} {row[f'spike_rate_{layer}']:.4f}" for layer in LAYER_NAMES),
            row["epoch_seconds"],
        )
        return
    log.info(
        "%s epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | test acc %.4f | %.1f s, %.0f samples/s",
        run_id,
        row["epoch"],
        row["train_loss"],
        row["train_acc"],
        row["val_loss"],
        row["val_acc"],
        row["test_acc"],
        row["epoch_seconds"],
        row["train_samples_per_second"],
    )
