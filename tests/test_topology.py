"""The network's topology, declared once: its shapes and operation counts against the closed form of
12C5-MP2-64C5-MP2-FC10, and the network built from it."""

import subprocess
import sys

import torch

from conftest import REPO
from spikebench.model.network import ConvSNN
from spikebench.model.topology import LAYER_NAMES, STAGES, dense_operations_per_step, stage_shapes


def test_stage_shapes_are_those_of_12c5_mp2_64c5_mp2_fc10():
    shapes = stage_shapes()
    assert [s.connection for s in shapes] == [(12, 24, 24), (64, 8, 8), (10,)]
    assert [s.outputs for s in shapes] == [(12, 12, 12), (64, 4, 4), (10,)]
    assert shapes[2].inputs == (64 * 4 * 4,)


def test_dense_operations_are_the_closed_form():
    assert dense_operations_per_step() == 12 * 24 * 24 * 25 + 64 * 8 * 8 * 12 * 25 + 10 * 1024


def test_the_network_is_built_from_the_stages():
    model = ConvSNN("leaky", "atan")
    weights = [name for name in model.state_dict() if name.endswith("weight")]
    assert weights == [f"{stage.connection}.weight" for stage in STAGES]
    result = model(torch.rand(2, 1, 28, 28), steps=3, record=True)
    assert [tuple(output.shape[2:]) for output in result.layer_outputs] == [s.outputs for s in stage_shapes()]
    assert len(LAYER_NAMES) == len(model.cells) == len(STAGES)


def test_the_workflow_plans_without_torch_or_plotting_libraries():
    """What common.smk imports must not import torch, pandas or matplotlib: a Snakemake installed on its own
    plans the jobs, and the jobs' environments bring the rest."""
    code = (
        "import sys\n"
        "import spikebench.data.datasets, spikebench.report.registry, spikebench.run.contract\n"
        "import spikebench.study.config, spikebench.study.resources, spikebench.study.settings, spikebench.paths\n"
        "import spikebench.model.registry\n"
        "print(sorted({'torch', 'pandas', 'matplotlib', 'snntorch'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"
