"""Input scaling by the layer's firing rate: scale BIM's input weights until the spiking layer fires
at a chosen mean rate on training samples, before any learning.

How strongly a task drives the layer depends on its encoder (a speech band crossing 2 dB steps
fires far more often than an ECG lead crossing 0.05 mV steps), so one weight range cannot suit
every task: too weak and the layer is silent, too strong and every neuron fires at its highest
rate; either way its spikes carry little about the input, and the readout, whose output grows
with the cube of its input's size, sees nothing or too much. :func:`calibrate_rate` multiplies
every input weight by one factor, found by bisection on its logarithm (the layer's mean rate
grows with the factor), so that the layer fires at ``target`` on one minibatch of training
samples, without learning. It uses training samples only, and its factor and the rate reached
are saved with the run.
"""

import math

import numpy as np
from brian2 import Hz, second

from bimsim.quantities import require

__all__ = ["calibrate_rate", "layer_rate"]

#: Bisection steps on log2 of the factor, and the widest factor tried (2 ** ±MAX_OCTAVES).
STEPS = 10
MAX_OCTAVES = 12


def layer_rate(model, signals, features):
    """Mean firing rate of ``model``'s spiking layer on ``signals`` (no learning)."""
    model.predict_proba(signals, features)
    net = model.network
    return model.counts["hidden_spikes"] / (net.n_hidden * float(model.duration / second)) * Hz


def calibrate_rate(model, signals, features, target, rng):
    """Scale every input weight of ``model`` by one factor so that its layer fires at ``target``.

    Parameters
    ----------
    model : BIMClassifier or BIMTokenPredictor
        Its ``predict_proba`` sets ``counts["hidden_spikes"]`` (per sample).
    signals, features : array
        Training samples; one minibatch (``model.copies`` of them) is drawn from them.
    target : Quantity
        The layer's mean rate to reach (a frequency above 0).
    rng : numpy.random.Generator
        Draws the minibatch.

    Returns
    -------
    factor : float
        What the weights were multiplied by.
    rate : Quantity
        The layer's mean rate on the minibatch after scaling.
    """
    require("target", target, "frequency")
    if not (np.isfinite(float(target)) and float(target) > 0):
        raise ValueError(f"target must be a rate above 0, got {target}")
    chosen = rng.choice(len(signals), min(model.copies, len(signals)), replace=False)
    batch = (signals[chosen], None if features is None else features[chosen])
    synapses = model.network.synapses
    initial = np.array(synapses.w[:])

    rates = {}

    def rate_at(octaves):
        if octaves not in rates:
            synapses.w = initial * 2.0**octaves
            rates[octaves] = layer_rate(model, *batch)
        return rates[octaves]

    # bracket the target in octaves of the factor, then bisect
    low, high = 0.0, 0.0
    rate = rate_at(0.0)
    if rate < target:
        while rate < target and high < MAX_OCTAVES:
            low, high = high, high + 2
            rate = rate_at(high)
    else:
        while rate >= target and low > -MAX_OCTAVES:
            high, low = low, low - 2
            rate = rate_at(low)
    for _ in range(STEPS):
        middle = (low + high) / 2
        if rate_at(middle) < target:
            low = middle
        else:
            high = middle
    octaves = high if abs(rate_at(high) - target) <= abs(rate_at(low) - target) else low
    synapses.w = initial * 2.0**octaves
    rate = rates[octaves]
    if not math.isfinite(float(rate)):
        raise RuntimeError("the layer's rate is not finite")
    return 2.0**octaves, rate
