"""The shared task runner: one dataset for every task, seeds and folds, the table, new models."""

import numpy as np
import pytest
from brian2 import ms

from bimsim.io import check_dataset
from bimsim.tasks import models
from bimsim.tasks.command import TaskCommand, check_copies
from bimsim.tasks.config import BIMConfig
from bimsim.tasks.models import ModelSpec
from bimsim.tasks.runner import (
    Fold,
    TaskData,
    binary_scores_against,
    mean_sd,
    plan_runs,
    run_task,
    table,
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
    with pytest.raises(ModelFailure, match="seed 0, fold 0: broken predicted non-finite"):
        run_task(synthetic_task(), {"broken": None}, [0], progress=False)


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
