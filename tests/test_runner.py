"""The shared task runner: one dataset for every task, seeds and folds, the table, new models."""

import dataclasses
import importlib

import numpy as np
import pytest
import scipy.stats
from brian2 import ms

from bimsim.io import check_dataset
from bimsim.tasks import models
from bimsim.tasks.command import TaskCommand, check_copies
from bimsim.tasks.config import BIMConfig, as_attrs
from bimsim.tasks.models import ModelSpec
from bimsim.tasks.runner import (
    Fold,
    TaskData,
    binary_scores_against,
    mean_sd,
    paired_differences,
    plan_runs,
    run_task,
    table,
    validation_task,
)


def synthetic_task(n=90, folds=3, seed=0):
    """Two classes told apart by the first floor feature; groups of three samples."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) // 3 % 2
    groups = np.array([f"g{k // 3}" for k in range(n)])
    fold_of = (np.arange(n) // 3) % folds
    floor = np.stack([labels + 0.3 * rng.standard_normal(n), rng.standard_normal(n)], axis=1)
    return TaskData(
        name="toy",
        title="toy task",
        signals=rng.standard_normal((n, 12, 1)),
        features=np.zeros((n, 0)),
        labels=labels,
        classes=("negative", "positive"),
        groups=groups,
        group_kind="group",
        folds=tuple(Fold(str(k), fold_of != k, fold_of == k) for k in range(folds)),
        sample_dt=1 * ms,
        target_from=5 * ms,
        floor_features=floor,
        floor="logistic regression on the first feature",
        scores=binary_scores_against(("negative", "positive"), "negative"),
        attrs={"split": "3 folds"},
        paper={"data": "none", "floor": {"auc_roc": 0.5}},
    )


class Prior:
    """A model that predicts the training set's class frequencies: the runner must not care."""

    def __init__(self, task, config, seed):
        self.epochs, self.n_classes = 2, len(task.classes)

    def fit_epoch(self, data, rng, progress=False):
        self.prior = np.bincount(data.labels, minlength=self.n_classes) / len(data.labels)
        return float(rng.random())

    def predict(self, data, progress=False):
        return np.tile(self.prior, (len(data.labels), 1))

    def costs(self):
        return {"parameters": 2, "accumulates": 0.0, "macs": 0.0, "spike_sparsity": 0.0}


@pytest.fixture
def prior_model(monkeypatch):
    monkeypatch.setitem(models.MODELS, "prior", ModelSpec(type(None), Prior))


def test_every_seed_and_fold_is_a_run_and_every_sample_is_tested_once(prior_model):
    task = synthetic_task()
    ds = check_dataset(run_task(task, {"floor": None, "prior": None}, [4, 5], progress=False))
    assert dict(ds.sizes) == {"seed": 2, "fold": 3, "model": 2, "class": 2, "epoch": 2,
                              "sample": 90}  # fmt: skip
    assert list(ds.seed.values) == [4, 5] and list(ds.model.values) == ["floor", "prior"]
    # every sample is tested by exactly one fold, with the fold named per sample
    assert np.all(np.isfinite(ds.probability.values))
    for k, fold in enumerate(task.folds):
        assert set(ds.sample.values[ds.test_fold.values == fold.name]) == set(
            np.flatnonzero(fold.test)
        )
        assert np.all(ds.test_samples.isel(fold=k) == fold.test.sum())
    assert np.all(ds.auc_roc.sel(model="floor") > 0.9)
    np.testing.assert_allclose(ds.auc_roc.sel(model="prior"), 0.5)
    # the floor trains once: its second epoch is NaN, and says what NaN means
    assert np.all(np.isnan(ds.train_loss.sel(model="floor", epoch=2)))
    assert "nan_means" in ds.train_loss.attrs
    assert ds.attrs["paper_floor_auc_roc"] == 0.5 and ds.attrs["floor"].startswith("logistic")


def test_table_gives_mean_and_sd_over_seeds_and_folds(prior_model):
    ds = run_task(synthetic_task(), {"prior": None, "floor": None}, [0, 1], progress=False)
    text = table(ds)
    floor = ds.auc_roc.sel(model="floor").values.ravel()
    assert f"{floor.mean():.3f} ± {floor.std(ddof=1):.3f}" in text
    assert "over 6 runs (3 fold(s) × seed(s) 0, 1)" in text
    assert text.splitlines()[0].split()[:3] == ["model", "AUC-ROC", "AUC-PR"]
    assert mean_sd([1.0]) == "1.000" and mean_sd([np.nan]) == "-"


