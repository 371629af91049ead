from spikebench.report.simulation import simulate_figure
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    simulate_figure(
        snakemake.wildcards.figure,
        **snakemake.params.simulation,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
        svg_path=snakemake.output.svg,
    )
