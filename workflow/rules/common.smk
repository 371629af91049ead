import re
import subprocess
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

try:
    import spikebench
except ImportError:
    raise WorkflowError(
        "spikebench is not installed in the Python that runs Snakemake: the workflow plans its jobs from the"
        " package's registries and schema. Install it beside Snakemake (pip install -e <spikebench checkout>,"
        " or pip install spikebench) and run snakemake again."
    ) from None

from spikebench.data.datasets import (
    DATASETS,
    local_source_files,
    raw_file_names,
    resolved_sources,
    sources_key,
)
from spikebench.model.registry import NEURON_MODELS
from spikebench.neurons.surrogates import SURROGATES
from spikebench.plugins import BUILT_IN_ORIGINS, loaded_plugins
from spikebench.paths import (
    ResultsLayout,
    provenance_file,
    raw_data_directory,
    raw_file,
)
from spikebench.report.registry import STUDY_FIGURES, TABLES, simulation_caption
from spikebench.report.context import study_context
from spikebench.report.workflow_page import front_page
from spikebench.run.contract import (
    CHECKPOINT_FILE,
    RUN_OUTPUTS,
    TRAINING_OUTPUTS,
    WORKLOAD_FILE,
)
from spikebench.study.config import (
    ConfigError,
    expand_runs,
    load_schema,
    selected_studies,
    simulation_figure_names,
    skipped_combinations,
    study_designs,
    validate_config,
)
from spikebench.study.resources import (
    plan_cost,
    training_memory_mb,
    training_runtime_minutes,
)
from spikebench.study.settings import RunSettings
from spikebench.utils.machine import git_commit

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None


def check_plugin_implementations():
    """Smoke-test the plugins' cells and surrogates before any job, in a process of its own: this one plans
    without importing torch."""
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "spikebench.run.plugin_checks",
            f"--results={config['results']}",
            *config["plugins"],
        ],
        capture_output=True,
        text=True,
    )
    if checked.returncode != 0:
        raise WorkflowError(
            "a plugin failed its check before any job:\n"
            + (checked.stderr.strip() or checked.stdout.strip())
        )


if any(
    spec.origin not in BUILT_IN_ORIGINS
    for registry in (NEURON_MODELS, SURROGATES)
    for spec in registry.values()
):
    check_plugin_implementations()

RESULTS = config["results"]
LAYOUT = ResultsLayout(RESULTS)
"""This config's results directory (``results:``): two configs never share outputs."""


FIGURES = simulation_figure_names(load_schema())
RUNS = expand_runs(config)
RAW_FILE_NAMES = raw_file_names()


wildcard_constraints:
    dataset="|".join(DATASETS),
    sources_key="[0-9a-f]{12}",
    figure="|".join(FIGURES),
    run_id="|".join(map(re.escape, RUNS)),
    plot="|".join(STUDY_FIGURES),
    table="|".join(TABLES),


def dataset_sources(wildcards):
    sources = config["datasets"][wildcards.dataset]["sources"]
    if wildcards.sources_key != sources_key(sources):
        raise WorkflowError(
            f"{raw_data_directory(wildcards.dataset, wildcards.sources_key)} holds another config's sources of"
            f" {wildcards.dataset}; this config's are in {raw_directory(wildcards.dataset)}"
        )
    return resolved_sources(sources)


def dataset_sources_key(dataset):
    """This config's raw files of ``dataset`` are keyed by its sources (``sources_key``)."""
    return sources_key(config["datasets"][dataset]["sources"])


def raw_directory(dataset):
    return raw_data_directory(dataset, dataset_sources_key(dataset))


def raw_files(wildcards):
    key = dataset_sources_key(wildcards.dataset)
    return [raw_file(wildcards.dataset, key, name) for name in RAW_FILE_NAMES]


def dataset_local_files(wildcards):
    return local_source_files(dataset_sources(wildcards))


def dataset_requires_canonical_checksums(wildcards):
    return config["datasets"][wildcards.dataset]["require_canonical_checksums"]


def simulation_parameters(wildcards):
    return {
        "lif": config["simulation"]["lif"],
        "abss": config["simulation"]["abss"],
        "figure": config["simulation"][wildcards.figure],
    }


def simulation_figure_caption(wildcards):
    return simulation_caption(wildcards.figure, **simulation_parameters(wildcards))


TABLE_FILES = {name: LAYOUT.table(name) for name in TABLES}
TABLE_PAGES = [LAYOUT.table(name, "html") for name in TABLES]


def table_category(wildcards):
    return TABLES[wildcards.table].category


def table_caption(wildcards):
    return TABLES[wildcards.table].caption


def training_output(name):
    return LAYOUT.run_file("{run_id}", TRAINING_OUTPUTS[name])


