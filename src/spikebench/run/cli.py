"""Train one run of the grid: one (dataset, neuron, surrogate, backprop, seed) point, start to finish.

    python -m spikebench.run --config config/quick.yaml --run mnist-leaky-atan-k2-bptt-s0

The run writes ``epochs.csv`` (one row per epoch), ``summary.json`` and ``model.pt`` (best validation
weights). After every epoch it writes ``checkpoint.pt`` atomically; rerunning a killed job resumes from the
last completed epoch and ends with the same results as an uninterrupted run.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spikebench.paths import ResultsLayout
from spikebench.run.contract import RunSummary, TrainingPaths
from spikebench.run.setup import set_up
from spikebench.run.trainer import Trainer
from spikebench.study.config import Run, expand_runs, load_config
from spikebench.study.settings import RunSettings


def train_run(run: dict, settings: dict, data_path: str | Path, paths: TrainingPaths, threads: int) -> RunSummary:
    """Entry point of the ``train`` rule: ``run`` holds the grid axes, ``settings`` the config sections."""
    setup = set_up(Run.from_dict(run), RunSettings.from_config(settings), data_path, threads)
    return Trainer(setup, paths).fit()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train one run of the spikebench grid without Snakemake.")
    parser.add_argument("--config", default="config/config.yaml", help="config file (default: %(default)s)")
    parser.add_argument("--run", required=True, help="run id, e.g. mnist-leaky-fast_sigmoid-k50-bptt-s0")
    parser.add_argument("--data", help="compact data file (default: <the config's results>/data/<dataset>.npz)")
    parser.add_argument("--out", help="output directory (default: <the config's results>/runs/<run id>)")
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's threads)")
    parser.add_argument("--force", action="store_true", help="train again over a finished run in the output directory")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    runs = expand_runs(config)
    if args.run not in runs:
        parser.error(f"run {args.run!r} is not in {args.config}; its runs include {', '.join(list(runs)[:5])}, ...")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run, layout = runs[args.run], ResultsLayout(config["results"])
    paths = TrainingPaths.in_directory(args.out or layout.run_directory(run.run_id))
    if paths.summary.is_file() and not args.force:
        parser.error(
            f"{paths.summary.parent} holds a finished run ({paths.summary.name}); pass --force to train it again"
            " there, or --out DIR to write elsewhere"
        )
    logging.getLogger(__name__).info("writing %s's outputs to %s", run.run_id, paths.summary.parent)
    train_run(
        run.as_dict(),
        RunSettings.from_config(config).as_dict(),
        args.data or layout.data_file(run.dataset),
        paths,
        args.threads or config["threads"],
    )
