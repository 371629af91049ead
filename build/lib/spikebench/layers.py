"""The neuron layers' public import path, ``from spikebench.layers import TorchLIFLayer``; they live in
``spikebench.neurons.layers``."""

from spikebench.neurons.layers import TorchAdaptiveLIFLayer, TorchBernoulliLayer, TorchLIFLayer

__all__ = ["TorchAdaptiveLIFLayer", "TorchBernoulliLayer", "TorchLIFLayer"]
