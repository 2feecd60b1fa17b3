"""Plasticity rules as Brian2 synapse equations."""

from bimsim.plasticity.stdp import (
    PAIR_DEFAULTS,
    TRIPLET_PRESETS,
    STDPRule,
    WeightBounds,
    pair_rule,
    stdp_equations,
    stdp_synapses,
    triplet_preset,
)

__all__ = [
    "PAIR_DEFAULTS",
    "TRIPLET_PRESETS",
    "STDPRule",
    "WeightBounds",
    "pair_rule",
    "stdp_equations",
    "stdp_synapses",
    "triplet_preset",
]
