"""The gradient window: how the loss gradient of one synapse depends on pre/post spike timing.

BIM's plausibility claim is that its gradient-driven weight updates, like STDP, decay exponentially
with the time between a presynaptic and a postsynaptic spike. This module measures it. Each channel
is one synapse onto one LIF neuron (``refractory = 0``, the surrogate model the traces are exact
for): the presynaptic neuron fires once at ``t_pre``, and the postsynaptic neuron is made to fire
once at ``t_post = t_pre + Δt`` by a one-step current pulse, as an experimenter does by current
injection. The loss rewards the postsynaptic output::

    ℓ = -Σ_k u_out(t_k)        (t_k every readout step; u_out the filtered spike train)

so the readout's learning signal is ``L = -1`` and ``-∂ℓ/∂w`` is the update the gradient term of the
hybrid rule makes (λ = 1, η = 1). ``∂ℓ/∂w`` is computed twice, by the eligibility traces in Brian2
(online, RTRL-style) and by torch autograd through the whole sequence (BPTT). One more channel per
condition has the presynaptic spike and no postsynaptic one: the *pairing-induced* update is the
difference, and it is what is compared with the STDP window ``W(Δt)``. Each side of ``Δt = 0`` is
fitted with ``A exp(-|Δt|/τ)`` from the extremum outward.

A constant current can hold the neuron depolarised (``depolarization``, the steady-state
``v - v_rest``): at rest the pseudo-derivative vanishes after the postsynaptic reset, at a
depolarised baseline it does not, which changes the acausal side.
"""

import numpy as np
import xarray as xr
from brian2 import Mohm, amp, ms, mV, nA

from bimsim.analysis import fit_exponential
from bimsim.devices import ADDS_TO_PROJECT, require_runtime
from bimsim.gradient_check import gradient_agreement, trace_gradients
from bimsim.limits import require_bytes, require_steps
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule
from bimsim.quantities import require, require_positive, require_real

__all__ = ["GRADIENT_WINDOW_NEURON", "SIDES", "gradient_window"]

#: The neuron of the protocol: lif_neurons' defaults with no refractory period.
GRADIENT_WINDOW_NEURON = {
    "tau_m": 20 * ms,
    "tau_syn": 5 * ms,
    "R_m": 100 * Mohm,
    "v_rest": -65 * mV,
    "v_threshold": -50 * mV,
    "v_reset": -65 * mV,
    "refractory": 0 * ms,
    "pd_scale": 0.3,
    "tau_readout": 10 * ms,
}

SIDES = ("positive", "negative")

#: Memory per channel and time step: the input and current schedules, the recorded traces and
#: BPTT's stored states (about 16 float64 arrays of shape (steps, channels)).
BYTES_PER_CHANNEL_STEP = 128


def _pulse_current(jump, neuron, dt):
    """The one-step current that moves ``v`` by ``jump`` (exact integration, other inputs aside)."""
    gain = neuron["R_m"] * (1 - np.exp(-float(dt / neuron["tau_m"])))
    return jump / gain


def _schedule(delta_t_steps, depolarizations, t_pre_step, steps, pulse, bias):
    """Per channel (depolarization-major, the unpaired channel last): input spikes and current."""
    per_condition = len(delta_t_steps) + 1
    n = len(depolarizations) * per_condition
    input_spikes = np.zeros((steps, n))
    input_spikes[t_pre_step, :] = 1
    current = np.zeros((steps, n))
    for d, depolarization in enumerate(depolarizations):
        block = slice(d * per_condition, (d + 1) * per_condition)
        current[:, block] = float(bias(depolarization) / amp)
        for c, shift in enumerate(delta_t_steps):
            current[t_pre_step + shift, d * per_condition + c] += float(pulse(depolarization) / amp)
    return input_spikes, current * amp


def _fit_side(delta_t, update, side):
    """Fit ``A exp(-|Δt|/τ)`` to one side from its extremum outward; None if the side is flat or
    has too few Δt values (fewer than 3 from the extremum; none where every Δt lies on the other
    side)."""
    chosen = delta_t >= 0 if side == "positive" else delta_t < 0
    if not np.any(chosen):
        return None
    x, y = np.abs(delta_t[chosen]), update[chosen]
    order = np.argsort(x)
    x, y = x[order], y[order]
    if np.max(np.abs(y)) <= 1e-6 * np.max(np.abs(update)):
        return None
    start = int(np.argmax(np.abs(y)))
    if len(x) - start < 3:
        return None
    (amplitude, tau), (amplitude_se, tau_se) = fit_exponential(x[start:], y[start:])
    return {
        "amplitude": amplitude,
        "tau": tau,
        "amplitude_stderr": amplitude_se,
        "tau_stderr": tau_se,
        "start": x[start],
    }


