from spikebench.plugins import load_config_plugins
from spikebench.report.registry import TABLES
from spikebench.report.study_figures import plot_study_figure
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    # A config's plugins register its own neuron models and surrogates in this job's process too.
    load_config_plugins(snakemake.config)
    plot_study_figure(
        snakemake.wildcards.plot,
        {name: getattr(snakemake.input, name) for name in TABLES},
        png_path=snakemake.output.png,
        svg_path=snakemake.output.svg,
    )
