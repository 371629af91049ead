from spikebench.plugins import load_config_plugins
from spikebench.run.cli import train_run
from spikebench.run.contract import TrainingPaths
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    # A config's plugins register its own neuron models and surrogates in this job's process too.
    load_config_plugins(snakemake.config)
    train_run(
        snakemake.params.run,
        snakemake.params.settings,
        data_path=snakemake.input.data,
        paths=TrainingPaths.of(
            epochs=snakemake.output.epochs,
            summary=snakemake.output.summary,
            model=snakemake.output.model,
            checkpoint=snakemake.params.checkpoint,
        ),
        threads=snakemake.threads,
    )
