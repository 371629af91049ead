from spikebench.logs import logged
from spikebench.summary_page import TABLES, plot_study_figure

with logged(snakemake.log[0]):
    plot_study_figure(
        snakemake.wildcards.plot,
        {name: getattr(snakemake.input, name) for name in TABLES},
        snakemake.output.png,
    )
