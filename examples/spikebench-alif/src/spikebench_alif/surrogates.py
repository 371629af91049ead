"""A Gaussian surrogate gradient (Yin et al. 2021's single Gaussian): forward the Heaviside step, backward a
Gaussian of unit area and standard deviation ``sigma``, ``exp(-x^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)``."""

from __future__ import annotations

import math

import torch


class _GaussianSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sigma: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.sigma = sigma
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        sigma = ctx.sigma
        derivative = torch.exp(-0.5 * (x / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma)
        return grad_output * derivative, None


def gaussian(sigma: float = 0.3):
    """The spike function ``x -> H(x)`` with the Gaussian surrogate derivative of width parameter ``sigma``."""

    def spike(x: torch.Tensor) -> torch.Tensor:
        return _GaussianSpike.apply(x, sigma)

    return spike
