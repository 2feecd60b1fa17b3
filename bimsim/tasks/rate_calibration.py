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
are saved with the run. Recurrent synapses, where the layer has them, keep their weights: their
excitation adds to the rate each factor gives (a target no factor within the range reaches is an
error that says so).
"""

import brian2
import numpy as np
from brian2 import Hz, second

from bimsim.quantities import require

__all__ = ["calibrate_rate", "layer_rate"]

#: Bisection steps on log2 of the factor, and the widest factor tried (2 ** ±MAX_OCTAVES).
STEPS = 10
MAX_OCTAVES = 12


def layer_rate(model, signals, features):
    """Mean firing rate of ``model``'s spiking layer on ``signals``, without learning.

    Parameters
    ----------
    model : BIMClassifier or BIMTokenPredictor
    signals, features : array
        Samples as ``model.predict_proba`` takes them.

    Returns
    -------
    Quantity
        Hidden spikes per neuron and second, averaged over the samples.
    """
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
        The layer's mean rate on the minibatch after scaling (of the two factors the bisection
        ends between, the one whose rate is nearer the target; a silent layer never).

    Raises
    ------
    ValueError
        For a target that is not a rate above 0, or a network with bounded weights (scaling
        could move them out of their bounds).
    RuntimeError
        If no factor within ``2 ** ±MAX_OCTAVES`` brackets the target (a layer that stays below
        it, silent or at its highest rate, or stays above it); the weights are left as they were.
    """
    require("target", target, "frequency")
    if np.ndim(target) or not (np.isfinite(float(target)) and float(target) > 0):
        raise ValueError(f"target must be a rate above 0, got {target}")
    net = model.network
    if net.bounds is not None and net.bounds.kind != "none":
        raise ValueError("input scaling would move bounded weights out of their bounds")
    chosen = rng.choice(len(signals), min(model.copies, len(signals)), replace=False)
    # a stochastic neuron model: every factor is tried with the same random numbers, so the rate
    # is a function of the factor that bisection can follow
    draws = int(rng.integers(2**31)) if net.neuron.stochastic else None
    batch = (signals[chosen], None if features is None else features[chosen])
    synapses = net.synapses
    initial = np.array(synapses.w[:])
    rates = {}

    def rate_at(octaves):
        if octaves not in rates:
            synapses.w = initial * 2.0**octaves
            if draws is not None:
                brian2.seed(draws)
            rates[octaves] = float(layer_rate(model, *batch) / Hz)
        return rates[octaves]

    goal = float(target / Hz)
    # bracket the target in octaves of the factor (low: below it, high: at or above it), then
    # bisect
    low = high = 0.0
    if rate_at(0.0) < goal:
        while rate_at(high) < goal and high < MAX_OCTAVES:
            low, high = high, high + 2
    else:
        while rate_at(low) >= goal and low > -MAX_OCTAVES:
            high, low = low, low - 2
    if not rate_at(low) < goal <= rate_at(high):
        synapses.w = initial
        reached = ", ".join(f"{rates[k]:.3g} Hz" for k in sorted(rates))
        raise RuntimeError(
            f"no input scaling between 2**-{MAX_OCTAVES} and 2**{MAX_OCTAVES} brings the layer to "
            f"{target}: it fires at {reached} over that range"
        )
    for _ in range(STEPS):
        middle = (low + high) / 2
        if rate_at(middle) < goal:
            low = middle
        else:
            high = middle
    below = rate_at(low)
    nearer_low = below > 0 and goal - below < rate_at(high) - goal
    octaves = low if nearer_low else high
    synapses.w = initial * 2.0**octaves
    return 2.0**octaves, rates[octaves] * Hz