def run_outputs(name):
    """One output file of every run of the config."""
    return [LAYOUT.run_file(run_id, name) for run_id in RUNS]


TRAINING_BENCHMARK = LAYOUT.benchmark("train", "{run_id}")


def training_checkpoint(wildcards):
    return LAYOUT.run_file(wildcards.run_id, CHECKPOINT_FILE)


def study_figure_category(wildcards):
    return STUDY_FIGURES[wildcards.plot].category


def study_figure_caption(wildcards):
    return STUDY_FIGURES[wildcards.plot].caption


WORKFLOW_CHECKOUT = Path(workflow.current_basedir).parents[1]
"""The directory that holds this workflow's Snakefile: the importing project's own directory is another one
when the workflow runs as a module."""


NO_RETRY = 0
"""The retries of the rules whose failures a retry cannot mend: their jobs are short and deterministic, so a
config, data or plugin error would fail again. Training and the workload count keep the profile's retries: a
killed, preempted or out-of-memory job of theirs resumes (training from its checkpoint)."""


STUDY_CONTEXT = study_context(
    config,
    [str(path) for path in workflow.configfiles],
    git_commit(WORKFLOW_CHECKOUT),
    [plugin.as_dict() for plugin in loaded_plugins()],
)
"""What the summary page and the report's front page state about where their numbers come from."""


# Snakemake renders the report's front page (report/workflow.rst) from the config alone, so the banner and the
# context rows that the summary page shows travel there in it.
config["report_context"] = front_page(
    STUDY_CONTEXT,
    selected_studies(config),
    [run.as_dict() for run in RUNS.values()],
    Path(LAYOUT.table("runs")),
)


def final_targets():
    # Everything the report shows and every run's outputs are final targets, not just inputs of later rules:
    # Snakemake ignores a missing intermediate file whose downstream results exist, so a table or figure
    # deleted by hand or by a killed job would stay missing and break the report.
    targets = [
        LAYOUT.summary_page,
        *TABLE_PAGES,
        *TABLE_FILES.values(),
        *(
            LAYOUT.figure(plot, kind)
            for plot in STUDY_FIGURES
            for kind in ("png", "svg")
        ),
        *(
            LAYOUT.simulation(figure, kind)
            for figure in FIGURES
            for kind in ("png", "svg", "csv")
        ),
        *(path for name in RUN_OUTPUTS for path in run_outputs(name)),
    ]
    if config["benchmark_engines"]:
        targets.append(LAYOUT.engine_throughput)
    return targets


SETTINGS = RunSettings.from_config(config)
TRAINING_SETTINGS = SETTINGS.as_dict()


def run_axes(wildcards):
    return RUNS[wildcards.run_id].as_dict()


def run_dataset_file(wildcards):
    return LAYOUT.data_file(RUNS[wildcards.run_id].dataset)


def training_runtime(wildcards, threads):
    run = RUNS[wildcards.run_id]
    return training_runtime_minutes(SETTINGS, run.dataset, run.backprop, threads)


def training_memory(wildcards):
    return training_memory_mb(SETTINGS)


def training_cost(run_ids):
    """The rough cost of training ``run_ids`` on the cores (or cluster jobs, --jobs) Snakemake was given."""
    cluster_jobs = workflow.global_resources["_nodes"].value
    return plan_cost(
        SETTINGS,
        [(RUNS[run_id].dataset, RUNS[run_id].backprop) for run_id in run_ids],
        config["threads"],
        cluster_jobs or workflow._cores or 1,
    )


if workflow.is_main_process:
    untrained = [
        run_id
        for run_id in RUNS
        if not Path(LAYOUT.run_file(run_id, TRAINING_OUTPUTS["summary"])).exists()
    ]
    logger.info(f"spikebench plan (this config): {training_cost(untrained).describe()}")


def stop_unless_the_cost_is_confirmed():
    """Before the first job: the training jobs Snakemake is about to run must fit ``cost_gate_hours``, or be
    confirmed."""
    cost = training_cost(
        job.wildcards.run_id
        for job in workflow.dag.needrun_jobs()
        if job.rule.name == "train"
    )
    if (
        cost.wall_seconds > config["cost_gate_hours"] * 3600
        and not config["confirm_cost"]
    ):
        raise WorkflowError(
            f"this plan is {cost.describe()}: more than cost_gate_hours ({config['cost_gate_hours']:g} h)."
            " Nothing has started. To run it: snakemake --cores N --config confirm_cost=true (with the same"
            " --configfile). To try the pipeline first: snakemake --cores 2 --configfile=config/quick.yaml"
            " (14 runs, minutes)."
        )


def gpus_per_training_job(wildcards):
    return 1 if config["device"] == "cuda" else 0
