"""Spike-pairing experiments: many independent pre/post pairs, every rule, in one Brian2 network.

Each condition (a Δt and a pairing frequency) is one *channel*: presynaptic neuron ``c`` fires at
``onset_c,k`` and postsynaptic neuron ``c`` at ``onset_c,k + Δt_c`` for ``k = 0 .. n_pairs-1``, with
``onset_c,k`` spaced by the pairing period. Pre and post spikes come from ``SpikeGeneratorGroup``s
(the experimenter controls both), and each STDP rule is one ``Synapses`` object connecting ``c`` to
``c``, so every condition and every rule is simulated at once.

The traces are event-driven (exact between spikes), so the time step only has to put every spike
exactly where it belongs: by default it is the coarsest step that holds every Δt and every period
on its grid (5 ms for Bi & Poo's protocol), which changes no result and makes long protocols fast.
"""

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import xarray as xr
from brian2 import Hz, Network, SpikeGeneratorGroup, defaultclock, ms

from bimsim.analysis import fit_stdp_window, weighted_error
from bimsim.data import sjostrom2001
from bimsim.devices import simulation_device
from bimsim.limits import require_bytes, require_steps
from bimsim.plasticity.stdp import STDPRule, WeightBounds, stdp_synapses
from bimsim.quantities import require, require_count, require_instance, require_positive

__all__ = [
    "MAX_PAIRS",
    "PairingSchedule",
    "frequency_dependence",
    "frequency_schedule",
    "pairing_schedule",
    "simulate_pairings",
    "stdp_curve",
]

#: The grid from which the default time step is chosen (Brian2's and NEST's default resolution).
BASE_GRID = 0.1 * ms

#: Memory per spike of a schedule: its own arrays and the SpikeGeneratorGroup's copies.
BYTES_PER_SPIKE = 64

#: Most pairings per condition (a million pairings at 1 Hz are 11.6 days of recording).
MAX_PAIRS = 1_000_000


@dataclass(frozen=True)
class PairingSchedule:
    """Spike times of a pairing experiment, on a grid of step ``dt``.

    Attributes
    ----------
    delta_t, frequency : Quantity
        Per channel: ``t_post - t_pre`` and pairing frequency.
    n_pairs : int
        Pairings per channel.
    dt : Quantity
        Simulation time step; every spike time is an integer multiple of it.
    pre_indices, pre_steps, post_indices, post_steps : numpy.ndarray
        Channel index and time step of every spike.
    """

    delta_t: object
    frequency: object
    n_pairs: int
    dt: object
    pre_indices: np.ndarray
    pre_steps: np.ndarray
    post_indices: np.ndarray
    post_steps: np.ndarray

    @property
    def n_channels(self):
        return len(self.delta_t)

    @property
    def duration(self):
        """Simulated time: up to two steps past the last spike."""
        last = max(self.pre_steps.max(), self.post_steps.max())
        return (int(last) + 2) * self.dt

    def pre_times(self):
        return self.pre_steps * self.dt

    def post_times(self):
        return self.post_steps * self.dt


def _on_grid(values, step, name):
    """``values / step`` as integers, or a ``ValueError`` naming the first value off the grid."""
    ratio = np.asarray(values / step, dtype=float)
    ticks = np.round(ratio)
    off = np.abs(ratio - ticks) > 1e-6
    if np.any(off):
        bad = np.asarray(values)[off][0]
        raise ValueError(
            f"{name} value {bad * 1e3:g} ms is not a multiple of the time step "
            f"{float(step / ms):g} ms; choose a dt that divides it"
        )
    return ticks.astype(np.int64)


def _coarsest_dt(delta_t, period):
    """The largest multiple of BASE_GRID dividing every Δt and every period.

    Where a period is not a multiple of BASE_GRID (e.g. 3 Hz), pair onsets must be rounded to the
    grid, and BASE_GRID keeps that rounding as small as NEST's default resolution does.
    """
    ticks = _on_grid(delta_t, BASE_GRID, "delta_t")
    period_ratio = np.asarray(period / BASE_GRID, dtype=float)
    if np.any(np.abs(period_ratio - np.round(period_ratio)) > 1e-6):
        return BASE_GRID
    terms = [int(abs(t)) for t in ticks] + [round(p) for p in period_ratio]
    return max(math.gcd(*terms), 1) * BASE_GRID


