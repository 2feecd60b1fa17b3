"""The models a task compares, behind one interface, and the registry the runner builds them from.

Every model, BIM, a baseline or the non-neural floor, is built by ``build(task, config, seed)``
and then offers

* ``epochs``: how many times the runner calls ``fit_epoch``;
* ``fit_epoch(data, rng, progress)``: one pass over the training samples (a :class:`Samples`);
  returns the mean training loss;
* ``predict(data, progress)``: class probabilities ``(samples, classes)``, or
  ``(samples, time, classes)`` where every step has a target, without learning;
* ``costs()``: learned ``parameters``, and ``accumulates``, ``macs`` (multiply-accumulates) and
  ``spike_sparsity`` per sample of the last prediction;
* optionally ``state()``: what the results keep of the trained model, ``{name: (dim, values,
  units, long_name)}`` with ``dim`` ``"epoch"``, another dimension's name, or ``None`` for a
  number (BIM: the learning rates of each epoch, the final weights and optimiser state);
* optionally ``suspects(name)``: the settings that may have made ``name`` (a state entry,
  ``train_loss``, ``probability`` or a score) NaN or infinite, for the message of the
  :class:`ModelFailure` that stops the run (BIM: the flags of the learning that diverged, with
  their values).

A model whose learning diverges raises :class:`ModelFailure` (BIM: its readout's step would leave
a parameter non-finite, or its layer cannot be brought to ``--target-rate``); the runner checks
every number a model leaves (:func:`bimsim.tasks.runner.check_run`) before it is kept.

The runner never asks which model it holds: a new model is one class and one :data:`MODELS`
entry. The ablation rows of BIM (``bim_frozen``: η = 0; ``bim_stdp``: λ = 0; ``bim_mixed``:
λ = 0.5; ``bim_gradient``: λ = 1) are BIM with one setting fixed (:attr:`ModelSpec.changes`); the
linear probes (``probe_input``, ``probe_frozen``, ``probe_trained``, :mod:`bimsim.tasks.probes`)
read what one stage of BIM carries; a command runs :data:`DEFAULT_MODELS` unless told otherwise.
Torch is imported only when a baseline is built.
"""

from dataclasses import dataclass, field, replace

import numpy as np
from brian2 import Hz, mV

from bimsim.tasks.config import BaselineConfig, BIMConfig
from bimsim.tasks.rate_calibration import calibrate_rate

__all__ = [
    "DEFAULT_MODELS",
    "MODELS",
    "BIMModel",
    "LogisticFloor",
    "ModelFailure",
    "ModelSpec",
    "NGramFloor",
    "Samples",
    "TorchModel",
    "class_probabilities",
    "cross_entropy",
    "logistic_costs",
]


class ModelFailure(RuntimeError):
    """A model's learning diverged, or it left NaN or infinite numbers where a result must hold
    finite ones: the run has no result to write."""


@dataclass(frozen=True)
class Samples:
    """Some samples of a task: what the models may read of them.

    ``signals`` ``(n, time, channels)`` (or token codes ``(n, time)``), non-negative ``features``
    ``(n, features)``, ``labels`` (class indices, ``(n,)`` or one per step ``(n, time)``) and the
    hand-made ``floor_features`` ``(n, floor features)`` of the floor.
    """

    signals: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    floor_features: np.ndarray


#: What each optimiser state variable is (:mod:`bimsim.plasticity.optimizers`).
OPTIMIZER_STATE = {
    "m": "optimiser's momentum (mean direction) after training",
    "v": "optimiser's mean squared direction after training",
    "n": "optimiser's steps (Adam's bias correction) after training",
}


