"""Eligibility traces for online gradients in a spiking layer (SPEC eq. 5, e-prop form).

For a synapse from ``j`` to an LIF neuron ``i`` (:func:`bimsim.neurons.lif_neurons`), the
eligibility trace is ``e_ij(t) = ψ_i(t) ε_ij(t)``: the pseudo-derivative of the neuron's spike
with respect to its membrane potential, times ``ε_ij = ∂v_i/∂w_ij``, the presynaptic spike train
filtered through the same alpha kernel and membrane as the neuron's input::

    dx_e/dt = -x_e / tau_syn                 (x_e += 1 at each presynaptic spike)
    dI_e/dt = (e x_e - I_e) / tau_syn
    dε/dt   = (R_m I_e - ε) / tau_m

Every time step, in generated code, each synapse adds ``L_i(t) ψ_i(t) ε_ij(t)`` to ``grad``, where
``L_i`` is the learning signal the readout writes into the neuron (∂L/∂z_i(t)); so
``grad ≈ ∂L/∂w_ij``, with memory that does not grow with time. The approximation is e-prop's: the
reset is treated as a constant jump, the refractory clamp is ignored, and ``L_i(t)`` carries only
the loss's direct dependence on the spike at ``t``. For one feed-forward layer with such a loss the
trace gradient is the exact gradient of the surrogate model (tested against torch autograd).

The trace is read before the spikes of the same step are delivered and before the reset (the
accumulation runs in the ``thresholds`` slot, after the threshold).
"""

from brian2 import Synapses

__all__ = ["ELIGIBILITY_EQUATIONS", "eligibility_synapses"]

ELIGIBILITY_EQUATIONS = """
w : amp
dx_e/dt = -x_e / tau_syn : 1 (clock-driven)
dI_e/dt = (exp(1) * x_e - I_e) / tau_syn : 1 (clock-driven)
deps/dt = (R_m * I_e - eps) / tau_m : ohm (clock-driven)
grad : 1/amp
"""


def eligibility_synapses(source, target, *, name="eligibility*", **kwds):
    """Synapses onto LIF neurons that deliver ``w`` and accumulate their own loss gradient.

    Parameters
    ----------
    source : Group
        Presynaptic spikes.
    target : NeuronGroup
        LIF neurons built with ``lif_neurons(..., learning=True)``.
    name : str
        Brian2 object name.
    **kwds
        Passed to :class:`brian2.Synapses`.

    Returns
    -------
    brian2.Synapses
        Variables ``w`` (amp), the traces ``x_e``, ``I_e``, ``eps`` and ``grad`` (``∂L/∂w`` summed
        since it was last zeroed, 1/amp). Connect them, then set ``w``.
    """
    missing = [var for var in ("L", "psi", "x_syn") if var not in target.variables]
    if missing:
        raise ValueError(
            f"target {target.name!r} lacks {', '.join(missing)}: build it with "
            "lif_neurons(..., learning=True)"
        )
    # The neuron's constants: tau_m, tau_syn and R_m for the trace, and those of psi_post.
    namespace = dict(target.namespace)
    synapses = Synapses(
        source,
        target,
        ELIGIBILITY_EQUATIONS,
        on_pre="x_syn_post += w\nx_e += 1",
        namespace=namespace,
        method="exact",
        name=name,
        **kwds,
    )
    synapses.run_regularly(
        "grad += L_post * psi_post * eps", when="thresholds", order=1, name=f"{synapses.name}_grad"
    )
    return synapses
