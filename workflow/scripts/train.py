from spikebench.run.cli import train_run
from spikebench.run.contract import TrainingPaths
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
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
