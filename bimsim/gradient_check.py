"""The loss gradient of a learning layer from its online eligibility traces, and its accuracy.

:func:`trace_gradients` runs a learning layer of a neuron model (:mod:`bimsim.neurons`; LIF by
default) on given input spikes, with a given learning signal ``L(t) = ∂ℓ/∂u_out`` written into it
each step, and returns the ``grad`` its eligibility synapses (:mod:`bimsim.plasticity.eligibility`)
accumulated in generated code. :func:`bimsim.surrogate_bptt.layer_bptt` computes the same gradient
by torch autograd, and :func:`gradient_agreement` says how close the two are.
:func:`recurrent_trace_error` measures the traces' error where they are not exact: a layer with
recurrent synapses.
"""

import numpy as np
import xarray as xr
from brian2 import (
    Hz,
    Mohm,
    Network,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    TimedArray,
    ms,
    mV,
    second,
)

from bimsim.devices import Simulation
from bimsim.neurons import LIF, make_neuron, neuron_group, require_weight_unit
from bimsim.plasticity.eligibility import eligibility_synapses
from bimsim.quantities import require_positive

__all__ = [
    "RECURRENT_LAYER",
    "NoGradient",
    "gradient_agreement",
    "recurrent_trace_error",
    "trace_gradients",
]


class NoGradient(ValueError):
    """The reference gradient is zero (a layer that did not spike): nothing to compare with."""


def trace_gradients(
    w_in,
    input_spikes,
    signal,
    *,
    w_rec=None,
    i_ext=None,
    v_init=None,
    mask=None,
    w_unit=None,
    dt=0.1 * ms,
    model=None,
    tau_readout=10 * ms,
    **neuron_params,
):
    """Simulate the layer once and return the eligibility-trace gradient of every weight.

    Parameters
    ----------
    w_in : array_like, shape (n, n_in)
        Input weights (dimensionless, times ``w_unit``), ``w_in[i, j]`` from input ``j`` to ``i``.
    input_spikes : array_like, shape (steps, n_in)
        Input spikes per time step (0 or 1).
    signal : array_like, shape (steps, n)
        The learning signal ``L`` at each step (zero where no readout acts).
    w_rec : array_like, shape (n, n), optional
        Recurrent weights, ``w_rec[i, j]`` from neuron ``j`` to ``i`` (no delay).
    i_ext : Quantity, shape (steps, n), optional
        External input (``I_ext``, in the model's unit: a current for LIF) per step and neuron.
    v_init : Quantity, optional
        Initial membrane potential of an LIF layer (default ``v_rest``).
    mask : array_like of bool, shape (n, n_in), optional
        Which input synapses exist (default: all); the gradient is 0 where none does.
    w_unit : Quantity, optional
        What a weight of 1 adds to the model's input variable (default: the model's).
    dt : Quantity
        Time step.
    model : NeuronModel, optional
        The layer's neuron model (default: LIF with ``neuron_params``).
    tau_readout : Quantity
        Decay time of ``u_out``.
    **neuron_params
        The LIF model's settings, where no ``model`` is given.

    Returns
    -------
    dict
        ``grad_in`` (n, n_in), ``grad_rec`` ((n, n) or None), ``spikes`` ((steps, n) array),
        ``layer`` (the NeuronGroup, whose model and constants
        :func:`~bimsim.surrogate_bptt.layer_bptt` reads) and ``draws`` (a stochastic model's
        random numbers, ``(steps, n, k)``, for ``layer_bptt`` to replay; else None).
    """
    require_positive("dt", dt, "time")
    if model is None:
        model = make_neuron("lif", neuron_params)
    elif neuron_params:
        raise TypeError(f"give the model or its settings, not both: {sorted(neuron_params)}")
    w_unit = model.weight_unit if w_unit is None else w_unit
    require_weight_unit(model, "w_unit", w_unit)
    if v_init is not None and not isinstance(model, LIF):
        raise ValueError(f"v_init is the membrane of an LIF layer; the {model.name} starts at rest")
    w_in = np.asarray(w_in, dtype=float)
    input_spikes = np.asarray(input_spikes)
    signal = np.asarray(signal, dtype=float)
    n, n_in = w_in.shape
    steps = len(signal)
    if input_spikes.shape != (steps, n_in):
        raise ValueError(
            f"input_spikes must have shape ({steps}, {n_in}), got {input_spikes.shape}"
        )
    if signal.shape != (steps, n):
        raise ValueError(f"signal must have shape ({steps}, {n}), got {signal.shape}")
    if not np.isin(input_spikes, (0, 1)).all():
        raise ValueError("input_spikes must hold 0 or 1 per input and step")
    for name, value in (("w_in", w_in), ("signal", signal), ("w_rec", w_rec)):
        if value is not None and not np.all(np.isfinite(value)):
            raise ValueError(f"{name} holds NaN or inf")
    current = np.zeros((steps, n)) * model.weight_unit if i_ext is None else i_ext
    require_weight_unit(model, "i_ext", current)
    if np.shape(current) != (steps, n):
        raise ValueError(f"i_ext must have shape ({steps}, {n}), got {np.shape(current)}")

    step_of_spike, index_of_spike = np.nonzero(input_spikes)
    inputs = SpikeGeneratorGroup(
        n_in, index_of_spike, step_of_spike * dt, dt=dt, name="check_inputs"
    )
    layer = neuron_group(
        model, n, learning=True, tau_readout=tau_readout, dt=dt, name="check_layer"
    )
    if v_init is not None:
        layer.v = v_init
    drive = {"signal": TimedArray(signal, dt=dt), "current": TimedArray(current, dt=dt)}
    layer.run_regularly("L = signal(t, i)\nI_ext = current(t, i)", when="start", name="check_drive")
    feed = eligibility_synapses(inputs, layer, w_unit=w_unit, dt=dt, name="check_feed")
    if mask is None:
        feed.connect()
    else:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n, n_in):
            raise ValueError(f"mask must have shape ({n}, {n_in}), got {mask.shape}")
        post_index, pre_index = np.nonzero(mask)
        feed.connect(i=pre_index, j=post_index)
    feed.w = w_in[feed.j[:], feed.i[:]]
    objects = [inputs, layer, feed]
    recurrent = None
    if w_rec is not None:
        w_rec = np.asarray(w_rec, dtype=float)
        if w_rec.shape != (n, n):
            raise ValueError(f"w_rec must have shape ({n}, {n}), got {w_rec.shape}")
        recurrent = eligibility_synapses(layer, layer, w_unit=w_unit, dt=dt, name="check_recurrent")
        recurrent.connect()
        recurrent.w = w_rec[recurrent.j[:], recurrent.i[:]]
        objects.append(recurrent)
    monitor = SpikeMonitor(layer, name="check_spikes")
    objects.append(monitor)
    draws = None
    if model.stochastic:  # its random numbers, for the reference to replay
        draws = StateMonitor(layer, list(model.draws), record=True, when="end", name="check_draws")
        objects.append(draws)
    Simulation("runtime", None).run(Network(*objects), steps * dt, namespace=drive)

    spikes = np.zeros((steps, n))
    spikes[np.round(np.asarray(monitor.t / dt)).astype(int), np.asarray(monitor.i)] = 1
    return {
        "grad_in": _as_matrix(feed, (n, n_in)),
        "grad_rec": None if recurrent is None else _as_matrix(recurrent, (n, n)),
        "spikes": spikes,
        "layer": layer,
        "draws": None if draws is None else _draws(draws, model.draws),
    }


