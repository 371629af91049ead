from spikebench.plugins import load_config_plugins
from spikebench.run.workload import run_workload
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    # A config's plugins register its own neuron models and surrogates in this job's process too.
    load_config_plugins(snakemake.config)
    run_workload(
        snakemake.params.run,
        snakemake.params.settings,
        model_path=snakemake.input.model,
        data_path=snakemake.input.data,
        out_path=snakemake.output[0],
        threads=snakemake.threads,
    )
