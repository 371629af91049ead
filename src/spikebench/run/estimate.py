"""What a config will cost before anything trains: runs, jobs, epochs and wall time on this machine.

    spikebench-estimate --config config/config.yaml --cores 4

It times a few training batches of every neuron model with BPTT, and of every other backprop method on one
neuron model (the others' cost is scaled by that method's ratio to BPTT), plus one evaluation batch each, on
the config's device, batch size, steps and threads, on random images (the cost of a batch does not depend on
what the images show). From those it adds up each run's epochs, and schedules the jobs on the given cores
(longest first) for the wall time. The jobs are Snakemake's own plan of the config (a dry run of the
workflow's Snakefile): the jobs ``snakemake -n`` lists. Epochs are given three ways: the fewest early
stopping allows (a run that never beats its untrained network stops after ``patience`` epochs), the expected
number (the converged runs' best epoch plus ``patience``), and the ``max_epochs`` bound.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import snntorch.functional as SF
import torch
import yaml

from spikebench.model.backprop import BACKPROP_METHODS, update_windows
from spikebench.paths import ResultsLayout
from spikebench.run.setup import build_model, check_precision, make_optimizer, resolve_device
from spikebench.run.trainer import train_batch
from spikebench.study.config import ConfigError, Run, expand_runs, load_config
from spikebench.study.outcomes import Outcome
from spikebench.study.power import DEFAULT_SEED_SD, design_lines, measured_seed_sd
from spikebench.study.resources import EXPECTED_BEST_EPOCH, duration, makespan
from spikebench.study.settings import RunSettings, TrainingSettings, split_sizes

DEFAULT_BEST_EPOCH = EXPECTED_BEST_EPOCH
"""The expected best validation epoch when no converged results are at hand: the mean of the converged leaky
runs on full MNIST (fast_sigmoid 13, atan 22; docs: Methods, Network, training and fates, *Converged numbers*)."""
TIMED_BATCHES = 2
RUN_RULES = ("train", "workload")
"""A run's jobs: their cost is the run's, timed here."""
DATA_RULES = ("fetch_dataset", "prepare_dataset")
"""Jobs that finish before any run starts."""
BESIDE_RUNS_RULES = ("simulate", "engine_throughput")
"""Jobs that need no run and run beside the runs."""
SERIAL_RULES = ("merge_runs", "summary_page")
"""Jobs after the last run that run alone; the other rules' jobs (figures, table pages) run side by side
between them. Snakemake's ``all`` job does nothing."""


def planned_jobs(config_path: str | Path, snakefile: str | Path) -> dict[str, int]:
    """Jobs per rule in Snakemake's own plan of the config, as ``snakemake --dry-run --forceall`` counts them."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--configfile", str(config_path)]
    result = subprocess.run(
        [*command, "--dry-run", "--forceall", "--quiet", "rules"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or "Job stats:" not in result.stdout + result.stderr:
        raise ConfigError(f"snakemake could not plan it:\n{(result.stdout + result.stderr).strip()}")
    table = (result.stdout + result.stderr).split("Job stats:", 1)[1].split("\ntotal", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)}


def measured_best_epoch(converged_config: str | Path) -> tuple[int, str] | None:
    """The mean best validation epoch of the learned runs that stopped early in the merged runs of the
    converged config, and where it comes from; None if that config or its ``runs.csv`` is not at hand."""
    try:
        runs_csv = ResultsLayout(load_config(converged_config)["results"]).table("runs")
        runs = pd.read_csv(runs_csv)
    except (FileNotFoundError, ConfigError, yaml.YAMLError):
        return None
    converged = runs[(runs["outcome"] == Outcome.LEARNED) & runs["stopped_early"].astype(bool)]
    if converged.empty:
        return None
    return round(converged["best_epoch"].mean()), f"the mean of {len(converged)} converged runs in {runs_csv}"


def time_batches(settings: RunSettings, run: Run, device: torch.device) -> tuple[float, float]:
    """Seconds per training batch and per evaluation batch of ``run``'s model, after one warm-up batch."""
    training, steps = settings.training, settings.model.steps
    model = build_model(run, settings, settings.engine).to(device)
    model.seed_generators(0, device)
    optimizer = make_optimizer(model.parameters(), training)
    loss_fn = SF.ce_rate_loss()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand((training.batch_size, 1, 28, 28), generator=generator).to(device)
    labels = torch.randint(0, 10, (training.batch_size,), generator=generator).to(device)
    windows = update_windows(run.backprop, steps, training.tbptt_window)
    per_window = BACKPROP_METHODS[run.backprop].update_per_window
    train_batch(model, optimizer, loss_fn, images, labels, windows, per_window)
    start = time.perf_counter()
    for _ in range(TIMED_BATCHES):
        train_batch(model, optimizer, loss_fn, images, labels, windows, per_window)
    train_seconds = (time.perf_counter() - start) / TIMED_BATCHES
    evaluation = torch.rand((training.eval_batch_size, 1, 28, 28), generator=generator).to(device)
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


