"""spikebench: a reproducible study of spiking neuron models, surrogate gradients and backprop methods."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spikebench")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
