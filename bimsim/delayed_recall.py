"""Delayed recall: how long a layer of each neuron model holds which of two inputs it received.

Every trial, one of two groups of input neurons (the class) fires a burst at the start; the layer
then hears only background noise for a delay; then a recall cue, the same for both classes,
drives every neuron. Whatever the layer still holds of the class can change which neurons the cue
makes fire, so a linear decoder (logistic regression, cross-validated over trials) reads the class
from the layer's spike counts in the window after the cue. Nothing learns: this measures the
neuron model's memory, not a training rule. Accuracy falls to chance (0.5) once the layer has
forgotten; an LIF membrane forgets within a few ``tau_m``, TC-LIF's undamped rotation (SPEC) is
meant to hold on.

Trials run at once as independent copies of one layer (the same input weights in each), as
:class:`bimsim.network.BIMNetwork` does; :func:`delayed_recall` returns a Dataset over
``neuron``, ``delay`` and ``seed`` (of the layer's weights and of the trials' spikes).
"""

import brian2
import numpy as np
import xarray as xr
from brian2 import Hz, Network, SpikeGeneratorGroup, SpikeMonitor, Synapses, ms, second

from bimsim.devices import ADDS_TO_PROJECT, Simulation, require_runtime
from bimsim.limits import BYTES_PER_VALUE, require_bytes, require_steps
from bimsim.neurons import make_neuron, neuron_bytes, neuron_group, reset_group
from bimsim.quantities import (
    require,
    require_count,
    require_multiple,
    require_positive,
    require_real,
    require_seed,
    require_whole,
)

__all__ = ["WEIGHTS", "RecallTask", "decode", "delayed_recall"]

#: Most trials and layer neurons of one run (trials x neurons are simulated at once; at both
#: bounds, with the default 40 inputs, 20 million synapses, about 1.3 GB).
MAX_TRIALS = 2000
MAX_HIDDEN = 256


class RecallTask:
    """The inputs of the delayed-recall trials.

    Parameters
    ----------
    group : int
        Input neurons per class, and of the recall cue.
    noise : int
        Input neurons of background noise.
    noise_rate : Quantity
        Their Poisson rate.
    burst : Quantity
        Each class neuron fires once at a uniform time in ``[0, burst)``; the cue's neurons fire
        once each in ``[t_cue, t_cue + burst)``.
    window : Quantity
        The decoder reads the layer's spikes in ``[t_cue, t_cue + window)``.
    dt : Quantity
        Time step.
    """

    def __init__(self, group=10, noise=10, noise_rate=10 * Hz, burst=10 * ms, window=30 * ms,
                 dt=1 * ms):  # fmt: skip
        self.group = require_count("group", group)
        self.noise = require_whole("noise", noise)
        for name, value in (("burst", burst), ("window", window), ("dt", dt)):
            require_positive(name, value, "time", scalar=True)
        for name, value in (("burst", burst), ("window", window)):
            require_multiple(name, value, dt)
        require_positive("noise_rate", noise_rate, "frequency", scalar=True)
        if float(noise_rate * dt) >= 1:
            raise ValueError(f"noise_rate {noise_rate} gives more than one spike per step")
        self.noise_rate, self.burst, self.window, self.dt = noise_rate, burst, window, dt

    @property
    def inputs(self):
        """Input neurons per trial: class A, class B, cue, noise."""
        return 3 * self.group + self.noise

    def steps(self, time):
        """``time`` in whole steps of ``dt``."""
        return round(float(time / self.dt))

    def spikes(self, labels, delay, rng):
        """Input spikes of every trial (trial ``k`` uses inputs ``k * inputs ..``).

        Returns
        -------
        indices : ndarray of int
        steps : ndarray of int
            Time steps of the spikes.
        cue : int
            The cue's first step.
        steps_total : int
            Steps of a trial.
        """
        burst = self.steps(self.burst)
        cue = burst + self.steps(delay)
        total = cue + self.steps(self.window)
        indices, steps = [], []
        for k, label in enumerate(labels):
            base = k * self.inputs
            members = base + label * self.group + np.arange(self.group)
            indices.append(members)
            steps.append(rng.integers(0, burst, self.group))
            indices.append(base + 2 * self.group + np.arange(self.group))  # the cue
            steps.append(cue + rng.integers(0, burst, self.group))
            if self.noise:
                fired = rng.random((total, self.noise)) < float(self.noise_rate * self.dt)
                step, neuron = np.nonzero(fired)
                indices.append(base + 3 * self.group + neuron)
                steps.append(step)
        return np.concatenate(indices), np.concatenate(steps), cue, total


