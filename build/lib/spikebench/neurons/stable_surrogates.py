"""Numerically stable versions of snnTorch surrogates whose backward pass overflows (see ``surrogates``)."""

from __future__ import annotations

import torch


class StableSigmoid(torch.autograd.Function):
    """Forward: ``(x > 0).float()`` as snnTorch. Backward: ``k s (1 - s)``, ``s = sigmoid(k x)``, never NaN."""

    @staticmethod
    def forward(ctx, input_, slope):
        ctx.save_for_backward(input_)
        ctx.slope = slope
        return (input_ > 0).float()

    @staticmethod
    def backward(ctx, grad_output):
        (input_,) = ctx.saved_tensors
        logistic = torch.sigmoid(ctx.slope * input_)
        return grad_output * ctx.slope * logistic * (1 - logistic), None


def sigmoid(slope=25):
    def inner(x):
        return StableSigmoid.apply(x, slope)

    return inner