class BIMModel:
    """BIM trained online with the hybrid rule: signals by
    :class:`~bimsim.tasks.bim_classifier.BIMClassifier`, tokens by
    :class:`~bimsim.tasks.bim_tokens.BIMTokenPredictor` (a target at every step)."""

    def __init__(self, task, config, seed):
        self.epochs = config.epochs
        self.config = config
        self.rates = []  # (η, readout rate) of each epoch
        self.calibration = None  # (factor, rate) of the input scaling, where there is one
        if task.tokens:
            from bimsim.tasks.bim_tokens import BIMTokenPredictor

            self.classifier = BIMTokenPredictor(
                len(task.classes), task.signals.shape[1], token_dt=task.sample_dt,
                config=config, seed=seed,
            )  # fmt: skip
            return
        from bimsim.tasks.bim_classifier import BIMClassifier

        self.classifier = BIMClassifier(
            task.signals.shape[2],
            task.features.shape[1],
            len(task.classes),
            sample_dt=task.sample_dt,
            samples=task.signals.shape[1],
            target_from=task.target_from,
            config=config,
            seed=seed,
        )

    @staticmethod
    def memory_bytes(task, config):
        """About the memory BIM's network takes on ``task`` with ``config``
        (:meth:`bimsim.network.BIMNetwork.memory_bytes` with the task's sizes: one input neuron
        per token, or an up and a down neuron per signal channel and feature)."""
        from bimsim.network import BIMNetwork

        classes = len(task.classes)
        inputs = classes if task.tokens else 2 * (task.signals.shape[2] + task.features.shape[1])
        return BIMNetwork.memory_bytes(
            inputs, config.hidden, classes, n_states=config.states, copies=config.copies,
            recurrent=config.recurrent > 0, neuron=config.neuron, optimizer=config.optimizer,
            pruning=config.prune_target > 0,
        )  # fmt: skip

    def calibrate(self, data, rng):
        """Scale the input weights to ``config.target_rate`` on training samples (once, before
        any learning; nothing where the rate is 0)."""
        if self.calibration is None and self.config.target_rate > 0 * Hz:
            try:
                self.calibration = calibrate_rate(
                    self.classifier, data.signals, data.features, self.config.target_rate, rng
                )
            except RuntimeError as err:  # the rate is out of the layer's reach: no run
                raise ModelFailure(f"{err} ({self.suspects('calibrated_rate')})") from None

    def fit_epoch(self, data, rng, progress=False):
        config, net = self.config, self.classifier.network
        if not self.rates:
            self.calibrate(data, rng)
        # the schedule: both rates times lr_decay ** (epochs before this one)
        factor = config.lr_decay ** len(self.rates)
        net.eta = config.eta * factor
        net.readout_learning_rate = config.readout_learning_rate * factor
        self.rates.append((net.eta, net.readout_learning_rate))
        try:
            return self.classifier.fit_epoch(
                data.signals, data.features, data.labels, rng, progress=progress
            )
        except FloatingPointError as err:  # the readout's step would leave it non-finite
            raise ModelFailure(f"{err} ({self.suspects('readout_parameter')})") from None

    def suspects(self, name):
        """The flags, with their values, of the learning that may have made ``name`` diverge:
        the spiking layer's for ``layer_*`` entries, the recurrent synapses' (and the layer's)
        for ``recurrent_*``, the readout's for ``readout_*``, the input scaling's for
        ``input_weight_scale`` and ``calibrated_rate``, and every part's for the loss, the
        probabilities and the scores."""
        c = self.config
        layer = (
            f"the spiking layer's learning: --eta {c.eta:g}, --lam {c.lam:g}, --optimizer "
            f"{c.optimizer.kind}, --weight-decay {c.optimizer.weight_decay:g}"
        )
        recurrent = f"the recurrent synapses: --recurrent {c.recurrent:g}"
        readout = (
            f"the readout's learning: --readout-lr {c.readout_learning_rate:g}, --readout-scale "
            f"{c.readout_scale:g}, --readout-optimizer {c.readout_optimizer.kind}, "
            f"--readout-weight-decay {c.readout_optimizer.weight_decay:g}"
        )
        scaling = (
            f"the input scaling: --target-rate {float(c.target_rate / Hz):g}, --adaptation "
            f"{float(c.adaptation / mV):g}"
        )
        parts = [layer, recurrent, readout] if c.recurrent else [layer, readout]
        if name.startswith("layer_"):
            parts = [layer]
        elif name.startswith("recurrent_"):
            parts = [recurrent, layer]
        elif name.startswith("readout_"):
            parts = [readout]
        elif name in ("input_weight_scale", "calibrated_rate"):
            parts = [scaling]
        return "it may come from " + "; or ".join(parts)

    def state(self):
        """The rates of each epoch, the final input (and recurrent) weights, and the optimisers'
        state: per input (and recurrent) synapse of one copy for the spiking layer, per readout
        parameter (flattened in the order of their names) for the readout."""
        net = self.classifier.network
        rates = np.array(self.rates).reshape(-1, 2)
        out = {
            "eta": ("epoch", rates[:, 0], "1", "η of the spiking layer in the epoch"),
            "readout_learning_rate": ("epoch", rates[:, 1], "1", "readout rate in the epoch"),
            "layer_weight": ("synapse", net.shared_weights(), "1", "final input weight (x w_unit)"),
            **self.calibration_state(),
            "pruned_fraction": (None, net.pruning.sparsity() if net.pruning else 0.0, "1",
                                "fraction of the input synapses pruned by the end of training"),
        }  # fmt: skip
        groups = [("layer", net.synapses, "synapse", net.shared_weights())]
        if net.recurrent is not None:
            recurrent = net.recurrent_weights()
            what = "final recurrent weight (x w_unit)"
            out["recurrent_weight"] = ("recurrent_synapse", recurrent, "1", what)
            groups.append(("recurrent", net.recurrent, "recurrent_synapse", recurrent))
        for prefix, synapses, dim, weights in groups:  # copy 0's synapses come first
            for key in net.optimizer.state:
                values = np.array(synapses.variables[f"opt_{key}"].get_value()[: len(weights)])
                out[f"{prefix}_optimizer_{key}"] = (dim, values, "1", OPTIMIZER_STATE[key])
        readout = net.readout.optimizer
        if readout is not None and readout.state:
            names = sorted(readout.state)
            for key in net.readout_optimizer.state:
                name, what = f"readout_optimizer_{key}", OPTIMIZER_STATE[key]
                if key == "n":
                    out[name] = (None, float(readout.state[names[0]]["n"]), "1", what)
                else:
                    values = np.concatenate([np.ravel(readout.state[n][key]) for n in names])
                    out[name] = ("readout_parameter", values, "1", what)
        return out

    def calibration_state(self):
        """The input scaling's factor and the rate it reached, where there was one."""
        if self.calibration is None:
            return {}
        factor, rate = self.calibration
        return {
            "input_weight_scale": (None, factor, "1", "factor of the initial input weights"),
            "calibrated_rate": (None, float(rate / Hz), "Hz", "layer rate after scaling"),
        }

    def predict(self, data, progress=False):
        return self.classifier.predict_proba(data.signals, data.features, progress=progress)

    def costs(self):
        clf = self.classifier
        ops = clf.operations_per_sample()
        return {
            "parameters": clf.parameter_count(),
            "accumulates": ops["accumulates"],
            "macs": ops["neuron_macs"] + ops["readout_macs"],
            "spike_sparsity": self.spike_sparsity(),
        }

    def spike_sparsity(self):
        """The fraction of the layer's neuron-steps without a spike, in the last prediction."""
        clf = self.classifier
        steps = float(clf.duration / clf.network.layer.dt)
        return 1.0 - clf.counts["hidden_spikes"] / (self.config.hidden * steps)


