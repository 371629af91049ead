"""Workload metrics against NeuroBench's own implementation on the study's network with the same weights."""

import pytest
import snntorch as snn
import torch
from torch import nn

from spikebench.model.network import ConvSNN
from spikebench.model.topology import dense_operations_per_step
from spikebench.neurons.surrogates import make_spike_function
from spikebench.run.workload import workload_metrics

STEPS = 6


def same_network_for_neurobench(ours: ConvSNN) -> nn.Sequential:
    spike = make_spike_function("atan")
    net = nn.Sequential(
        nn.Conv2d(1, 12, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, spike_grad=spike, init_hidden=True),
        nn.Conv2d(12, 64, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, spike_grad=spike, init_hidden=True),
        nn.Flatten(),
        nn.Linear(1024, 10),
        snn.Leaky(beta=0.5, spike_grad=spike, init_hidden=True, output=True),
    )
    with torch.no_grad():
        for theirs, mine in ((net[0], ours.conv1), (net[3], ours.conv2), (net[7], ours.fc)):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    return net


@pytest.fixture
def network_and_images():
    torch.manual_seed(0)
    ours = ConvSNN("leaky", "atan")
    with torch.no_grad():
        ours.conv1.weight.mul_(3)
        ours.fc.weight[0, :40] = 0
    images = torch.rand(16, 1, 28, 28)
    images[images < 0.5] = 0
    return ours, images


def test_metrics_equal_neurobench(network_and_images):
    neurobench = pytest.importorskip("neurobench", reason="install with: pip install --no-deps neurobench==2.3.0 tqdm")
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import SNNTorchModel
    from torch.utils.data import DataLoader, TensorDataset

    assert neurobench
    ours, images = network_and_images
    labels = torch.zeros(len(images), dtype=torch.long)
    sequences = images.unsqueeze(1).expand(-1, STEPS, -1, -1, -1)
    benchmark = Benchmark(
        SNNTorchModel(same_network_for_neurobench(ours)),
        DataLoader(TensorDataset(sequences, labels), batch_size=8),
        [],
        [],
        [[Footprint, ConnectionSparsity], [SynapticOperations, ActivationSparsity]],
    )
    expected = benchmark.run(quiet=True)
    mine = workload_metrics(ours, images, STEPS, batch_size=8)
    operations = expected["SynapticOperations"]
    assert mine["effective_macs"] == pytest.approx(operations["Effective_MACs"], rel=1e-9)
    assert mine["effective_acs"] == pytest.approx(operations["Effective_ACs"], rel=1e-9)
    assert mine["dense_ops"] == pytest.approx(operations["Dense"], rel=1e-9)
    assert mine["activation_sparsity"] == pytest.approx(expected["ActivationSparsity"], rel=1e-12)
    assert mine["connection_sparsity"] == pytest.approx(expected["ConnectionSparsity"], abs=5e-4)
    assert mine["connection_sparsity"] > 0 and mine["effective_acs"] > 0


def test_dense_operations_follow_the_architecture(network_and_images):
    ours, images = network_and_images
    metrics = workload_metrics(ours, images, STEPS)
    assert metrics["dense_ops"] == STEPS * dense_operations_per_step()
    assert 0 < metrics["activation_sparsity"] < 1
    assert metrics["footprint_bytes"] >= 4 * sum(p.numel() for p in ours.parameters())
