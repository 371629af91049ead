"""Workload metrics of a trained network, as NeuroBench defines them, computed on the test set.

- ``activation_sparsity``: share of zero outputs of the spiking layers, over all layers, steps and samples.
- ``effective_macs`` / ``effective_acs`` (per sample): synaptic operations that actually happen, counted as
  NeuroBench does with binary copies of inputs and weights (an operation per non-zero input and non-zero
  weight it meets). Layers fed by real values (the first convolution, fed by the image) do
  multiply-accumulates (MACs); layers fed by spikes do accumulates (ACs). Every layer is counted at every time
  step, as the network is stepped in time (the fast engine computes the static first convolution once, so
  it really does 1 / steps of the counted MACs there).
- ``dense_ops`` (per sample): the same count with every input and weight non-zero, for contrast.
- ``footprint_bytes``: bytes of parameters and buffers. ``connection_sparsity``: share of zero weights in the
  convolution and linear layers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from spikebench.model.network import ConvSNN
from spikebench.model.topology import STAGES
from spikebench.run.contract import MODEL_KEYS, RunOutputError, settings_fingerprint
from spikebench.run.setup import build_model, load_splits, resolve_device
from spikebench.study.config import Run
from spikebench.study.settings import RunSettings
from spikebench.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)


def _binary(tensor: torch.Tensor) -> torch.Tensor:
    return (tensor != 0).to(torch.float32)


def _layer_ops(layer: nn.Module, inputs: torch.Tensor, dense: bool) -> float:
    """Operations of one connection layer on a batch (bias excluded), as NeuroBench's binary-copy count."""
    weight = torch.ones_like(layer.weight) if dense else _binary(layer.weight)
    inputs = torch.ones_like(inputs) if dense else _binary(inputs)
    if isinstance(layer, nn.Conv2d):
        return float(F.conv2d(inputs, weight, stride=layer.stride, padding=layer.padding).sum())
    return float(F.linear(inputs, weight).sum())


def _is_spiking(tensor: torch.Tensor) -> bool:
    return bool(((tensor == 0) | (tensor == 1) | (tensor == -1)).all())


@torch.no_grad()
def workload_metrics(model: ConvSNN, images: torch.Tensor, steps: int, batch_size: int = 500) -> dict[str, float]:
    """The metrics above on ``images`` (``[N, 1, 28, 28]``, scaled to [0, 1])."""
    model.eval()
    spikes = neurons = macs = acs = dense = 0.0
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        result = model(batch, steps, record=True)
        layer_inputs = [batch.expand(steps, *batch.shape), *result.layer_outputs[:-1]]
        for stage, layer, inputs in zip(STAGES, model.connections(), layer_inputs, strict=True):
            inputs = inputs.flatten(0, 1)
            inputs = inputs.flatten(1) if stage.flatten else inputs
            operations = _layer_ops(layer, inputs, dense=False)
            if _is_spiking(inputs):
                acs += operations
            else:
                macs += operations
            dense += _layer_ops(layer, inputs, dense=True)
        for output in result.layer_outputs:
            spikes += float(torch.count_nonzero(output))
            neurons += output.numel()
    count = len(images)
    weights = [layer.weight for layer in model.connections()]
    return {
        "activation_sparsity": (neurons - spikes) / neurons,
        "effective_macs": macs / count,
        "effective_acs": acs / count,
        "dense_ops": dense / count,
        "footprint_bytes": float(
            sum(p.numel() * p.element_size() for p in model.parameters())
            + sum(b.numel() * b.element_size() for b in model.buffers())
        ),
        "connection_sparsity": float(sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)),
    }


def load_weights(path: str | Path, device: torch.device, run_id: str, settings_hash: str) -> dict[str, torch.Tensor]:
    """The state dict in run ``run_id``'s ``model.pt``, read as tensors only (``weights_only=True``: a planted
    pickle runs no code), refused unless the file says that run made it with these settings."""
    rebuild = "; delete it and its run's summary.json and epochs.csv, and rerun the workflow to train that run again"
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # a truncated, garbage or planted file each fails in its own way
        raise RunOutputError(
            f"{path}: not a readable state dict of tensors ({type(error).__name__}){rebuild}"
        ) from None
    if not (isinstance(saved, dict) and set(saved) == set(MODEL_KEYS)):
        found = sorted(map(str, saved)) if isinstance(saved, dict) else type(saved).__name__
        raise RunOutputError(f"{path}: holds {found}, not {', '.join(MODEL_KEYS)}{rebuild}")
    if saved["run_id"] != run_id:
        raise RunOutputError(f"{path}: the weights of run {saved['run_id']!r}, not of {run_id}{rebuild}")
    if saved["settings_hash"] != settings_hash:
        raise RunOutputError(f"{path}: weights made with other settings than this config's{rebuild}")
    return saved["state_dict"]


def run_workload(
    run: dict, settings: dict, model_path: str | Path, data_path: str | Path, out_path: str | Path, threads: int
) -> dict:
    """Entry point of the ``workload`` rule: the metrics of a run's best weights on its test set."""
    torch.set_num_threads(threads)
    run = Run.from_dict(run)
    settings = RunSettings.from_config(settings)
    device = resolve_device(settings.device)
    model = build_model(run, settings, "fast").to(device)
    fingerprint = settings_fingerprint(run.as_dict(), settings.as_dict())
    model.load_state_dict(load_weights(model_path, device, run.run_id, fingerprint))
    model.seed_generators(run.seed, device)
    splits, _ = load_splits(data_path, run.dataset, settings.data, device, names=("test",))
    test = splits["test"]
    images, _ = test.batch(torch.arange(len(test), device=device))
    metrics = {"run_id": run.run_id, **workload_metrics(model, images, settings.model.steps)}
    atomic_write_text(out_path, json.dumps(metrics, indent=2) + "\n")
    log.info("%s: %s", run.run_id, ", ".join(f"{key} {value:.4g}" for key, value in metrics.items() if key != "run_id"))
    return metrics
