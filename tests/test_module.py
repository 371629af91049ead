"""The workflow deployed as a Snakemake module in a directory of its own, as the docs' module recipe shows."""

import json
import re
import subprocess
import sys

import pytest
import yaml

import spikebench
from conftest import REPO, load_yaml
from spikebench.report.simulation import SIMULATION_FIGURES

MODULE_SNAKEFILE = """\
configfile: "config/config.yaml"


module spikebench:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from spikebench
"""
"""The importing project's Snakefile (docs/user-guide/module.md shows the same lines)."""


def deploy_as_module(directory, config):
    (directory / "config").mkdir()
    (directory / "config/config.yaml").write_text(yaml.safe_dump(config))
    (directory / "Snakefile").write_text(MODULE_SNAKEFILE.format(snakefile=REPO / "Snakefile"))


def snakemake_in(directory, *args):
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=directory, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(
            f"snakemake {' '.join(args)} in {directory} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout + result.stderr


def test_the_module_recipe_matches_the_docs():
    recipe = (REPO / "docs/user-guide/module.md").read_text()
    assert MODULE_SNAKEFILE.format(snakefile="path/to/spikebench/Snakefile") in recipe


def test_a_module_deployment_plans_the_quick_config(tmp_path):
    deploy_as_module(tmp_path, load_yaml(REPO / "config/quick.yaml"))
    plan = snakemake_in(tmp_path, "-n", "--cores", "2")
    assert re.search(r"^train\s+14$", plan, re.MULTILINE), plan[-3000:]
    assert "engine_throughput" not in plan


@pytest.mark.workflow
@pytest.mark.slow
def test_a_module_deployment_runs_a_tiny_study_to_its_summary_page(tmp_path, shared_mnist):
    config = {
        "device": "cpu",
        "datasets": {"mnist": {"sources": [str(shared_mnist)]}},
        "data": {"validation_size": 100, "limit_train": 200, "limit_validation": 100, "limit_test": 100},
        "model": {"steps": 4},
        "training": {"batch_size": 50, "eval_batch_size": 100, "max_epochs": 1, "patience": 1},
        "studies": {
            "tiny": {
                "dataset": ["mnist"],
                "neuron": ["leaky"],
                "surrogate": ["atan"],
                "backprop": ["bptt"],
                "seed": [0],
            }
        },
        "simulation": {name: {"steps": 20} for name in SIMULATION_FIGURES},
    }
    deploy_as_module(tmp_path, config)
    snakemake_in(tmp_path, "--cores", "2")
    assert "tiny" in (tmp_path / "results/summary.html").read_text()
    summary = json.loads((tmp_path / "results/runs/mnist-leaky-atan-k2-bptt-s0/summary.json").read_text())
    assert summary["versions"]["spikebench"] == spikebench.__version__
    assert "mnist-leaky-atan-k2-bptt-s0" in (tmp_path / "results/tables/runs.csv").read_text()
