"""Spike-timing-dependent plasticity as Brian2 ``Synapses`` equations (SPEC eq. 4).

One rule covers both families: the triplet rule of Pfister & Gerstner (2006), and the pair rule as
its special case with no triplet terms (``a3_plus = a3_minus = 0``). For an isolated pair at
``Δt = t_post - t_pre`` the weight changes by the window

    W(Δt) = a2_plus exp(-Δt / tau_plus)     for Δt >= 0
    W(Δt) = -a2_minus exp(Δt / tau_minus)   for Δt < 0

(a pre and a post spike in the same time step count as Δt = 0: Brian2 runs the ``on_pre``
pathway before ``on_post``, so the pair potentiates).

Traces, named as in Pfister & Gerstner (2006): ``r1`` (time constant ``tau_plus``) and ``r2``
(``tau_x``) follow presynaptic spikes, ``o1`` (``tau_minus``) and ``o2`` (``tau_y``) postsynaptic
spikes. They are integrated exactly between spikes whatever the time step: at each spike every trace
decays by ``exp(-(t - lastupdate) / tau)`` since the synapse's last spike, which is the code Brian2
generates for ``(event-driven)`` equations. It is written out because Brian2 solves event-driven
equations symbolically (sympy) in every new process, 0.25 s for a pair rule's two traces and 0.54 s
for a triplet rule's four. At a presynaptic spike ``w -= o1 (a2_minus + a3_minus r2)``, at a
postsynaptic spike ``w += r1 (a2_plus + a3_plus o2)``, each read before the spike updates its own
traces.

Pairing schemes: with ``pairing='all'`` each spike increments the traces (all-to-all
interactions); with ``pairing='nearest'`` it resets them to 1, so each spike interacts only with the
latest spike of the other side (symmetric nearest-neighbour pairing: NEST's
``stdp_nn_symm_synapse`` for the pair rule, Pfister & Gerstner's "nearest spike" triplet model).
"""

from dataclasses import dataclass, field

import brian2
import numpy as np
from brian2 import Synapses, ms

from bimsim.quantities import require_positive, require_real

__all__ = [
    "PAIR_DEFAULTS",
    "TRIPLET_PRESETS",
    "STDPRule",
    "WeightBounds",
    "pair_rule",
    "stdp_equations",
    "stdp_synapses",
    "triplet_preset",
]

PAIRINGS = ("all", "nearest")


