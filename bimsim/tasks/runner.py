"""The runner every benchmark task shares: one task's data, its models, seeds and folds, scores.

A task module (``bimsim.tasks.ecg``, ``bimsim.tasks.eeg`` ...) holds only its data adapter, its
split and its scoring, as a :class:`TaskData`; :func:`run_task` trains and tests the models it is
given (any of :data:`bimsim.tasks.models.MODELS`) on every fold, for every seed, and returns one
Dataset;
:func:`table` prints it in the form of the paper's tables, mean ± s.d. over the runs.

Randomness: each fold of each seed has its own ``numpy`` generator, made from the seed and the
fold alone (:func:`fold_generator`), which draws ``quick``'s subsample of the fold; every model of
the fold then draws from its own copy of that generator (BIM its minibatch order), so the models
of one seed see the same data in the same order and their scores can be compared in pairs
(:func:`paired_differences`), and a model's result does not depend on which other models ran
beside it. The baselines seed torch with the seed. The folds themselves are the task's and do not
change with the seed, so every seed tests every sample once (with ``quick`` a subsample of them).

Settings are chosen on validation folds, never on the test split: :func:`validation_task` gives
the task with each fold replaced by one carved from that fold's training samples only
(``--validate`` on every task's command).
"""

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from brian2 import Quantity
from tqdm.auto import tqdm

from bimsim.metrics import ENERGY_PER_AC_PJ, ENERGY_PER_MAC_PJ, class_scores, energy_pj
from bimsim.tasks.models import MODELS, ModelFailure, Samples

__all__ = [
    "Fold",
    "ModelFailure",
    "Score",
    "TaskData",
    "check_run",
    "fold_generator",
    "paired_differences",
    "require_finite",
    "run_task",
    "table",
    "validation_task",
]

#: Fraction of a single fold's training samples (whole groups where the task has enough of them)
#: that :func:`validation_task` holds out, and the seed that draws them.
VALIDATION_FRACTION = 0.2
VALIDATION_SEED = 0
#: Fewest training groups that are held out whole; with fewer, the last samples are.
MIN_VALIDATION_GROUPS = 5


def _no_check(labels):
    return None


@dataclass(frozen=True)
class Score:
    """One number a task reports per run.

    ``compute(labels, probability) -> float``; ``check(labels)`` returns why a test set cannot be
    scored (e.g. it lacks a class), or None, and runs before any training.
    """

    name: str
    long_name: str
    compute: object
    label: str  # the table's column
    units: str = "1"
    check: object = _no_check


