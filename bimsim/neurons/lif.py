"""Leaky integrate-and-fire neurons with alpha-kernel synaptic currents (SPEC eq. 2).

    tau_m dv/dt = (v_rest - v) + R_m (I_syn + I_ext)
    I_syn(t)    = sum_j w_j sum_f alpha(t - t_j^f),   alpha(s) = (s / tau_syn) exp(1 - s / tau_syn)

The alpha kernel (peak 1 at ``s = tau_syn``) is written as two linear ODEs: a presynaptic spike adds
its weight (a current) to ``x_syn``, which decays with ``tau_syn`` and drives ``I_syn``; the whole
system is linear and integrated exactly. A neuron fires when ``v`` crosses ``v_threshold``, is reset
to ``v_reset`` and holds there for the refractory period. ``tau_m`` is a constant of each neuron,
so a layer may hold a spread of membrane time constants (as in Perez-Nieves et al. 2021). With
``adaptation > 0`` the threshold adapts (ALIF): each spike raises it by ``adaptation``, decaying
with ``tau_adaptation``.
"""

import numpy as np
from brian2 import Mohm, NeuronGroup, amp, check_units, ms, mV, ohm, second, volt

from bimsim.quantities import require, require_positive

__all__ = [
    "ADAPTATION_EQUATIONS",
    "ADAPTIVE_THRESHOLD",
    "LEARNING_EQUATIONS",
    "LIF_EQUATIONS",
    "MIN_TAU_GAP",
    "TAU_M",
    "TAU_SYN",
    "lif_neurons",
    "require_adaptation",
    "require_apart",
    "require_learning_layer",
]

#: The default membrane and synaptic time constants.
TAU_M = 20 * ms
TAU_SYN = 5 * ms

#: How far apart (relative to ``tau_syn``) every ``tau_m`` must be from ``tau_syn``: Brian2's
#: exact solution of the membrane driven by the alpha kernel divides by ``tau_m - tau_syn``, and
#: its rounding error grows as (1e-14 / gap²); at a 1 % gap it is about 4e-11 of the response
#: (measured against the matrix exponential).
MIN_TAU_GAP = 0.01


def require_apart(tau_m, tau_syn):
    """Check that every ``tau_m`` differs from ``tau_syn`` by at least :data:`MIN_TAU_GAP`."""
    gap = np.abs(np.asarray(tau_m / tau_syn, dtype=float) - 1)
    if np.any(gap < MIN_TAU_GAP):
        near = np.atleast_1d(tau_m)[np.atleast_1d(gap) < MIN_TAU_GAP][0]
        raise ValueError(
            f"tau_m ({near}) must differ from tau_syn ({tau_syn}) by at least "
            f"{MIN_TAU_GAP:.0%}: the exact solution of the membrane divides by their difference"
        )


def _require_one(name, value):
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be one value for the whole group, got {value!r}")


def require_adaptation(adaptation, tau_adaptation):
    """Check an adaptive threshold's settings: ``adaptation`` one finite voltage >= 0 (0: plain
    LIF) and ``tau_adaptation`` one positive time; an error names the culprit."""
    require("adaptation", adaptation, "voltage")
    require_positive("tau_adaptation", tau_adaptation, "time")
    _require_one("adaptation", adaptation)
    _require_one("tau_adaptation", tau_adaptation)
    if adaptation < 0 * mV:
        raise ValueError(f"adaptation must be a finite voltage >= 0, got {adaptation!r}")


LIF_EQUATIONS = """
dv/dt = (v_rest - v + R_m * (I_syn + I_ext)) / tau_m : volt (unless refractory)
dI_syn/dt = (exp(1) * x_syn - I_syn) / tau_syn : amp
dx_syn/dt = -x_syn / tau_syn : amp
I_ext : amp
tau_m : second (constant)
"""

#: Added with ``learning=True``: the filtered spike train ``u_out`` that a readout sees (+1 at each
#: spike, decaying with ``tau_readout``), the learning signal ``L`` (∂ℓ/∂u_out, written by the
#: readout) and the pseudo-derivative ``psi`` of Bellec et al. (2020), a triangle of height
#: ``pd_scale / v_gap`` and half-width ``v_gap = v_threshold - v_rest`` centred on the threshold
#: (``{threshold}``: ``v_threshold``, or the adaptive threshold of :data:`ADAPTATION_EQUATIONS`).
LEARNING_EQUATIONS = """
du_out/dt = -u_out / tau_readout : 1
L : 1
psi = pd_scale / v_gap * clip(1 - abs(v - {threshold}) / v_gap, 0, 1) : 1/volt
"""