def _layer_counts(model, task, w_in, labels, delay, rng, hidden):
    """Spike counts of each trial's layer neurons in the recall window, and the mean rate there."""
    trials = len(labels)
    indices, steps, cue, total = task.spikes(labels, delay, rng)
    inputs = SpikeGeneratorGroup(trials * task.inputs, indices, steps * task.dt, dt=task.dt,
                                 name="recall_inputs")  # fmt: skip
    layer = neuron_group(model, trials * hidden, copies=trials, dt=task.dt, name="recall_layer")
    synapses = Synapses(inputs, layer, "w : 1",
                        on_pre=f"{model.input_variable}_post += w * w_unit",
                        namespace={"w_unit": model.weight_unit}, dt=task.dt,
                        name="recall_synapses")  # fmt: skip
    pre = np.repeat(np.arange(task.inputs), hidden)
    post = np.tile(np.arange(hidden), task.inputs)
    offsets = np.arange(trials)[:, None]
    synapses.connect(i=(offsets * task.inputs + pre).ravel(), j=(offsets * hidden + post).ravel())
    synapses.w = np.tile(w_in.T.ravel(), trials)  # w_in[j, i] from input i to neuron j
    monitor = SpikeMonitor(layer, name="recall_spikes")
    reset_group(layer)
    Simulation("runtime", None).run(Network(inputs, layer, synapses, monitor), total * task.dt)
    step = np.round(np.asarray(monitor.t / task.dt)).astype(int)
    neuron = np.asarray(monitor.i)
    late = step >= cue
    counts = np.bincount(neuron[late], minlength=trials * hidden).reshape(trials, hidden)
    rate = counts.mean() / float(task.window / second)
    return counts, rate


def _require_size(models, tasks, trials, hidden, delay):
    """Refuse a condition whose trial is longer than :data:`bimsim.limits.MAX_STEPS` or whose
    network (one synapse per input, neuron and trial; the layer; one trial's noise draws) would
    exceed :data:`bimsim.limits.MAX_BYTES`."""
    for task in tasks:
        steps = task.steps(task.burst) + task.steps(delay) + task.steps(task.window)
        require_steps(f"a trial with a delay of {delay}", steps, task.dt)
        layer = max(neuron_bytes(model, trials * hidden) for model in models.values())
        synapses = trials * task.inputs * hidden * 3 * BYTES_PER_VALUE  # w and two indices
        require_bytes(
            f"{trials} trials of {hidden} neurons, {task.inputs} inputs and {steps} steps",
            synapses + layer + steps * task.noise * 8 * 2,
        )