def pairing_schedule(delta_t, frequency, n_pairs, dt=None):
    """Spike times of independent pre/post pairings.

    Parameters
    ----------
    delta_t : Quantity
        ``t_post - t_pre`` of each channel (1-D array of times).
    frequency : Quantity
        Pairing frequency of each channel (scalar or 1-D array of rates, broadcast to ``delta_t``).
    n_pairs : int
        Number of pairings per channel (>= 1).
    dt : Quantity, optional
        Simulation time step. Every Δt must be a multiple of it; pair onsets are rounded to it.
        By default the coarsest step that keeps every Δt and period exact (0.1 ms where a period
        is not a multiple of 0.1 ms; see module docstring).

    Returns
    -------
    PairingSchedule

    Raises
    ------
    ValueError
        For zero pairs, Δt off the grid of ``dt``, a frequency at which consecutive pairings
        overlap (|Δt| not shorter than the pairing period), or a schedule beyond
        :mod:`bimsim.limits` (too many spikes, or too many time steps: a period far longer than
        the time step).
    """
    require("delta_t", delta_t, "time")
    require_positive("frequency", frequency, "frequency")
    n_pairs = require_count("n_pairs", n_pairs, MAX_PAIRS)
    delta_t = np.atleast_1d(delta_t)
    if delta_t.ndim != 1 or len(delta_t) == 0:
        raise ValueError("delta_t must be a non-empty 1-D array of times")
    if np.ndim(frequency) not in (0, 1) or np.size(frequency) not in (1, len(delta_t)):
        raise ValueError(
            f"frequency must be one rate or one per delta_t ({len(delta_t)}), "
            f"got shape {np.shape(frequency)}"
        )
    frequency = frequency * np.ones(len(delta_t))
    period = 1.0 / frequency
    overlap = np.abs(delta_t) >= period
    if np.any(overlap):
        c = int(np.argmax(overlap))
        raise ValueError(
            f"at {float(frequency[c]):g} Hz consecutive pairings overlap: |delta_t| = "
            f"{abs(float(delta_t[c] / ms)):g} ms is not shorter than the period "
            f"{float(period[c] / ms):g} ms"
        )
    spikes = 2 * len(delta_t) * n_pairs
    require_bytes(f"{len(delta_t)} conditions of {n_pairs} pairings", spikes * BYTES_PER_SPIKE)
    if dt is None:
        dt = _coarsest_dt(delta_t, period)
    else:
        require_positive("dt", dt, "time", scalar=True)
    dt_ticks = _on_grid(delta_t, dt, "delta_t")
    if np.any(period < dt):
        raise ValueError(f"the pairing period is shorter than the time step {dt}")
    slowest = float(np.max(period / dt))
    span = max(0, -int(dt_ticks.min())) + max(0, int(dt_ticks.max()))
    steps = (n_pairs - 1) * slowest + span + 2
    require_steps(f"{n_pairs} pairings at {float(np.min(frequency / Hz)):g} Hz", steps, dt)
    start = max(0, -int(dt_ticks.min()))
    k = np.arange(n_pairs)
    onsets = start + np.round(k[None, :] * np.asarray(period / dt)[:, None]).astype(np.int64)
    channels = np.repeat(np.arange(len(delta_t)), n_pairs)
    return PairingSchedule(
        delta_t=delta_t,
        frequency=frequency,
        n_pairs=n_pairs,
        dt=dt,
        pre_indices=channels,
        pre_steps=onsets.ravel(),
        post_indices=channels,
        post_steps=(onsets + dt_ticks[:, None]).ravel(),
    )


@contextmanager
def _default_dt(dt):
    """Run on Brian2's ``defaultclock`` with step ``dt``, restored afterwards.

    The network uses the default clock rather than a clock of its own because brian2cuda's
    synaptic post pathway refers to ``defaultclock`` by name.
    """
    saved = defaultclock.dt
    defaultclock.dt = dt
    try:
        yield
    finally:
        defaultclock.dt = saved


