from pathlib import Path

from spikebench.data.datasets import prepare
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    prepare(
        snakemake.wildcards.dataset,
        raw_dir=Path(snakemake.input.raw[0]).parent,
        out_path=snakemake.output[0],
        validation_size=snakemake.params.validation_size,
        split_seed=snakemake.params.split_seed,
    )
