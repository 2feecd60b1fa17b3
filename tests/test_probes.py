"""Linear probes of BIM's stages: the spikes they count, what they read, and their pairing."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from brian2 import Hz, ms, second
from test_bim_classifier import classifier, problem

from bimsim.tasks.bim_classifier import BIMClassifier
from bimsim.tasks.config import BIMConfig
from bimsim.tasks.models import MODELS
from bimsim.tasks.probes import BINS, LinearProbe
from bimsim.tasks.runner import Fold, TaskData, binary_scores_against, run_task

pytestmark = pytest.mark.slow


def test_spike_counts_are_each_samples_own_in_time_order():
    rng = np.random.default_rng(0)
    signals, features, _ = problem(6, rng)
    clf = classifier(seed=1)
    inputs, layer = clf.spike_counts(signals, features, bins=4)
    assert inputs.shape == (6, 4, 4) and layer.shape == (6, 4, 8)
    # the counts are the spikes the runs make, as the classifier's own monitors count them
    p = clf.predict_proba(signals, features)
    assert inputs.sum() / 6 == pytest.approx(clf.counts["input_spikes"]) and p.shape == (6, 2)
    assert layer.sum() / 6 == pytest.approx(clf.counts["hidden_spikes"])
    # the feature's count code: about feature / feature_delta up spikes, all at the start, and
    # none from its down neuron (neurons 2 and 3 of each copy)
    expected = np.floor(features[:, 0] / clf.feature_delta)
    np.testing.assert_allclose(inputs[:, :, 2].sum(axis=1), expected, atol=1)
    assert np.all(inputs[:, 1:, 2] == 0) and np.all(inputs[:, :, 3] == 0)
    # the signal's up and down neurons fire over the whole sample (3 and 9 Hz sines)
    assert np.all(inputs[:, :, :2].sum(axis=2) > 0)
    # a sample counted in another position of another batch, after more runs: the same counts
    order = np.roll(np.arange(6), 2)
    again_inputs, again_layer = clf.spike_counts(signals[order], features[order], bins=4)
    np.testing.assert_array_equal(again_inputs, inputs[order])
    np.testing.assert_array_equal(again_layer, layer[order])
    with pytest.raises(ValueError, match="bins must be a positive whole number"):
        clf.spike_counts(signals, features, bins=0)


def test_spike_counts_do_not_move_between_bins_where_a_sample_is_not_a_whole_number_of_steps():
    rng = np.random.default_rng(1)
    signals, features, _ = problem(5, rng)
    signals = signals[:, :71]  # 71 / 360 s is 1972.2 steps of 0.1 ms: runs end between steps
    config = BIMConfig(copies=2, hidden=8, readout_dt=5 * ms, tau_readout=30 * ms)
    clf = BIMClassifier(
        1, 1, 2, sample_dt=second / 360, samples=71, target_from=100 * ms, config=config
    )
    inputs, layer = clf.spike_counts(signals, features, bins=7)
    for shift in (1, 2, 3):  # every sample in other batches, after runs of other lengths
        order = np.roll(np.arange(5), shift)
        again_inputs, again_layer = clf.spike_counts(signals[order], features[order], bins=7)
        np.testing.assert_array_equal(again_inputs, inputs[order])
        np.testing.assert_array_equal(again_layer, layer[order])


def toy_task(n=48, seed=0):
    """ECG-like toy: 3 Hz against 9 Hz sines, two folds."""
    signals, features, labels = problem(n, np.random.default_rng(seed))
    fold_of = np.arange(n) % 2
    return TaskData(
        name="toy",
        title="toy sines",
        signals=signals,
        features=features,
        labels=labels,
        classes=("slow", "fast"),
        groups=np.array([f"g{k}" for k in range(n)]),
        group_kind="sample",
        folds=tuple(Fold(str(k), fold_of != k, fold_of == k) for k in range(2)),
        sample_dt=second / 360,
        target_from=100 * ms,
        floor_features=features,
        floor="none",
        scores=binary_scores_against(("slow", "fast"), "slow"),
    )


def toy_config(**changes):
    config = BIMConfig(
        copies=4, hidden=8, readout_dt=5 * ms, tau_readout=30 * ms, epochs=2, target_rate=0 * Hz
    )
    return dataclasses.replace(config, **changes)


def test_probes_read_their_stage_and_the_trained_probe_pairs_with_bim():
    task = toy_task()
    config = toy_config()
    models = ("probe_input", "probe_frozen", "probe_trained", "bim")
    ds = run_task(task, dict.fromkeys(models, config), [3], first_folds=1, progress=False)
    auc = ds.auc_roc.sel(seed=3, fold="0")
    # the frequency is in the input spikes' timing: a linear read-out of them tells it
    assert float(auc.sel(model="probe_input")) > 0.9
    # the untrained probes train once; the trained probe trains as BIM does, on the same draws
    loss = ds.train_loss.sel(seed=3, fold="0")
    assert np.isnan(loss.sel(model="probe_frozen", epoch=2))
    np.testing.assert_array_equal(loss.sel(model="probe_trained"), loss.sel(model="bim"))
    weights = ds.layer_weight.sel(seed=3, fold="0")
    np.testing.assert_array_equal(weights.sel(model="probe_trained"), weights.sel(model="bim"))
    assert np.all(np.isnan(weights.sel(model="probe_frozen")))  # it keeps no trained layer
    # costs: the input probe spends no synaptic accumulates; the layer's probes do
    accumulates = ds.accumulates_per_sample.sel(seed=3, fold="0")
    assert float(accumulates.sel(model="probe_input")) == 0
    assert float(accumulates.sel(model="probe_frozen")) > 0
    features = 4 * BINS  # the input probe's parameters: 4 input neurons x bins, and a bias
    assert int(ds.parameters.sel(seed=3, fold="0", model="probe_input")) == features + 1


def test_a_probe_refuses_what_it_cannot_read():
    task = toy_task()
    with pytest.raises(ValueError, match="stage must be one of input, frozen, trained"):
        LinearProbe("readout", task, toy_config(), 0)
    tokens = SimpleNamespace(name="toy", tokens=True, per_step=True)  # as a language task is
    with pytest.raises(ValueError, match="probes classify whole samples; toy has a target"):
        MODELS["probe_input"].build(tokens, toy_config(), 0)