#: Added with ``adaptation > 0`` (an adaptive LIF, ALIF, as in the LSNN of Bellec et al. 2018 and
#: e-prop): each spike adds 1 to ``a``, which decays with ``tau_adaptation`` and raises the
#: threshold to ``v_threshold + adaptation * a``.
ADAPTATION_EQUATIONS = """
da/dt = -a / tau_adaptation : 1
"""
ADAPTIVE_THRESHOLD = "(v_threshold + adaptation * a)"


@check_units(
    tau_m=second,
    R_m=ohm,
    v_rest=volt,
    v_threshold=volt,
    v_reset=volt,
    tau_syn=second,
    refractory=second,
    tau_readout=second,
    adaptation=volt,
    tau_adaptation=second,
)
def lif_neurons(
    n,
    *,
    tau_m=TAU_M,
    R_m=100 * Mohm,
    v_rest=-65 * mV,
    v_threshold=-50 * mV,
    v_reset=-65 * mV,
    tau_syn=TAU_SYN,
    refractory=2 * ms,
    learning=False,
    pd_scale=0.3,
    tau_readout=10 * ms,
    adaptation=0 * mV,
    tau_adaptation=200 * ms,
    name="lif*",
    **kwds,
):
    """Build ``n`` LIF neurons with alpha-kernel synaptic input (adaptive, ALIF, if asked).

    Parameters
    ----------
    n : int
        Number of neurons.
    tau_m : Quantity
        Membrane time constant: one for every neuron, or one per neuron (shape ``(n,)``).
    R_m : Quantity
        Membrane resistance.
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
    adaptation : Quantity
        Threshold increase per spike (0, the default: plain LIF); above 0, an adaptive threshold
        (:data:`ADAPTATION_EQUATIONS`).
    tau_adaptation : Quantity
        Decay time of the threshold's increase.
    name : str
        Brian2 object name.
    **kwds
        Passed to :class:`brian2.NeuronGroup` (e.g. ``dt``, ``clock``).

    Returns
    -------
    brian2.NeuronGroup
        Variables ``v``, ``I_syn``, ``x_syn`` (add a synaptic weight in amperes here, e.g.
        ``on_pre="x_syn_post += w * nA"``), ``I_ext``, ``tau_m``, and ``a`` when adaptive; ``v``
        starts at ``v_rest``.
    """
    require_positive("tau_m", tau_m, "time")
    if np.ndim(tau_m) not in (0, 1) or (np.ndim(tau_m) == 1 and len(tau_m) != n):
        raise ValueError(f"tau_m must be one time or {n} times (one per neuron), got {tau_m!r}")
    _require_one("tau_syn", tau_syn)
    require_positive("tau_syn", tau_syn, "time")
    require_apart(tau_m, tau_syn)
    if v_threshold <= v_reset:
        raise ValueError(f"v_threshold ({v_threshold}) must be above v_reset ({v_reset})")
    if learning and v_threshold <= v_rest:
        raise ValueError(f"v_threshold ({v_threshold}) must be above v_rest ({v_rest})")
    require_adaptation(adaptation, tau_adaptation)
    adaptive = adaptation > 0 * mV
    threshold = ADAPTIVE_THRESHOLD if adaptive else "v_threshold"
    equations = LIF_EQUATIONS + (ADAPTATION_EQUATIONS if adaptive else "")
    reset = ["v = v_reset"] + (["a += 1"] if adaptive else [])
    if learning:
        equations += LEARNING_EQUATIONS.format(threshold=threshold)
        reset.append("u_out += 1")
    group = NeuronGroup(
        n,
        equations,
        threshold=f"v > {threshold}",
        reset="\n".join(reset),
        refractory=refractory,
        method="exact",
        namespace={
            "R_m": R_m,
            "v_rest": v_rest,
            "v_threshold": v_threshold,
            "v_reset": v_reset,
            "tau_syn": tau_syn,
            "pd_scale": float(pd_scale),
            "v_gap": v_threshold - v_rest,
            "tau_readout": tau_readout,
            **({"adaptation": adaptation, "tau_adaptation": tau_adaptation} if adaptive else {}),
        },
        name=name,
        **kwds,
    )
    group.v = v_rest
    group.tau_m = tau_m
    group.I_ext = 0 * amp
    return group


def require_learning_layer(group):
    """Check that ``group`` comes from ``lif_neurons(..., learning=True)``; name what it lacks."""
    missing = [var for var in ("L", "psi", "u_out", "x_syn", "tau_m") if var not in group.variables]
    if missing:
        raise ValueError(
            f"{group.name!r} lacks {', '.join(missing)}: build it with "
            "lif_neurons(..., learning=True)"
        )
    return group