class TorchModel:
    """A baseline trained by BPTT in torch (:class:`~bimsim.tasks.baselines.TorchBaseline`)."""

    def __init__(self, name, task, config, seed):
        from bimsim.tasks.baselines import TorchBaseline

        self.epochs = config.epochs
        channels = len(task.classes) if task.tokens else task.signals.shape[2]
        self.baseline = TorchBaseline(
            name,
            channels,
            task.features.shape[1],
            len(task.classes),
            config,
            seed,
            per_step=task.per_step,
            tokens=task.tokens,
        )

    def fit_epoch(self, data, rng, progress=False):
        return self.baseline.fit_epoch(data.signals, data.features, data.labels, progress)

    def predict(self, data, progress=False):
        return self.baseline.predict_proba(data.signals, data.features, progress)

    def costs(self):
        return self.baseline.costs()


class LogisticFloor:
    """A non-neural floor: a logistic regression on the task's hand-made features.

    Fitted once (one "epoch"); settings fixed (:func:`bimsim.tasks.floors.logistic_regression`).
    Its loss is the training cross-entropy; its costs count the linear model's multiply-accumulates
    and not the features' own computation.
    """

    def __init__(self, task, config, seed):
        self.epochs, self.seed, self.n_classes = 1, seed, len(task.classes)
        self.model = None

    def fit_epoch(self, data, rng, progress=False):
        from bimsim.tasks.floors import fit_logistic_regression

        self.model = fit_logistic_regression(data.floor_features, data.labels, seed=self.seed)
        return float(cross_entropy(self.predict(data), data.labels))

    def predict(self, data, progress=False):
        return class_probabilities(self.model, data.floor_features, self.n_classes)

    def costs(self):
        return logistic_costs(self.model)


