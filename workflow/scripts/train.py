from pathlib import Path

from spikebench.logs import logged
from spikebench.train import train_run

with logged(snakemake.log[0]):
    train_run(
        snakemake.params.run,
        snakemake.params.settings,
        data_path=snakemake.input.data,
        out_dir=Path(snakemake.output.summary).parent,
        threads=snakemake.threads,
    )