def gradient_window(
    delta_t,
    *,
    depolarization=0 * mV,
    w=0.05,
    w_unit=1 * nA,
    overshoot=5 * mV,
    t_pre=150 * ms,
    tail=300 * ms,
    dt=0.1 * ms,
    readout_dt=1 * ms,
    stdp=None,
    bptt=True,
):
    """Measure ``∂ℓ/∂w`` of one synapse against ``Δt = t_post - t_pre`` (see module docstring).

    Parameters
    ----------
    delta_t : Quantity
        The Δt values (1-D array of times, multiples of ``dt``).
    depolarization : Quantity
        Steady-state depolarisations ``v - v_rest`` held by a constant current, one condition each;
        each must stay below the threshold with the presynaptic PSP added.
    w : float
        The synapse's weight (times ``w_unit``), too weak to fire the neuron alone.
    w_unit : Quantity
        Current of a weight of 1.
    overshoot : Quantity
        How far above the threshold the pulse takes ``v`` from the baseline.
    t_pre : Quantity
        Time of the presynaptic spike; ``t_pre + min(Δt)`` must be >= 0.
    tail : Quantity
        Simulated time after the last spike (the traces decay in it).
    dt, readout_dt : Quantity
        Time step, and the readout's step (the steps at which ``ℓ`` counts ``u_out``).
    stdp : dict, optional
        ``a_plus``, ``a_minus``, ``tau_plus``, ``tau_minus`` of the window to compare with (default
        :data:`~bimsim.plasticity.stdp.PAIR_DEFAULTS`).
    bptt : bool
        Also compute the gradient by torch autograd (needs torch).

    Returns
    -------
    xarray.Dataset
        Over ``depolarization`` (mV) and ``delta_t`` (ms): ``gradient`` (traces), ``gradient_bptt``,
        ``pairing_update`` (pairing-induced ``-∂ℓ/∂w``), ``stdp_window``; per ``depolarization`` and
        ``side``: the fits; per ``depolarization``: the agreement of traces and BPTT.
    """
    require_runtime("gradient_window", why=ADDS_TO_PROJECT)
    for name in ("t_pre", "tail", "dt", "readout_dt"):
        require_positive(name, locals()[name], "time", scalar=True)
    require("delta_t", delta_t, "time")
    if np.ndim(delta_t) > 1 or np.size(delta_t) == 0:
        raise ValueError(f"delta_t must be one or more times (a 1-D array), got {delta_t!r}")
    delta_t = np.atleast_1d(delta_t)
    require("overshoot", overshoot, "voltage", scalar=True)
    require("depolarization", depolarization, "voltage")
    if np.ndim(depolarization) > 1 or np.size(depolarization) == 0:
        raise ValueError(f"depolarization must be one or more voltages, got {depolarization!r}")
    depolarization = depolarization * np.ones(1)  # a 1-D array, units kept
    require_real("w", w, above=True)
    stdp = PAIR_DEFAULTS if stdp is None else stdp
    if not isinstance(stdp, dict) or set(stdp) != set(PAIR_DEFAULTS):
        raise ValueError(f"stdp must give {', '.join(PAIR_DEFAULTS)}, got {stdp!r}")
    pair_rule(**stdp)  # checks each value, naming it
    neuron = GRADIENT_WINDOW_NEURON
    gap = neuron["v_threshold"] - neuron["v_rest"]
    if np.any(depolarization < 0 * mV) or np.any(depolarization >= gap):
        raise ValueError(f"depolarization must lie in [0, {gap}), got {depolarization}")
    shifts = np.round(np.asarray(delta_t / dt)).astype(np.int64)
    if np.any(np.abs(shifts * dt - delta_t) > 1e-6 * dt):
        raise ValueError(f"every delta_t must be a multiple of dt = {dt}")
    if len(np.unique(shifts)) != len(shifts):
        raise ValueError("delta_t values must be distinct")
    every = round(float(readout_dt / dt))
    if abs(every * dt - readout_dt) > 1e-6 * dt:
        raise ValueError(f"readout_dt ({readout_dt}) must be a multiple of dt ({dt})")
    t_pre_step = round(float(t_pre / dt))
    if t_pre_step + shifts.min() < 1:
        raise ValueError(f"t_pre ({t_pre}) must exceed -min(delta_t) ({-np.min(delta_t)})")
    steps = t_pre_step + max(int(shifts.max()), 0) + round(float(tail / dt))
    n = len(depolarization) * (len(shifts) + 1)
    require_steps("the gradient window protocol", steps, dt)
    require_bytes(f"{n} channels over {steps} time steps", steps * n * BYTES_PER_CHANNEL_STEP)

    def bias(dep):
        return dep / neuron["R_m"]

    def pulse(dep):
        return _pulse_current(gap - dep + overshoot, neuron, dt)

    input_spikes, current = _schedule(shifts, depolarization, t_pre_step, steps, pulse, bias)
    per_condition = len(shifts) + 1
    v_init = neuron["v_rest"] + np.repeat(depolarization, per_condition)
    signal = np.zeros((steps, n))
    signal[::every] = -1.0
    w_in = np.eye(n) * w
    ours = trace_gradients(
        w_in,
        input_spikes,
        signal,
        i_ext=current,
        v_init=v_init,
        mask=np.eye(n, dtype=bool),
        w_unit=w_unit,
        dt=dt,
        **neuron,
    )
    expected = np.tile(np.append(np.ones(len(shifts)), 0), len(depolarization))
    fired = ours["spikes"].sum(axis=0)
    if np.any(fired != expected):
        c = int(np.flatnonzero(fired != expected)[0])
        raise ValueError(
            f"channel {c} fired {int(fired[c])} times, not {int(expected[c])}: lower w or "
            "depolarization, or raise overshoot"
        )
    shape = (len(depolarization), per_condition)
    gradient = np.diag(ours["grad_in"]).reshape(shape)
    data = {}
    if bptt:
        from bimsim.surrogate_bptt import layer_bptt

        reference = layer_bptt(
            ours["layer"], w_in, input_spikes, signal, drive=current, start={"v": v_init},
            w_unit=w_unit,
        )  # fmt: skip
        if not np.array_equal(reference["spikes"], ours["spikes"]):
            raise RuntimeError("the BPTT reference's spikes differ from Brian2's")
        gradient_bptt = np.diag(reference["grad_in"]).reshape(shape)
        agreement = [gradient_agreement(g, r) for g, r in zip(gradient, gradient_bptt, strict=True)]
        data["gradient_bptt"] = (
            ("depolarization", "delta_t"),
            gradient_bptt[:, :-1],
            {"units": "1", "long_name": "dloss/dw by BPTT (torch autograd)"},
        )
        data["unpaired_gradient_bptt"] = (
            "depolarization",
            gradient_bptt[:, -1],
            {"units": "1", "long_name": "dloss/dw by BPTT without a postsynaptic spike"},
        )
        for key in ("max_relative", "norm_relative"):
            data[f"{key}_error"] = (
                "depolarization",
                [a[key] for a in agreement],
                {"units": "1", "long_name": f"{key.replace('_', ' ')} error of traces vs BPTT"},
            )

    delta_t_ms = np.asarray(shifts * float(dt / ms))
    update = -(gradient[:, :-1] - gradient[:, -1:])
    fits = [[_fit_side(delta_t_ms, row, side) for side in SIDES] for row in update]
    window = np.where(
        delta_t_ms >= 0,
        stdp["a_plus"] * np.exp(-delta_t_ms / float(stdp["tau_plus"] / ms)),
        -stdp["a_minus"] * np.exp(delta_t_ms / float(stdp["tau_minus"] / ms)),
    )
    data.update(
        {
            "gradient": (
                ("depolarization", "delta_t"),
                gradient[:, :-1],
                {"units": "1", "long_name": "dloss/dw by eligibility traces (online)"},
            ),
            "unpaired_gradient": (
                "depolarization",
                gradient[:, -1],
                {"units": "1", "long_name": "dloss/dw by traces without a postsynaptic spike"},
            ),
            "pairing_update": (
                ("depolarization", "delta_t"),
                update,
                {"units": "1", "long_name": "pairing-induced update -dloss/dw (paired - unpaired)"},
            ),
            "stdp_window": (
                "delta_t",
                window,
                {"units": "1", "long_name": "STDP window W(delta_t) compared with"},
            ),
            "fit_found": (
                ("depolarization", "side"),
                np.array([[f is not None for f in row] for row in fits], dtype=np.int8),
                {
                    "units": "1",
                    "long_name": "1 where the side decays and was fitted, 0 if flat or with too "
                    "few delta_t",
                },
            ),
        }
    )
    fit_units = {"amplitude": "1", "tau": "ms", "start": "ms"}
    fit_names = {
        "amplitude": "fitted A of A exp(-|delta_t|/tau)",
        "tau": "fitted decay time tau",
        "start": "|delta_t| from which the side was fitted (its extremum)",
    }
    for key in ("amplitude", "amplitude_stderr", "tau", "tau_stderr", "start"):
        base = key.removesuffix("_stderr")
        name = fit_names[base] if key == base else f"standard error of fit_{base}"
        data[f"fit_{key}"] = (
            ("depolarization", "side"),
            [[f[key] if f else 0.0 for f in row] for row in fits],
            {"units": fit_units[base], "long_name": f"{name} (0 where fit_found is 0)"},
        )
    coords = {
        "depolarization": (
            "depolarization",
            np.asarray(depolarization / mV),
            {"units": "mV", "long_name": "steady-state depolarisation v - v_rest"},
        ),
        "delta_t": ("delta_t", delta_t_ms, {"units": "ms", "long_name": "t_post - t_pre"}),
        "side": ("side", list(SIDES), {"units": "1", "long_name": "sign of delta_t"}),
    }
    attrs = {
        "title": "Gradient window: dloss/dw of one synapse against pre/post spike timing",
        "loss": "-sum_k u_out(t_k) over readout steps t_k",
        "w": w,
        "w_unit": str(w_unit),
        "overshoot": str(overshoot),
        "t_pre": str(t_pre),
        "dt": str(dt),
        "readout_dt": str(readout_dt),
        **{f"neuron_{k}": str(v) for k, v in neuron.items()},
        **{f"stdp_{k}": str(v) for k, v in stdp.items()},
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