def class_probabilities(model, features, n_classes):
    """A fitted scikit-learn classifier's probabilities ``(samples, n_classes)``: a class absent
    in its training samples gets 0."""
    known = model.predict_proba(features)
    probability = np.zeros((len(known), n_classes))
    probability[:, model.classes_] = known
    return probability


def logistic_costs(model):
    """Costs per sample of a fitted logistic regression on standardised features: its
    parameters and multiply-accumulates (the standardisation's included); no synaptic
    accumulates, no spikes."""
    n_features = model.n_features_in_
    n_outputs = len(model.classes_) if len(model.classes_) > 2 else 1
    return {
        "parameters": (n_features + 1) * n_outputs,
        "accumulates": 0.0,
        "macs": float(n_features * n_outputs + 2 * n_features),
        "spike_sparsity": np.nan,
    }


class NGramFloor:
    """A non-neural floor for next-token tasks: a character n-gram model with interpolated
    absolute discounting (:class:`~bimsim.tasks.floors.CharacterNGram`), counted once within each
    training sequence; each step's context is the sequence's own tokens up to that step."""

    ORDER = 5

    def __init__(self, task, config, seed):
        from bimsim.tasks.floors import CharacterNGram

        self.epochs, self.length = 1, task.signals.shape[1]
        self.model = CharacterNGram(self.ORDER, len(task.classes))

    def fit_epoch(self, data, rng, progress=False):
        # each sequence's text: its tokens and the token after its last
        texts = [np.append(x, y[-1]) for x, y in zip(data.signals, data.labels, strict=True)]
        self.model.fit_sequences(texts)
        context = self.ORDER - 1
        bits = [
            -np.log2(self.model.probability(text[t], text[max(0, t - context) : t]))
            for text in (t.tolist() for t in texts)
            for t in range(1, len(text))
        ]
        return float(np.mean(bits) * np.log(2))  # nats per target, as the others' losses

    def predict(self, data, progress=False):
        codes = np.asarray(data.signals)
        n, length = codes.shape
        probability = np.empty((n, length, self.model.size))
        context = self.ORDER - 1
        for i in range(n):
            row = codes[i].tolist()
            for t in range(length):
                probability[i, t] = self.model.distribution(row[max(0, t + 1 - context) : t + 1])
        return probability

    def costs(self):
        """Parameters: the stored counts; multiply-adds: the interpolation, ``order × classes``
        per step (the dictionary look-ups are not counted)."""
        stored = sum(len(row) for table in self.model.counts for row in table.values())
        macs = float(self.length * self.ORDER * self.model.size)
        return {"parameters": stored, "accumulates": 0.0, "macs": macs, "spike_sparsity": np.nan}