def _draws(monitor, names):
    """A stochastic model's random numbers of every step, ``(steps, n, len(names))``."""
    return np.stack([np.array(getattr(monitor, name)).T for name in names], axis=-1)


def _as_matrix(synapses, shape):
    grad = np.zeros(shape)
    grad[synapses.j[:], synapses.i[:]] = np.asarray(synapses.grad[:])
    return grad


def gradient_agreement(ours, reference):
    """How close a gradient is to a reference: the numbers the tests and protocols report.

    Returns
    -------
    dict
        ``max_relative`` (largest ``|ours - ref|`` over the largest ``|ref|``), ``norm_relative``
        (``‖ours - ref‖ / ‖ref‖``) and ``cosine`` (cosine of the angle between them).
    """
    ours, reference = np.ravel(ours), np.ravel(reference)
    scale = np.linalg.norm(reference)
    if scale == 0:
        raise NoGradient("the reference gradient is zero: nothing to compare with")
    return {
        "max_relative": float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference))),
        "norm_relative": float(np.linalg.norm(ours - reference) / scale),
        "cosine": float(ours @ reference / (np.linalg.norm(ours) * scale or 1.0)),
    }


#: The layer of :func:`recurrent_trace_error`: 1 ms steps (e-prop's), no refractory period.
RECURRENT_LAYER = {
    "tau_m": 20 * ms,
    "tau_syn": 5 * ms,
    "R_m": 100 * Mohm,
    "v_rest": 0 * mV,
    "v_reset": 0 * mV,
    "v_threshold": 10 * mV,
    "refractory": 0 * ms,
    "pd_scale": 0.3,
    "tau_readout": 10 * ms,
}


