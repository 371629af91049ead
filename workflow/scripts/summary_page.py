from spikebench.logs import logged
from spikebench.summary_page import render_summary_page

with logged(snakemake.log[0]):
    render_summary_page(
        snakemake.params.tables,
        snakemake.params.figures,
        snakemake.params.simulation,
        snakemake.params.skipped,
        snakemake.output[0],
    )