@dataclass(frozen=True)
class STDPRule:
    """Parameters of a pair or triplet STDP rule.

    Parameters
    ----------
    a2_plus, a2_minus : float
        Pair amplitudes (dimensionless, >= 0): potentiation for post after pre, depression for pre
        after post. For the pair rule these are SPEC's A₊ and A₋.
    tau_plus, tau_minus : Quantity
        Decay times of the presynaptic trace ``r1`` and the postsynaptic trace ``o1``.
    a3_plus, a3_minus : float, optional
        Triplet amplitudes (dimensionless, >= 0); zero gives the pair rule.
    tau_x, tau_y : Quantity, optional
        Decay times of the slow presynaptic trace ``r2`` and postsynaptic trace ``o2``, required
        when ``a3_minus`` respectively ``a3_plus`` is non-zero.
    pairing : {'all', 'nearest'}
        All-to-all or nearest-spike interactions (see the module docstring).
    """

    a2_plus: float
    a2_minus: float
    tau_plus: brian2.Quantity
    tau_minus: brian2.Quantity
    a3_plus: float = 0.0
    a3_minus: float = 0.0
    tau_x: brian2.Quantity | None = None
    tau_y: brian2.Quantity | None = None
    pairing: str = "all"

    def __post_init__(self):
        for name in ("a2_plus", "a2_minus", "a3_plus", "a3_minus"):
            value = getattr(self, name)
            if isinstance(value, brian2.Quantity) and not value.is_dimensionless:
                raise brian2.DimensionMismatchError(
                    f"{name} is a dimensionless weight change, got {value!r}"
                )
            if isinstance(value, brian2.Quantity) and np.ndim(value) == 0:
                value = float(value)  # dimensionless
            object.__setattr__(self, name, float(require_real(name, value)))
        require_positive("tau_plus", self.tau_plus, "time", scalar=True)
        require_positive("tau_minus", self.tau_minus, "time", scalar=True)
        if self.a3_minus and self.tau_x is None:
            raise ValueError("tau_x is required when a3_minus is non-zero")
        if self.a3_plus and self.tau_y is None:
            raise ValueError("tau_y is required when a3_plus is non-zero")
        for name in ("tau_x", "tau_y"):
            if getattr(self, name) is not None:
                require_positive(name, getattr(self, name), "time", scalar=True)
        if self.pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {self.pairing!r}")

    @property
    def is_triplet(self):
        """Whether any triplet term is non-zero."""
        return bool(self.a3_plus or self.a3_minus)

    @property
    def label(self):
        """Short name of the rule family and pairing, e.g. ``'triplet-nearest'``."""
        return f"{'triplet' if self.is_triplet else 'pair'}-{self.pairing}"

    def window(self, delta_t):
        """The pair window W(Δt) for isolated pairs (triplet terms ignored).

        Parameters
        ----------
        delta_t : Quantity
            ``t_post - t_pre`` (scalar or array, units of time).

        Returns
        -------
        numpy.ndarray
            Dimensionless weight change per pair.
        """
        delta_t = np.asarray(delta_t / ms, dtype=float)
        potentiation = self.a2_plus * np.exp(-np.abs(delta_t) / float(self.tau_plus / ms))
        depression = -self.a2_minus * np.exp(-np.abs(delta_t) / float(self.tau_minus / ms))
        return np.where(delta_t >= 0, potentiation, depression)

    def parameters(self):
        """The rule's parameters as a flat dict of strings and floats (for dataset attributes)."""
        out = {}
        for key in ("a2_plus", "a2_minus", "a3_plus", "a3_minus"):
            out[key] = getattr(self, key)
        for key in ("tau_plus", "tau_minus", "tau_x", "tau_y"):
            value = getattr(self, key)
            out[key] = "none" if value is None else str(value.in_unit(ms))
        out["pairing"] = self.pairing
        return out


@dataclass(frozen=True)
class WeightBounds:
    """How weights are kept inside ``[w_min, w_max]``.

    Parameters
    ----------
    kind : {'none', 'hard', 'soft'}
        ``'none'``: additive updates, unbounded. ``'hard'``: additive updates clipped to the bounds.
        ``'soft'``: multiplicative bounds, potentiation scaled by
        ``(w_max - w) / (w_max - w_min)`` and depression by ``(w - w_min) / (w_max - w_min)``.
    w_min, w_max : float
        The bounds (dimensionless, ``w_min < w_max``).
    """

    kind: str = "none"
    w_min: float = 0.0
    w_max: float = 1.0

    def __post_init__(self):
        if self.kind not in ("none", "hard", "soft"):
            raise ValueError(f"bounds kind must be 'none', 'hard' or 'soft', got {self.kind!r}")
        require_real("w_min", self.w_min, minimum=-np.inf)
        require_real("w_max", self.w_max, minimum=-np.inf)
        if not self.w_min < self.w_max:
            raise ValueError(f"need finite w_min < w_max, got {self.w_min!r}, {self.w_max!r}")

    def check_weight(self, w, name="w_init"):
        """Check that the weight ``w`` is finite and, with bounds, inside them; return it.

        A weight outside hard or soft bounds makes no sense: a hard bound would move it at the
        first spike, a soft bound would scale updates by a negative factor.
        """
        w = float(require_real(name, w, minimum=-np.inf))
        if self.kind != "none" and not self.w_min <= w <= self.w_max:
            raise ValueError(
                f"{name} = {w:g} lies outside the {self.kind} bounds [{self.w_min:g}, "
                f"{self.w_max:g}]"
            )
        return w


def pair_rule(a_plus, a_minus, tau_plus, tau_minus, pairing="all"):
    """The pair rule of SPEC eq. 4: W(Δt) = A₊ exp(-Δt/τ₊) (Δt >= 0), -A₋ exp(Δt/τ₋) (Δt < 0).

    A bad value is refused naming this function's parameter (``a_plus``, not the rule's field
    ``a2_plus``)."""
    try:
        return STDPRule(a_plus, a_minus, tau_plus, tau_minus, pairing=pairing)
    except (ValueError, brian2.DimensionMismatchError) as err:
        message = str(err).replace("a2_plus", "a_plus").replace("a2_minus", "a_minus")
        raise type(err)(message) from None


