"""What spikebench imports: registration by import path only, no torch."""

from spikebench.plugins import register_neuron, register_surrogate

register_neuron(
    "alif",
    "spikebench_alif.cells:ALIFCell",
    description="adaptive-threshold LIF (Bellec et al. 2018): each spike raises the threshold, which decays back",
    gain="spikebench_alif.closed_forms:alif_gain",
    parameters={"rho": 0.9, "gamma": 0.2},
    origin="spikebench_alif",
)
register_surrogate(
    "gaussian",
    "spikebench_alif.surrogates:gaussian",
    defaults={"sigma": 0.3},
    description="Gaussian derivative of unit area, standard deviation sigma (Yin et al. 2021)",
    scale="sigma",
    width="spikebench_alif.closed_forms:gaussian_width",
    origin="spikebench_alif",
)
