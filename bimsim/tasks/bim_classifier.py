"""A BIM network as a classifier of short multichannel signals (ECG beats, EEG segments).

Each sample is a signal of ``channels`` voltages over time, plus optional non-negative features
(e.g. RR intervals). Inside Brian2 a :class:`~bimsim.encoding.DeltaModulator` turns the signal into
up/down spikes, each feature into a burst of ``value / delta`` spikes at the start (a count code),
and those spikes drive a :class:`~bimsim.network.BIMNetwork`: a learning LIF layer and a selective
SSM readout with one output per class, trained online with the hybrid rule (cross-entropy against
the sample's class at every readout step from ``target_from`` on). The network holds ``copies``
copies that process a minibatch of samples at once. The class probabilities of a sample are the
readout's softmax averaged over the scored steps.
"""

import numpy as np
from brian2 import SpikeMonitor, mV, second
from tqdm.auto import tqdm

from bimsim.encoding import DeltaModulator
from bimsim.network import BIMNetwork
from bimsim.quantities import require_positive
from bimsim.tasks.config import BIMConfig

__all__ = ["BIMClassifier", "BIMSequenceModel", "minibatches", "softmax"]


def softmax(outputs):
    """Softmax over the last axis."""
    shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def minibatches(n, copies, rng, progress=False, what="samples"):
    """The minibatches of one epoch: indices of ``copies`` of the ``n`` samples at a time, in the
    order of ``rng.permutation(n)``, the last partial minibatch dropped, with a progress bar.

    Raises
    ------
    ValueError
        If ``n < copies`` (no whole minibatch), naming ``what`` the samples are.
    """
    order = rng.permutation(n)
    batches = n // copies
    if batches == 0:
        raise ValueError(f"fewer {what} ({n}) than copies ({copies})")
    for k in tqdm(range(batches), desc="BIM train", disable=not progress, leave=False):
        yield order[k * copies : (k + 1) * copies]


class BIMSequenceModel:
    """What BIM's sequence models share: the costs of the last prediction and the spikes of
    each stage per sample. Needs ``network`` (a BIMNetwork), ``copies``, ``duration`` (of one
    sample), ``ticks`` (readout steps per sample) and ``counts`` (``input_events``, synaptic events
    onto the layer, and ``hidden_spikes`` per sample)."""

    def operations_per_sample(self):
        """Synaptic accumulates and multiply-accumulates per sample, from the last prediction.

        Accumulates: every input spike reaches the active synapses of its neuron (``n_hidden``
        without pruning), and with recurrent synapses every layer spike ``n_hidden - 1`` more.
        Multiply-accumulates: the neuron model's state update (its
        :meth:`~bimsim.neurons.NeuronModel.operations_per_step` per neuron and step in a layer
        of ``n_hidden``: LIF 3, ALIF 5, TC-LIF 2, P-SpikeSSM 18, its block 23 + ``n_hidden``,
        ELM 297) and the readout's dense step (``m² + 6 m N + m + k m`` per readout step).
        """
        net = self.network
        m, n, k = net.readout.ssm.params.shapes
        steps = float(self.duration / net.layer.dt)
        per_neuron = net.neuron.operations_per_step(net.n_hidden)
        return {
            "accumulates": self.counts["input_events"]
            + self.counts["hidden_spikes"] * len(net.recurrent_weights()) / net.n_hidden,
            "neuron_macs": per_neuron * net.n_hidden * steps,
            "readout_macs": self.ticks * (m * m + 6 * m * n + m + k * m),
        }

    def parameter_count(self):
        """Learned numbers: the input and recurrent weights and the readout's parameters."""
        net = self.network
        params = net.readout.ssm.params.as_dict()
        weights = len(net.shared_weights()) + len(net.recurrent_weights())
        return weights + sum(v.size for v in params.values())

    def count_spikes(self, n, test_run, bins, inputs, progress=False, layer_lag=0):
        """Spikes of every neuron of ``inputs`` (the layer's input group) and of the layer per
        sample in ``bins`` equal time bins of a sample's duration, without learning.

        Parameters
        ----------
        n : int
            Samples.
        test_run : callable
            ``test_run(chosen)`` runs the samples ``chosen`` (indices, at most ``copies``)
            without learning, one per copy from the first.
        bins : int
            Equal bins of the time steps that every run of a sample makes.
        inputs : NeuronGroup or SpikeGeneratorGroup
            The layer's input group.
        progress : bool
            A progress bar over the minibatches.
        layer_lag : int
            Time steps by which the layer's bins trail the input's (0: the same bins; 1: each
            of the layer's bins from one step after the input's to one step after its end, as a
            spike takes one step to reach the layer).

        Returns
        -------
        inputs, layer : ndarray
            ``(n, bins, input neurons)`` and ``(n, bins, hidden)`` (int32).

        Also sets :attr:`counts` and :attr:`ticks`, as a prediction does.
        """
        bins = int(bins)
        if bins < 1:
            raise ValueError(f"bins must be a positive whole number, got {bins}")
        net = self.network
        # made for this call and removed after it, so memory holds one call's spikes at most
        # (the same names each time: Brian2 reuses the compiled code)
        recorders = [
            SpikeMonitor(group, name=f"{name}_recorder")
            for group, name in ((inputs, "input"), (net.layer, "layer"))
        ]
        net.network.add(*recorders)
        sizes = (net.n_inputs, net.n_hidden)
        out = [np.zeros((n, bins, size), dtype=np.int32) for size in sizes]
        # a run of a duration that is not a whole number of steps makes one step more or less by
        # where it starts: count the steps every run makes
        dts = [float(r.source.clock.dt / second) for r in recorders]
        steps = [int(np.floor(float(self.duration / second) / dt + 1e-9)) for dt in dts]
        lags = (0, int(layer_lag))
        try:
            batches = range(0, n, self.copies)
            for start in tqdm(batches, desc="BIM spikes", disable=not progress, leave=False):
                chosen = np.arange(start, min(start + self.copies, n))
                before = [int(r.num_spikes) for r in recorders]
                # a run starts at its clock's next whole step (the time the clock shows now), even
                # where the run before ended between steps: steps count from there
                starts = [float(r.source.clock.t / second) for r in recorders]
                test_run(chosen)
                self.ticks = len(net.readout.outputs)
                for recorder, first, t0, dt, whole, lag, size, counts in zip(
                    recorders, before, starts, dts, steps, lags, sizes, out, strict=True
                ):
                    i = np.asarray(recorder.i[first:])
                    step = np.round((np.asarray(recorder.t_[first:]) - t0) / dt).astype(int) - lag
                    copy, unit = i // size, i % size
                    # padding copies get no input
                    keep = (copy < len(chosen)) & (step >= 0) & (step < whole)
                    which = step * bins // whole
                    np.add.at(counts, (chosen[copy[keep]], which[keep], unit[keep]), 1)
        finally:
            net.network.remove(*recorders)
        self.counts = {
            "input_spikes": int(out[0].sum()) / n,
            "input_events": net.synaptic_events(out[0].sum(axis=(0, 1))) / n,
            "hidden_spikes": int(out[1].sum()) / n,
        }
        return out[0], out[1]