@dataclass(frozen=True)
class Estimate:
    runs: int
    jobs: dict[str, int] | None
    """Jobs per rule in Snakemake's plan; None where no Snakefile was at hand (only the runs are counted)."""
    epochs: dict[str, int]
    """Epochs per run: ``fewest``, ``expected`` and ``most``."""
    epoch_seconds: dict[str, float]
    """Per run id: seconds of one training epoch with its evaluation."""
    fixed_seconds: dict[str, float]
    """Per run id: seconds that do not grow with epochs (its two jobs' starts, epoch 0, the workload job)."""
    start_seconds: float
    """A job that only starts Python and the package (data jobs)."""
    plot_seconds: float
    """A job that starts the plotting stack and saves a figure (figures, pages, the merge)."""
    timings: dict[tuple[str, str], tuple[float, float]]
    """Per (neuron, backprop) timed: seconds per training batch and per evaluation batch."""

    def _jobs(self, rules: Iterable[str]) -> int:
        return sum((self.jobs or {}).get(rule, 0) for rule in rules)

    @property
    def parallel_analysis_jobs(self) -> int:
        known = (*RUN_RULES, *DATA_RULES, *BESIDE_RUNS_RULES, *SERIAL_RULES, "all")
        return sum(count for rule, count in (self.jobs or {}).items() if rule not in known)

    def run_seconds(self, epochs: str) -> list[float]:
        return [self.fixed_seconds[run] + self.epochs[epochs] * self.epoch_seconds[run] for run in self.epoch_seconds]

    def cpu_seconds(self, epochs: str) -> float:
        other_jobs = self._jobs(BESIDE_RUNS_RULES) + self._jobs(SERIAL_RULES) + self.parallel_analysis_jobs
        return (
            self._jobs(DATA_RULES) * self.start_seconds + sum(self.run_seconds(epochs)) + other_jobs * self.plot_seconds
        )

    def wall_seconds(self, epochs: str, cores: int) -> float:
        grid = makespan([*self.run_seconds(epochs), *[self.plot_seconds] * self._jobs(BESIDE_RUNS_RULES)], cores)
        analysis = makespan([self.plot_seconds] * self.parallel_analysis_jobs, cores)
        serial = self._jobs(SERIAL_RULES) * self.plot_seconds
        return self._jobs(DATA_RULES) * self.start_seconds + grid + analysis + serial


def expected_epochs(training: TrainingSettings, best_epoch: int) -> dict[str, int]:
    most, patience = training.max_epochs, training.patience
    return {"fewest": min(most, patience), "expected": min(most, best_epoch + patience), "most": most}


def estimate(config: dict, device: torch.device, jobs: dict[str, int] | None, best_epoch: int, log=print) -> Estimate:
    """Time the config's models on ``device`` and add up its runs' epochs; ``jobs`` is Snakemake's plan."""
    runs, settings = list(expand_runs(config).values()), RunSettings.from_config(config)
    torch.set_num_threads(config["threads"])
    methods: dict[str, set[str]] = {}
    for run in runs:
        methods.setdefault(run.neuron, set()).add(run.backprop)
    reference = max(methods, key=lambda neuron: len(methods[neuron]))
    wanted = {(run.neuron, "bptt") for run in runs} | {(reference, run.backprop) for run in runs}
    examples = {run.neuron: run for run in runs}
    timings: dict[tuple[str, str], tuple[float, float]] = {}
    for neuron, backprop in sorted(wanted):
        timings[(neuron, backprop)] = time_batches(settings, replace(examples[neuron], backprop=backprop), device)
        log(f"  {neuron:9s} {backprop:16s} {timings[(neuron, backprop)][0]:.3f} s per training batch")
    training_start = start_seconds("spikebench.run.cli")
    epoch_seconds, fixed_seconds = {}, {}
    training = settings.training
    for run in runs:
        sizes = split_sizes(settings.data, run.dataset)
        bptt_train, evaluation = timings[(run.neuron, "bptt")]
        ratio = timings[(reference, run.backprop)][0] / timings[(reference, "bptt")][0]
        batches = math.ceil(sizes.train / training.batch_size)
        eval_batches = sum(math.ceil(n / training.eval_batch_size) for n in (sizes.validation, sizes.test))
        test_batches = math.ceil(sizes.test / training.eval_batch_size)
        epoch_seconds[run.run_id] = batches * bptt_train * ratio + eval_batches * evaluation
        fixed_seconds[run.run_id] = 2 * training_start + (eval_batches + test_batches) * evaluation
    return Estimate(
        runs=len(runs),
        jobs=jobs,
        epochs=expected_epochs(training, best_epoch),
        epoch_seconds=epoch_seconds,
        fixed_seconds=fixed_seconds,
        start_seconds=training_start,
        plot_seconds=plot_job_seconds(),
        timings=timings,
    )


