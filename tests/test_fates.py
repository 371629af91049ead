"""Every run's fate: divergence caught wherever it starts, no gradient detected and stopped, the untrained
network measured before the first update."""

import math

import pandas as pd
import pytest
import torch

from helpers import config_for, synthetic_data_file, train
from spikebench.model.network import ConvSNN
from spikebench.run.health import HealthMonitor
from spikebench.run.trainer import Trainer


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return synthetic_data_file(tmp_path_factory.mktemp("synthetic"))


def epochs_of(directory):
    return pd.read_csv(directory / "epochs.csv")["epoch"].tolist()


def test_weights_forced_to_nan_are_a_divergence_not_silence(data_file, tmp_path, monkeypatch):
    """NaN weights give NaN membranes, which fire nothing: the rate loss stays finite, and only the health
    checks tell this run from a silent one."""
    original = Trainer.train_epoch

    def poison_in_epoch_three(self, epoch):
        if epoch == 3:
            with torch.no_grad():
                self.setup.model.fc.weight.fill_(math.nan)
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", poison_in_epoch_three)
    summary = train(config_for(), data_file, tmp_path)
    assert summary["status"] == "diverged" and summary["diverged_epoch"] == 3 and summary["diverged_batch"] == 0
    assert summary["divergence"] in ("gradients", "weights", "membranes")
    assert summary["best_epoch"] == 2 and epochs_of(tmp_path) == [0, 1, 2]
    best = torch.load(tmp_path / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(tensor).all() for tensor in best.values()), "the kept weights are the best finite ones"


def test_an_overflowing_optimizer_update_is_a_divergence_not_a_crash(data_file, tmp_path):
    summary = train(config_for(training={"learning_rate": 1e38}), data_file, tmp_path)
    assert summary["status"] == "diverged" and summary["divergence"] == "optimizer update"
    assert (summary["diverged_epoch"], summary["diverged_batch"], summary["epochs_run"]) == (1, 0, 0)
    assert summary["best_epoch"] == 0 and epochs_of(tmp_path) == [0]


def test_nan_gradients_of_snntorchs_sigmoid_are_a_divergence(data_file, tmp_path):
    """snnTorch's own sigmoid backward overflows to NaN at steep slopes (``surrogate_numerics: snntorch``)."""
    model = {"steps": 6, "surrogate_numerics": "snntorch", "surrogate_params": {"sigmoid": {"slope": 100}}}
    summary = train(config_for(surrogate="sigmoid", model=model), data_file, tmp_path)
    assert summary["status"] == "diverged" and summary["divergence"] == "gradients"


def test_a_surrogate_that_passes_no_gradient_stops_after_one_epoch(data_file, tmp_path, caplog):
    """snnTorch's sparse fast sigmoid passes gradient only above threshold + B; the untrained network's
    membranes stay below it, so no weight can ever change."""
    model = {"steps": 6, "surrogate_params": {"sparse_fast_sigmoid": {"slope": 50, "B": 1}}}
    config = config_for(surrogate="sparse_fast_sigmoid", model=model, training={"max_epochs": 5, "patience": 3})
    summary = train(config, data_file, tmp_path)
    assert summary["status"] == "no_gradient" and summary["epochs_run"] == 1 and summary["stopped_early"]
    assert set(summary["initial_gradient_norms"].values()) == {0.0}
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert epochs["epoch"].tolist() == [0, 1]
    assert epochs["val_acc"].nunique() == 1, "unchanged weights: epoch 1 evaluates as epoch 0 did"
    assert summary["best_epoch"] == 0, "as patience would have stopped it, with the untrained weights best"
    assert "every gradient was exactly zero through epoch 1" in caplog.text


def test_health_monitor_finds_what_became_non_finite_and_records_the_first_gradient():
    model = ConvSNN("leaky", "atan")
    optimizer = torch.optim.Adamax(model.parameters())
    monitor = HealthMonitor(model, optimizer)
    assert not monitor.gradient_seen
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 2.0)
    monitor.before_step()
    optimizer.step()
    expected = {name: 2.0 * math.sqrt(parameter.numel()) for name, parameter in model.named_parameters()}
    assert monitor.initial_gradient_norms == pytest.approx(expected)
    assert monitor.gradient_seen
    membrane = torch.zeros(3)
    assert monitor.batch_problem(1.0, [membrane]) is None
    assert monitor.batch_problem(math.inf, [membrane]) == "loss"
    assert monitor.batch_problem(1.0, [torch.tensor([0.0, math.nan])]) == "membranes"
    assert monitor.batch_problem(math.nan, [torch.tensor([math.nan])]) == "membranes", "the forward pass comes first"
    moment = next(iter(optimizer.state.values()))["exp_inf"]
    moment[0] = math.inf
    with torch.no_grad():
        model.conv1.bias[0] = math.nan
    assert monitor.batch_problem(1.0, [membrane]) == "optimizer state", "the step writes moments, then weights"
    moment[0] = 0.0
    assert monitor.batch_problem(1.0, [membrane]) == "weights"