@dataclass(frozen=True)
class Fold:
    """A training and a test set: boolean masks over a task's samples."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class TaskData:
    """Everything a task gives the runner.

    Parameters
    ----------
    name : str
        Short name (``ecg``), the results file's stem.
    title : str
    signals : numpy.ndarray
        ``(samples, time, channels)``, finite; or, for a task on ``tokens``, the token codes
        ``(samples, time)`` (integers in ``[0, len(classes))``).
    features : numpy.ndarray
        ``(samples, features)``, non-negative (BIM count-codes them; ``(samples, 0)`` for none).
    labels : numpy.ndarray
        One class index per sample, or one per step, ``(samples, time)`` (a target at every step,
        e.g. the next token).
    classes : tuple of str
    groups : numpy.ndarray
        The recording each sample comes from (record, segment, speaker); folds keep groups whole
        where the task says so.
    group_kind : str
        What a group is, e.g. ``"record"``.
    folds : tuple of Fold
    sample_dt : Quantity
        Sampling interval of the signals.
    target_from : Quantity
        BIM's targets and its scored readout steps start here.
    floor_features : numpy.ndarray
        ``(samples, floor features)``: the non-neural floor's hand-made features.
    floor : str
        What the floor is, for the table.
    scores : tuple of Score
    sample_name : str
        What a sample is (``beat``, ``window``), for the table.
    attrs : dict
        Attributes of the results (data source, licence, citation, split).
    paper : dict
        The paper's numbers where the task corresponds: ``{"data": what the paper used,
        model: {score name: value}}``.
    tokens : bool
        The signals are token codes (the classes are their vocabulary).
    floor_model : callable, optional
        ``floor_model(task, config, seed)`` builds the floor (default: a logistic regression on
        ``floor_features``, :class:`~bimsim.tasks.models.LogisticFloor`).
    validation : tuple of Fold, optional
        The task's own validation folds, one per fold, each within that fold's training samples
        (e.g. ECG's named records); default: :func:`validation_task` carves them.
    """

    name: str
    title: str
    signals: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    classes: tuple
    groups: np.ndarray
    group_kind: str
    folds: tuple
    sample_dt: Quantity
    target_from: Quantity
    floor_features: np.ndarray
    floor: str
    scores: tuple
    sample_name: str = "sample"
    attrs: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)
    tokens: bool = False
    floor_model: object = None
    validation: tuple = ()

    @property
    def per_step(self):
        """Whether every step has a target (``labels`` is ``(samples, time)``)."""
        return self.labels.ndim == 2

    def __post_init__(self):
        n = len(self.labels)
        if self.tokens:
            codes = self.signals
            if codes.ndim != 2 or len(codes) != n or not np.issubdtype(codes.dtype, np.integer):
                raise ValueError(
                    f"tokens must be (samples, time) integers, got {codes.dtype} {codes.shape}"
                )
            if self.labels.shape != codes.shape:
                raise ValueError(f"a token task needs a target per token, {codes.shape} labels")
            if codes.size and (codes.min() < 0 or codes.max() >= len(self.classes)):
                raise ValueError(f"tokens must lie in [0, {len(self.classes)})")
        elif self.signals.ndim != 3 or len(self.signals) != n:
            raise ValueError(f"signals must be (samples, time, channels), got {self.signals.shape}")
        if self.labels.ndim == 2 and not self.tokens:
            raise ValueError("a target at every step is for token tasks only (tokens=True)")
        if self.labels.ndim not in (1, 2):
            raise ValueError(
                f"labels must be (samples,) or (samples, time), got {self.labels.shape}"
            )
        for name in ("features", "floor_features"):
            value = getattr(self, name)
            if value.ndim != 2 or len(value) != n:
                raise ValueError(f"{name} must be ({n}, features), got {value.shape}")
        for name in ("signals", "features", "floor_features"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"the task's {name} hold NaN or infinite values")
        if np.any(self.features < 0):
            raise ValueError("features must be non-negative (BIM count-codes them)")
        in_range = (self.labels >= 0) & (self.labels < len(self.classes))
        if len(self.groups) != n or not np.all(in_range):
            raise ValueError("every sample needs a group and a class index in range")
        if not self.folds:
            raise ValueError("a task needs at least one fold")
        tested = np.zeros(n, dtype=int)
        for fold in self.folds:
            for mask in (fold.train, fold.test):
                if mask.dtype != bool or mask.shape != (n,):
                    raise ValueError(f"fold {fold.name}: masks must be {n} booleans")
            if np.any(fold.train & fold.test):
                raise ValueError(f"fold {fold.name}: a sample is in both training and test sets")
            tested += fold.test
        if np.any(tested > 1):
            raise ValueError("a sample is in the test sets of two folds")
        if self.validation:
            self._check_validation()

    def _check_validation(self):
        if len(self.validation) != len(self.folds):
            raise ValueError(f"{len(self.validation)} validation folds for {len(self.folds)} folds")
        for fold, inner in zip(self.folds, self.validation, strict=True):
            outside = (inner.train | inner.test) & ~fold.train
            if np.any(outside) or np.any(inner.train & inner.test) or not inner.test.any():
                raise ValueError(
                    f"validation fold {inner.name}: must split fold {fold.name}'s training "
                    "samples into training and (non-empty) validation samples"
                )

    def samples(self, mask):
        """The samples selected by ``mask``, as the models read them."""
        return Samples(self.signals[mask], self.features[mask], self.labels[mask],
                       self.floor_features[mask])  # fmt: skip


def binary_scores_against(classes, negative):
    """AUC-ROC and AUC-PR of every class but ``negative`` against it, on ``1 - p(negative)``."""
    from bimsim.metrics import binary_scores

    index = list(classes).index(negative)

    def auc(key):
        def compute(labels, probability):
            return binary_scores(labels != index, 1 - probability[:, index])[key]

        return compute

    def check(labels):
        present = set(np.asarray(labels).tolist())
        if index not in present or not present - {index}:
            return f"the AUCs need {negative} samples and others, it holds {sorted(present)}"
        return None

    return (
        Score("auc_roc", f"AUC-ROC, not {negative} against {negative}", auc("auc_roc"),
              "AUC-ROC", check=check),
        Score("auc_pr", "AUC-PR (average precision)", auc("auc_pr"), "AUC-PR", check=check),
    )  # fmt: skip


def _held_out(task, train, rng, fraction):
    """A mask of the validation samples within ``train``: whole groups drawn at random until they
    hold ``fraction`` of the samples, redrawn until every score can score them and the rest
    holds two classes or more; or, with fewer than
    :data:`MIN_VALIDATION_GROUPS` groups (a text split), the last ``fraction`` of the samples."""
    chosen = np.flatnonzero(train)
    groups = np.unique(task.groups[chosen])
    if len(groups) < MIN_VALIDATION_GROUPS:
        held = np.zeros_like(train)
        held[chosen[len(chosen) - max(1, round(fraction * len(chosen))) :]] = True
        return held
    for _ in range(1000):
        held = np.zeros_like(train)
        for group in rng.permutation(groups):
            held |= train & (task.groups == group)
            if held.sum() >= fraction * len(chosen):
                break
        scorable = not any(score.check(task.labels[held]) for score in task.scores)
        if scorable and len(set(task.labels[train & ~held].ravel().tolist())) >= 2:
            return held
    raise ValueError(
        f"no draw of {task.group_kind}s gives a validation split that can be trained and scored"
    )


def validation_task(task, fraction=VALIDATION_FRACTION, seed=VALIDATION_SEED):
    """``task`` with each fold replaced by a validation fold carved from its training samples.

    A task that defines its own validation folds (:attr:`TaskData.validation`) gets those.
    With cross-validation (three folds or more, each fold's training set holding the next fold's
    test set), validation fold ``k`` tests on fold ``k + 1``'s test samples and trains on the
    rest of fold ``k``'s training samples (nested rotation: every sample is validated once).
    With one fold, it holds out ``fraction`` of the training samples: whole groups (records,
    speakers) where there are at least :data:`MIN_VALIDATION_GROUPS`, else the last samples (a
    text split). Either way the fold's own test samples are in neither part.

    Parameters
    ----------
    task : TaskData
    fraction : float
        Of a single fold's training samples held out, in (0, 1).
    seed : int
        Draws the held-out groups (the same for every run seed).

    Returns
    -------
    TaskData
        Folds named ``<fold>/validation``; no paper numbers; ``attrs['split']`` says what it is.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    folds, k = task.folds, len(task.folds)
    split = task.attrs.get("split", "the task's folds")
    if task.validation:
        attrs = {**task.attrs, "split": f"validation: the task's own, test samples unused; of "
                 f"{split}"}  # fmt: skip
        return dataclasses.replace(
            task, folds=task.validation, validation=(), paper={}, attrs=attrs
        )
    rotation = k >= 3 and all(
        not np.any(folds[(i + 1) % k].test & ~folds[i].train) for i in range(k)
    )
    if rotation:
        held = [folds[(i + 1) % k].test for i in range(k)]
        how = "each fold validated on the next fold's test samples (nested rotation)"
    elif k == 1:
        held = [_held_out(task, folds[0].train, np.random.default_rng(seed), fraction)]
        how = (
            f"at least {fraction:g} of the training samples held out (whole {task.group_kind}s "
            f"drawn with seed {seed}, or the last samples where there are fewer than "
            f"{MIN_VALIDATION_GROUPS} {task.group_kind}s)"
        )
    else:
        raise ValueError(
            f"cannot carve validation folds from {k} folds that are not a cross-validation"
        )
    new = tuple(
        Fold(f"{fold.name}/validation", fold.train & ~out, out)
        for fold, out in zip(folds, held, strict=True)
    )
    attrs = {**task.attrs, "split": f"validation: {how}, test samples unused; of {split}"}
    return dataclasses.replace(task, folds=new, paper={}, attrs=attrs)


def subsample(mask, n, rng):
    """At most ``n`` of the samples in ``mask``, drawn without replacement (order kept)."""
    chosen = np.flatnonzero(mask)
    if len(chosen) > n:
        chosen = np.sort(rng.choice(chosen, n, replace=False))
    out = np.zeros_like(mask)
    out[chosen] = True
    return out


def fold_generator(seed, fold):
    """The random generator of fold number ``fold`` (from 0) of ``seed``: ``default_rng(seed)``
    for the first fold, ``default_rng([seed, fold])`` for the others.

    It depends on nothing else, so a model's draws in a fold do not depend on the models that ran
    before it. (Until 2026-11-24 the folds after the first went on from where the fold before's
    first model that drew left one generator per seed, so BIM's later folds changed with the
    models listed before it; the first fold draws as it did.)
    """
    return np.random.default_rng(seed if fold == 0 else [seed, fold])


def plan_runs(task, seeds, quick=None, first_folds=None):
    """The training and test masks of every (seed, fold) run, checked before any training.

    Each fold's generator (:func:`fold_generator`) draws ``quick``'s subsample of the fold; it is
    returned with the masks, for the models to go on drawing from (:func:`run_task`: each model
    of a fold draws from a copy).

    Raises
    ------
    ValueError
        For repeated seeds, or a fold (after subsampling) whose training set holds one class or
        whose test set a score cannot score.
    """
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ, got {list(seeds)}")
    plan = {}
    for seed in seeds:
        for k, fold in enumerate(task.folds[:first_folds]):
            rng = fold_generator(seed, k)
            train, test = fold.train, fold.test
            if quick is not None:
                train, test = subsample(train, quick, rng), subsample(test, quick, rng)
            if len(set(task.labels[train].ravel().tolist())) < 2:
                raise ValueError(
                    f"fold {fold.name}: the training set holds {train.sum()} samples of one "
                    "class only"
                )
            for score in task.scores:
                problem = score.check(task.labels[test])
                if problem:
                    raise ValueError(f"fold {fold.name}: the test set cannot be scored: {problem}")
            plan[seed, k] = (train, test, rng)
    return plan


def run_task(task, configs, seeds, *, quick=None, first_folds=None, progress=True, log=print):
    """Train and test every model on every fold for every seed.

    Parameters
    ----------
    task : TaskData
    configs : dict
        Model name (a key of :data:`~bimsim.tasks.models.MODELS`) to its config, in the order to
        run and report them.
    seeds : sequence of int
        Different seeds.
    quick : int, optional
        Train and test on at most this many samples of each fold.
    first_folds : int, optional
        Run only the task's first ``first_folds`` folds (default all).
    progress : bool
        Progress bars.
    log : callable
        Where the runner says what it does.

    Returns
    -------
    xarray.Dataset
        See :func:`results_dataset`.

    Raises
    ------
    ValueError
        Before any training, for a fold that cannot be trained or scored (:func:`plan_runs`), or
        a model that cannot run on the task (:attr:`~bimsim.tasks.models.ModelSpec.check`).
    ModelFailure
        When a model's learning diverges, or a number it leaves is NaN or infinite where the
        results must hold a finite one (:func:`check_run`).
    """
    plan = plan_runs(task, seeds, quick, first_folds)
    largest = max(int(mask.sum()) for train, test, _ in plan.values() for mask in (train, test))
    for name, config in configs.items():
        if MODELS[name].check is not None:
            MODELS[name].check(task, config, largest)
    folds = task.folds[:first_folds]
    runs = {}
    for (seed, k), (train, test, rng) in plan.items():
        train_data, test_data = task.samples(train), task.samples(test)
        for name, config in configs.items():
            where = f"seed {seed}, fold {folds[k].name}"
            model_rng = copy.deepcopy(rng)  # every model: the same draws (pairs)
            log(f"{where}: training {name} ...", flush=True)
            model = MODELS[name].build(task, config, seed)
            start = time.perf_counter()
            try:
                losses = [
                    model.fit_epoch(train_data, model_rng, progress)
                    for _ in tqdm(range(model.epochs), desc=f"{name} epochs",
                                  disable=not progress or model.epochs < 2, leave=False)
                ]  # fmt: skip
            except ModelFailure as err:
                raise ModelFailure(f"{where}: {name}: {err}") from None
            seconds = time.perf_counter() - start
            probability = model.predict(test_data, progress)
            what = f"{where}: {name}"
            early = {"training loss": ("train_loss", losses),
                     "test probabilities": ("probability", probability)}  # fmt: skip
            require_finite(early, model, what)  # before the scores read them
            run = {
                "test": np.flatnonzero(test),
                **summarise(task, task.labels[test], probability),
                "train_loss": losses,
                "train_time": seconds,
                "train_samples": int(train.sum()),
                **model.costs(),
                "state": model.state() if hasattr(model, "state") else {},
            }
            check_run(run, model, what)
            runs[seed, k, name] = run
    return results_dataset(task, runs, list(seeds), list(configs), folds)


def summarise(task, labels, probability):
    """What a run's predictions leave in the results: the task's scores, each class's sensitivity
    and PPV, and per sample the class probabilities, or, where every step has a target, the mean
    ``-log2 p(target)`` (the per-step probabilities are too many to keep)."""
    n_classes = len(task.classes)
    per_class = class_scores(labels.ravel(), probability.argmax(axis=-1).ravel(), range(n_classes))
    if task.per_step:
        picked = np.take_along_axis(probability, labels[..., None], axis=-1)[..., 0]
        picked = np.maximum(picked, np.finfo(float).tiny)  # at most 1022 bits a step
        stored = -np.log2(picked).mean(axis=1)
    else:
        stored = probability
    return {
        "scores": {score.name: score.compute(labels, probability) for score in task.scores},
        "sensitivity": per_class["sensitivity"],
        "ppv": per_class["ppv"],
        "stored": stored,
    }


def check_run(run, model, what):
    """Raise :class:`ModelFailure` where a run left a NaN or infinite number that the results
    would keep as a result: its training losses, scores, per-class scores, per-sample results,
    costs, or any entry of the model's ``state()`` (its learned weights and optimiser state).

    The only NaN a run may leave is the ``spike_sparsity`` of a model without spiking neurons;
    every other NaN in the results (:func:`results_dataset`) marks an entry that the run does
    not have (an epoch it did not train, a sample it did not test, a state its model does not
    keep), as those variables' ``nan_means`` say.

    Parameters
    ----------
    run : dict
        What :func:`run_task` keeps of the run.
    model : object
        The model; its ``suspects(name)``, where it has one, says what may have caused it.
    what : str
        The run, for the message (``"seed 0, fold DS2: bim"``).
    """
    numbers = {
        "training loss": ("train_loss", run["train_loss"]),
        **{f"{score} score": (score, value) for score, value in run["scores"].items()},
        "sensitivity": ("sensitivity", run["sensitivity"]),
        "positive predictive value": ("ppv", run["ppv"]),
        "per-sample result": ("probability", run["stored"]),
        **{key: (key, run[key]) for key in ("parameters", "accumulates", "macs", "train_time")},
        **{f"{name} ({entry[3]})": (name, entry[1]) for name, entry in run["state"].items()},
    }
    if not np.isnan(run["spike_sparsity"]):  # NaN: the model has no spiking neurons
        numbers["spike_sparsity"] = ("spike_sparsity", run["spike_sparsity"])
    require_finite(numbers, model, what)


def require_finite(numbers, model, what):
    """Raise :class:`ModelFailure` for the first of ``numbers``, ``{label: (name, values)}``,
    that holds a NaN or infinite value, naming it, ``what`` made it, and what may have caused it
    (``model.suspects(name)``, where the model has it)."""
    for label, (name, values) in numbers.items():
        values = np.asarray(values, dtype=float)
        finite = np.isfinite(values)
        if not np.all(finite):
            why = model.suspects(name) if hasattr(model, "suspects") else ""
            raise ModelFailure(
                f"{what} diverged: {np.size(values) - int(finite.sum())} of {np.size(values)} "
                f"values of its {label} are NaN or infinite" + (f"; {why}" if why else "")
            )


def results_dataset(task, runs, seeds, models, folds):
    """One Dataset of every run (see the module docstring of :mod:`bimsim.tasks.runner`).

    Dimensions: ``seed``, ``fold``, ``model``, ``class``, ``epoch`` and ``sample`` (every sample
    tested in some run, numbered as in the task). Per run: each of the task's scores, per-class
    sensitivity and PPV, the training loss per epoch, training time, costs and energy per sample;
    per seed, model and sample: the predicted class probabilities, or the mean bits where every
    step has a target (:func:`summarise`; NaN where a seed did not test the sample).
    """
    folds = list(folds)
    tested = np.unique(np.concatenate([r["test"] for r in runs.values()]))
    position = {s: i for i, s in enumerate(tested)}
    shape = (len(seeds), len(folds), len(models))
    epochs = max(len(r["train_loss"]) for r in runs.values())
    n_classes = len(task.classes)
    values = {s.name: np.full(shape, np.nan) for s in task.scores}
    for name in ("train_time", "accumulates", "macs", "spike_sparsity"):
        values[name] = np.full(shape, np.nan)
    for name in ("parameters", "train_samples", "test_samples"):
        values[name] = np.zeros(shape, dtype=np.int64)
    sensitivity, ppv = np.full((*shape, n_classes), np.nan), np.full((*shape, n_classes), np.nan)
    loss = np.full((*shape, epochs), np.nan)
    per_sample = (len(seeds), len(models), len(tested))
    probability = np.full(per_sample if task.per_step else (*per_sample, n_classes), np.nan)
    for (seed, k, name), run in runs.items():
        i, m = seeds.index(seed), models.index(name)
        for score in task.scores:
            values[score.name][i, k, m] = run["scores"][score.name]
        sensitivity[i, k, m], ppv[i, k, m] = run["sensitivity"], run["ppv"]
        loss[i, k, m, : len(run["train_loss"])] = run["train_loss"]
        for key in ("train_time", "parameters", "accumulates", "macs", "spike_sparsity",
                    "train_samples"):  # fmt: skip
            values[key][i, k, m] = run[key]
        values["test_samples"][i, k, m] = len(run["test"])
        probability[i, m, [position[s] for s in run["test"]]] = run["stored"]
    energy = energy_pj(values["accumulates"], values["macs"])
    runs_dims = ("seed", "fold", "model")
    sample = task.sample_name
    data = {
        score.name: (runs_dims, values[score.name],
                     {"units": score.units, "long_name": score.long_name, "column": score.label})
        for score in task.scores
    }  # fmt: skip
    per_run = {
        "sensitivity": (sensitivity, "1", "sensitivity (recall) of each class", ("class",)),
        "ppv": (ppv, "1", "positive predictive value of each class", ("class",)),
        "train_loss": (loss, "1", "mean training loss (cross-entropy)", ("epoch",)),
        "train_time": (values["train_time"], "s", "training time (wall clock)", ()),
        "train_samples": (values["train_samples"], "1", "training samples", ()),
        "test_samples": (values["test_samples"], "1", "test samples", ()),
        "parameters": (values["parameters"], "1", "learned parameters", ()),
        "accumulates_per_sample": (
            values["accumulates"], "1", f"synaptic accumulates per {sample}", ()),
        "macs_per_sample": (values["macs"], "1", f"multiply-accumulates per {sample}", ()),
        "energy_per_sample": (energy, "pJ", f"energy estimate per {sample}", ()),
        "spike_sparsity": (
            values["spike_sparsity"], "1",
            "fraction of hidden neuron-steps without a spike", ()),
    }  # fmt: skip
    for key, (array, units, long_name, extra) in per_run.items():
        attrs = {"units": units, "long_name": long_name}
        meaning = {
            "train_loss": "the model trained for fewer epochs",
            "spike_sparsity": "the model has no spiking neurons",
        }.get(key)
        if meaning and np.isnan(np.asarray(array, dtype=float)).any():  # only where it holds NaN
            attrs["nan_means"] = meaning
        data[key] = (runs_dims + extra, array, attrs)
    state, state_coords = model_state(runs, seeds, models, len(folds), epochs)
    data.update(state)
    untested = "the seed's runs did not test this sample"
    if task.per_step:
        data["bits"] = (
            ("seed", "model", "sample"),
            probability,
            {
                "units": "bit",
                "nan_means": untested,
                "long_name": f"mean -log2 p(target) over the steps of the {sample}",
            },
        )
    else:
        data["probability"] = (("seed", "model", "sample", "class"), probability,
                               {"units": "1", "long_name": "predicted class probability",
                                "nan_means": untested})  # fmt: skip
    fold_of = np.full(len(tested), -1)
    for k, fold in enumerate(folds):
        fold_of[np.isin(tested, np.flatnonzero(fold.test))] = k
    if task.per_step:
        data["target"] = (
            ("sample", "step"),
            task.labels[tested],
            {"units": "1", "long_name": "index of the true class at each step"},
        )
    else:
        names = np.array([task.classes[c] for c in task.labels[tested]], dtype=object)
        data["label"] = ("sample", names, {"units": "1", "long_name": "true class"})
    data["group"] = ("sample", np.asarray(task.groups[tested], dtype=object),
                     {"units": "1", "long_name": f"{task.group_kind} of the sample"})  # fmt: skip
    data["test_fold"] = (
        "sample",
        np.array([folds[k].name for k in fold_of], dtype=object),
        {"units": "1", "long_name": "the fold that tests the sample"},
    )
    data["train_groups"] = (
        "fold",
        np.array([" ".join(sorted(set(task.groups[f.train]))) for f in folds], dtype=object),
        {"units": "1", "long_name": f"the {task.group_kind}s of the fold's training set"},
    )
    coords = {
        "seed": ("seed", np.asarray(seeds, dtype=np.int64), {"units": "1", "long_name": "seed"}),
        "fold": ("fold", [f.name for f in folds], {"units": "1", "long_name": "fold"}),
        "model": ("model", models, {"units": "1", "long_name": "model"}),
        "class": ("class", list(task.classes), {"units": "1", "long_name": "class"}),
        "epoch": ("epoch", np.arange(1, epochs + 1), {"units": "1", "long_name": "epoch"}),
        "sample": ("sample", tested, {"units": "1",
                                      "long_name": f"{sample} (index in the task's data)"}),
    }  # fmt: skip
    if task.per_step:
        coords["step"] = ("step", np.arange(task.labels.shape[1]),
                          {"units": "1", "long_name": "step of the sequence"})  # fmt: skip
    coords.update(state_coords)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        {
            **task.attrs,
            "task": task.name,
            "title": task.title,
            "sample_name": sample,
            "group_kind": task.group_kind,
            "floor": task.floor,
            "scores": " ".join(s.name for s in task.scores),
            "energy_per_accumulate_pj": ENERGY_PER_AC_PJ,
            "energy_per_mac_pj": ENERGY_PER_MAC_PJ,
            "energy_source": "Horowitz (2014), 45 nm, 32-bit float",
        }
    )
    for model, numbers in task.paper.items():
        if model != "data":
            for score, value in numbers.items():
                ds.attrs[f"paper_{model}_{score}"] = value
    if task.paper:
        ds.attrs["paper_data"] = task.paper["data"]
    return ds


