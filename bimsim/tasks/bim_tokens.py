"""A BIM network that predicts the next token of a sequence (language modelling).

Token ``x_t`` of a sequence is one spike of input neuron ``x_t`` (one neuron per vocabulary entry,
one-hot) at time ``t · token_dt``, into a :class:`~bimsim.network.BIMNetwork` whose readout steps
once per token. The readout's step at ``(t + 1) · token_dt`` has seen the tokens up to ``x_t``
(the spike of ``x_{t+1}``, sent in that same time step, reaches the layer only in the next one)
and is trained, online with the hybrid rule, on cross-entropy against the next token ``y_t``; its
softmax is the prediction of ``y_t``. ``copies`` sequences run at once; every sequence starts from
rest.
"""

import numpy as np
from brian2 import SpikeMonitor
from tqdm.auto import tqdm

from bimsim.network import BIMNetwork
from bimsim.quantities import require_count, require_positive
from bimsim.tasks.bim_classifier import BIMSequenceModel, minibatches, softmax
from bimsim.tasks.config import BIMConfig

__all__ = ["BIMTokenPredictor"]


class BIMTokenPredictor(BIMSequenceModel):
    """One-hot token spikes into a BIM network with a target at every token; see module docstring.

    Parameters
    ----------
    vocabulary : int
        Token codes are ``0 .. vocabulary - 1``; the readout has one output per code.
    length : int
        Tokens per sequence.
    token_dt : Quantity
        Time per token: the readout's step (it must equal ``config.readout_dt``).
    config : BIMConfig, optional
    seed : int
    **neuron_params
        Further settings of the config's neuron model (not those ``config`` makes; see
        :meth:`~bimsim.tasks.config.BIMConfig.network_with`).
    """

    def __init__(self, vocabulary, length, *, token_dt, config=None, seed=0, **neuron_params):
        config = BIMConfig() if config is None else config
        self.vocabulary = require_count("vocabulary", vocabulary)
        self.length = require_count("length", length)
        require_positive("token_dt", token_dt, "time")
        if abs(float(token_dt / config.readout_dt) - 1) > 1e-9:
            raise ValueError(
                f"token_dt ({token_dt}) must equal the readout step ({config.readout_dt})"
            )
        self.config, self.copies = config, config.copies
        self.token_dt = token_dt
        # one more step than tokens: the last readout step predicts the token after the last
        self.duration = (self.length + 1) * token_dt
        self.network = BIMNetwork(
            self.vocabulary,
            config.hidden,
            self.vocabulary,
            loss="cross_entropy",
            readout_dt=token_dt,
            seed=seed,
            copies=self.copies,
            **config.network_with(neuron_params),
        )
        self.input_spikes = SpikeMonitor(self.network.inputs, record=False, name="token_spikes")
        self.network.network.add(self.input_spikes)
        self.ticks = self.length + 1
        self.losses = []

    def _spikes(self, codes):
        """Input neurons and times of the one-hot spikes of ``codes`` ``(b, length)``."""
        b = len(codes)
        copy = np.repeat(np.arange(b), self.length)
        step = np.tile(np.arange(self.length), b)
        indices = copy * self.vocabulary + codes.ravel()
        return indices, step * self.token_dt

    def _check_ticks(self):
        """Every token's target needs its readout step: refuse a run that made fewer."""
        made = len(self.network.readout.outputs)
        if made != self.ticks:
            raise RuntimeError(f"the readout stepped {made} times in a sequence, not {self.ticks}")

    def _check(self, codes, targets, features):
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.length:
            raise ValueError(f"tokens must have shape (n, {self.length}), got {codes.shape}")
        if features is not None and np.asarray(features).size:
            raise ValueError("tokens carry no features")
        for name, value in (("tokens", codes), ("targets", targets)):
            if value is None:
                continue
            value = np.asarray(value)
            if value.shape != codes.shape or not np.issubdtype(value.dtype, np.integer):
                raise ValueError(f"{name} must be integers of shape {codes.shape}")
            if value.min() < 0 or value.max() >= self.vocabulary:
                raise ValueError(f"{name} must lie in [0, {self.vocabulary})")
        return codes.astype(np.int64)

    def fit_epoch(self, codes, features, targets, rng, progress=False):
        """One pass over the sequences in random order (the last partial minibatch dropped).

        Parameters
        ----------
        codes, targets : array
            ``(n, length)``: the tokens, and the token that follows each.
        features : array or None
            ``(n, 0)``: tokens carry no features (the classifiers' signature).
        rng : numpy.random.Generator

        Returns
        -------
        float
            Mean training loss (cross-entropy in nats per token) over the minibatches.
        """
        codes = self._check(codes, targets, features)
        targets = np.asarray(targets, dtype=np.int64)
        losses = []
        for chosen in minibatches(len(codes), self.copies, rng, progress, "sequences"):
            indices, times = self._spikes(codes[chosen])
            steps = [None, *(targets[chosen, t] for t in range(self.length))]
            losses.append(self.network.run_sequence(indices, times, self.duration, steps))
            self._check_ticks()
        self.losses.append(float(np.mean(losses)))
        return self.losses[-1]

    def _test_run(self, codes, chosen):
        """Run the sequences ``chosen`` (at most ``copies``) without learning."""
        indices, times = self._spikes(codes[chosen])
        self.network.run_sequence(indices, times, self.duration, [], learn=False)
        self._check_ticks()

    def spike_counts(self, codes, features=None, progress=False):
        """Spikes of every input neuron and every layer neuron in each token's interval of every
        sequence, without learning (what a probe reads of each stage).

        The interval of token ``t`` holds its spike, at ``t · token_dt``, and the layer's spikes
        from the next time step (when that spike reaches the layer) to the readout's step that
        predicts the token after it, at ``(t + 1) · token_dt``, which reads them: the spikes of
        an interval have seen the tokens up to ``t`` and no later one.

        Parameters
        ----------
        codes : array
            ``(n, length)`` token codes.
        features : None
            Tokens carry no features (the classifiers' signature).
        progress : bool
            A progress bar over the minibatches.

        Returns
        -------
        inputs : ndarray
            ``(n, length, vocabulary)``: the one-hot tokens, as spikes.
        layer : ndarray
            ``(n, length, hidden)``.

        Also sets :attr:`counts`, as :meth:`predict_proba` does.
        """
        codes = self._check(codes, None, features)
        # one bin per token interval; the last, after the last token, predicts nothing
        inputs, layer = self.count_spikes(
            len(codes),
            lambda chosen: self._test_run(codes, chosen),
            self.length + 1,
            self.network.inputs,
            progress,
            layer_lag=1,
        )
        return inputs[:, : self.length], layer[:, : self.length]

    def predict_proba(self, codes, features=None, progress=False):
        """Next-token probabilities ``(n, length, vocabulary)``, without learning.

        Also sets :attr:`counts` (input spikes per sequence), for the energy estimate.
        """
        codes = self._check(codes, None, features)
        n = len(codes)
        probabilities = np.zeros((n, self.length, self.vocabulary))
        spikes = hidden = events = 0
        batches = range(0, n, self.copies)
        for start in tqdm(batches, desc="BIM test", disable=not progress, leave=False):
            chosen = np.arange(start, min(start + self.copies, n))
            before = int(self.input_spikes.num_spikes)
            before_each = np.array(self.input_spikes.count[:])
            before_hidden = int(self.network.spikes.num_spikes)
            self._test_run(codes, chosen)
            per_tick = np.array(self.network.readout.outputs)  # (ticks, copies, vocabulary)
            outputs = per_tick[1:, : len(chosen)].transpose(1, 0, 2)
            probabilities[chosen] = softmax(outputs)
            spikes += int(self.input_spikes.num_spikes) - before
            events += self.network.synaptic_events(self.input_spikes.count[:] - before_each)
            # padding copies get no token: no input spike, and the layer stays at rest
            hidden += int(self.network.spikes.num_spikes) - before_hidden
        self.counts = {"input_spikes": spikes / n, "input_events": events / n,
                       "hidden_spikes": hidden / n}  # fmt: skip
        return probabilities