class BIMClassifier(BIMSequenceModel):
    """Delta-modulated signals into a BIM network trained online; see module docstring.

    Parameters
    ----------
    channels : int
        Signal channels per sample.
    n_features : int
        Count-coded features per sample.
    n_classes : int
    sample_dt : Quantity
        Sampling interval of the signals.
    samples : int
        Samples per signal (all samples have the same length).
    target_from : Quantity
        Readout steps from this time on carry the class target, and are scored.
    config : BIMConfig
        Sizes, encoder, learning rates and steps (default :class:`bimsim.tasks.config.BIMConfig`
        with its defaults; its ``epochs`` is the caller's business).
    bounds : WeightBounds, optional
        Bounds of the input weights (default none).
    max_grad : float, optional
        Clip of each input synapse's gradient per readout step (default none).
    seed : int
    **neuron_params
        Further settings of the config's neuron model (those ``config`` makes, such as
        ``tau_m``, ``adaptation`` and ``tau_readout``, are refused: see
        :meth:`~bimsim.tasks.config.BIMConfig.network_with`).
    """

    def __init__(
        self,
        channels,
        n_features,
        n_classes,
        *,
        sample_dt,
        samples,
        target_from,
        config=None,
        bounds=None,
        max_grad=None,
        seed=0,
        **neuron_params,
    ):
        require_positive("sample_dt", sample_dt, "time")
        require_positive("target_from", target_from, "time")
        self.config = config = BIMConfig() if config is None else config
        self.channels, self.n_features, self.n_classes = int(channels), int(n_features), n_classes
        self.sample_dt, self.samples, self.copies = sample_dt, int(samples), config.copies
        self.feature_delta = config.feature_delta
        self.duration = self.samples * sample_dt
        self.readout_dt = readout_dt = config.readout_dt
        steps = int(np.ceil(float(self.duration / readout_dt) - 1e-9))  # clock ticks in the run
        first = int(np.ceil(float(target_from / readout_dt)))
        if not 0 <= first < steps - 1:  # the last tick may not be run
            raise ValueError(
                f"target_from ({target_from}) must lie within the signal, before its last readout "
                f"step ({(steps - 1) * readout_dt})"
            )
        # Brian2 decides how many readout ticks a run of ``duration`` holds (a duration that is
        # not a whole number of readout steps can end a tick early): targets cover ``steps``,
        # and predictions read the ticks the run made
        self.scored = np.arange(first, steps)
        self.n_steps = steps
        self.encoder = DeltaModulator(
            self.channels + self.n_features,
            config.delta,
            copies=self.copies,
            dt=config.dt,
            name="encoder",
        )
        self._delta = config.delta
        n_inputs = 2 * (self.channels + self.n_features)
        self.network = BIMNetwork(
            n_inputs,
            config.hidden,
            n_classes,
            loss="cross_entropy",
            bounds=bounds,
            max_grad=max_grad,
            readout_dt=readout_dt,
            seed=seed,
            copies=self.copies,
            inputs=self.encoder.group,
            **config.network_with(neuron_params),
        )
        self.input_spikes = SpikeMonitor(self.encoder.group, record=False, name="input_spikes")
        self.network.network.add(self.input_spikes)
        self.losses = []

    def _drive(self, signals, features):
        """Encoder input for one minibatch (``copies`` samples)."""
        b = len(signals)
        values = np.zeros((self.samples, self.copies, self.channels + self.n_features))
        values[:, :b, : self.channels] = np.transpose(signals, (1, 0, 2))
        start = values[0].copy()
        if self.n_features:
            # count code: a feature value f becomes about f / feature_delta up spikes
            scale = float(self._delta / mV) / self.feature_delta
            values[:, :b, self.channels :] = features[None, :, :] * scale
            start[:, self.channels :] = 0.0
        return self.encoder.set_signal(values * mV, self.sample_dt, start=start * mV)

    def _check(self, signals, features):
        signals = np.asarray(signals, dtype=float)
        if signals.ndim != 3 or signals.shape[1:] != (self.samples, self.channels):
            raise ValueError(
                f"signals must have shape (n, {self.samples}, {self.channels}), got {signals.shape}"
            )
        features = np.zeros((len(signals), 0)) if features is None else np.asarray(features)
        if features.shape != (len(signals), self.n_features):
            raise ValueError(f"features must have shape (n, {self.n_features})")
        for name, value in (("signals", signals), ("features", features)):
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name} hold NaN or infinite values")
        if np.any(features < 0):
            raise ValueError("features must be non-negative (they are count-coded)")
        return signals, features

    def fit_epoch(self, signals, features, labels, rng, progress=False):
        """One pass over the samples in random order (the last partial minibatch dropped).

        Returns
        -------
        float
            Mean training loss over the minibatches.
        """
        signals, features = self._check(signals, features)
        labels = np.asarray(labels, dtype=int)
        losses = []
        for chosen in minibatches(len(signals), self.copies, rng, progress):
            namespace = self._drive(signals[chosen], features[chosen])
            targets = [None] * self.n_steps
            for step in self.scored:
                targets[step] = labels[chosen]
            losses.append(self.network.run(self.duration, targets, namespace=namespace))
        self.losses.append(float(np.mean(losses)))
        return self.losses[-1]

    def predict_proba(self, signals, features=None, progress=False):
        """Class probabilities ``(n, n_classes)``, without learning.

        Also sets :attr:`counts`, input and hidden spikes per sample, and :attr:`ticks`, the
        readout steps a run made, for energy estimates.
        """
        signals, features = self._check(signals, features)
        n = len(signals)
        probabilities = np.zeros((n, self.n_classes))
        input_spikes = hidden_spikes = events = 0
        batches = range(0, n, self.copies)
        for start in tqdm(batches, desc="BIM test", disable=not progress, leave=False):
            chosen = np.arange(start, min(start + self.copies, n))
            before_in = int(self.input_spikes.num_spikes)
            before_each = np.array(self.input_spikes.count[:])
            before_hidden = int(self.network.spikes.num_spikes)
            self._test_run(signals, features, chosen)
            per_tick = np.array(self.network.readout.outputs)  # (ticks, copies, classes)
            self.ticks = len(per_tick)
            outputs = per_tick[self.scored[0] :, : len(chosen)]
            probabilities[chosen] = softmax(outputs).mean(axis=0)
            # padding copies saw a flat zero signal: no spikes, so totals count real samples
            input_spikes += int(self.input_spikes.num_spikes) - before_in
            events += self.network.synaptic_events(self.input_spikes.count[:] - before_each)
            hidden_spikes += int(self.network.spikes.num_spikes) - before_hidden
        self.counts = {"input_spikes": input_spikes / n, "input_events": events / n,
                       "hidden_spikes": hidden_spikes / n}  # fmt: skip
        return probabilities

    def _test_run(self, signals, features, chosen):
        """Run the samples ``chosen`` (at most ``copies``) without learning."""
        namespace = self._drive(signals[chosen], features[chosen])
        self.network.run(self.duration, [], learn=False, namespace=namespace)

    def spike_counts(self, signals, features=None, bins=10, progress=False):
        """Spikes of every input neuron and every layer neuron per sample in ``bins`` equal time
        bins over the sample, without learning (what a probe reads of each stage).

        Returns
        -------
        inputs : ndarray
            ``(n, bins, 2 * (channels + n_features))``: the encoder's up and down neurons of each
            channel, then of each feature.
        layer : ndarray
            ``(n, bins, hidden)``.

        Also sets :attr:`counts` and :attr:`ticks`, as :meth:`predict_proba` does.
        """
        signals, features = self._check(signals, features)
        return self.count_spikes(
            len(signals),
            lambda chosen: self._test_run(signals, features, chosen),
            bins,
            self.encoder.group,
            progress,
        )