def model_state(runs, seeds, models, n_folds, epochs):
    """Variables of what the models' ``state()`` kept, over ``seed``, ``fold``, ``model`` and the
    entry's own dimension, and the coordinates of those dimensions (but ``epoch``, which the
    results have).

    NaN marks only what a run does not have: the entry, where its model keeps no such state, or
    the epochs after its last, where it trained for fewer; each variable's ``nan_means`` names
    those of the two that occur in it (the runs' own values are finite, :func:`check_run`).
    """
    entries = {}
    for run in runs.values():
        for name, (dim, values, units, long_name) in run["state"].items():
            size = None if dim is None else epochs if dim == "epoch" else np.size(values)
            known = entries.setdefault(name, (dim, size, units, long_name))
            if known[:2] != (dim, size):
                raise ValueError(f"state {name!r} changes its dimension or size between runs")
    data, coords = {}, {}
    for name, (dim, size, units, long_name) in entries.items():
        shape = (len(seeds), n_folds, len(models)) + (() if dim is None else (size,))
        array = np.full(shape, np.nan)
        reasons = set()
        for (seed, k, model), run in runs.items():
            if name not in run["state"]:
                reasons.add("the model keeps no such state")
                continue
            values = np.asarray(run["state"][name][1], dtype=float)
            where = (seeds.index(seed), k, models.index(model))
            if dim is None:
                array[where] = values
            else:
                array[where][: values.size] = values  # epochs: as many as were run
                if values.size < size:
                    reasons.add("the model trained for fewer epochs")
        dims = ("seed", "fold", "model") + (() if dim is None else (dim,))
        attrs = {"units": units, "long_name": long_name}
        if reasons:
            attrs["nan_means"] = "; or ".join(sorted(reasons))
        data[name] = (dims, array, attrs)
        if dim is not None and dim != "epoch":
            coords[dim] = (dim, np.arange(size), {"units": "1", "long_name": f"{dim} index"})
    return data, coords


