"""The study's network: the neuron model registry, the cells that step each model, the topology, the
convolutional SNN and its two engines, and the backprop methods that cut time into update windows.

``registry``, ``topology`` and ``backprop`` import no torch, so the workflow can read them to plan its jobs.
"""
