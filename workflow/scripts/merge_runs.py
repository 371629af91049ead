from spikebench.plugins import load_config_plugins
from spikebench.report.merge import RunFiles
from spikebench.report.registry import TABLES
from spikebench.report.tables import build_tables
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    # A config's plugins register its own neuron models and surrogates in this job's process too.
    load_config_plugins(snakemake.config)
    build_tables(
        snakemake.params.runs,
        [
            RunFiles(*paths)
            for paths in zip(
                snakemake.input.epochs,
                snakemake.input.summaries,
                snakemake.input.workloads,
                snakemake.params.benchmarks,
                strict=True,
            )
        ],
        studies=snakemake.params.studies,
        settings=snakemake.params.settings,
        out={name: getattr(snakemake.output, name) for name in TABLES},
    )