def test_quick_subsamples_every_fold_with_the_seed(prior_model):
    task = synthetic_task()
    a = run_task(task, {"prior": None}, [0], quick=10, first_folds=2, progress=False)
    b = run_task(task, {"prior": None}, [0], quick=10, first_folds=2, progress=False)
    assert list(a.fold.values) == ["0", "1"] and a.sizes["sample"] == 20
    assert np.all(a.train_samples == 10) and np.all(a.test_samples == 10)
    np.testing.assert_array_equal(a.sample, b.sample)
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    c = run_task(task, {"prior": None}, [0, 1], quick=10, first_folds=1, progress=False)
    # samples a seed did not test are NaN, and the variable says so
    assert np.isnan(c.probability.values).any() and "nan_means" in c.probability.attrs


class Broken(Prior):
    def predict(self, data, progress=False):
        return np.full((len(data.labels), self.n_classes), np.nan)


def test_folds_that_cannot_be_trained_or_scored_are_refused_before_any_training(prior_model):
    task = synthetic_task()
    one_class = task.labels == 0
    with pytest.raises(ValueError, match="fold 0: the training set holds 45 samples of one class"):
        run_task(
            TaskData(**{**task.__dict__, "folds": (Fold("0", one_class, ~one_class),)}),
            {"floor": None},
            [0],
            progress=False,
        )
    # a test set without the negative class cannot give AUCs
    positives = task.labels == 1
    no_negative = Fold("p", ~positives | (np.arange(90) < 10), positives & (np.arange(90) >= 10))
    with pytest.raises(ValueError, match="cannot be scored: the AUCs need negative samples"):
        run_task(TaskData(**{**task.__dict__, "folds": (no_negative,)}), {"prior": None}, [0],
                 progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="seeds must differ"):
        run_task(task, {"prior": None}, [1, 1], progress=False)


def test_a_model_that_predicts_nan_stops_the_run_with_its_name(monkeypatch):
    from bimsim.tasks.runner import ModelFailure

    monkeypatch.setitem(models.MODELS, "broken", ModelSpec(type(None), Broken))
    with pytest.raises(ModelFailure, match="seed 0, fold 0: broken diverged: 60 of 60 values of "
                       "its test probabilities are NaN or infinite"):  # fmt: skip
        run_task(synthetic_task(), {"broken": None}, [0], progress=False)


class Diverged(Prior):
    """A model that leaves one number NaN or infinite (``BAD``: where, which value), and says
    what may have caused it."""

    BAD = ("state", np.nan)

    def fit_epoch(self, data, rng, progress=False):
        loss = super().fit_epoch(data, rng, progress)
        return np.inf if self.BAD[0] == "loss" else loss

    def costs(self):
        costs = super().costs()
        if self.BAD[0] in costs:
            costs[self.BAD[0]] = self.BAD[1]
        return costs

    def state(self):
        weights = np.array([0.5, self.BAD[1] if self.BAD[0] == "state" else 0.1])
        return {"layer_weight": ("synapse", weights, "1", "final input weight")}

    def suspects(self, name):
        return f"it may come from --flag-of-{name}"


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (("state", np.nan), r"1 of 2 values of its layer_weight \(final input weight\) are NaN or "
         r"infinite; it may come from --flag-of-layer_weight"),
        (("state", -np.inf), r"its layer_weight \(final input weight\) are NaN or infinite"),
        (("loss", np.inf), r"2 of 2 values of its training loss .*--flag-of-train_loss"),
        (("macs", np.nan), r"1 of 1 values of its macs are NaN"),
        (("spike_sparsity", np.inf), r"its spike_sparsity are NaN or infinite"),
    ],
)  # fmt: skip
def test_a_run_that_leaves_nan_or_infinity_in_a_result_is_a_failure_naming_it(
    monkeypatch, bad, match
):
    """Weights, optimiser state, losses, scores and costs are checked before the results keep
    them (here the model's state, its loss, its costs): a ModelFailure naming the run, what
    diverged and what may have caused it; NaN in spike_sparsity says "no spiking neurons"."""
    from bimsim.tasks.runner import ModelFailure

    monkeypatch.setattr(Diverged, "BAD", bad)
    monkeypatch.setitem(models.MODELS, "diverged", ModelSpec(type(None), Diverged))
    with pytest.raises(ModelFailure, match=r"^seed 0, fold 0: diverged diverged: .*" + match):
        run_task(synthetic_task(), {"diverged": None}, [0], progress=False)


