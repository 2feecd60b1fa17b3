"""Linear probes: how much of a task each stage of BIM still carries.

Where BIM scores below the non-neural floor, the loss can lie in the encoding (the delta
modulator and the count code), in the spiking layer (too few neurons, too few spikes), or in the
readout (a selective SSM trained online that does not extract what the layer's spikes hold). A
probe fits a logistic regression (:func:`bimsim.tasks.floors.fit_logistic_regression`, the
classification floors' own, settings fixed, not tuned) to what one stage emits for each training
sample, its spikes counted per neuron in :data:`BINS` equal time bins, and is scored on the test
samples like any model:

* ``probe_input``: the encoder's spikes, what the spiking layer receives;
* ``probe_frozen``: the spiking layer's spikes as initialised (after the input scaling of
  ``--target-rate``, the same as ``bim_frozen``'s layer), with no learning;
* ``probe_trained``: the spiking layer's spikes after the same training as ``bim`` (same seed,
  same draws: the same layer), read by the probe instead of the online readout.

A probe reads every bin of a sample at once, which the causal readout cannot, so it is a generous
linear read-out of a stage, not a model to deploy. Read in order, floor → ``probe_input`` →
``probe_frozen`` → ``bim_frozen``, and ``probe_trained`` → ``bim``, the rows show where a task's
information is lost.

A task with a target at every step (language: the next token) is probed at every step, causally:
the probe reads each neuron's spikes in the intervals of the :data:`WINDOW` most recent tokens
(:meth:`bimsim.tasks.bim_tokens.BIMTokenPredictor.spike_counts`), the n-gram floor's context, and
one logistic regression serves every step. For the input stage that is a linear model of the
last :data:`WINDOW` tokens' one-hot codes. There the probe is not the more generous reader: the
readout's state reaches back over the whole sequence, the probe's window over 4 tokens.
"""

import numpy as np

from bimsim.limits import require_bytes
from bimsim.tasks.models import (
    BIMModel,
    NGramFloor,
    class_probabilities,
    cross_entropy,
    logistic_costs,
)

__all__ = ["BINS", "STAGES", "WINDOW", "LinearProbe", "recent", "require_memory", "require_stage"]

#: Equal time bins per sample in which a probe counts each neuron's spikes.
BINS = 10

#: Token intervals, the current one and those before it, that a probe of a task with a target at
#: every step reads at each step: the context of the n-gram floor.
WINDOW = NGramFloor.ORDER - 1

#: What each probe reads.
STAGES = {
    "input": "the encoder's spikes",
    "frozen": "the spiking layer's spikes, as initialised (no learning)",
    "trained": "the spiking layer's spikes after BIM's training",
}


