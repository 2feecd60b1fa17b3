"""The hybrid learning rule of BIM (SPEC eq. 3), online, in generated code.

    Δw_ij = η (λ (-∂L/∂w_ij) + (1 - λ) Ω_ij),   λ ∈ [0, 1]

The gradient term *descends* the loss: ``∂L/∂w_ij`` is the eligibility-trace gradient
(:mod:`bimsim.plasticity.eligibility`) and enters with a minus sign. ``Ω_ij`` is the STDP term,
``Σ W(t_i^f - t_j^f)`` over the spike pairs (or triplets) of :mod:`bimsim.plasticity.stdp`,
accumulated in ``omega``. At the end of every readout step each synapse applies the update, then
zeroes ``grad`` and ``omega``: λ = 1 is pure gradient learning, λ = 0 pure STDP.

The update ``η d`` with ``d = λ (-∂L/∂w) + (1 - λ) Ω`` is plain SGD; an
:class:`~bimsim.plasticity.optimizers.Optimizer` (momentum, RMSprop, Adam, weight decay) turns ``d``
into the change instead, per synapse in generated code, its state held in synapse variables
(``opt_m``, ``opt_v``, ``opt_n``).
"""

from dataclasses import replace

from brian2 import ms

from bimsim.plasticity.eligibility import learning_synapses, refuse_shared_names
from bimsim.plasticity.optimizers import namespace, require_optimizer, synapse_code
from bimsim.plasticity.stdp import WeightBounds, stdp_equations, weight_update
from bimsim.quantities import require_real

__all__ = ["check_mixing", "hybrid_bounds", "hybrid_synapses"]


def check_mixing(lam, eta, max_grad=None):
    """Check λ ∈ [0, 1], η >= 0 (finite) and a gradient clip > 0, naming the culprit."""
    require_real("lambda (λ)", lam, 0.0, 1.0)
    require_real("eta (η)", eta)
    if max_grad is not None:
        require_real("max_grad", max_grad, above=True)


def hybrid_bounds(bounds):
    """``bounds`` (``'none'`` for None) if the hybrid rule can apply them: soft bounds scale
    potentiation and depression separately, which a mixed update does not have."""
    bounds = WeightBounds() if bounds is None else bounds
    if bounds.kind == "soft":
        raise ValueError("the hybrid rule takes 'none' or 'hard' bounds, not 'soft'")
    return bounds


def hybrid_synapses(
    source,
    target,
    rule,
    *,
    lam,
    eta,
    w_unit=None,
    bounds=None,
    readout_dt=1 * ms,
    prunable=False,
    max_grad=None,
    optimizer=None,
    name="hybrid*",
    **kwds,
):
    """Plastic synapses onto a learning layer (of any neuron model), updated by the hybrid rule.

    Parameters
    ----------
    source : Group
        Presynaptic spikes.
    target : NeuronGroup
        A learning layer (``neuron_group(model, n, learning=True)``).
    rule : STDPRule
        The STDP term's rule.
    lam, eta : float
        λ (mixing, in [0, 1]) and η (learning rate, >= 0); entries ``lam`` and ``eta`` of the
        returned group's namespace, which the runtime device reads at every run.
    w_unit : Quantity, optional
        What a weight of 1 adds to the neuron's input variable (default: the model's).
    bounds : WeightBounds, optional
        ``'none'`` or ``'hard'`` (soft bounds scale potentiation and depression separately, which
        a mixed update does not have).
    readout_dt : Quantity
        Step of the readout, and of the weight update.
    prunable : bool
        Add the ``active`` flag of :mod:`bimsim.plasticity.pruning`.
    max_grad : float, optional
        Clip each synapse's gradient to ``[-max_grad, max_grad]`` before the update (per readout
        step; namespace entry ``max_grad``). Default: no clipping.
    optimizer : Optimizer, optional
        How the direction becomes the weight change (default SGD, ``Δw = η d``).
    name : str
        Brian2 object name.
    **kwds
        Passed to :class:`brian2.Synapses`.

    Returns
    -------
    brian2.Synapses
    """
    check_mixing(lam, eta, max_grad)
    bounds = hybrid_bounds(bounds)
    optimizer = require_optimizer("optimizer", optimizer)
    stdp = stdp_equations(rule, variable="omega")
    gradient = "grad"
    if max_grad is not None:
        gradient = "clip(grad, -max_grad, max_grad)"
    state, statements, change = synapse_code(optimizer, f"lam * (-{gradient}) + (1 - lam) * omega")
    if prunable:
        state = f"{state}\nactive : boolean"
    if state:
        stdp = replace(stdp, model=f"{stdp.model}\n{state}")
    synapses = learning_synapses(
        source, target, w_unit=w_unit, readout_dt=readout_dt, extra=stdp, name=name, **kwds
    )
    own = {"w_min": bounds.w_min, "w_max": bounds.w_max, **namespace(optimizer)}
    refuse_shared_names(target, [*own, "lam", "eta", "max_grad"], "the hybrid rule's synapses")
    synapses.namespace.update(own)
    if max_grad is not None:
        synapses.namespace["max_grad"] = float(max_grad)
    update = weight_update("+", change, bounds, prunable)
    # order 3: after the gradient's accumulation (order 1) and any pooling of it (order 2)
    synapses.run_regularly(
        "\n".join(filter(None, (statements, update, "grad = 0", "omega = 0"))),
        dt=readout_dt,
        when="end",
        order=3,
        name=f"{synapses.name}_update",
    )
    synapses.namespace.update(lam=float(lam), eta=float(eta))
    return synapses