def simulate_pairings(schedule, rules, *, bounds=None, w_init=1.0, device="runtime", **device_kw):
    """Simulate a pairing schedule under several STDP rules in one network.

    Parameters
    ----------
    schedule : PairingSchedule
    rules : sequence of STDPRule
    bounds : WeightBounds, optional
        Applied to every rule.
    w_init : float
        Initial weight of every synapse (dimensionless; inside ``bounds``).
    device : {'runtime', 'cpp_standalone', 'cuda_standalone'}
    **device_kw
        Passed to :func:`bimsim.devices.simulation_device` (``execute``, ``compute_capability``).

    Returns
    -------
    numpy.ndarray
        Total weight change, shape ``(len(rules), schedule.n_channels)``, or None if the device
        only compiled the project (``execute=False``).

    Raises
    ------
    RuntimeError
        If Brian2's current device is not its runtime device (``brian2.set_device``): the run
        leaves the caller's device as it is (:func:`bimsim.devices.simulation_device`).
    """
    require_instance("schedule", schedule, PairingSchedule)
    if isinstance(rules, STDPRule) or not rules:
        raise ValueError(f"give a sequence of at least one STDP rule, got {rules!r}")
    for k, rule in enumerate(rules):
        require_instance(f"rules[{k}]", rule, STDPRule)
    require_instance("bounds", bounds, WeightBounds, optional=True)
    w_init = (bounds or WeightBounds()).check_weight(w_init)
    name = f"pairing-{'-'.join(rule.label for rule in rules)}"
    with simulation_device(device, name, **device_kw) as sim, _default_dt(schedule.dt):
        n = schedule.n_channels
        pre = SpikeGeneratorGroup(n, schedule.pre_indices, schedule.pre_times(), name="pre")
        post = SpikeGeneratorGroup(n, schedule.post_indices, schedule.post_times(), name="post")
        synapses = []
        for k, rule in enumerate(rules):
            syn = stdp_synapses(pre, post, rule, bounds, name=f"stdp_{k}")
            syn.connect(i=np.arange(n), j=np.arange(n))
            syn.w = w_init
            synapses.append(syn)
        net = Network(pre, post, *synapses)
        sim.run(net, schedule.duration)
        if not sim.execute:
            return None
        return np.array([np.asarray(syn.w[:]) - w_init for syn in synapses])


def _rule_attrs(rules):
    return {
        f"{label}_{key}": value
        for label, rule in rules.items()
        for key, value in rule.parameters().items()
    }