def decode(counts, labels, seed, folds=5):
    """Cross-validated accuracy of a logistic regression reading the class from ``counts``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if np.all(counts == counts[0]):
        return 0.5  # nothing differs between trials: no decoder can do better than chance
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    decoder = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(decoder, counts, labels, cv=split).mean())


#: The default largest input weight of each model (x its ``weight_unit``). LIF 0.1 nA and TC-LIF
#: 0.3: the cue then makes either layer fire at about 30 Hz in the recall window. P-SpikeSSM 0.05:
#: a class group's summed weight (about 0.25) keeps its input sampler's probability inside
#: (0, 1); at 0.3 it saturates at 1 for both classes (accuracy 0.55 with no delay, measured),
#: and its layer fires at about 5 Hz; its block the same 0.05 (the fuse sees the same input; the
#: layer fires at about 11 Hz, 22 Hz at 0.1, measured). ELM 1: its spike is its read-out above
#: threshold, on every step, so a layer either stays silent (at 0.5, even when the cue comes 10 ms
#: after the class) or fires fast; at 1 the cue alone makes it fire at about 45 to 130 Hz after
#: 200 ms and more.
WEIGHTS = {"lif": 0.1, "tc_lif": 0.3, "p_spikessm": 0.05, "p_spikessm_block": 0.05, "elm": 1.0}


def delayed_recall(
    neurons,
    delays,
    seeds,
    *,
    noise_rates=(2 * Hz,),
    trials=200,
    hidden=32,
    weights=None,
    progress=False,
    **task,
):
    """Decoding accuracy of the class after each delay, for each neuron model, noise and seed.

    Parameters
    ----------
    neurons : sequence of str
        Neuron models (keys of :data:`bimsim.neurons.NEURONS`), each with its default settings.
    delays : Quantity
        Delays from the class burst's end to the cue (>= 0).
    seeds : sequence of int
        Each draws the input weights and the trials' spikes.
    noise_rates : Quantity
        Rates of the background noise, one condition each.
    trials : int
        Trials per condition, half of each class (even, 10 to :data:`MAX_TRIALS`).
    hidden : int
        Layer neurons (at most :data:`MAX_HIDDEN`).
    weights : dict, optional
        Per neuron model, the largest input weight (weights uniform in ``[0, max]``, times the
        model's ``weight_unit``; default :data:`WEIGHTS`, else 1).
    progress : bool
    **task
        :class:`RecallTask`'s settings but the noise rate (``group``, ``noise``, ``burst``,
        ``window``, ``dt``; default a burst of 1 ms, all in one step).

    Returns
    -------
    xarray.Dataset
        ``accuracy`` and ``rate`` (the layer's mean rate in the recall window) over ``neuron``,
        ``noise_rate``, ``delay`` and ``seed``.

    Raises
    ------
    ValueError
        For a setting out of range, naming it, and for a trial beyond
        :data:`bimsim.limits.MAX_STEPS` or a condition beyond :data:`bimsim.limits.MAX_BYTES`;
        before any simulation.
    RuntimeError
        If Brian2's current device is not its runtime device (``brian2.set_device``).

    Notes
    -----
    A stochastic model (P-SpikeSSM) draws from Brian2's generator, which is global to the
    process: each of its cells seeds it from the cell's seed (``brian2.seed``, which seeds
    numpy's global generator, ``np.random``, too), so a cell's result does not depend on what ran
    before it; the generator is left seeded by the last cell, as the protocol scripts leave it.
    """
    from tqdm.auto import tqdm

    require_runtime("delayed_recall", why=ADDS_TO_PROJECT)
    trials = require_count("trials", trials)
    hidden = require_count("hidden", hidden)
    if trials > MAX_TRIALS or trials < 10 or trials % 2:
        raise ValueError(f"trials must be an even number in [10, {MAX_TRIALS}], got {trials}")
    if hidden > MAX_HIDDEN:
        raise ValueError(f"hidden must be at most {MAX_HIDDEN}, got {hidden}")
    task = {"burst": 1 * ms, **task}
    rates = list(noise_rates) if np.ndim(noise_rates) else [noise_rates]  # keeping their units
    if not rates:
        raise ValueError("give at least one noise rate")
    tasks = [RecallTask(noise_rate=rate, **task) for rate in rates]
    require("delays", delays, "time")
    delays = np.atleast_1d(delays)
    if len(delays) == 0 or np.any(delays < 0 * ms):
        raise ValueError(f"delays must be one or more times >= 0, got {delays!r}")
    for name, values in (("neurons", neurons), ("seeds", seeds)):
        if isinstance(values, str) or not hasattr(values, "__len__"):
            raise TypeError(f"{name} must be a sequence, got {values!r}")
    if len(neurons) == 0 or len(seeds) == 0:
        raise ValueError("give at least one neuron model and one seed")
    for k, seed in enumerate(seeds):
        require_seed(f"seeds[{k}]", seed)
    for name, values in (("neurons", list(neurons)), ("seeds", [int(x) for x in seeds]),
                         ("delays", [float(x) for x in delays / ms])):  # fmt: skip
        if len(set(values)) < len(values):
            raise ValueError(f"{name}: a value is given twice")
    for delay in delays:
        require_multiple("a delay", delay, tasks[0].dt)
    models = {name: make_neuron(name) for name in neurons}
    unknown = sorted(set(weights or {}) - set(neurons))
    if unknown:
        raise ValueError(f"weights of {', '.join(unknown)}, which is not among the neurons")
    weights = {name: WEIGHTS.get(name, 1.0) for name in neurons} | dict(weights or {})
    for name in neurons:
        require_real(f"weights[{name!r}]", weights[name], above=True)
    _require_size(models, tasks, trials, hidden, max(delays))
    shape = (len(neurons), len(tasks), len(delays), len(seeds))
    accuracy, rate = np.zeros(shape), np.zeros(shape)
    for cell in tqdm(list(np.ndindex(shape)), desc="delayed recall", disable=not progress,
                     leave=False):  # fmt: skip
        a, b, c, d = cell
        name, seed, recall = neurons[a], int(seeds[d]), tasks[b]
        rng = np.random.default_rng([seed, b, c])
        w_in = np.random.default_rng(seed).uniform(0, weights[name], (hidden, recall.inputs))
        labels = rng.permutation(np.repeat([0, 1], trials // 2))
        if models[name].stochastic:  # its draws, from the cell's seed
            brian2.seed(int(rng.integers(2**31)))
        counts, rate[cell] = _layer_counts(models[name], recall, w_in, labels, delays[c], rng,
                                           hidden)  # fmt: skip
        accuracy[cell] = decode(counts, labels, seed)
    dims = ("neuron", "noise_rate", "delay", "seed")
    first = tasks[0]
    return xr.Dataset(
        {
            "accuracy": (
                dims,
                accuracy,
                {"units": "1", "long_name": "cross-validated decoding accuracy"},
            ),
            "rate": (
                dims,
                rate,
                {"units": "Hz", "long_name": "layer's mean rate in the recall window"},
            ),
        },
        coords={
            "neuron": ("neuron", list(neurons), {"units": "1", "long_name": "neuron model"}),
            "noise_rate": (
                "noise_rate",
                [float(t.noise_rate / Hz) for t in tasks],
                {"units": "Hz", "long_name": "rate of each noise input"},
            ),
            "delay": (
                "delay",
                np.asarray(delays / ms, dtype=float),
                {"units": "ms", "long_name": "delay from the burst's end to the cue"},
            ),
            "seed": (
                "seed",
                np.asarray(seeds, dtype=np.int64),
                {"units": "1", "long_name": "random seed"},
            ),
        },
        attrs={
            "title": "Delayed recall: decoding the class from the layer after a delay",
            "trials": trials,
            "hidden": hidden,
            "group": first.group,
            "noise": first.noise,
            "burst": str(first.burst),
            "window": str(first.window),
            "dt": str(first.dt),
            "chance": 0.5,
            **{f"weight_max_{name}": weights[name] for name in neurons},
            **{
                f"{name}_{key}": str(value)
                for name in neurons
                for key, value in models[name].settings().items()
            },
        },
    )