def mean_sd(values, digits=3):
    """``"m ± s"`` over the finite values (``"m"`` for one value, ``"-"`` for none)."""
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def paired_differences(ds, against, confidence=0.95):
    """Each model's score minus ``against``'s, paired by seed, with a Student-t interval.

    The difference is taken in each run (seed, fold and, where the results have them, input
    variant) and averaged over the folds of a seed first: folds of one seed share most of their
    training data, so they are not independent, and the interval counts seeds (times variants).

    Returns
    -------
    dict
        ``{score: {model: (mean, low, high, n)}}`` for every model but ``against``; low and high
        are NaN with fewer than two seeds.
    """
    from scipy import stats

    out = {}
    for score in ds.attrs["scores"].split():
        values = ds[score]
        base = values.sel(model=against)
        out[score] = {}
        for m in ds.model.values:
            if m == against:
                continue
            diff = (values.sel(model=m) - base).mean("fold").values.ravel()
            diff = diff[np.isfinite(diff)]
            n = len(diff)
            mean = float(np.mean(diff)) if n else math.nan
            low = high = math.nan
            if n >= 2:
                half = stats.t.ppf(0.5 + confidence / 2, n - 1) * np.std(diff, ddof=1) / np.sqrt(n)
                low, high = mean - half, mean + half
            out[score][str(m)] = (mean, low, high, n)
    return out


