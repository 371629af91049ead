"""Example spikebench plugin: an adaptive-threshold LIF neuron and a Gaussian surrogate gradient.

``spikebench_alif.plugin`` registers them; ``cells`` and ``surrogates`` hold the torch code, imported only
when a job builds a network, so that Snakemake plans a study with them without importing torch.
"""
