"""Leaky integrate-and-fire neurons with alpha-kernel synaptic currents (SPEC eq. 2).

    tau_m dv/dt = (v_rest - v) + R_m (I_syn + I_ext)
    I_syn(t)    = sum_j w_j sum_f alpha(t - t_j^f),   alpha(s) = (s / tau_syn) exp(1 - s / tau_syn)

The alpha kernel (peak 1 at ``s = tau_syn``) is written as two linear ODEs: a presynaptic spike adds
its weight (a current) to ``x_syn``, which decays with ``tau_syn`` and drives ``I_syn``; the whole
system is linear and integrated exactly. A neuron fires when ``v`` crosses ``v_threshold``, is reset
to ``v_reset`` and holds there for the refractory period.
"""

from brian2 import Mohm, NeuronGroup, amp, check_units, ms, mV, ohm, second, volt

__all__ = ["LEARNING_EQUATIONS", "LIF_EQUATIONS", "lif_neurons", "require_learning_layer"]

LIF_EQUATIONS = """
dv/dt = (v_rest - v + R_m * (I_syn + I_ext)) / tau_m : volt (unless refractory)
dI_syn/dt = (exp(1) * x_syn - I_syn) / tau_syn : amp
dx_syn/dt = -x_syn / tau_syn : amp
I_ext : amp
"""

#: Added with ``learning=True``: the filtered spike train ``u_out`` that a readout sees (+1 at each
#: spike, decaying with ``tau_readout``), the learning signal ``L`` (∂ℓ/∂u_out, written by the
#: readout) and the pseudo-derivative ``psi`` of Bellec et al. (2020), a triangle of height
#: ``pd_scale / v_gap`` and half-width ``v_gap = v_threshold - v_rest`` centred on the threshold.
LEARNING_EQUATIONS = """
du_out/dt = -u_out / tau_readout : 1
L : 1
psi = pd_scale / v_gap * clip(1 - abs(v - v_threshold) / v_gap, 0, 1) : 1/volt
"""


@check_units(
    tau_m=second,
    R_m=ohm,
    v_rest=volt,
    v_threshold=volt,
    v_reset=volt,
    tau_syn=second,
    refractory=second,
    tau_readout=second,
)
def lif_neurons(
    n,
    *,
    tau_m=20 * ms,
    R_m=100 * Mohm,
    v_rest=-65 * mV,
    v_threshold=-50 * mV,
    v_reset=-65 * mV,
    tau_syn=5 * ms,
    refractory=2 * ms,
    learning=False,
    pd_scale=0.3,
    tau_readout=10 * ms,
    name="lif*",
    **kwds,
):
    """Build ``n`` LIF neurons with alpha-kernel synaptic input.

    Parameters
    ----------
    n : int
        Number of neurons.
    tau_m, R_m : Quantity
        Membrane time constant and resistance.
    v_rest, v_threshold, v_reset : Quantity
        Resting, threshold and reset potentials.
    tau_syn : Quantity
        Time to peak of the alpha kernel.
    refractory : Quantity
        Absolute refractory period.
    learning : bool
        Add the learning signal ``L`` and the pseudo-derivative ``psi`` (:data:`LEARNING_EQUATIONS`)
        used by :mod:`bimsim.plasticity.eligibility`.
    pd_scale : float
        Height of the pseudo-derivative in units of ``1 / (v_threshold - v_rest)``.
    tau_readout : Quantity
        Decay time of ``u_out``, the filtered spike train a readout sees.
    name : str
        Brian2 object name.
    **kwds
        Passed to :class:`brian2.NeuronGroup` (e.g. ``dt``, ``clock``).

    Returns
    -------
    brian2.NeuronGroup
        Variables ``v``, ``I_syn``, ``x_syn`` (add a synaptic weight in amperes here, e.g.
        ``on_pre="x_syn_post += w * nA"``) and ``I_ext``; ``v`` starts at ``v_rest``.
    """
    if v_threshold <= v_reset:
        raise ValueError(f"v_threshold ({v_threshold}) must be above v_reset ({v_reset})")
    if learning and v_threshold <= v_rest:
        raise ValueError(f"v_threshold ({v_threshold}) must be above v_rest ({v_rest})")
    group = NeuronGroup(
        n,
        LIF_EQUATIONS + (LEARNING_EQUATIONS if learning else ""),
        threshold="v > v_threshold",
        reset="v = v_reset\nu_out += 1" if learning else "v = v_reset",
        refractory=refractory,
        method="exact",
        namespace={
            "tau_m": tau_m,
            "R_m": R_m,
            "v_rest": v_rest,
            "v_threshold": v_threshold,
            "v_reset": v_reset,
            "tau_syn": tau_syn,
            "pd_scale": float(pd_scale),
            "v_gap": v_threshold - v_rest,
            "tau_readout": tau_readout,
        },
        name=name,
        **kwds,
    )
    group.v = v_rest
    group.I_ext = 0 * amp
    return group


def require_learning_layer(group):
    """Check that ``group`` comes from ``lif_neurons(..., learning=True)``; name what it lacks."""
    missing = [var for var in ("L", "psi", "u_out", "x_syn") if var not in group.variables]
    if missing:
        raise ValueError(
            f"{group.name!r} lacks {', '.join(missing)}: build it with "
            "lif_neurons(..., learning=True)"
        )
    return group