def cross_entropy(probability, labels):
    """Mean −log p of each sample's class (nats)."""
    picked = probability[np.arange(len(labels)), labels]
    return -np.mean(np.log(np.clip(picked, 1e-300, None)))


@dataclass(frozen=True)
class ModelSpec:
    """How to build a model: its config class (``type(None)`` for none), its builder
    ``build(task, config, seed)``, the prefix of its config's attributes in the results (default:
    the model's name), ``changes``: fields of the config this model always sets (an ablation),
    over the defaults and what the user typed, ``inert``: fields of the config that do not act
    on this model, each with the reason, and ``check``: ``check(task, config, samples)`` raises
    ``ValueError`` where the model cannot fit or score ``samples`` of the task at once (e.g. they
    would not fit in memory), called before any model trains."""

    config: type
    build: object
    prefix: str = ""
    changes: dict = field(default_factory=dict)
    inert: dict = field(default_factory=dict)
    check: object = None

    def configure(self, config):
        """This model's config, given the config its kind would have."""
        return replace(config, **self.changes) if self.changes else config


def _floor(task, config, seed):
    """The task's own floor, or a logistic regression on its floor features."""
    return (task.floor_model or LogisticFloor)(task, config, seed)


def _torch(name):
    return lambda task, config, seed: TorchModel(name, task, config, seed)


def _probe(stage):
    """A probe's builder and check."""

    def build(task, config, seed):
        from bimsim.tasks.probes import LinearProbe

        return LinearProbe(stage, task, config, seed)

    def check(task, config, samples):
        from bimsim.tasks.probes import require_memory

        require_memory(stage, task, config, samples)

    return {"build": build, "check": check}


#: Fields of BIM's config that do not act on a probe of an untrained stage, and why.
_UNTRAINED = dict.fromkeys(
    (
        "epochs", "lam", "eta", "readout_learning_rate", "readout_scale", "lr_decay",
        "optimizer", "readout_optimizer",
    ),
    "probes of an untrained stage do not train",
)  # fmt: skip
#: Fields that act only on the spiking layer, which ``probe_input`` does not read.
_NO_LAYER = dict.fromkeys(
    ("hidden", "neuron", "target_rate", "tau_m", "adaptation", "tau_adaptation", "recurrent"),
    "probe_input reads the encoder, not the layer",
)


#: Every model a task can run, in the table's order.
MODELS = {
    "bim": ModelSpec(BIMConfig, BIMModel, "bim"),
    "bim_frozen": ModelSpec(BIMConfig, BIMModel, changes={"eta": 0.0}),
    "bim_stdp": ModelSpec(BIMConfig, BIMModel, changes={"lam": 0.0}),
    "bim_mixed": ModelSpec(BIMConfig, BIMModel, changes={"lam": 0.5}),
    "bim_gradient": ModelSpec(BIMConfig, BIMModel, changes={"lam": 1.0}),
    "cnn": ModelSpec(BaselineConfig, _torch("cnn"), "baseline"),
    "gru": ModelSpec(BaselineConfig, _torch("gru"), "baseline"),
    "snn": ModelSpec(BaselineConfig, _torch("snn"), "baseline"),
    "ssm": ModelSpec(BaselineConfig, _torch("ssm"), "baseline"),
    "floor": ModelSpec(type(None), _floor),
    "probe_input": ModelSpec(BIMConfig, **_probe("input"), inert={**_UNTRAINED, **_NO_LAYER}),
    "probe_frozen": ModelSpec(BIMConfig, **_probe("frozen"), inert=_UNTRAINED),
    "probe_trained": ModelSpec(BIMConfig, **_probe("trained")),
}

#: What a command runs by default: BIM, the baselines and the floor (not the ablations).
DEFAULT_MODELS = ("bim", "cnn", "gru", "snn", "ssm", "floor")
