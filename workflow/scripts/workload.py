from spikebench.run.workload import run_workload
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    run_workload(
        snakemake.params.run,
        snakemake.params.settings,
        model_path=snakemake.input.model,
        data_path=snakemake.input.data,
        out_path=snakemake.output[0],
        threads=snakemake.threads,
    )