def test_nan_in_the_results_marks_only_what_a_run_does_not_have(monkeypatch):
    """The state of a model that keeps it is finite, NaN only for the model that keeps none
    (its nan_means says so, and only that); a spike_sparsity of NaN is a model without
    spiking neurons; the result writes as a bimsim dataset."""
    monkeypatch.setattr(Diverged, "BAD", ("none", 0.0))
    monkeypatch.setitem(models.MODELS, "diverged", ModelSpec(type(None), Diverged))
    ds = check_dataset(run_task(synthetic_task(), {"diverged": None, "floor": None}, [0],
                                first_folds=1, progress=False))  # fmt: skip
    weights = ds.layer_weight.sel(seed=0, fold="0")
    assert np.all(np.isfinite(weights.sel(model="diverged")))
    assert np.all(np.isnan(weights.sel(model="floor")))
    assert ds.layer_weight.attrs["nan_means"] == "the model keeps no such state"
    assert np.isnan(ds.spike_sparsity.sel(model="floor")).all()
    alone = run_task(synthetic_task(), {"diverged": None}, [0], first_folds=1, progress=False)
    for name in ("layer_weight", "train_loss", "spike_sparsity"):  # no NaN there to mean
        assert np.isfinite(alone[name]).all() and "nan_means" not in alone[name].attrs, name


def test_a_run_whose_learning_diverges_writes_nothing_and_names_the_flags(tmp_path):
    """ECG's quick run with the readout learning at 1000 by SGD: its step would leave a readout
    parameter non-finite; exit 1, one line naming the run, what diverged and the readout's
    flags, no traceback or Brian2 bug report, the previous result as it was (about 15 s)."""
    import re
    import subprocess

    from commands import command

    previous = tmp_path / "prev.nc"
    previous.write_bytes(b"the previous result")
    done = subprocess.run(
        command(("-m", "bimsim.tasks.ecg"), "--quick", "--models", "bim", "--readout-optimizer",
                "sgd", "--readout-lr", "1e3", "--no-progress", "--out", previous),
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    [last] = done.stderr.strip().splitlines()  # one line: no numpy overflow warnings before it
    assert re.fullmatch(
        r"ecg.py: seed 0, fold DS2: bim: readout learning diverged: \w+ would become non-finite; "
        r".*\(it may come from the readout's learning: --readout-lr 1000, --readout-scale 0.4, "
        r"--readout-optimizer sgd, --readout-weight-decay 0\); no result was written",
        last,
    ), last
    assert "Traceback" not in done.stderr and "Brian 2 encountered" not in done.stderr
    assert previous.read_bytes() == b"the previous result"
    assert [path.name for path in tmp_path.iterdir()] == ["prev.nc"]


def test_bad_task_data_is_refused():
    task = synthetic_task()
    one_class = task.labels == 0
    with pytest.raises(ValueError, match="signals hold NaN"):
        TaskData(**{**task.__dict__, "signals": np.full(task.signals.shape, np.nan)})
    with pytest.raises(ValueError, match="non-negative"):
        TaskData(**{**task.__dict__, "features": -np.ones((90, 1))})
    with pytest.raises(ValueError, match="in both training and test"):
        TaskData(**{**task.__dict__, "folds": (Fold("x", one_class, one_class),)})
    with pytest.raises(ValueError, match="in the test sets of two folds"):
        TaskData(**{**task.__dict__, "folds": (Fold("a", ~one_class, one_class),) * 2})
    with pytest.raises(ValueError, match="masks must be 90 booleans"):
        TaskData(**{**task.__dict__, "folds": (Fold("i", np.arange(45), np.arange(45, 90)),)})


def test_defaults_quick_and_typed_flags_build_the_configs(tmp_path):
    command = TaskCommand(name="toy", description="toy", load=lambda args: synthetic_task())
    p = command.parser()
    args = p.parse_args(["--quick", "--copies", "16", "--eta", "0", "--models", "bim", "floor"])
    configs = command.check_arguments(p, args)
    assert configs["bim"].copies == 16 and configs["bim"].epochs == 1  # typed, then --quick
    assert configs["bim"].eta == 0.0 and configs["floor"] is None  # 0 is not replaced
    args = p.parse_args(["--models", "cnn", "--baseline-epochs", "7"])
    assert command.check_arguments(p, args)["cnn"].epochs == 7
    plans = plan_runs(synthetic_task(), [0], quick=20)
    with pytest.raises(ValueError, match="--copies 32 is more than the 20 training samples"):
        check_copies({"bim": BIMConfig(copies=32)}, plans)
    check_copies({"bim": BIMConfig(copies=20)}, plans)
    defaults = command.check_arguments(p, p.parse_args([]))
    assert defaults["bim"].eta == 0.0005 and defaults["bim"].epochs == 3
    assert list(defaults) == ["bim", "cnn", "gru", "snn", "ssm", "floor"]


def test_cross_validation_is_validated_on_the_next_fold_and_never_on_a_test_sample():
    task = synthetic_task()
    valid = validation_task(task)
    assert valid.paper == {} and "nested rotation" in valid.attrs["split"]
    for k, (fold, inner) in enumerate(zip(task.folds, valid.folds, strict=True)):
        assert inner.name == f"{fold.name}/validation"
        assert not np.any((inner.train | inner.test) & fold.test)  # the test fold is unused
        assert np.array_equal(inner.train | inner.test, fold.train)
        np.testing.assert_array_equal(inner.test, task.folds[(k + 1) % 3].test)


def test_one_fold_holds_out_whole_training_groups_or_the_last_samples():
    task = synthetic_task()
    single = dataclasses.replace(task, folds=task.folds[:1])
    fold, inner = single.folds[0], validation_task(single, fraction=0.2).folds[0]
    assert not np.any((inner.train | inner.test) & fold.test)
    assert np.array_equal(inner.train | inner.test, fold.train)
    assert not set(task.groups[inner.test]) & set(task.groups[inner.train])  # groups whole
    assert 0.2 <= inner.test.sum() / fold.train.sum() < 0.3
    assert set(task.labels[inner.test]) == {0, 1}
    again = validation_task(single, fraction=0.2)
    np.testing.assert_array_equal(again.folds[0].test, inner.test)  # the same draw every time
    assert again.attrs["split"].startswith(
        "validation: at least 0.2 of the training samples held out (whole "
    )
    assert (
        "drawn with seed 0, or the last samples where there are fewer than 5"
        in again.attrs["split"]
    )
    # a text split is one group: validation is its last fifth, contiguous
    text = dataclasses.replace(single, groups=np.array(["valid"] * 90))
    chosen = np.flatnonzero(fold.train)
    np.testing.assert_array_equal(
        np.flatnonzero(validation_task(text, 0.2).folds[0].test), chosen[-12:]
    )
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\)"):
        validation_task(single, fraction=1.0)
    with pytest.raises(ValueError, match="cannot carve validation folds from 2 folds"):
        validation_task(dataclasses.replace(task, folds=task.folds[:2]))


