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

from dataclasses import dataclass, field

import numpy as np
from brian2 import Mohm, Quantity, amp, check_units, ms, mV, nA, second, volt
from scipy.linalg import expm

from bimsim.neurons.model import Eligibility, NeuronModel, model_of, neuron_group, split_settings
from bimsim.quantities import require, require_positive, require_real

__all__ = [
    "ADAPTATION_EQUATIONS",
    "ADAPTATION_TRACE",
    "ADAPTIVE_THRESHOLD",
    "ELIGIBILITY_EQUATIONS",
    "LIF",
    "LIF_EQUATIONS",
    "MIN_TAU_GAP",
    "TAU_M",
    "TAU_SYN",
    "lif_neurons",
    "require_adaptation",
    "require_apart",
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

#: Added with ``adaptation > 0`` (an adaptive LIF, ALIF, as in the LSNN of Bellec et al. 2018 and
#: e-prop): each spike adds 1 to ``a``, which decays with ``tau_adaptation`` and raises the
#: threshold to ``v_threshold + adaptation * a``.
ADAPTATION_EQUATIONS = """
da/dt = -a / tau_adaptation : 1
"""
ADAPTIVE_THRESHOLD = "(v_threshold + adaptation * a)"


@dataclass(frozen=True)
class LIF(NeuronModel):
    """An LIF neuron with alpha-kernel synaptic input (adaptive, ALIF, where ``adaptation > 0``).

    Parameters
    ----------
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
    pd_scale : float
        Height of the pseudo-derivative in units of ``1 / (v_threshold - v_rest)``.
    adaptation : Quantity
        Threshold increase per spike (0, the default: plain LIF); above 0, an adaptive threshold
        (:data:`ADAPTATION_EQUATIONS`).
    tau_adaptation : Quantity
        Decay time of the threshold's increase.
    """

    name = "lif"
    input_variable = "x_syn"
    weight_unit = 1 * nA
    per_neuron = ("tau_m",)

    tau_m: Quantity = field(default_factory=lambda: TAU_M)
    R_m: Quantity = field(default_factory=lambda: 100 * Mohm)
    v_rest: Quantity = field(default_factory=lambda: -65 * mV)
    v_threshold: Quantity = field(default_factory=lambda: -50 * mV)
    v_reset: Quantity = field(default_factory=lambda: -65 * mV)
    tau_syn: Quantity = field(default_factory=lambda: TAU_SYN)
    refractory: Quantity = field(default_factory=lambda: 2 * ms)
    pd_scale: float = 0.3
    adaptation: Quantity = field(default_factory=lambda: 0 * mV)
    tau_adaptation: Quantity = field(default_factory=lambda: 200 * ms)

    def __post_init__(self):
        require_positive("tau_m", self.tau_m, "time")
        require_positive("R_m", self.R_m, "resistance")
        for name in ("v_rest", "v_threshold", "v_reset"):
            require(name, getattr(self, name), "voltage")
            _require_one(name, getattr(self, name))
        _require_one("tau_syn", self.tau_syn)
        require_positive("tau_syn", self.tau_syn, "time")
        require("refractory", self.refractory, "time")
        _require_one("refractory", self.refractory)
        if self.refractory < 0 * ms:
            raise ValueError(f"refractory must be >= 0 ms, got {self.refractory!r}")
        require_real("pd_scale", self.pd_scale)
        require_apart(self.tau_m, self.tau_syn)
        if self.v_threshold <= self.v_reset:
            raise ValueError(
                f"v_threshold ({self.v_threshold}) must be above v_reset ({self.v_reset})"
            )
        require_adaptation(self.adaptation, self.tau_adaptation)

    @property
    def adaptive(self):
        return self.adaptation > 0 * mV

    def _threshold_value(self):
        return ADAPTIVE_THRESHOLD if self.adaptive else "v_threshold"

    def check(self, n, learning):
        super().check(n, learning)
        if learning and self.v_threshold <= self.v_rest:
            raise ValueError(
                f"v_threshold ({self.v_threshold}) must be above v_rest ({self.v_rest})"
            )

    def equations(self, learning):
        return LIF_EQUATIONS + (ADAPTATION_EQUATIONS if self.adaptive else "")

    def threshold(self):
        return f"v > {self._threshold_value()}"

    def reset(self):
        return ["v = v_reset"] + (["a += 1"] if self.adaptive else [])

    def refractoriness(self):
        return self.refractory

    def namespace(self):
        adaptive = {"adaptation": self.adaptation, "tau_adaptation": self.tau_adaptation}
        return {
            "R_m": self.R_m,
            "v_rest": self.v_rest,
            "v_threshold": self.v_threshold,
            "v_reset": self.v_reset,
            "tau_syn": self.tau_syn,
            "pd_scale": float(self.pd_scale),
            "v_gap": self.v_threshold - self.v_rest,
            **(adaptive if self.adaptive else {}),
        }

    def initialise(self, group, learning):
        group.tau_m = self.tau_m
        group.I_ext = 0 * amp
        self.start(group)

    def rest(self):
        return {"v": self.v_rest, "x_syn": 0, "I_syn": 0, "a": 0}

    def pseudo_derivative(self):
        psi = f"pd_scale / v_gap * clip(1 - abs(v - {self._threshold_value()}) / v_gap, 0, 1)"
        return psi, "1/volt"

    def eligibility(self):
        if not self.adaptive:
            return Eligibility(ELIGIBILITY_EQUATIONS, "x_e += 1", "psi_post * eps", _LIF_TRACES)
        # the threshold's path, then a's own gain from the spike
        return Eligibility(
            f"{ELIGIBILITY_EQUATIONS}\n{ADAPTATION_TRACE}",
            "x_e += 1",
            "psi_post * (eps - adaptation * eps_a)",
            (*_LIF_TRACES, "eps_a"),
            after="eps_a += {e}",
        )

    def operations_per_step(self, channels=1):
        """3: the exact linear propagator of ``(x_syn, I_syn, v)``; 2 more for an adaptive
        threshold (its decay and ``v_threshold + β a``)."""
        return 5 if self.adaptive else 3

    def reference(self, group, draws=None):
        if draws is not None:
            raise ValueError(f"the {self.name} neuron draws no random numbers to replay")
        return LIFReference(group)


#: Synapses onto LIF neurons carry ``ε = ∂v/∂w`` through the same alpha kernel and membrane as the
#: neuron's input (see :mod:`bimsim.plasticity.eligibility`); the weight is dimensionless and
#: delivers ``w * w_unit`` to ``x_syn``.
ELIGIBILITY_EQUATIONS = """
dx_e/dt = -x_e / tau_syn : 1 (clock-driven)
dI_e/dt = (exp(1) * x_e - I_e) / tau_syn : 1 (clock-driven)
deps/dt = (R_m * w_unit * I_e - eps) / tau_m_post : volt (clock-driven)
"""

#: ``ε_a = ∂a/∂w``, added onto adaptive neurons.
ADAPTATION_TRACE = "deps_a/dt = -eps_a / tau_adaptation : 1 (clock-driven)"

_LIF_TRACES = ("x_e", "I_e", "eps")


class LIFReference:
    """The discrete-time LIF layer that Brian2's exact integrator computes, in torch (see
    :mod:`bimsim.surrogate_bptt`): per step the linear state ``(x_syn, I_syn, v - v_rest)``
    advances exactly over ``dt`` with ``I_ext`` held, ``a`` decays; the threshold reads
    ``v - β a``; a spike resets ``v`` by a constant jump (no gradient, as in e-prop) and adds 1 to
    ``a`` (with its gradient)."""

    def __init__(self, group):
        import torch

        model = model_of(group)
        if float(model.refractory) != 0:
            raise ValueError(
                f"the BPTT reference has no refractory period: build {group.name!r} with "
                "refractory=0*ms"
            )
        self.torch = torch
        self.model = model
        self.dt = float(group.dt / second)
        c = {name: float(getattr(model, name)) for name in ("tau_syn", "R_m")}
        tau_m = np.asarray(group.tau_m[:] / second, dtype=float)  # one per neuron
        # (3, 4, n): row r of neuron i's propagator, as columns over neurons
        self.propagator = torch.tensor(
            np.stack([self._propagator(c, tau)[:3] for tau in tau_m], axis=-1)
        )
        self.v_rest = float(model.v_rest)
        self.theta = float(model.v_threshold - model.v_rest)
        self.jump = float(model.v_reset - model.v_rest)
        self.gap = float(model.v_threshold - model.v_rest)
        self.height = float(model.pd_scale) / self.gap
        self.beta = float(model.adaptation)
        self.adapt_decay = float(np.exp(-self.dt / float(model.tau_adaptation)))

    def _propagator(self, c, tau_m):
        """Exact one-step map of ``(x_syn, I_syn, v - v_rest, I_ext)`` with ``I_ext`` constant."""
        m = np.zeros((4, 4))
        m[0, 0] = -1 / c["tau_syn"]
        m[1, 0], m[1, 1] = np.e / c["tau_syn"], -1 / c["tau_syn"]
        m[2, 1], m[2, 2], m[2, 3] = c["R_m"] / tau_m, -1 / tau_m, c["R_m"] / tau_m
        return expm(m * self.dt)

    def initial(self, n, start=None):
        """The state at rest; ``start`` may set ``v`` (a Quantity of n voltages)."""
        unknown = sorted(set(start or {}) - {"v"})
        if unknown:
            raise ValueError(f"the lif reference can start from v only, not {unknown}")
        zeros = self.torch.zeros(n, dtype=self.torch.float64)
        v = zeros.clone()
        if start is not None and start.get("v") is not None:
            v0 = np.asarray((start["v"] - self.model.v_rest) / volt, dtype=float)
            v = self.torch.tensor(np.broadcast_to(v0, (n,)).astype(float))
        return {"x": zeros.clone(), "i_syn": zeros.clone(), "v": v, "a": zeros.clone()}

    def advance(self, s, drive):
        state = self.torch.stack([s["x"], s["i_syn"], s["v"], drive])
        x, i_syn, v = (self.propagator * state).sum(1).unbind(0)
        return {"x": x, "i_syn": i_syn, "v": v, "a": s["a"] * self.adapt_decay}

    def membrane(self, s):
        return s["v"] - self.beta * s["a"], self.theta, self.height, self.gap

    def observe(self, s):
        """The state as the group's variables, in SI units."""
        observed = {"v": s["v"] + self.v_rest, "x_syn": s["x"], "I_syn": s["i_syn"]}
        return {**observed, **({"a": s["a"]} if self.beta else {})}

    def deliver(self, s, current):
        return {**s, "x": s["x"] + current}

    def reset(self, s, z):
        v = s["v"] + z.detach() * (self.jump - s["v"].detach())
        return {**s, "v": v, "a": s["a"] + z}


@check_units(tau_readout=second)
def lif_neurons(n, *, learning=False, tau_readout=10 * ms, name="lif*", **kwds):
    """Build ``n`` LIF neurons with alpha-kernel synaptic input (adaptive, ALIF, if asked).

    Parameters
    ----------
    n : int
        Number of neurons.
    learning : bool
        Add the learning signal ``L``, the pseudo-derivative ``psi`` (a triangle of height
        ``pd_scale / v_gap`` and half-width ``v_gap = v_threshold - v_rest`` centred on the
        threshold) and ``u_out`` (:data:`bimsim.neurons.model.LEARNING_EQUATIONS`), used by
        :mod:`bimsim.plasticity.eligibility`.
    tau_readout : Quantity
        Decay time of ``u_out``, the filtered spike train a readout sees.
    name : str
        Brian2 object name.
    **kwds
        The :class:`LIF` parameters (``tau_m``, ``v_threshold``, ``refractory``, ...; the
        defaults are its), and those of :class:`brian2.NeuronGroup` (e.g. ``dt``, ``clock``).

    Returns
    -------
    brian2.NeuronGroup
        Variables ``v``, ``I_syn``, ``x_syn`` (add a synaptic weight in amperes here, e.g.
        ``on_pre="x_syn_post += w * nA"``), ``I_ext``, ``tau_m``, and ``a`` when adaptive; ``v``
        starts at ``v_rest``.
    """
    model, group_kwds = split_settings(LIF, kwds)
    return neuron_group(
        model, n, learning=learning, tau_readout=tau_readout, name=name, **group_kwds
    )
