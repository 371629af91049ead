from spikebench.logs import logged
from spikebench.summary_page import TABLES, build_tables

with logged(snakemake.log[0]):
    build_tables(
        snakemake.params.runs,
        snakemake.params.run_dirs,
        snakemake.params.benchmarks,
        out={name: getattr(snakemake.output, name) for name in TABLES},
    )
