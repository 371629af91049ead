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
    validate_config,
)
from spikebench.datasets import DATASETS

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


def final_targets():
    return [
        *expand("results/simulation/{figure}.png", figure=FIGURES),
        *expand("results/runs/{run_id}/summary.json", run_id=RUNS),
    ]


TRAINING_SETTINGS = {
    section: config[section]
    for section in ("model", "training", "data", "device", "engine")
}


def run_axes(wildcards):
    return RUNS[wildcards.run_id].as_dict()


def run_dataset_file(wildcards):
    return f"results/data/{RUNS[wildcards.run_id].dataset}.npz"