DRAWS = []  # what Noisy models drew, in order


class Noisy(Prior):
    """Prior with noise drawn from the runner's generator, so data order shows in its scores."""

    def predict(self, data, progress=False):
        p = super().predict(data) + self.noise.random((len(data.labels), 2))
        return p / p.sum(axis=1, keepdims=True)

    def fit_epoch(self, data, rng, progress=False):
        DRAWS.append(rng.integers(2**32))
        self.noise = np.random.default_rng(DRAWS[-1])
        return super().fit_epoch(data, rng)


def test_models_of_one_run_draw_the_same_random_numbers_and_compare_in_pairs(monkeypatch):
    monkeypatch.setitem(models.MODELS, "a", ModelSpec(type(None), Noisy))
    monkeypatch.setitem(models.MODELS, "b", ModelSpec(type(None), Noisy))
    monkeypatch.setitem(models.MODELS, "prior", ModelSpec(type(None), Prior))
    DRAWS.clear()
    ds = run_task(synthetic_task(), {"a": None, "prior": None, "b": None}, [0, 1], progress=False)
    np.testing.assert_array_equal(ds.probability.sel(model="a"), ds.probability.sel(model="b"))
    # per seed, 3 folds x 2 epochs x (a, b): a and b draw alike, each fold from its own generator
    draws = np.array(DRAWS).reshape(2, 3, 2, 2)  # seed, fold, model, epoch
    np.testing.assert_array_equal(draws[:, :, 0], draws[:, :, 1])
    assert len(set(draws[:, :, 0].ravel().tolist())) == 12
    pairs = paired_differences(ds, "prior")
    mean, low, high, n = pairs["auc_roc"]["a"]
    diff = (ds.auc_roc.sel(model="a") - ds.auc_roc.sel(model="prior")).values.mean(axis=1)
    assert n == 2 and mean == pytest.approx(diff.mean())  # seeds, each averaged over folds
    half = scipy.stats.t.ppf(0.975, 1) * diff.std(ddof=1) / np.sqrt(2)
    assert (low, high) == pytest.approx((mean - half, mean + half))
    assert pairs["auc_roc"]["b"] == pairs["auc_roc"]["a"] and "prior" not in pairs["auc_roc"]


