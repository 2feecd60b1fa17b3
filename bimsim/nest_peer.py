"""The same pairing schedule run by NEST, the independent peer for cross-checks and benchmarks.

Pre and post spikes come from ``spike_generator``s through ``parrot_neuron``s; the plastic
connection targets the postsynaptic parrot's receptor 1, which it ignores, so the plastic synapse
never makes the post neuron fire. Models: ``stdp_synapse`` (pair, all-to-all; ``mu_plus = mu_minus
= 0`` is additive), ``stdp_nn_symm_synapse`` (pair, symmetric nearest-neighbour) and
``stdp_triplet_synapse`` (triplet, all-to-all).

Two NEST conventions are undone here:

* NEST treats the synapse's whole delay ``d`` as dendritic: a post spike at ``t`` meets the synapse
  at ``t + d``. Post spikes are therefore sent ``d`` early.
* NEST applies potentiation only when the next presynaptic spike arrives, so one extra
  presynaptic spike is sent long after the last pairing (50 of the longest time constants: its
  depression is below 1e-21 of a pair's).
* ``stdp_nn_symm_synapse`` starts as if a presynaptic spike had occurred at t = 0, which would
  potentiate a first post spike that comes before any pre spike. The schedule therefore starts
  the same 50 time constants after t = 0.

Coincident pre and post spikes (Δt = 0) leave NEST's weights unchanged, where bimsim's window gives
W(0) = a2_plus (Brian2 runs ``on_pre`` before ``on_post``); compare Δt != 0 only.
"""

import os

import numpy as np

__all__ = ["nest_inputs", "nest_model", "simulate_pairings_nest", "simulate_spike_pairs_nest"]

_W_MAX = 100.0  # NEST scales additive updates by Wmax; a wide range keeps every weight unclipped.


def nest_model(rule):
    """The NEST synapse model name and parameters equivalent to ``rule`` (additive, unbounded).

    Returns
    -------
    model : str
    synapse_params : dict
    post_params : dict
        Parameters of the postsynaptic neuron (NEST keeps the post traces there).
    """
    from brian2 import ms

    tau_plus, tau_minus = float(rule.tau_plus / ms), float(rule.tau_minus / ms)
    if rule.is_triplet:
        if rule.pairing != "all":
            raise ValueError("NEST's stdp_triplet_synapse implements all-to-all pairing only")
        synapse = {
            "synapse_model": "stdp_triplet_synapse",
            "tau_plus": tau_plus,
            "tau_plus_triplet": float(rule.tau_x / ms) if rule.tau_x is not None else 100.0,
            "Aplus": rule.a2_plus,
            "Aminus": rule.a2_minus,
            "Aplus_triplet": rule.a3_plus,
            "Aminus_triplet": rule.a3_minus,
            "Wmax": _W_MAX,
        }
        tau_y = float(rule.tau_y / ms) if rule.tau_y is not None else 100.0
        return synapse, {"tau_minus": tau_minus, "tau_minus_triplet": tau_y}
    if rule.a2_plus <= 0:
        raise ValueError("NEST's pair synapses express depression relative to a2_plus > 0")
    model = "stdp_synapse" if rule.pairing == "all" else "stdp_nn_symm_synapse"
    synapse = {
        "synapse_model": model,
        "tau_plus": tau_plus,
        "lambda": rule.a2_plus / _W_MAX,
        "alpha": rule.a2_minus / rule.a2_plus,
        "mu_plus": 0.0,
        "mu_minus": 0.0,
        "Wmax": _W_MAX,
    }
    return synapse, {"tau_minus": tau_minus}


def simulate_pairings_nest(schedule, rule, *, w_init=None, threads=1):
    """Run ``schedule`` under ``rule`` in NEST.

    Parameters
    ----------
    schedule : bimsim.pairing.PairingSchedule
    rule : bimsim.plasticity.stdp.STDPRule
    w_init : float, optional
        Initial weight; defaults to the middle of NEST's weight range.
    threads : int
        NEST's local threads.

    Returns
    -------
    numpy.ndarray
        Total weight change of each channel's synapse.
    """
    return simulate_spike_pairs_nest(**nest_inputs(schedule, rule), w_init=w_init, threads=threads)


def nest_inputs(schedule, rule):
    """The arguments of :func:`simulate_spike_pairs_nest` for ``schedule`` under ``rule``.

    Returns
    -------
    dict
        ``pre_steps``, ``post_steps`` (one array per channel), ``dt`` (ms), ``synapse``,
        ``post_params`` (see :func:`nest_model`) and ``longest_tau`` (ms).
    """
    from brian2 import ms

    synapse, post_params = nest_model(rule)
    taus = [rule.tau_plus, rule.tau_minus, rule.tau_x, rule.tau_y]
    n = schedule.n_channels
    return {
        "pre_steps": [schedule.pre_steps[schedule.pre_indices == c] for c in range(n)],
        "post_steps": [schedule.post_steps[schedule.post_indices == c] for c in range(n)],
        "dt": float(schedule.dt / ms),
        "synapse": synapse,
        "post_params": post_params,
        "longest_tau": max(float(t / ms) for t in taus if t is not None),
    }


def simulate_spike_pairs_nest(
    pre_steps, post_steps, dt, synapse, post_params, *, longest_tau, w_init=None, threads=1
):
    """Run one plastic synapse per channel in NEST, its pre and post spikes given; no Brian2.

    Parameters
    ----------
    pre_steps, post_steps : list of numpy.ndarray
        Per channel, the time steps of its presynaptic and postsynaptic spikes.
    dt : float
        NEST's resolution in ms.
    synapse, post_params : dict
        From :func:`nest_model`.
    longest_tau : float
        The rule's longest time constant in ms (sets the flush, see the module docstring).
    w_init : float, optional
        Initial weight; defaults to the middle of NEST's weight range.
    threads : int
        NEST's local threads.

    Returns
    -------
    numpy.ndarray
        Total weight change of each channel's synapse.
    """
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    w_init = _W_MAX / 2 if w_init is None else w_init
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": dt, "local_num_threads": threads})
    delay = dt
    flush = int(np.ceil(50 * longest_tau / dt))
    offset = flush + 2
    n = len(pre_steps)
    if len(post_steps) != n:
        raise ValueError(f"{n} channels of pre spikes but {len(post_steps)} of post spikes")
    last = max((int(s.max()) for s in (*pre_steps, *post_steps) if len(s)), default=0)
    pre_generators = nest.Create(
        "spike_generator",
        n,
        params=[{"spike_times": (np.r_[s, last + flush] + offset) * dt} for s in pre_steps],
    )
    post_generators = nest.Create(
        "spike_generator",
        n,
        params=[{"spike_times": (s + offset) * dt - delay} for s in post_steps],
    )
    pre = nest.Create("parrot_neuron", n)
    post = nest.Create("parrot_neuron", n, params=post_params)
    nest.Connect(pre_generators, pre, "one_to_one", {"delay": delay})
    nest.Connect(post_generators, post, "one_to_one", {"delay": delay})
    nest.Connect(
        pre, post, "one_to_one", {**synapse, "weight": w_init, "delay": delay, "receptor_type": 1}
    )
    nest.Simulate((last + flush + offset + 3) * dt + delay)
    connections = nest.GetConnections(pre, post)
    sources = np.asarray(connections.get("source"))
    weights = np.asarray(connections.get("weight"), dtype=float)
    order = np.argsort(sources)
    return weights[order] - w_init
