"""Numerically stable versions of snnTorch surrogates whose backward pass overflows (see ``surrogates``)."""

from __future__ import annotations

import torch

from spikebench.neurons.functional import compare_as_float


class StableSigmoid(torch.autograd.Function):
    """Forward: ``(x > 0).float()`` as snnTorch. Backward: ``k s (1 - s)``, ``s = sigmoid(k x)``, never NaN."""

    @staticmethod
    def forward(ctx, input_, slope):
        ctx.save_for_backward(input_)
        ctx.slope = slope
        return compare_as_float(torch.gt, input_, 0)

    @staticmethod
    def backward(ctx, grad_output):
        # grad * k * s * (1 - s), left to right, in two new tensors (1 - s is -s + 1, the same number).
        (input_,) = ctx.saved_tensors
        logistic = torch.mul(input_, ctx.slope).sigmoid_()
        gradient = torch.mul(grad_output, ctx.slope).mul_(logistic)
        return gradient.mul_(logistic.neg_().add_(1)), None


def sigmoid(slope=25):
    def inner(x):
        return StableSigmoid.apply(x, slope)

    return inner