def test_a_models_draws_do_not_depend_on_the_models_that_ran_before_it(monkeypatch):
    monkeypatch.setitem(models.MODELS, "a", ModelSpec(type(None), Noisy))
    monkeypatch.setitem(models.MODELS, "prior", ModelSpec(type(None), Prior))
    task = synthetic_task()
    DRAWS.clear()
    alone = run_task(task, {"a": None}, [0, 1], progress=False)
    beside = run_task(task, {"prior": None, "a": None}, [0, 1], progress=False)  # prior draws
    draws = np.array(DRAWS).reshape(2, 2, 3, 2)  # run, seed, fold, epoch
    np.testing.assert_array_equal(draws[0], draws[1])
    for name in ("probability", "auc_roc"):
        np.testing.assert_array_equal(alone[name].sel(model="a"), beside[name].sel(model="a"))
    # the first fold of a seed draws from default_rng(seed), as it always has
    first = np.random.default_rng(0)
    assert draws[0, 0, 0, 0] == first.integers(2**32)


def test_ablation_rows_fix_their_setting_over_flags_and_a_flag_without_effect_is_refused():
    command = TaskCommand(name="toy", description="toy", load=lambda args: synthetic_task())
    p = command.parser()
    models_ = ["bim", "bim_frozen", "bim_stdp", "bim_mixed", "bim_gradient"]
    configs = command.check_arguments(p, p.parse_args(["--lam", "0.3", "--models", *models_]))
    assert [configs[m].lam for m in models_] == [0.3, 0.3, 0.0, 0.5, 1.0]
    assert configs["bim_frozen"].eta == 0.0 and configs["bim_stdp"].eta == 0.0005
    args = p.parse_args(["--lam", "0.3", "--models", "bim_stdp", "bim_mixed"])
    with pytest.raises(SystemExit):
        command.check_arguments(p, args)
    args = p.parse_args(["--optimizer", "adam", "--readout-weight-decay", "0", "--models", "bim"])
    bim = command.check_arguments(p, args)["bim"]
    assert bim.optimizer.kind == "adam" and bim.readout_optimizer.kind == "sgd"
    attrs = as_attrs(bim, "bim")
    assert attrs["bim_optimizer_kind"] == "adam"
    assert attrs["bim_readout_optimizer_weight_decay"] == 0


def test_validate_runs_the_validation_folds_and_writes_beside_the_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = TaskCommand(name="toy", description="toy", load=lambda args: synthetic_task())
    ds = command.main(["--validate", "--models", "floor", "--no-progress"])
    assert (tmp_path / "results" / "toy_validation.nc").exists()
    assert not (tmp_path / "results" / "toy.nc").exists()
    assert list(ds.fold.values) == ["0/validation", "1/validation", "2/validation"]
    assert ds.attrs["split"].startswith("validation: each fold validated on the next fold's")
    assert ds.attrs["param_validate"] == 1


def test_a_task_s_own_validation_folds_are_used_and_checked():
    task = synthetic_task()
    single = dataclasses.replace(task, folds=task.folds[:1])
    train = single.folds[0].train
    first = np.flatnonzero(train)[:30]
    held = np.zeros(90, bool)
    held[first] = True
    own = dataclasses.replace(single, validation=(Fold("mine", train & ~held, held),))
    assert validation_task(own).folds == own.validation
    assert validation_task(own).attrs["split"].startswith("validation: the task's own")
    with pytest.raises(ValueError, match="validation fold leak: must split fold 0's training"):
        dataclasses.replace(single, validation=(Fold("leak", train, single.folds[0].test),))
    with pytest.raises(ValueError, match="1 validation folds for 3 folds"):
        dataclasses.replace(task, validation=own.validation)


@pytest.mark.parametrize("task", ["ecg", "eeg", "speech", "lm"])
def test_a_task_names_the_data_it_reads_before_reading_it(task, data_root, tmp_path, monkeypatch):
    """``TASK.data_dir`` finds the folder ``$BIMSIM_DATA`` holds for the task and refuses a data
    folder without it; ECG's default is the subset shipped with bimsim."""
    command = importlib.import_module(f"bimsim.tasks.{task}").TASK
    if task == "ecg":
        assert command.data_dir(None) is None
        return
    monkeypatch.setenv("BIMSIM_DATA", str(data_root))
    assert command.data_dir(None).is_dir()
    monkeypatch.setenv("BIMSIM_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        command.data_dir(None)
    monkeypatch.delenv("BIMSIM_DATA")
    with pytest.raises(FileNotFoundError, match="set BIMSIM_DATA"):
        command.data_dir(None)
