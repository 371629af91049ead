from spikebench.report.table_page import render_table_page
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    render_table_page(snakemake.input[0], snakemake.wildcards.table, snakemake.params.caption, snakemake.output[0])