#: Default pair rule: Bi & Poo's (1998) time constants; amplitudes with the depression-dominated
#: ratio A₋/A₊ = 1.05 of Song, Miller & Abbott (2000).
PAIR_DEFAULTS = {"a_plus": 0.005, "a_minus": 0.00525, "tau_plus": 16.8 * ms, "tau_minus": 33.7 * ms}


def _triplet(tau_x, tau_y, a2_plus, a3_plus, a2_minus, a3_minus, pairing):
    return STDPRule(
        a2_plus=a2_plus,
        a2_minus=a2_minus,
        tau_plus=16.8 * ms,
        tau_minus=33.7 * ms,
        a3_plus=a3_plus,
        a3_minus=a3_minus,
        tau_x=None if tau_x is None else tau_x * ms,
        tau_y=tau_y * ms,
        pairing=pairing,
    )


#: Parameter sets of Pfister & Gerstner (2006), Table 4, fitted to visual-cortex (Sjöström et al.
#: 2001) and hippocampal (Wang et al. 2005) data; tau_plus = 16.8 ms and tau_minus = 33.7 ms.
TRIPLET_PRESETS = {
    "visual-all-minimal": _triplet(None, 114, 0.0, 6.5e-3, 7.1e-3, 0.0, "all"),
    "visual-all-full": _triplet(101, 125, 5e-10, 6.2e-3, 7e-3, 2.3e-4, "all"),
    "visual-nearest-full": _triplet(714, 40, 8.8e-11, 5.3e-2, 6.6e-3, 3.1e-3, "nearest"),
    "hippocampal-all-full": _triplet(946, 27, 6.1e-3, 6.7e-3, 1.6e-3, 1.4e-3, "all"),
    "hippocampal-nearest-full": _triplet(575, 47, 4.6e-3, 9.1e-3, 3e-3, 7.5e-9, "nearest"),
}


def triplet_preset(name, pairing=None):
    """A triplet rule from :data:`TRIPLET_PRESETS`.

    Parameters
    ----------
    name : str
        The preset's name.
    pairing : {'all', 'nearest'}, optional
        If given, it must be the pairing the preset was fitted for.
    """
    if name not in TRIPLET_PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(TRIPLET_PRESETS)}")
    rule = TRIPLET_PRESETS[name]
    if pairing is not None and pairing != rule.pairing:
        raise ValueError(
            f"preset {name!r} was fitted for {rule.pairing!r} pairing, not {pairing!r}; "
            f"choose a '{rule.pairing}' rule or another preset"
        )
    return rule


@dataclass(frozen=True)
class _Equations:
    model: str
    on_pre: str
    on_post: str
    namespace: dict = field(default_factory=dict)


def weight_update(sign, amount, bounds, prunable, variable="w"):
    """The statement that adds (``sign`` '+') or removes ('-') ``amount`` from ``variable``.

    With ``bounds`` applied to ``w``, and, where ``prunable``, the weight of an inactive synapse
    kept at 0. Shared by the STDP rules and the hybrid rule.
    """
    if bounds.kind == "hard":
        update = f"clip(w {sign} {amount}, w_min, w_max)"
    elif bounds.kind == "soft":
        distance = "(w_max - w)" if sign == "+" else "(w - w_min)"
        update = f"w {sign} {distance} / (w_max - w_min) * {amount}"
    else:
        update = f"{variable} {sign} {amount}"
    # A pruned synapse keeps w = 0: it neither learns nor transmits.
    return f"w = int(active) * ({update})" if prunable else f"{variable} = {update}"


