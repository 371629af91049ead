"""The workflow through a real single-node SLURM cluster and the official executor plugin, against a local run."""

import json
import re

import pandas as pd
import pytest
import yaml

from conftest import REPO, SHARED_MNIST, load_yaml
from helpers import snakemake
from slurm_cluster import missing_requirements, single_node_cluster
from spikebench.report.merge import MACHINE_STATE_COLUMNS
from spikebench.run.contract import TIMING_COLUMNS

SUMMARY_TIMING_COLUMNS = ["mean_seconds_per_epoch"]

pytestmark = pytest.mark.workflow
MERGED = ["results/quick/tables/runs.csv", "results/quick/tables/summary.csv"]
"""The targets: every job up to the merge (data, training, workload). The figure and page jobs are the same
kind of job as the merge (one thread, default resources) and the local workflow tests cover them; leaving
them out halves the test's time on a cluster that runs one job at a time per core."""


def small_config(workdir):
    """The quick config's settings on an eighth of its training images: what a cluster could change is where
    and how each job runs, which the size of the training set does not touch."""
    config = load_yaml(REPO / "config/quick.yaml")
    config["datasets"]["mnist"]["sources"] = [str(SHARED_MNIST)]
    config["data"]["limit_train"] = 512
    config["studies"] = {
        "cluster": {
            "dataset": ["mnist"],
            "neuron": ["leaky", "abss"],
            "baseline": {"neuron": "leaky"},
            "surrogate": ["atan"],
            "backprop": ["bptt"],
            "seed": [0],
        }
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_outputs(workdir):
    results = workdir / "results/quick"
    outputs = {}
    for run in sorted((results / "runs").iterdir()):
        outputs[f"{run.name}/epochs"] = pd.read_csv(run / "epochs.csv").drop(columns=TIMING_COLUMNS)
        outputs[f"{run.name}/workload"] = json.loads((run / "workload.json").read_text())
    outputs["runs"] = pd.read_csv(results / "tables/runs.csv").drop(columns=list(MACHINE_STATE_COLUMNS))
    outputs["summary"] = pd.read_csv(results / "tables/summary.csv").drop(columns=SUMMARY_TIMING_COLUMNS)
    return outputs


def test_slurm_run_equals_local_run(tmp_path):
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the offline MNIST copy is not at {SHARED_MNIST}")
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="install the slurm extra: pip install -e '.[slurm]'")
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    for workdir in (local, cluster):
        workdir.mkdir()
    # Targets before --configfile, which takes every path after it.
    snakemake(*MERGED, "--cores", "2", "--configfile", str(small_config(local)), workdir=local)
    with single_node_cluster(tmp_path / "slurm-state"):
        result = snakemake(
            *MERGED,
            "--profile",
            str(REPO / "profiles/slurm"),
            "--jobs",
            "4",
            # Status checks every 2 s, not the profile's every 10 s after 20 s: a test cluster answers at once,
            # and the five layers of dependent jobs would otherwise wait a minute or more for nothing.
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--seconds-between-status-checks",
            "2",
            "--slurm-no-account",
            "--configfile",
            str(small_config(cluster)),
            workdir=cluster,
        )
    submitted = re.findall(
        r"has been submitted with SLURM jobid \d+ \(log: \S+/rule_(\w+)/", result.stderr + result.stdout
    )
    assert submitted.count("train") == 2 and submitted.count("workload") == 2, submitted
    assert {"fetch_dataset", "prepare_dataset", "merge_runs"} <= set(submitted), submitted
    expected, actual = run_outputs(local), run_outputs(cluster)
    assert sorted(expected) == sorted(actual)
    for name, value in expected.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(actual[name], value, obj=name)
        else:
            assert actual[name] == value, name