def paired_table(ds, against, confidence=0.95):
    """:func:`paired_differences` as lines of text."""
    lines = [
        f"paired against {against} (same seeds, folds and data order): mean difference "
        f"[{confidence:.0%} t interval] over seeds (folds averaged first)"
    ]
    for score, models in paired_differences(ds, against, confidence).items():
        label = ds[score].attrs.get("column", score)
        cells = []
        for m, (mean, low, high, n) in models.items():
            interval = f"[{low:+.3f}, {high:+.3f}]" if np.isfinite(low) else "(no interval)"
            cells.append(f"{m} {mean:+.3f} {interval} (n={n})")
        lines.append(f"  {label}: " + "; ".join(cells))
    return lines


def table(ds):
    """The results in the form of the paper's tables: one row per model, mean ± s.d. over the
    runs (seeds × folds), the paper's numbers beside ours where the task has them."""
    scores = ds.attrs["scores"].split()
    labels = [ds[s].attrs.get("column", s) for s in scores]
    paper = "paper_data" in ds.attrs
    n = ds.sizes["seed"] * ds.sizes["fold"]
    runs = "1 run" if n == 1 else f"{n} runs"
    header = ["model", *labels]
    if paper:
        header += [f"paper {label}" for label in labels]
    header += ["params", "train (s)", f"energy/{ds.attrs['sample_name']} (nJ)"]
    rows = []
    for m in ds.model.values:
        row = ds.sel(model=m)
        cells = [str(m), *(mean_sd(row[s].values) for s in scores)]
        if paper:
            cells += [
                f"{ds.attrs[f'paper_{m}_{s}']:.3g}" if f"paper_{m}_{s}" in ds.attrs else ""
                for s in scores
            ]
        cells += [
            f"{np.nanmedian(row.parameters.values):.0f}",
            mean_sd(row.train_time.values, 1),
            mean_sd(row.energy_per_sample.values / 1e3, 1),
        ]
        rows.append(cells)
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]  # fmt: skip
    seeds = ", ".join(str(s) for s in ds.seed.values)
    lines.append(
        f"mean ± s.d. over {runs} ({ds.sizes['fold']} fold(s) × seed(s) {seeds}); "
        f"floor: {ds.attrs['floor']}"
    )
    if paper:
        lines.append(f"paper: {ds.attrs['paper_data']}")
    if "bim_frozen" in ds.model.values and ds.sizes["model"] > 1:
        lines += paired_table(ds, "bim_frozen")
    return "\n".join(lines)