def stdp_equations(rule, bounds=None, prunable=False, variable="w"):
    """The Brian2 model, ``on_pre`` and ``on_post`` code and namespace of an STDP rule.

    Parameters
    ----------
    rule : STDPRule
    bounds : WeightBounds, optional
        Defaults to unbounded additive updates.
    prunable : bool
        Add the flag ``active`` (see :mod:`bimsim.plasticity.pruning`); the weight of an inactive
        synapse stays 0.
    variable : str
        The variable the rule changes. Another name than ``w`` accumulates the STDP term Ω of the
        hybrid rule (:mod:`bimsim.plasticity.hybrid`), unbounded; the hybrid update then applies
        bounds and pruning to ``w``.

    Returns
    -------
    object
        With attributes ``model``, ``on_pre``, ``on_post`` (strings) and ``namespace`` (dict).
        The model declares ``lastupdate`` (the time of the synapse's last spike), which Brian2
        also declares for ``(event-driven)`` equations: it cannot be merged with a model that
        has any.
    """
    bounds = bounds or WeightBounds()
    if variable != "w" and (bounds.kind != "none" or prunable):
        raise ValueError(f"STDP into {variable!r} takes no bounds and no pruning")
    step = "= 1" if rule.pairing == "nearest" else "+= 1"
    traces = {"r1": "tau_plus", "o1": "tau_minus"}
    namespace = {
        "tau_plus": rule.tau_plus,
        "tau_minus": rule.tau_minus,
        "a2_plus": rule.a2_plus,
        "a2_minus": rule.a2_minus,
        "w_min": bounds.w_min,
        "w_max": bounds.w_max,
    }
    depression, potentiation = "o1 * a2_minus", "r1 * a2_plus"
    pre_traces, post_traces = [f"r1 {step}"], [f"o1 {step}"]
    if rule.a3_minus:
        traces["r2"] = "tau_x"
        namespace.update(tau_x=rule.tau_x, a3_minus=rule.a3_minus)
        depression = "o1 * (a2_minus + a3_minus * r2)"
        pre_traces.append(f"r2 {step}")
    if rule.a3_plus:
        traces["o2"] = "tau_y"
        namespace.update(tau_y=rule.tau_y, a3_plus=rule.a3_plus)
        potentiation = "r1 * (a2_plus + a3_plus * o2)"
        post_traces.append(f"o2 {step}")
    model = [f"{variable} : 1", *(f"{trace} : 1" for trace in traces), "lastupdate : second"]
    if prunable:
        model.append("active : boolean")
    # Every trace decays from the synapse's last spike to this one, as Brian2's code for
    # (event-driven) equations does; each spike then reads the traces before updating its own
    # ("t - ε" in Pfister & Gerstner 2006).
    decay = [f"{trace} = {trace} * exp(-(t - lastupdate) / {tau})" for trace, tau in traces.items()]
    depress = weight_update("-", depression, bounds, prunable, variable)
    potentiate = weight_update("+", potentiation, bounds, prunable, variable)
    on_pre = [*decay, depress, *pre_traces, "lastupdate = t"]
    on_post = [*decay, potentiate, *post_traces, "lastupdate = t"]
    return _Equations("\n".join(model), "\n".join(on_pre), "\n".join(on_post), namespace)


def stdp_synapses(
    source, target, rule, bounds=None, *, transmit=None, prunable=False, name="stdp*", **kwds
):
    """Build (unconnected) plastic ``Synapses`` from ``source`` to ``target``.

    Parameters
    ----------
    source, target : Group
        Presynaptic and postsynaptic groups.
    rule : STDPRule
    bounds : WeightBounds, optional
    transmit : str, optional
        Statement appended to ``on_pre`` that delivers the spike, e.g. ``"x_post += w"``, with the
        weight after this spike's update. Without it the synapse only learns (as in pairing
        protocols where both sides are driven).
    prunable : bool
        Add the ``active`` flag that :class:`bimsim.plasticity.pruning.AdaptivePruning` clears.
        Set ``active = True`` after connecting.
    name : str
        Brian2 object name.
    **kwds
        Passed to :class:`brian2.Synapses` (e.g. ``delay``, ``dt``).

    Returns
    -------
    brian2.Synapses
        With the weight ``w``, the traces ``r1``, ``o1`` (and ``r2``, ``o2`` for triplets) as
        they were at the synapse's last spike, and that spike's time ``lastupdate``.
    """
    eqs = stdp_equations(rule, bounds, prunable)
    on_pre = eqs.on_pre if transmit is None else f"{eqs.on_pre}\n{transmit}"
    return Synapses(
        source,
        target,
        model=eqs.model,
        on_pre=on_pre,
        on_post=eqs.on_post,
        namespace=eqs.namespace,
        name=name,
        **kwds,
    )
