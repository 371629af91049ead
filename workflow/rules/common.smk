import sys
from pathlib import Path

# The workflow reads spikebench's registries and grid from the checkout it belongs to, so that a Snakemake
# installed on its own (for example beside --sdm conda) can plan the jobs; the jobs' environments install
# the package itself (envs/*.post-deploy.sh).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from spikebench.config import (
    ConfigError,
    expand_runs,
    load_schema,
    simulation_figure_names,
    skipped_combinations,
    validate_config,
)
from spikebench.datasets import DATASETS
from spikebench.report_registry import STUDY_FIGURES
from spikebench.resources import training_memory_mb, training_runtime_minutes

SCHEMA_PATH = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
try:
    validate_config(config, SCHEMA_PATH)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

FIGURES = simulation_figure_names(load_schema(SCHEMA_PATH))
RUNS = expand_runs(config)
RAW_FILE_NAMES = DATASETS["mnist"].file_names


wildcard_constraints:
    dataset="|".join(DATASETS),
    figure="|".join(FIGURES),
    run_id="|".join(RUNS),
    plot="|".join(STUDY_FIGURES),


def dataset_sources(wildcards):
    return config["datasets"][wildcards.dataset]["sources"]


def dataset_requires_canonical_checksums(wildcards):
    return config["datasets"][wildcards.dataset]["require_canonical_checksums"]


def simulation_parameters(wildcards):
    return {
        "lif": config["simulation"]["lif"],
        "abss": config["simulation"]["abss"],
        "figure": config["simulation"][wildcards.figure],
    }


TABLE_FILES = {
    name: f"results/tables/{name}.csv"
    for name in ("epochs", "runs", "summary", "comparisons", "never_learned")
}


def study_figure_category(wildcards):
    return STUDY_FIGURES[wildcards.plot]


def final_targets():
    # Per-run outputs are final targets, not just the merge's inputs: Snakemake ignores a deleted
    # intermediate file whose downstream results exist, and a user deleting one run's outputs expects that
    # run (and the aggregates) to be rebuilt.
    per_run = ("epochs.csv", "summary.json", "workload.json")
    targets = [
        "results/summary.html",
        *expand("results/runs/{run_id}/{name}", run_id=RUNS, name=per_run),
    ]
    if config["benchmark_engines"]:
        targets.append("results/performance/train_throughput.csv")
    return targets


TRAINING_SETTINGS = {
    section: config[section]
    for section in ("model", "training", "data", "device", "engine")
}


def run_axes(wildcards):
    return RUNS[wildcards.run_id].as_dict()


def run_dataset_file(wildcards):
    return f"results/data/{RUNS[wildcards.run_id].dataset}.npz"


def training_runtime(wildcards, threads):
    run = RUNS[wildcards.run_id]
    return training_runtime_minutes(config, run.dataset, run.backprop, threads)


def training_memory(wildcards):
    return training_memory_mb(config)


def gpus_per_training_job(wildcards):
    return 1 if config["device"] == "cuda" else 0
