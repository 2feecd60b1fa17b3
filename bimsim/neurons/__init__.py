"""Neuron models, one per module: its Brian2 equations beside the function that builds it."""

from bimsim.neurons.lif import lif_neurons, require_learning_layer

__all__ = ["lif_neurons", "require_learning_layer"]
