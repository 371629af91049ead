from spikebench.report.registry import TABLES
from spikebench.report.study_figures import plot_study_figure
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    plot_study_figure(
        snakemake.wildcards.plot,
        {name: getattr(snakemake.input, name) for name in TABLES},
        png_path=snakemake.output.png,
        svg_path=snakemake.output.svg,
    )
