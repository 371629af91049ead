"""What a config will cost before anything trains: runs, jobs, epochs and wall time on this machine.

    spikebench-estimate --config config/config.yaml --cores 4

It times a few training batches of every neuron model with BPTT, and of every other backprop method on one
neuron model (the others' cost is scaled by that method's ratio to BPTT), plus one evaluation batch each, on
the config's device, batch size, steps and threads, on random images (the cost of a batch does not depend on
what the images show). From those it adds up each run's epochs, and schedules the jobs on the given cores
(longest first) for the wall time. Epochs are given three ways: the fewest early stopping allows (a run that
never beats its untrained network stops after ``patience`` epochs), the expected number (the converged runs'
best epoch plus ``patience``; README: *Converged numbers*), and the ``max_epochs`` bound.
"""

from __future__ import annotations

import argparse
import heapq
import math
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import snntorch.functional as SF
import torch
import yaml

from spikebench.data.datasets import DATASETS
from spikebench.model.backprop import BACKPROP_METHODS, update_windows
from spikebench.paths import ResultsLayout
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.run.contract import RunSettings
from spikebench.run.setup import build_model, resolve_device
from spikebench.run.trainer import train_batch
from spikebench.study.config import (
    ConfigError,
    Run,
    expand_runs,
    load_config,
    load_schema,
    simulation_figure_names,
)
from spikebench.study.power import DEFAULT_SEED_SD, design_lines, measured_seed_sd

CONVERGED_BEST_EPOCH = 18
"""Best validation epoch of the converged leaky runs on full MNIST, the mean of fast_sigmoid's 13 and atan's 22
rounded (README: *Converged numbers*)."""
TIMED_BATCHES = 2


@dataclass(frozen=True)
class SplitSizes:
    train: int
    validation: int
    test: int


def split_sizes(config: dict, dataset: str) -> SplitSizes:
    """Images per split as the run will see them: the data set's sizes, the validation hold-out, the limits."""
    data, spec = config["data"], DATASETS[dataset]
    train_total, test_total = spec.file("train", "labels").shape[0], spec.file("test", "labels").shape[0]

    def capped(count: int, limit: int | None) -> int:
        return count if limit is None else min(count, limit)

    return SplitSizes(
        capped(train_total - data["validation_size"], data["limit_train"]),
        capped(data["validation_size"], data["limit_validation"]),
        capped(test_total, data["limit_test"]),
    )


def time_batches(config: dict, run: Run, device: torch.device) -> tuple[float, float]:
    """Seconds per training batch and per evaluation batch of ``run``'s model, after one warm-up batch."""
    training, steps = config["training"], config["model"]["steps"]
    model = build_model(run, RunSettings.from_config(config), config["engine"]).to(device)
    model.seed_generators(0, device)
    optimizer = torch.optim.Adamax(model.parameters(), lr=training["learning_rate"])
    loss_fn = SF.ce_rate_loss()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand((training["batch_size"], 1, 28, 28), generator=generator).to(device)
    labels = torch.randint(0, 10, (training["batch_size"],), generator=generator).to(device)
    windows = update_windows(run.backprop, steps, training["tbptt_window"])
    per_window = BACKPROP_METHODS[run.backprop].update_per_window
    train_batch(model, optimizer, loss_fn, images, labels, windows, per_window)
    start = time.perf_counter()
    for _ in range(TIMED_BATCHES):
        train_batch(model, optimizer, loss_fn, images, labels, windows, per_window)
    train_seconds = (time.perf_counter() - start) / TIMED_BATCHES
    evaluation = torch.rand((training["eval_batch_size"], 1, 28, 28), generator=generator).to(device)
    with torch.no_grad():
        model.eval()
        start = time.perf_counter()
        model(evaluation, steps)
        eval_seconds = time.perf_counter() - start
    return train_seconds, eval_seconds


