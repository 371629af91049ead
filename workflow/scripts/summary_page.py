from spikebench.plugins import load_config_plugins
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.report.summary_page import render_summary_page
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    # A config's plugins register its own neuron models and surrogates in this job's process too.
    load_config_plugins(snakemake.config)
    render_summary_page(
        {name: getattr(snakemake.input, f"table_{name}") for name in TABLES},
        {plot: getattr(snakemake.input, f"figure_{plot}") for plot in STUDY_FIGURES},
        {figure: getattr(snakemake.input, f"simulation_{figure}") for figure in snakemake.params.simulation_figures},
        snakemake.params.skipped,
        snakemake.params.context,
        snakemake.output[0],
    )
