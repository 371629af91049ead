"""Cheap checks of a run's health during training: divergence, and whether any gradient reaches the weights.

A run has diverged when anything it carries stops being a finite number: the loss, a gradient, a weight, the
optimizer's moments or a membrane potential. The loss alone does not tell: NaN membranes fire no spikes, so a
network whose weights became NaN keeps a finite rate loss and would pass for one that stayed silent. The
checks run on the device and are read once per batch, beside the loss the trainer reads anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

DIVERGENCE_SOURCES = ("membranes", "loss", "gradients", "optimizer update", "optimizer state", "weights")
"""What can become non-finite, in the order a batch produces them: the forward pass's membranes, its loss, the
backward pass's gradients, the optimizer's update, then the moments and weights the step writes. The first one
that is not finite is reported. The optimizer update overflows when the learning rate over Adamax's bias
correction exceeds the weights' range (``adamax_step_overflows``), which torch would refuse with an error
instead of a number."""


class UpdateOverflow(ArithmeticError):
    """The next optimizer step's size does not fit the weights' dtype: the run has diverged."""


def adamax_step_overflows(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the next Adamax step moves a weight by more than its dtype can hold: Adamax moves each weight by up
    to ``lr / (1 - beta1 ** step)``, the largest at the first step."""
    for group in optimizer.param_groups:
        beta1 = group["betas"][0]
        for parameter in group["params"]:
            step = float(optimizer.state.get(parameter, {}).get("step", 0)) + 1
            if not group["lr"] / (1 - beta1**step) <= torch.finfo(parameter.dtype).max:
                return True
    return False


def _all_finite(tensors: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """One boolean on ``device``: whether every element of ``tensors`` is finite."""
    if not tensors:
        return torch.tensor(True, device=device)
    return torch.stack([torch.isfinite(tensor).all() for tensor in tensors]).all()


class HealthMonitor:
    """Watches one run's gradients, weights, optimizer state and membranes.

    ``before_step`` runs just before every optimizer step (on the gradients that step applies), and
    ``batch_problem`` after every batch. The first step's per-tensor gradient norms are the run's
    ``initial_gradient_norms``; ``gradient_seen`` says whether any step so far had a non-zero gradient.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.parameters = dict(model.named_parameters())
        self.device = next(iter(self.parameters.values())).device
        self.initial_gradient_norms: dict[str, float] = {}
        self._largest_gradient: torch.Tensor | None = None
        self._gradients_finite: torch.Tensor | None = None

    def _gradient_norms(self) -> torch.Tensor:
        return torch.stack(
            [
                torch.linalg.vector_norm(parameter.grad.detach())
                if parameter.grad is not None
                else torch.zeros((), device=self.device)
                for parameter in self.parameters.values()
            ]
        )

    def before_step(self) -> None:
        """Records the gradients the step applies; raises ``UpdateOverflow`` if the step cannot be taken."""
        norms = self._gradient_norms()
        if not self.initial_gradient_norms:
            self.initial_gradient_norms = dict(zip(self.parameters, norms.tolist(), strict=True))
        largest = norms.max()
        finite = torch.isfinite(norms).all()
        self._largest_gradient = largest if self._largest_gradient is None else self._largest_gradient.maximum(largest)
        self._gradients_finite = finite if self._gradients_finite is None else self._gradients_finite & finite
        if adamax_step_overflows(self.optimizer):
            raise UpdateOverflow("the optimizer step does not fit the weights' dtype")

    @property
    def gradient_seen(self) -> bool:
        """Whether any optimizer step so far had a non-zero (or non-finite) gradient somewhere."""
        return self._largest_gradient is not None and not bool(self._largest_gradient == 0)

    def batch_problem(self, loss: float, membranes: Sequence[torch.Tensor]) -> str | None:
        """What became non-finite in the batch just trained (one of ``DIVERGENCE_SOURCES``), None if nothing."""
        moments = [value for state in self.optimizer.state.values() for value in state.values() if value.dim() > 0]
        true = torch.tensor(True, device=self.device)
        finite = {
            "membranes": _all_finite(membranes, self.device),
            "loss": torch.tensor(math.isfinite(loss), device=self.device),
            "gradients": self._gradients_finite if self._gradients_finite is not None else true,
            "optimizer state": _all_finite(moments, self.device),
            "weights": _all_finite(list(self.parameters.values()), self.device),
        }
        failed = dict(zip(finite, (~torch.stack(list(finite.values()))).tolist(), strict=True))
        return next((source for source in DIVERGENCE_SOURCES if failed.get(source)), None)