def require_stage(stage):
    """Refuse a stage that is not one of :data:`STAGES`, naming them."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")


def require_memory(stage, task, config, sequences):
    """Refuse a probe of a task with a target at every step whose arrays would not fit in memory.

    Every step of every sequence is one of such a probe's samples. It holds, for the most
    sequences it fits or scores at once: both stages' counts per token (int32), its window of
    counts twice (the counts and their standardised copy, float64), and about five arrays of a
    number per step and class (the logistic regression's fit and the probabilities).

    Parameters
    ----------
    stage : {"input", "frozen", "trained"}
    task : TaskData
    config : BIMConfig
    sequences : int
        The most sequences the probe fits or scores at once.

    Raises
    ------
    ValueError
        For an unknown stage, or where the arrays would exceed
        :data:`bimsim.limits.MAX_BYTES` (:func:`bimsim.limits.require_bytes`), saying both.
    """
    require_stage(stage)
    if not task.per_step:
        return
    length, classes = task.labels.shape[1], len(task.classes)
    units = classes if stage == "input" else config.hidden
    steps = sequences * length
    require_bytes(
        f"probe_{stage} of {sequences} sequences ({steps} steps, a window of {WINDOW} tokens x "
        f"{units} neurons and {classes} classes at each)",
        sequences * (length + 1) * (classes + config.hidden) * 4
        + 2 * steps * WINDOW * units * 8
        + 5 * steps * classes * 8,
    )


def recent(counts, width):
    """Each step's counts and those of the ``width - 1`` steps before it, oldest first (zeros
    before a sequence's first step).

    Parameters
    ----------
    counts : ndarray
        ``(n, steps, units)``.
    width : int
        Steps in a window.

    Returns
    -------
    ndarray
        ``(n * steps, width * units)``, sequence by sequence, each in step order (the order of
        ``counts[:, :, 0].ravel()``).
    """
    n, steps, units = counts.shape
    before = np.zeros((n, width - 1, units), dtype=counts.dtype)
    padded = np.concatenate([before, counts], axis=1)
    stacked = np.stack([padded[:, k : k + steps] for k in range(width)], axis=2)
    return stacked.reshape(n * steps, width * units)


class LinearProbe(BIMModel):
    """A logistic regression on the spike counts of one stage of BIM (module docstring).

    Parameters
    ----------
    stage : {"input", "frozen", "trained"}
    task : TaskData
    config : BIMConfig
        BIM's config: ``probe_trained`` trains with all of it, ``probe_frozen`` uses its encoder,
        layer and input scaling, ``probe_input`` its encoder only.
    seed : int

    Notes
    -----
    The training loss in the results is BIM's for ``probe_trained`` (the readout's cross-entropy
    per scored step, each epoch) and the probe's own cross-entropy on the training samples (per
    step, where every step has a target) for the others (one "epoch").
    """

    def __init__(self, stage, task, config, seed):
        require_stage(stage)
        self.per_step = task.per_step
        super().__init__(task, config, seed)
        self.stage, self.seed, self.n_classes = stage, seed, len(task.classes)
        self.epochs = config.epochs if stage == "trained" else 1
        self.probe = None

    def _features(self, data, progress):
        spikes = self.classifier.spike_counts
        if self.per_step:  # counts per token interval, a window at every step
            inputs, layer = spikes(data.signals, data.features, progress=progress)
            return recent(inputs if self.stage == "input" else layer, WINDOW)
        inputs, layer = spikes(data.signals, data.features, bins=BINS, progress=progress)
        counts = inputs if self.stage == "input" else layer
        return counts.reshape(len(counts), -1)

    def fit_epoch(self, data, rng, progress=False):
        from bimsim.tasks.floors import fit_logistic_regression

        if self.stage == "trained":
            loss = super().fit_epoch(data, rng, progress)
            if len(self.rates) < self.epochs:
                return loss
        elif self.stage == "frozen":
            self.calibrate(data, rng)
        features = self._features(data, progress)
        labels = np.ravel(data.labels)  # every step is a sample where every step has a target
        self.probe = fit_logistic_regression(features, labels, seed=self.seed)
        if self.stage == "trained":
            return loss
        return float(cross_entropy(self._probability(features), labels))

    def predict(self, data, progress=False):
        probability = self._probability(self._features(data, progress))
        return probability.reshape(*np.shape(data.labels), self.n_classes)

    def _probability(self, features):
        return class_probabilities(self.probe, features, self.n_classes)

    def state(self):
        """BIM's state where the layer trained; the input scaling where it was scaled."""
        if self.stage == "trained":
            return super().state()
        return self.calibration_state()

    def costs(self):
        """The probe's parameters and multiply-accumulates (at every step, where every step has
        a target), and, for the layer's stages, the layer's accumulates, neuron updates, learned
        input (and recurrent) weights and sparsity (the readout's are not spent)."""
        costs = logistic_costs(self.probe)
        if self.per_step:
            costs["macs"] *= self.classifier.length
        if self.stage == "input":
            return costs
        ops = self.classifier.operations_per_sample()
        net, learned = self.classifier.network, 0
        if self.stage == "trained":
            learned = len(net.shared_weights()) + len(net.recurrent_weights())
        return {
            "parameters": costs["parameters"] + learned,
            "accumulates": ops["accumulates"],
            "macs": ops["neuron_macs"] + costs["macs"],
            "spike_sparsity": self.spike_sparsity(),
        }
