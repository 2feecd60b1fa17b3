"""Neuron models, one per module: its Brian2 equations beside the function that builds it."""

from bimsim.neurons.lif import (
    TAU_M,
    TAU_SYN,
    lif_neurons,
    require_adaptation,
    require_apart,
    require_learning_layer,
)

__all__ = [
    "TAU_M",
    "TAU_SYN",
    "lif_neurons",
    "require_adaptation",
    "require_apart",
    "require_learning_layer",
]
