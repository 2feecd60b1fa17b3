"""Eligibility traces for online gradients in a spiking layer (SPEC eq. 5, e-prop form).

For a synapse from ``j`` to an LIF neuron ``i`` (:func:`bimsim.neurons.lif_neurons` with
``learning=True``), the eligibility trace is ``e_ij(t) = ψ_i(t) ε_ij(t)``: the pseudo-derivative of
the neuron's spike with respect to its membrane potential, times ``ε_ij = ∂v_i/∂w_ij``, the
presynaptic spike train filtered through the same alpha kernel and membrane as the neuron's input
(the weight is dimensionless and delivers ``w * w_unit`` to ``x_syn``)::

    dx_e/dt = -x_e / tau_syn                 (x_e += 1 at each presynaptic spike)
    dI_e/dt = (e x_e - I_e) / tau_syn
    dε/dt   = (R_m w_unit I_e - ε) / tau_m      (the postsynaptic neuron's tau_m)

A readout sees the neuron's filtered spike train ``u_out`` (+1 at each spike, decaying with
``tau_readout``), so the trace is filtered the same way, every time step::

    ē_ij ← ē_ij exp(-dt / tau_readout) + ψ_i ε_ij

and on the readout's clock each synapse adds ``L_i ē_ij`` to ``grad``, where ``L_i = ∂ℓ/∂u_out,i``
is the learning signal the readout writes into the neuron. Then ``grad ≈ ∂L/∂w_ij``, computed in
generated code with memory that does not grow with time. The approximation is e-prop's: the reset is
a constant jump, the refractory clamp is ignored, and ``L_i(t)`` carries only the loss's dependence
on ``u_out`` at the same step (not through the readout's own memory). For one feed-forward layer
with such a loss, the trace gradient is exactly the gradient of the surrogate model (tested against
torch autograd).

Onto adaptive neurons (ALIF, ``adaptation`` β > 0), a spike also depends on the threshold's
adaptation ``a`` (+1 per spike, decaying with ``tau_adaptation``), so each synapse carries
``ε_a = ∂a_i/∂w_ij`` as well (Bellec et al. 2020, with the alpha-kernel membrane)::

    e_ij = ψ_i (ε_ij - β ε_a,ij),    dε_a/dt = -ε_a / tau_adaptation,    ε_a += e_ij every step

(the spike's pseudo-derivative acts whether or not it fires, as ``a`` gains the spike itself); the
trace is again exactly the surrogate model's gradient for one feed-forward layer.

Traces are read after the threshold and before the spikes of the same step are delivered and the
neuron is reset (the ``thresholds`` slot); ``grad`` accumulates at the end of each readout step.
"""

from brian2 import Synapses, nA

from bimsim.neurons.lif import require_learning_layer

__all__ = ["ADAPTATION_TRACE", "ELIGIBILITY_EQUATIONS", "eligibility_synapses"]

ELIGIBILITY_EQUATIONS = """
w : 1
dx_e/dt = -x_e / tau_syn : 1 (clock-driven)
dI_e/dt = (exp(1) * x_e - I_e) / tau_syn : 1 (clock-driven)
deps/dt = (R_m * w_unit * I_e - eps) / tau_m_post : volt (clock-driven)
ebar : 1
grad : 1
"""

#: ``ε_a``, added onto adaptive neurons.
ADAPTATION_TRACE = "deps_a/dt = -eps_a / tau_adaptation : 1 (clock-driven)"


def learning_synapses(
    source,
    target,
    *,
    w_unit=1 * nA,
    readout_dt=None,
    extra=None,
    name="eligibility*",
    **kwds,
):
    """Synapses with eligibility traces, and the model parts in ``extra`` (see module docstring).

    Parameters
    ----------
    source, target, w_unit, readout_dt, name, **kwds
        As in :func:`eligibility_synapses`.
    extra : object, optional
        With ``model``, ``on_pre``, ``on_post`` and ``namespace`` to merge in (e.g. STDP traces).

    Returns
    -------
    brian2.Synapses
    """
    require_learning_layer(target)
    # The neuron's constants (tau_syn, R_m, tau_readout and those of psi_post; tau_m is per neuron).
    namespace = {**target.namespace, "w_unit": w_unit}
    model, on_pre, on_post = ELIGIBILITY_EQUATIONS, "x_syn_post += w * w_unit\nx_e += 1", None
    if extra is not None:
        namespace.update(extra.namespace)
        model = f"{model}\n{extra.model}"
        on_pre = f"{on_pre}\n{extra.on_pre}"
        on_post = extra.on_post
    trace = "ebar = ebar * exp(-dt / tau_readout) + psi_post * eps"
    if "a" in target.variables:  # adaptive: the threshold's path, then a's own gain
        model = f"{model}\n{ADAPTATION_TRACE}"
        e = "psi_post * (eps - adaptation * eps_a)"
        trace = f"ebar = ebar * exp(-dt / tau_readout) + {e}\neps_a += {e}"
    synapses = Synapses(
        source,
        target,
        model,
        on_pre=on_pre,
        on_post=on_post,
        namespace=namespace,
        method="exact",
        name=name,
        **kwds,
    )
    synapses.run_regularly(
        trace,
        when="thresholds",
        order=1,
        name=f"{synapses.name}_trace",
    )
    synapses.run_regularly(
        "grad += L_post * ebar",
        dt=readout_dt,
        when="end",
        order=1,
        name=f"{synapses.name}_grad",
    )
    return synapses


def eligibility_synapses(
    source, target, *, w_unit=1 * nA, readout_dt=None, name="eligibility*", **kwds
):
    """Synapses onto LIF neurons that deliver ``w * w_unit`` and accumulate their loss gradient.

    Parameters
    ----------
    source : Group
        Presynaptic spikes.
    target : NeuronGroup
        LIF neurons built with ``lif_neurons(..., learning=True)``.
    w_unit : Quantity
        The current a weight of 1 adds to ``x_syn``.
    readout_dt : Quantity, optional
        Step of the readout that writes ``L`` (default: every time step).
    name : str
        Brian2 object name.
    **kwds
        Passed to :class:`brian2.Synapses` (e.g. ``dt``).

    Returns
    -------
    brian2.Synapses
        Variables ``w`` (dimensionless), the traces ``x_e``, ``I_e``, ``eps`` (and ``eps_a`` onto
        adaptive neurons), ``ebar`` and ``grad`` (``∂L/∂w`` summed since it was last zeroed).
        Connect them, then set ``w``.
    """
    return learning_synapses(
        source, target, w_unit=w_unit, readout_dt=readout_dt, name=name, **kwds
    )