def stdp_curve(rule, delta_t, *, n_pairs=60, frequency=1 * Hz, dt=None, **simulate_kw):
    """Run the pairing protocol at every Δt at once and fit the STDP window.

    Parameters
    ----------
    rule : STDPRule
    delta_t : Quantity
        The Δt = t_post - t_pre values (1-D array of times).
    n_pairs : int
        Pairings per Δt (Bi & Poo 1998: 60).
    frequency : Quantity
        Pairing frequency (Bi & Poo 1998: 1 Hz).
    dt : Quantity, optional
        Time step (default: the coarsest exact one, see :func:`pairing_schedule`).
    **simulate_kw
        Passed to :func:`simulate_pairings` (``bounds``, ``w_init``, ``device``).

    Returns
    -------
    xarray.Dataset
        ``dw`` (total weight change) and ``dw_per_pair`` over ``delta_t`` (ms); the fitted window
        ``fit_a_plus``, ``fit_a_minus``, ``fit_tau_plus``, ``fit_tau_minus`` with ``*_stderr``;
        the rule's and the protocol's parameters in the attributes.
    """
    require_instance("rule", rule, STDPRule)
    schedule = pairing_schedule(delta_t, frequency, n_pairs, dt)
    dw = simulate_pairings(schedule, [rule], **simulate_kw)[0]
    delta_t_ms = np.asarray(schedule.delta_t / ms)
    fit = fit_stdp_window(delta_t_ms, dw / n_pairs)
    units = {"a_plus": "1", "a_minus": "1", "tau_plus": "ms", "tau_minus": "ms"}
    names = {
        "a_plus": "fitted potentiation amplitude A+ per pairing",
        "a_minus": "fitted depression amplitude A- per pairing (magnitude)",
        "tau_plus": "fitted potentiation time constant",
        "tau_minus": "fitted depression time constant",
    }
    data = {
        "dw": ("delta_t", dw, {"units": "1", "long_name": "total weight change over the protocol"}),
        "dw_per_pair": (
            "delta_t",
            dw / n_pairs,
            {"units": "1", "long_name": "weight change per pairing"},
        ),
    }
    for key, unit in units.items():
        data[f"fit_{key}"] = ((), fit[key], {"units": unit, "long_name": names[key]})
        data[f"fit_{key}_stderr"] = (
            (),
            fit[f"{key}_stderr"],
            {"units": unit, "long_name": f"standard error of fit_{key}"},
        )
    attrs = {
        "title": f"STDP window from spike pairing ({rule.label})",
        "rule": rule.label,
        "n_pairs": n_pairs,
        "frequency": f"{float(frequency / Hz):g} Hz",
        "dt": f"{float(schedule.dt / ms):g} ms",
        **_rule_attrs({"rule": rule}),
    }
    coords = {"delta_t": ("delta_t", delta_t_ms, {"units": "ms", "long_name": "t_post - t_pre"})}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def frequency_schedule(n_pairs=60, dt=None):
    """The schedule of the Sjöström et al. (2001) protocol: every frequency and Δt of the data.

    Conditions are frequency-major (the order of ``sjostrom2001()``'s ``frequency`` and
    ``delta_t``); see :func:`pairing_schedule` for ``n_pairs``, ``dt`` and the errors.
    """
    data = sjostrom2001()
    grid_f, grid_dt = np.meshgrid(data.frequency.values, data.delta_t.values, indexing="ij")
    return pairing_schedule(grid_dt.ravel() * ms, grid_f.ravel() * Hz, n_pairs, dt)


def frequency_dependence(rules, *, n_pairs=60, dt=None, **simulate_kw):
    """The Sjöström, Turrigiano & Nelson (2001) protocol: Δt = ±10 ms at 0.1 to 50 Hz.

    Every rule, frequency and Δt runs in one network.

    Parameters
    ----------
    rules : dict of str to STDPRule
        Labels and rules, e.g. ``{"pair-all": ..., "triplet-all": ...}``.
    n_pairs : int
        Pairings per condition.
    dt : Quantity, optional
        Time step (default: the coarsest exact one).
    **simulate_kw
        Passed to :func:`simulate_pairings`.

    Returns
    -------
    xarray.Dataset
        ``dw`` over ``rule``, ``frequency`` (Hz) and ``delta_t`` (ms); the measured ``data_mean``
        and ``data_sem``; each rule's ``weighted_error`` against the data.
    """
    if not isinstance(rules, dict) or not rules:
        raise TypeError(f"rules must be a dict of labels to STDP rules, got {rules!r}")
    data = sjostrom2001()
    frequency = data.frequency.values
    delta_t = data.delta_t.values
    schedule = frequency_schedule(n_pairs, dt)
    dw = simulate_pairings(schedule, list(rules.values()), **simulate_kw)
    dw = dw.reshape(len(rules), len(frequency), len(delta_t))
    errors = [weighted_error(model, data.dw_mean.values, data.dw_sem.values) for model in dw]
    ds = xr.Dataset(
        {
            "dw": (
                ("rule", "frequency", "delta_t"),
                dw,
                {"units": "1", "long_name": "total weight change over the protocol"},
            ),
            "data_mean": data.dw_mean.assign_attrs(long_name="measured weight change (mean)"),
            "data_sem": data.dw_sem.assign_attrs(long_name="measured weight change (s.e.m.)"),
            "weighted_error": (
                "rule",
                errors,
                {"units": "1", "long_name": "mean of ((dw - data_mean) / data_sem)**2"},
            ),
        },
        coords={"rule": ("rule", list(rules), {"units": "1", "long_name": "plasticity rule"})},
        attrs={
            "title": "Frequency dependence of STDP (Sjostrom et al. 2001 protocol)",
            "data_source": data.attrs["source"],
            "n_pairs": n_pairs,
            "dt": f"{float(schedule.dt / ms):g} ms",
            **_rule_attrs(rules),
        },
    )
    return ds
