"""Neuron models, one per module, each keeping the contract of :mod:`bimsim.neurons.model`: its
Brian2 equations beside the dataclass of its parameters, its pseudo-derivative, eligibility
fragment, rest state, operation count and torch reference step.

:data:`NEURONS` names every model that a BIM layer (and ``--neuron``) can use.
"""

import dataclasses

from bimsim.neurons.elm import ELM
from bimsim.neurons.lif import (
    LIF,
    TAU_M,
    TAU_SYN,
    lif_neurons,
    require_adaptation,
    require_apart,
)
from bimsim.neurons.model import (
    Eligibility,
    NeuronModel,
    copies_of,
    model_of,
    neuron_bytes,
    neuron_group,
    require_learning_layer,
    require_weight_unit,
    reset_group,
)
from bimsim.neurons.p_spikessm import PSpikeSSM
from bimsim.neurons.p_spikessm_block import PSpikeSSMBlock
from bimsim.neurons.tc_lif import TCLIF

__all__ = [
    "ELM",
    "LIF",
    "NEURONS",
    "TAU_M",
    "TAU_SYN",
    "TCLIF",
    "Eligibility",
    "NeuronModel",
    "PSpikeSSM",
    "PSpikeSSMBlock",
    "copies_of",
    "lif_neurons",
    "make_neuron",
    "model_of",
    "neuron_bytes",
    "neuron_group",
    "neuron_kind",
    "require_adaptation",
    "require_apart",
    "require_learning_layer",
    "require_weight_unit",
    "reset_group",
]

#: Every neuron model by the name ``--neuron`` gives it.
NEURONS = {kind.name: kind for kind in (LIF, TCLIF, PSpikeSSM, PSpikeSSMBlock, ELM)}


def neuron_kind(neuron):
    """The :class:`NeuronModel` class of ``neuron``, a key of :data:`NEURONS` or a class."""
    kind = NEURONS.get(neuron) if isinstance(neuron, str) else neuron
    if not (isinstance(kind, type) and issubclass(kind, NeuronModel)):
        raise ValueError(f"unknown neuron {neuron!r}; choose one of {', '.join(NEURONS)}")
    return kind


def make_neuron(neuron="lif", settings=None):
    """A neuron model from its name (a key of :data:`NEURONS`) or class and its settings.

    Raises
    ------
    ValueError
        For an unknown name, or a setting the model does not have (naming those it has).
    """
    kind = neuron_kind(neuron)
    if settings is not None and not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict of the model's settings, got {settings!r}")
    settings = dict(settings or {})
    names = [item.name for item in dataclasses.fields(kind)]
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise ValueError(
            f"the {kind.name} neuron has no setting {', '.join(map(repr, unknown))}; its "
            f"settings: {', '.join(names)}"
        )
    return kind(**settings)
