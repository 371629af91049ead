"""snnTorch's fast sigmoid and arctan spike functions in fewer passes over the tensor, the same numbers.

snnTorch's forward pass converts a bool comparison to float (on CPUs several times the comparison itself), and
its backward pass clones the incoming gradient and allocates a new tensor for every operation. These run the
same operations in the same order on one buffer, so every result is bit for bit snnTorch's (tested on
random and edge-case inputs, forward and backward). The fast engine uses them (``SurrogateSpec.fused_factory``);
the reference engine keeps snnTorch's own.
"""

from __future__ import annotations

import torch

from spikebench.neurons.functional import compare_as_float


class FusedFastSigmoid(torch.autograd.Function):
    """snnTorch's ``FastSigmoid``: ``grad / (k |x| + 1)^2``."""

    @staticmethod
    def forward(ctx, input_, slope):
        ctx.save_for_backward(input_)
        ctx.slope = slope
        return compare_as_float(torch.gt, input_, 0)

    @staticmethod
    def backward(ctx, grad_output):
        (input_,) = ctx.saved_tensors
        denominator = torch.abs(input_).mul_(ctx.slope).add_(1.0).pow_(2)
        return torch.div(grad_output, denominator, out=denominator), None


class FusedATan(torch.autograd.Function):
    """snnTorch's ``ATan``: ``alpha / 2 / (1 + (pi / 2 alpha x)^2) grad``, where ``float / tensor`` is torch's
    ``reciprocal(tensor) * float``."""

    @staticmethod
    def forward(ctx, input_, alpha):
        ctx.save_for_backward(input_)
        ctx.alpha = alpha
        return compare_as_float(torch.gt, input_, 0)

    @staticmethod
    def backward(ctx, grad_output):
        (input_,) = ctx.saved_tensors
        scaled = torch.mul(input_, torch.pi / 2 * ctx.alpha).pow_(2).add_(1).reciprocal_()
        return scaled.mul_(ctx.alpha / 2).mul_(grad_output), None


def fast_sigmoid(slope=25):
    def inner(x):
        return FusedFastSigmoid.apply(x, slope)

    return inner


def atan(alpha=2.0):
    def inner(x):
        return FusedATan.apply(x, alpha)

    return inner
