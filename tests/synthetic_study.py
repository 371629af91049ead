"""The merged tables of a study shaped like the quick config plus a width sweep, at any number of seeds, from
fake runs with every fate: no training, so figures can be drawn and checked in a second."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from helpers import example_settings, write_run
from spikebench.report.merge import RunFiles
from spikebench.report.registry import TABLES
from spikebench.report.tables import build_tables, read_tables
from spikebench.study.config import expand_runs, study_designs, validate_config

NEURONS = ["leaky", "synaptic", "alpha", "lapicque", "lif", "abss"]
BASE_ACCURACY = {"leaky": 0.94, "synaptic": 0.93, "alpha": 0.80, "lapicque": 0.1, "lif": 0.95, "abss": 0.78}
SILENT = {"lapicque"}
AT_CHANCE = {("synaptic", "fast_sigmoid")}
BACKPROP_SHIFT = {"bptt": 0.0, "tbptt": -0.01, "rtrl": -0.3, "rtrl_one_update": -0.6}


def study_config(seeds: list[int]) -> dict:
    config = {
        "studies": {
            "quick": {
                "dataset": ["mnist"],
                "neuron": NEURONS,
                "surrogate": ["fast_sigmoid", "atan"],
                "backprop": ["bptt"],
                "seed": seeds,
                "baseline": {"neuron": "leaky", "surrogate": "fast_sigmoid"},
            },
            "quick_backprop": {
                "dataset": ["mnist"],
                "neuron": ["leaky"],
                "surrogate": ["atan"],
                "backprop": list(BACKPROP_SHIFT),
                "seed": seeds,
                "baseline": {"backprop": "bptt"},
            },
            "sweep": {
                "dataset": ["mnist"],
                "neuron": ["leaky"],
                "surrogate": ["fast_sigmoid", "atan"],
                "width": [0.05, 0.2, 0.8],
                "backprop": ["bptt"],
                "seed": seeds,
                "baseline": {"surrogate": "atan", "width": 0.2},
            },
        }
    }
    validate_config(config)
    return config


def _fate(run, rng) -> tuple[list[float], str, float]:
    """Validation accuracy per epoch, status and output spikes of a fake run."""
    if run.neuron in SILENT:
        return [0.098], "silent", 0.0
    if (run.neuron, run.surrogate) in AT_CHANCE or (run.scale is not None and run.scale > 100 and run.seed == 1):
        return [0.11], "ok", 50.0
    accuracy = BASE_ACCURACY[run.neuron] + BACKPROP_SHIFT[run.backprop] + rng.normal(0, 0.01)
    return [round(accuracy - 0.05, 2), round(min(accuracy, 0.99), 2)], "ok", 100.0


def _workload(status: str, rng) -> dict:
    silent = status == "silent"
    return {
        "activation_sparsity": 1.0 if silent else float(rng.uniform(0.7, 0.95)),
        "effective_macs": 4.1e6,
        "effective_acs": 0.0 if silent else float(rng.uniform(1e6, 3e6)),
        "dense_ops": 1.2e7,
        "footprint_bytes": 4.0e5,
        "connection_sparsity": 0.0,
    }


def _best_is_the_untrained_network(path) -> None:
    """A silent run never beats its untrained network: its best epoch is 0, so it made no update."""
    summary = json.loads(path.read_text())
    summary.update(best_epoch=0, best_val_acc=0.1, test_acc_at_best=0.1)
    path.write_text(json.dumps(summary))


def synthetic_tables(directory, seeds: list[int]) -> dict[str, pd.DataFrame]:
    config = study_config(seeds)
    runs = list(expand_runs(config).values())
    rng = np.random.default_rng(len(seeds))
    files = []
    for run in runs:
        run_directory = directory / "runs" / run.run_id
        accuracies, status, spikes = _fate(run, rng)
        write_run(run_directory, run, accuracies, status=status, output_spikes=spikes, conv2_rate=0.1 * bool(spikes))
        if status == "silent":
            _best_is_the_untrained_network(run_directory / "summary.json")
        (run_directory / "workload.json").write_text(json.dumps(_workload(status, rng)))
        benchmark = run_directory / "benchmark.tsv"
        benchmark.write_text(f"s\th:m:s\n{rng.uniform(20, 40):.2f}\t0:00:30\n")
        files.append(
            RunFiles(*(run_directory / name for name in ("epochs.csv", "summary.json", "workload.json")), benchmark)
        )
    out = {name: directory / f"{name}.csv" for name in TABLES}
    build_tables([run.as_dict() for run in runs], files, study_designs(config), example_settings(), out)
    return read_tables(out)
