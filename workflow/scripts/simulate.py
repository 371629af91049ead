from spikebench.logs import logged
from spikebench.simulation import simulate_figure

with logged(snakemake.log[0]):
    simulate_figure(
        snakemake.wildcards.figure,
        **snakemake.params.simulation,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