def start_seconds(module: str) -> float:
    """Wall seconds for a fresh Python to import ``module`` (paid by every job that runs it)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def plot_job_seconds() -> float:
    """Wall seconds of a plotting job: a fresh Python importing the plotting stack and saving one figure."""
    script = (
        "import tempfile, pathlib\nfrom spikebench.report.study_figures import _placeholder, save_figure\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    save_figure(_placeholder('x'), pathlib.Path(d) / 'a.png', pathlib.Path(d) / 'a.svg')"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True)
    return time.perf_counter() - start


def makespan(durations: Iterable[float], cores: int) -> float:
    """Wall time of independent jobs on ``cores`` one-core workers, longest job first."""
    workers = [0.0] * max(1, cores)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(workers, heapq.heappop(workers) + duration)
    return max(workers)


@dataclass(frozen=True)
class Estimate:
    runs: int
    jobs: int
    epochs: dict[str, int]
    """Epochs per run: ``fewest``, ``expected`` and ``most``."""
    epoch_seconds: dict[str, float]
    """Per run id: seconds of one training epoch with its evaluation."""
    fixed_seconds: dict[str, float]
    """Per run id: seconds that do not grow with epochs (its two jobs' starts, epoch 0, the workload job)."""
    data_seconds: float
    """Fetching and preparing the data sets, before any run starts."""
    figure_seconds: list[float]
    """The simulation figures, which run beside the training jobs."""
    analysis_seconds: tuple[float, list[float], float]
    """After the last run: the merge, the study figures (in parallel), the summary page."""
    timings: dict[tuple[str, str], tuple[float, float]]
    """Per (neuron, backprop) timed: seconds per training batch and per evaluation batch."""

    def run_seconds(self, epochs: str) -> list[float]:
        return [self.fixed_seconds[run] + self.epochs[epochs] * self.epoch_seconds[run] for run in self.epoch_seconds]

    def cpu_seconds(self, epochs: str) -> float:
        merge, plots, page = self.analysis_seconds
        return self.data_seconds + sum(self.run_seconds(epochs)) + sum(self.figure_seconds) + merge + sum(plots) + page

    def wall_seconds(self, epochs: str, cores: int) -> float:
        merge, plots, page = self.analysis_seconds
        grid = makespan([*self.run_seconds(epochs), *self.figure_seconds], cores)
        return self.data_seconds + grid + merge + makespan(plots, cores) + page


def expected_epochs(training: dict) -> dict[str, int]:
    most, patience = training["max_epochs"], training["patience"]
    return {"fewest": min(most, patience), "expected": min(most, CONVERGED_BEST_EPOCH + patience), "most": most}


def estimate(config: dict, device: torch.device, log=print) -> Estimate:
    """Time the config's models on ``device`` and add up its runs' epochs and jobs."""
    runs = list(expand_runs(config).values())
    torch.set_num_threads(config["threads"])
    timings: dict[tuple[str, str], tuple[float, float]] = {}
    methods: dict[str, set[str]] = {}
    for run in runs:
        methods.setdefault(run.neuron, set()).add(run.backprop)
    reference = max(methods, key=lambda neuron: len(methods[neuron]))
    wanted = {(run.neuron, "bptt") for run in runs} | {(reference, run.backprop) for run in runs}
    examples = {run.neuron: run for run in runs}
    for neuron, backprop in sorted(wanted):
        timings[(neuron, backprop)] = time_batches(config, replace(examples[neuron], backprop=backprop), device)
        log(f"  {neuron:9s} {backprop:16s} {timings[(neuron, backprop)][0]:.3f} s per training batch")
    training_start = start_seconds("spikebench.run.cli")
    plot = plot_job_seconds()
    epoch_seconds, fixed_seconds = {}, {}
    training = config["training"]
    for run in runs:
        sizes = split_sizes(config, run.dataset)
        bptt_train, evaluation = timings[(run.neuron, "bptt")]
        ratio = timings[(reference, run.backprop)][0] / timings[(reference, "bptt")][0]
        batches = math.ceil(sizes.train / training["batch_size"])
        eval_batches = sum(math.ceil(n / training["eval_batch_size"]) for n in (sizes.validation, sizes.test))
        test_batches = math.ceil(sizes.test / training["eval_batch_size"])
        epoch_seconds[run.run_id] = batches * bptt_train * ratio + eval_batches * evaluation
        fixed_seconds[run.run_id] = 2 * training_start + (eval_batches + test_batches) * evaluation
    datasets = {run.dataset for run in runs}
    simulations = len(simulation_figure_names(load_schema()))
    return Estimate(
        runs=len(runs),
        jobs=2 * len(runs) + 2 * len(datasets) + simulations + len(STUDY_FIGURES) + len(TABLES) + 3,
        epochs=expected_epochs(training),
        epoch_seconds=epoch_seconds,
        fixed_seconds=fixed_seconds,
        data_seconds=2 * len(datasets) * training_start,
        figure_seconds=[plot] * simulations,
        analysis_seconds=(plot, [plot] * len(STUDY_FIGURES), plot),
        timings=timings,
    )


def duration(seconds: float) -> str:
    """``3.2 days``, ``2 h 05 min``, ``4 min 10 s`` or ``45 s``."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.0f} s"


def describe(result: Estimate, cores: int, device: torch.device, config_path: str) -> str:
    """The estimate as a table of CPU and wall time for the fewest, expected and most epochs."""
    epochs = result.epochs
    lines = [
        f"{config_path}: {result.runs} runs, {result.jobs} jobs; timed on {device}, {torch.get_num_threads()}"
        " thread(s) per job",
        f"epochs per run: at least {epochs['fewest']} (patience), expected {epochs['expected']} (the converged"
        f" runs' best epoch {CONVERGED_BEST_EPOCH} + patience), at most {epochs['most']} (max_epochs)",
        "",
        f"{'':26s}{'fewest epochs':>16s}{'expected':>16s}{'max_epochs':>16s}",
        f"{'CPU time, all jobs':26s}" + "".join(f"{duration(result.cpu_seconds(key)):>16s}" for key in epochs),
    ]
    for count in sorted({cores, 16, 64, 256}):
        label = f"wall time, {count} cores" + (" (yours)" if count == cores else "")
        lines.append(f"{label:26s}" + "".join(f"{duration(result.wall_seconds(key, count)):>16s}" for key in epochs))
    lines += [
        "",
        "Cores run one-thread jobs side by side (threads: 1), here with --cores N or on a cluster (profiles/slurm);",
        "jobs that share a machine's memory bandwidth run somewhat slower than timed alone. A GPU changes the time",
        "per batch itself: run this command on the GPU machine with device: cuda, which times that device.",
    ]
    return "\n".join(lines)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def positive_points(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of accuracy points")
    return value


def seed_spread(config: dict, given: float | None) -> tuple[float, str]:
    """The seed-to-seed SD of the test accuracy (a fraction) and where it comes from: the command line, the
    config's own merged runs, or the documented default."""
    if given is not None:
        return given / 100, "given with --seed-sd"
    runs_csv = Path(ResultsLayout(config["results"]).table("runs"))
    measured = measured_seed_sd(runs_csv)
    if measured is not None:
        return measured[0], f"pooled over the learned runs in {runs_csv} ({measured[1]} degrees of freedom)"
    return DEFAULT_SEED_SD, "assumed: the upper end of converged MNIST CNNs' 0.1-0.2 points; set --seed-sd"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Estimate a config's runs, jobs and wall time before training.")
    parser.add_argument("--config", default="config/config.yaml", help="config file (default: %(default)s)")
    parser.add_argument("--cores", type=positive_int, default=2, help="cores Snakemake will use (default: %(default)s)")
    parser.add_argument(
        "--seed-sd",
        type=positive_points,
        help="seed-to-seed standard deviation of the test accuracy, in points (default: measured from the"
        " config's merged runs when there are any, else 0.2)",
    )
    parser.add_argument(
        "--detect", type=positive_points, help="a difference in accuracy points: print the seeds each study needs"
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except FileNotFoundError as error:
        parser.exit(2, f"spikebench-estimate: no config file at {error.filename}\n")
    except (yaml.YAMLError, ConfigError) as error:
        parser.exit(2, f"spikebench-estimate: {args.config}: {error}\n")
    device = resolve_device(config["device"])
    training = config["training"]
    seed_sd, source = seed_spread(config, args.seed_sd)
    print("\n".join(design_lines(config, seed_sd, source, args.detect)) + "\n")
    print(f"timing {args.config}'s models (batch {training['batch_size']}, {config['model']['steps']} steps) ...")
    print(describe(estimate(config, device), args.cores, device, args.config))


if __name__ == "__main__":
    main()
