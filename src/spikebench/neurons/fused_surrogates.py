"""snnTorch's deterministic spike functions in fewer passes over the tensor, the same numbers.

snnTorch's forward pass converts a bool comparison to float (on CPUs several times the comparison itself), and
its backward pass clones the incoming gradient and allocates a new tensor for every operation (triangular also
indexes with a bool mask). These run the same arithmetic in the same order on as few buffers as it allows, so
every result is bit for bit snnTorch's (tested on random and edge-case inputs, forward and backward). The fast
engine uses them (``SurrogateSpec.fused_factory``); the reference engine keeps snnTorch's own. The stochastic
spike operator draws noise and keeps snnTorch's.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from spikebench.neurons.functional import compare_as_float


class _Heaviside(torch.autograd.Function):
    """Forward ``x > 0`` as float, written into a float tensor; ``ctx.params`` are the surrogate's parameters."""

    @staticmethod
    def forward(ctx, input_, *params):
        ctx.save_for_backward(input_)
        ctx.params = params
        return compare_as_float(torch.gt, input_, 0)


class FusedFastSigmoid(_Heaviside):
    """snnTorch's ``FastSigmoid``: ``grad / (k |x| + 1)^2``."""

    @staticmethod
    def backward(ctx, grad_output):
        (input_,), (slope,) = ctx.saved_tensors, ctx.params
        return _over_fast_sigmoid(grad_output, input_, slope), None


class FusedSparseFastSigmoid(_Heaviside):
    """snnTorch's ``SparseFastSigmoid``: ``grad / (k |x| + 1)^2 * (x > B)``."""

    @staticmethod
    def backward(ctx, grad_output):
        (input_,), (slope, above) = ctx.saved_tensors, ctx.params
        gradient = _over_fast_sigmoid(grad_output, input_, slope)
        return gradient.mul_(compare_as_float(torch.gt, input_, above)), None, None


class FusedATan(_Heaviside):
    """snnTorch's ``ATan``: ``alpha / 2 / (1 + (pi / 2 alpha x)^2) grad``, where ``float / tensor`` is torch's
    ``reciprocal(tensor) * float``."""

    @staticmethod
    def backward(ctx, grad_output):
        (input_,), (alpha,) = ctx.saved_tensors, ctx.params
        scaled = torch.mul(input_, torch.pi / 2 * alpha).pow_(2).add_(1).reciprocal_()
        return scaled.mul_(alpha / 2).mul_(grad_output), None


class FusedSpikeRateEscape(_Heaviside):
    """snnTorch's ``SpikeRateEscape``: ``grad * k * exp(-beta |x - 1|)``."""

    @staticmethod
    def backward(ctx, grad_output):
        (input_,), (beta, slope) = ctx.saved_tensors, ctx.params
        escape = torch.sub(input_, 1).abs_().mul_(-beta).exp_()
        return torch.mul(grad_output, slope).mul_(escape), None, None


class FusedTriangular(_Heaviside):
    """snnTorch's ``Triangular``: ``grad * threshold``, negated where ``x >= 0``; the negation as a factor
    ``-threshold`` (the same number: rounding is symmetric in sign) instead of indexing with a bool mask."""

    @staticmethod
    def backward(ctx, grad_output):
        (input_,), (threshold,) = ctx.saved_tensors, ctx.params
        factor = compare_as_float(torch.ge, input_, 0).mul_(-2 * threshold).add_(threshold)
        return factor.mul_(grad_output), None


class FusedStraightThrough(torch.autograd.Function):
    """snnTorch's ``StraightThroughEstimator``: the gradient passes unchanged (without snnTorch's clone)."""

    @staticmethod
    def forward(ctx, input_):
        return compare_as_float(torch.gt, input_, 0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


def _over_fast_sigmoid(grad_output: torch.Tensor, input_: torch.Tensor, slope: float) -> torch.Tensor:
    """``grad / (slope * |x| + 1.0) ** 2`` in one new tensor."""
    denominator = torch.abs(input_).mul_(slope).add_(1.0).pow_(2)
    return torch.div(grad_output, denominator, out=denominator)


class FusedSpike(NamedTuple):
    """A fused spike function with its parameters, callable as ``spike_fn(x)``; the native neuron kernels
    (``spikebench.neurons.native``) read which function and parameters it is."""

    function: type[torch.autograd.Function]
    params: tuple = ()

    def __call__(self, input_: torch.Tensor) -> torch.Tensor:
        return self.function.apply(input_, *self.params)


def fast_sigmoid(slope=25):
    return FusedSpike(FusedFastSigmoid, (slope,))


def SFS(slope=25, B=1):  # noqa: N802 (snnTorch's name)
    return FusedSpike(FusedSparseFastSigmoid, (slope, B))


def atan(alpha=2.0):
    return FusedSpike(FusedATan, (alpha,))


def spike_rate_escape(beta=1, slope=25):
    return FusedSpike(FusedSpikeRateEscape, (beta, slope))


def triangular(threshold=1):
    return FusedSpike(FusedTriangular, (threshold,))


def straight_through_estimator():
    return FusedSpike(FusedStraightThrough)