def recurrent_trace_error(
    scales,
    seeds,
    *,
    n_inputs=20,
    n_neurons=10,
    steps=500,
    input_rate=20 * Hz,
    w_in_max=0.1,
    dt=1 * ms,
    neuron=None,
):
    """How far the local traces are from BPTT in a recurrent layer, as recurrent weights grow.

    For each seed: Poisson inputs, input weights uniform in ``[0, w_in_max]``, a random learning
    signal ``L ~ N(0, 1)`` per step and neuron, and recurrent weights ``scale * N(0, 1)`` (no
    self-connections) for every ``scale``. The traces ignore the paths through other neurons'
    spikes; BPTT (:mod:`bimsim.surrogate_bptt`, torch) follows them.

    Parameters
    ----------
    scales : sequence of float
        Standard deviations of the recurrent weights (times ``w_unit = 1 nA``).
    seeds : sequence of int
    n_inputs, n_neurons, steps : int
    input_rate : Quantity
    w_in_max : float
    dt : Quantity
    neuron : dict, optional
        Parameters of the layer (default :data:`RECURRENT_LAYER`).

    Returns
    -------
    xarray.Dataset
        Over ``scale`` and ``seed``: for the input and the recurrent weights, ``norm_relative``,
        ``max_relative`` and ``cosine`` (traces vs BPTT); the gradient norms; the firing rate.
    """
    from bimsim.surrogate_bptt import layer_bptt

    require_positive("input_rate", input_rate, "frequency")
    neuron = {**RECURRENT_LAYER, **(neuron or {})}
    probability = float(input_rate * dt)
    if probability >= 1:
        raise ValueError(f"input_rate {input_rate} gives more than one spike per step of {dt}")
    metrics = ("norm_relative", "max_relative", "cosine")
    shape = (len(scales), len(seeds))
    out = {f"{kind}_{m}": np.zeros(shape) for kind in ("input", "recurrent") for m in metrics}
    out.update({k: np.zeros(shape) for k in ("trace_norm", "bptt_norm", "rate")})
    for b, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        input_spikes = (rng.random((steps, n_inputs)) < probability).astype(float)
        w_in = rng.uniform(0, w_in_max, (n_neurons, n_inputs))
        signal = rng.normal(0, 1, (steps, n_neurons))
        shape_rec = rng.normal(0, 1, (n_neurons, n_neurons))
        np.fill_diagonal(shape_rec, 0)
        for a, scale in enumerate(scales):
            w_rec = scale * shape_rec
            ours = trace_gradients(w_in, input_spikes, signal, w_rec=w_rec, dt=dt, **neuron)
            ref = layer_bptt(ours["layer"], w_in, input_spikes, signal, w_rec=w_rec)
            if not np.array_equal(ours["spikes"], ref["spikes"]):
                raise RuntimeError("the BPTT reference's spikes differ from Brian2's")
            for kind, key in (("input", "grad_in"), ("recurrent", "grad_rec")):
                agreement = gradient_agreement(ours[key], ref[key])
                for m in metrics:
                    out[f"{kind}_{m}"][a, b] = agreement[m]
            out["trace_norm"][a, b] = np.linalg.norm(ours["grad_in"])
            out["bptt_norm"][a, b] = np.linalg.norm(ref["grad_in"])
            out["rate"][a, b] = ours["spikes"].mean() / float(dt / second)
    names = {
        "norm_relative": "||traces - BPTT|| / ||BPTT||",
        "max_relative": "max |traces - BPTT| / max |BPTT|",
        "cosine": "cosine between traces and BPTT",
    }
    data = {
        f"{kind}_{m}": (
            ("scale", "seed"),
            out[f"{kind}_{m}"],
            {"units": "1", "long_name": f"{names[m]}, {kind} weights"},
        )
        for kind in ("input", "recurrent")
        for m in metrics
    }
    data["trace_norm"] = (
        ("scale", "seed"),
        out["trace_norm"],
        {"units": "1", "long_name": "norm of the input weights' trace gradient"},
    )
    data["bptt_norm"] = (
        ("scale", "seed"),
        out["bptt_norm"],
        {"units": "1", "long_name": "norm of the input weights' BPTT gradient"},
    )
    data["rate"] = (
        ("scale", "seed"),
        out["rate"],
        {"units": "Hz", "long_name": "mean firing rate of the layer"},
    )
    coords = {
        "scale": (
            "scale",
            np.asarray(scales, dtype=float),
            {"units": "1", "long_name": "standard deviation of the recurrent weights (x 1 nA)"},
        ),
        "seed": ("seed", np.asarray(seeds), {"units": "1", "long_name": "random seed"}),
    }
    attrs = {
        "title": "Eligibility traces against BPTT in a recurrent LIF layer",
        "n_inputs": n_inputs,
        "n_neurons": n_neurons,
        "steps": steps,
        "input_rate": str(input_rate),
        "w_in_max": w_in_max,
        "dt": str(dt),
        **{f"neuron_{k}": str(v) for k, v in neuron.items()},
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
