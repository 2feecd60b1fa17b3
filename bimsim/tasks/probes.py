"""Linear probes: how much of a task each stage of BIM still carries.

Where BIM scores below the non-neural floor, the loss can lie in the encoding (the delta
modulator and the count code), in the spiking layer (too few neurons, too few spikes), or in the
readout (a selective SSM trained online that does not extract what the layer's spikes hold). A
probe fits the floor's logistic regression (:func:`bimsim.tasks.floors.fit_logistic_regression`,
settings fixed, not tuned) to what one stage emits for each training sample, its spikes counted
per neuron in :data:`BINS` equal time bins, and is scored on the test samples like any model:

* ``probe_input``: the encoder's spikes, what the spiking layer receives;
* ``probe_frozen``: the spiking layer's spikes as initialised (after the input scaling of
  ``--target-rate``, the same as ``bim_frozen``'s layer), with no learning;
* ``probe_trained``: the spiking layer's spikes after the same training as ``bim`` (same seed,
  same draws: the same layer), read by the probe instead of the online readout.

A probe reads every bin of a sample at once, which the causal readout cannot, so it is a generous
linear read-out of a stage, not a model to deploy. Read in order, floor → ``probe_input`` →
``probe_frozen`` → ``bim_frozen``, and ``probe_trained`` → ``bim``, the rows show where a task's
information is lost. Probes classify whole samples; a task with a target at every step (language)
has none.
"""

from bimsim.tasks.models import BIMModel, class_probabilities, cross_entropy, logistic_costs

__all__ = ["BINS", "STAGES", "LinearProbe"]

#: Equal time bins per sample in which a probe counts each neuron's spikes.
BINS = 10

#: What each probe reads.
STAGES = {
    "input": "the encoder's spikes",
    "frozen": "the spiking layer's spikes, as initialised (no learning)",
    "trained": "the spiking layer's spikes after BIM's training",
}


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
    per scored step, each epoch) and the probe's own cross-entropy on the training samples for
    the others (one "epoch").
    """

    def __init__(self, stage, task, config, seed):
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        if task.tokens or task.per_step:
            raise ValueError(
                f"probes classify whole samples; {task.name} has a target at every step"
            )
        super().__init__(task, config, seed)
        self.stage, self.seed, self.n_classes = stage, seed, len(task.classes)
        self.epochs = config.epochs if stage == "trained" else 1
        self.probe = None

    def _features(self, data, progress):
        inputs, layer = self.classifier.spike_counts(
            data.signals, data.features, bins=BINS, progress=progress
        )
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
        self.probe = fit_logistic_regression(features, data.labels, seed=self.seed)
        if self.stage == "trained":
            return loss
        return float(cross_entropy(self._probability(features), data.labels))

    def predict(self, data, progress=False):
        return self._probability(self._features(data, progress))

    def _probability(self, features):
        return class_probabilities(self.probe, features, self.n_classes)

    def state(self):
        """BIM's state where the layer trained; the input scaling where it was scaled."""
        if self.stage == "trained":
            return super().state()
        return self.calibration_state()

    def costs(self):
        """The probe's parameters and multiply-accumulates, and, for the layer's stages, the
        layer's accumulates, neuron updates, learned input weights and sparsity (the readout's
        are not spent)."""
        costs = logistic_costs(self.probe)
        if self.stage == "input":
            return costs
        ops = self.classifier.operations_per_sample()
        learned = len(self.classifier.network.shared_weights()) if self.stage == "trained" else 0
        return {
            "parameters": costs["parameters"] + learned,
            "accumulates": ops["accumulates"],
            "macs": ops["neuron_macs"] + costs["macs"],
            "spike_sparsity": self.spike_sparsity(),
        }
