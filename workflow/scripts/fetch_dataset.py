from pathlib import Path

from spikebench.data.datasets import fetch
from spikebench.utils.logs import logged

with logged(snakemake.log[0]):
    fetch(
        snakemake.wildcards.dataset,
        sources=snakemake.params.sources,
        out_dir=Path(snakemake.output.raw[0]).parent,
        provenance_path=snakemake.output.provenance,
        require_canonical_checksums=snakemake.params.require_canonical_checksums,
    )