def jobs_line(result: Estimate) -> str:
    if result.jobs is None:
        return f"{result.runs} runs; jobs not counted (no Snakefile given or found: pass --snakefile)"
    total = sum(count for rule, count in result.jobs.items())
    return f"{result.runs} runs, {total} jobs in Snakemake's plan"


def describe(result: Estimate, cores: int, device: torch.device, config_path: str, best_epoch_source: str) -> str:
    """The estimate as a table of CPU and wall time for the fewest, expected and most epochs."""
    lines = _table(result, cores, device, config_path, best_epoch_source)
    machine = os.cpu_count() or 1
    if cores > machine:
        lines.append(
            f"--cores {cores} is more than this machine's {machine}: its row is what a machine with {cores} cores"
            f" would take; here Snakemake would start {cores} jobs at once on {machine} cores, each the slower."
        )
    return "\n".join(lines)


def _table(result: Estimate, cores: int, device: torch.device, config_path: str, best_epoch_source: str) -> list[str]:
    epochs = result.epochs
    lines = [
        f"{config_path}: {jobs_line(result)}; timed on {device}, {torch.get_num_threads()} thread(s) per job",
        f"epochs per run: at least {epochs['fewest']} (patience), expected {epochs['expected']} (the best epoch,"
        f" {best_epoch_source}, + patience), at most {epochs['most']} (max_epochs)",
        "",
        f"{'':26s}{'fewest epochs':>16s}{'expected':>16s}{'max_epochs':>16s}",
        f"{'CPU time, all jobs':26s}" + "".join(f"{duration(result.cpu_seconds(key)):>16s}" for key in epochs),
    ]
    for count in sorted({cores, 16, 64, 256}):
        label = f"wall time, {count} cores" + (" (--cores)" if count == cores else "")
        lines.append(f"{label:26s}" + "".join(f"{duration(result.wall_seconds(key, count)):>16s}" for key in epochs))
    lines += [
        "",
        "Cores run one-thread jobs side by side (threads: 1), here with --cores N or on a cluster (profiles/slurm);",
        "jobs that share a machine's memory bandwidth run somewhat slower than timed alone. A GPU changes the time",
        "per batch itself: run this command on the GPU machine with device: cuda, which times that device.",
    ]
    return lines


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


def argument_parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--snakefile",
        help="the workflow whose plan gives the jobs (default: ./Snakefile when there is one; without it only the"
        " runs are counted)",
    )
    parser.add_argument(
        "--converged",
        default="config/converged.yaml",
        help="config whose merged, early-stopped runs give the expected best epoch (default: %(default)s; without"
        f" its results, {DEFAULT_BEST_EPOCH})",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser()
    args = parser.parse_args(argv)
    snakefile = args.snakefile or ("Snakefile" if Path("Snakefile").is_file() else None)
    try:
        config = load_config(args.config)
        jobs = planned_jobs(args.config, snakefile) if snakefile else None
    except FileNotFoundError as error:
        parser.exit(2, f"spikebench-estimate: no config file at {error.filename}\n")
    except (yaml.YAMLError, ConfigError) as error:
        parser.exit(2, f"spikebench-estimate: {args.config}: {error}\n")
    best_epoch, best_epoch_source = measured_best_epoch(args.converged) or (
        DEFAULT_BEST_EPOCH,
        f"{DEFAULT_BEST_EPOCH} (the documented converged runs; {args.converged} has no merged runs here)",
    )
    device = resolve_device(config["device"])
    seed_sd, source = seed_spread(config, args.seed_sd)
    print("\n".join(design_lines(config, seed_sd, source, args.detect)) + "\n")
    settings = RunSettings.from_config(config)
    check_precision(settings.precision, device)
    print(
        f"timing {args.config}'s models (batch {settings.training.batch_size}, {settings.model.steps} steps,"
        f" {settings.precision}) ..."
    )
    result = estimate(config, device, jobs, best_epoch)
    print(describe(result, args.cores, device, args.config, best_epoch_source))


if __name__ == "__main__":
    main()
