"""Where everything lives: one config's results directory (``results:``) and the raw data shared by configs.

The workflow's rules and the command-line tools take their paths from here, so that a layout change is one
edit. Paths are strings because Snakemake patterns (``{run_id}``) pass through.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW_DATA = "resources/data"
"""Raw downloads, shared by every config (keyed by their sources, ``spikebench.data.datasets.sources_key``)."""


def raw_data_directory(dataset: str, sources_key: str) -> str:
    return f"{RAW_DATA}/{dataset}/{sources_key}"


def raw_file(dataset: str, sources_key: str, name: str) -> str:
    return f"{raw_data_directory(dataset, sources_key)}/raw/{name}"


def provenance_file(dataset: str, sources_key: str) -> str:
    """Where each raw file came from, with its md5."""
    return f"{raw_data_directory(dataset, sources_key)}/provenance.json"


@dataclass(frozen=True)
class ResultsLayout:
    """The files of one config's results directory ``root``."""

    root: str

    @property
    def runs(self) -> str:
        return f"{self.root}/runs"

    def run_directory(self, run_id: str) -> str:
        return f"{self.runs}/{run_id}"

    def run_file(self, run_id: str, name: str) -> str:
        return f"{self.run_directory(run_id)}/{name}"

    def data_file(self, dataset: str) -> str:
        """The compact, prepared copy of ``dataset`` that the runs read."""
        return f"{self.root}/data/{dataset}.npz"

    def table(self, name: str, kind: str = "csv") -> str:
        return f"{self.root}/tables/{name}.{kind}"

    def figure(self, name: str, kind: str) -> str:
        return f"{self.root}/figures/{name}.{kind}"

    def simulation(self, name: str, kind: str) -> str:
        return f"{self.root}/simulation/{name}.{kind}"

    @property
    def summary_page(self) -> str:
        return f"{self.root}/summary.html"

    @property
    def engine_throughput(self) -> str:
        return f"{self.root}/performance/train_throughput.csv"

    def log(self, step: str, name: str) -> str:
        return f"{self.root}/logs/{step}/{name}.log"

    def benchmark(self, step: str, name: str) -> str:
        return f"{self.root}/benchmarks/{step}/{name}.tsv"
