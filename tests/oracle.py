"""Independent reference for pair-rule STDP: the weight change summed pair by pair in numpy.

It shares no code with bimsim's Brian2 synapses: it enumerates spike pairs directly.
"""

import numpy as np


def pair_sum(pre, post, a_plus, a_minus, tau_plus, tau_minus, pairing):
    """Total weight change of one synapse for spike times ``pre`` and ``post`` (ms).

    ``pairing='all'``: every pre/post pair contributes. ``'nearest'``: each post spike pairs with
    the latest pre spike at or before it, each pre spike with the latest post spike strictly before
    it (a coincident pair counts as potentiation, as in bimsim).
    """
    pre, post = np.asarray(pre, dtype=float), np.asarray(post, dtype=float)
    if pairing == "all":
        lag = post[None, :] - pre[:, None]
        ltp = np.where(lag >= 0, a_plus * np.exp(-np.abs(lag) / tau_plus), 0.0).sum()
        ltd = np.where(lag < 0, a_minus * np.exp(-np.abs(lag) / tau_minus), 0.0).sum()
        return ltp - ltd
    total = 0.0
    for t in post:
        earlier = pre[pre <= t]
        if len(earlier):
            total += a_plus * np.exp(-(t - earlier.max()) / tau_plus)
    for t in pre:
        earlier = post[post < t]
        if len(earlier):
            total -= a_minus * np.exp(-(t - earlier.max()) / tau_minus)
    return total
