"""Eligibility traces for online gradients in a spiking layer (SPEC eq. 5, e-prop form).

The synapses are built from the postsynaptic neuron's model (:mod:`bimsim.neurons.model`): a spike
delivers ``w * w_unit`` to the model's input variable, the model's eligibility fragment carries
``∂(state)/∂w`` per synapse and gives ``e_ij = ψ_i ∂(membrane)/∂w_ij``, and what follows (``ē``,
``grad``) is the same for every model.

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

(A TC-LIF neuron's fragment is in :mod:`bimsim.neurons.tc_lif`: exact, the soft reset included.)
Traces are read after the threshold and before the spikes of the same step are delivered and the
neuron is reset (the ``thresholds`` slot); ``grad`` accumulates at the end of each readout step.
"""

from brian2 import Synapses

from bimsim.integration import exact
from bimsim.neurons.model import model_of, require_learning_layer, require_weight_unit

__all__ = ["SYNAPSE_TRACES", "eligibility_synapses", "learning_synapses", "refuse_shared_names"]

#: What every learning synapse holds whatever the neuron: its weight, the filtered eligibility
#: ``ebar`` and the gradient ``grad``.
SYNAPSE_TRACES = """
w : 1
ebar : 1
grad : 1
"""


def refuse_shared_names(target, names, whose):
    """Refuse constants of ``target``'s neuron model among ``names``, which ``whose`` (the
    synapses onto it) also use: the synapses read the model's constants from one namespace with
    their own, where one would silently replace the other."""
    clash = sorted(name for name in names if name in target.namespace)
    if clash:
        raise ValueError(
            f"the neuron model of {target.name!r} names constants {', '.join(clash)} that "
            f"{whose} also use: rename them in the model's namespace"
        )


def learning_synapses(
    source,
    target,
    *,
    w_unit=None,
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
    neuron = model_of(target)
    fragment = neuron.eligibility()
    w_unit = neuron.weight_unit if w_unit is None else require_weight_unit(neuron, "w_unit", w_unit)
    refuse_shared_names(target, ["w_unit"], "the synapses")
    # the neuron's constants (and those of psi_post; per-neuron ones are read as _post)
    namespace = {**target.namespace, "w_unit": w_unit}
    model = f"{SYNAPSE_TRACES}\n{fragment.model}"
    on_pre = f"{neuron.input_variable}_post += w * w_unit\n{fragment.on_pre}"
    on_post = None
    if extra is not None:
        refuse_shared_names(target, extra.namespace, "the synapses' own equations")
        namespace.update(extra.namespace)
        model = f"{model}\n{extra.model}"
        on_pre = f"{on_pre}\n{extra.on_pre}"
        on_post = extra.on_post
    synapses = Synapses(
        source,
        target,
        model,
        on_pre=on_pre,
        on_post=on_post,
        namespace=namespace,
        method=exact,
        name=name,
        **kwds,
    )
    if fragment.step:
        # after the neuron's own step (order 0), whose values of this step it may read
        synapses.run_regularly(fragment.step, when="groups", order=1, name=f"{synapses.name}_step")
    e = fragment.signal
    trace = f"ebar = ebar * exp(-dt / tau_readout) + {e}"
    if fragment.after:
        trace = f"{trace}\n{fragment.after.format(e=e)}"
    synapses.run_regularly(
        trace,
        when="thresholds",
        order=1,
        name=f"{synapses.name}_trace",
    )
    synapses.run_regularly(
        f"grad += {fragment.gradient}",
        dt=readout_dt,
        when="end",
        order=1,
        name=f"{synapses.name}_grad",
    )
    return synapses


def eligibility_synapses(
    source, target, *, w_unit=None, readout_dt=None, name="eligibility*", **kwds
):
    """Synapses onto a learning layer that deliver ``w * w_unit`` and accumulate their loss
    gradient.

    Parameters
    ----------
    source : Group
        Presynaptic spikes.
    target : NeuronGroup
        A learning layer of any neuron model (``neuron_group(model, n, learning=True)``, e.g.
        ``lif_neurons(n, learning=True)``).
    w_unit : Quantity, optional
        What a weight of 1 adds to the model's input variable (default: the model's
        ``weight_unit``, 1 nA into LIF's ``x_syn``).
    readout_dt : Quantity, optional
        Step of the readout that writes ``L`` (default: every time step).
    name : str
        Brian2 object name.
    **kwds
        Passed to :class:`brian2.Synapses` (e.g. ``dt``).

    Returns
    -------
    brian2.Synapses
        Variables ``w`` (dimensionless), the model's traces (LIF's ``x_e``, ``I_e``, ``eps``, and
        ``eps_a`` onto adaptive neurons), ``ebar`` and ``grad`` (``∂L/∂w`` summed since it was
        last zeroed). Connect them, then set ``w``.
    """
    return learning_synapses(
        source, target, w_unit=w_unit, readout_dt=readout_dt, name=name, **kwds
    )
