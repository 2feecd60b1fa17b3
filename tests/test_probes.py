"""Linear probes of BIM's stages: the spikes they count, what they read, and their pairing."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from brian2 import Hz, ms, second
from test_bim_classifier import classifier, problem

from bimsim.tasks.bim_classifier import BIMClassifier
from bimsim.tasks.bim_tokens import BIMTokenPredictor
from bimsim.tasks.config import BIMConfig
from bimsim.tasks.lm import bits_per_character
from bimsim.tasks.models import MODELS
from bimsim.tasks.probes import BINS, LinearProbe, recent
from bimsim.tasks.runner import Fold, Score, TaskData, binary_scores_against, run_task

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


def test_a_probe_refuses_what_it_cannot_read(monkeypatch):
    task = toy_task()
    with pytest.raises(ValueError, match="stage must be one of input, frozen, trained"):
        LinearProbe("readout", task, toy_config(), 0)
    # a language task's probes hold a window of counts at every step: bounded before any work
    language = SimpleNamespace(per_step=True, classes=range(99), labels=np.zeros((0, 100)))
    for stage in ("input", "trained"):  # the default language run: 2000 sequences, 99 codes
        MODELS[f"probe_{stage}"].check(language, BIMConfig(), 2000)
    refused = r"probe_trained of 20000 sequences \(2000000 steps, a window of 4 tokens x 32 "
    with pytest.raises(ValueError, match=refused):  # the fit alone: 7.4 GiB of 2e6 x 99 numbers
        MODELS["probe_trained"].check(language, BIMConfig(), 20_000)
    monkeypatch.setattr("bimsim.limits.MAX_BYTES", 1e5)
    said = []
    configs = dict.fromkeys(("bim", "probe_input"), toy_config())
    refused = r"probe_input of 24 sequences \(288 steps, a window of 4 tokens x 5 neurons and 5 "
    with pytest.raises(ValueError, match=refused):
        run_task(token_task(), configs, [0], progress=False, log=lambda *a, **k: said.append(a))
    assert said == []  # refused before BIM, listed first, trained


def test_recent_counts_are_each_steps_window_oldest_first():
    counts = np.arange(2 * 3 * 2).reshape(2, 3, 2)  # 2 sequences, 3 steps, 2 neurons
    window = recent(counts, 2)
    assert window.shape == (6, 4)
    np.testing.assert_array_equal(window[0], [0, 0, 0, 1])  # nothing before the first step
    np.testing.assert_array_equal(window[2], [2, 3, 4, 5])  # steps 1 and 2 of sequence 0
    np.testing.assert_array_equal(window[3], [0, 0, 6, 7])  # sequence 1 starts from nothing


def token_task(n=48, length=12, vocabulary=5, seed=0):
    """A toy language: each sequence counts up from a random token, modulo the vocabulary."""
    start = np.random.default_rng(seed).integers(0, vocabulary, n)
    codes = (start[:, None] + np.arange(length + 1)) % vocabulary
    fold_of = np.arange(n) % 2
    return TaskData(
        name="count",
        title="toy counting",
        signals=codes[:, :-1],
        features=np.zeros((n, 0)),
        labels=codes[:, 1:],
        classes=tuple(str(k) for k in range(vocabulary)),
        groups=np.array([f"g{k}" for k in range(n)]),
        group_kind="sequence",
        folds=tuple(Fold(str(k), fold_of != k, fold_of == k) for k in range(2)),
        sample_dt=10 * ms,
        target_from=10 * ms,
        floor_features=np.zeros((n, 0)),
        floor="none",
        scores=(Score("bpc", "bits per token", bits_per_character, "bpc", units="bit"),),
        tokens=True,
    )


def test_token_spike_counts_are_each_tokens_interval_and_see_no_later_token():
    config = toy_config(dt=2 * ms, readout_dt=10 * ms)
    model = BIMTokenPredictor(5, 12, token_dt=10 * ms, config=config, seed=1)
    codes = token_task(n=6).signals
    inputs, layer = model.spike_counts(codes)
    assert inputs.shape == (6, 12, 5) and layer.shape == (6, 12, 8)
    np.testing.assert_array_equal(inputs, np.eye(5, dtype=int)[codes])  # one spike per token
    counted = model.counts
    model.predict_proba(codes)
    assert counted == model.counts  # every spike of the runs counted, as a prediction counts
    # the interval after the last token, which predicts nothing, is left out
    assert 0 < layer.sum() / 6 <= model.counts["hidden_spikes"]
    changed = codes.copy()
    changed[:, 7] = (changed[:, 7] + 2) % 5
    _, again_layer = model.spike_counts(changed[::-1])
    np.testing.assert_array_equal(again_layer[::-1][:, :7], layer[:, :7])  # token 7 is unseen
    assert not np.array_equal(again_layer[::-1][:, 7:], layer[:, 7:])


def test_token_probes_predict_every_step_from_the_tokens_up_to_it():
    task = token_task()
    models = ("probe_input", "probe_frozen", "probe_trained", "bim")
    config = toy_config(dt=2 * ms, readout_dt=10 * ms)
    ds = run_task(task, dict.fromkeys(models, config), [3], first_folds=1, progress=False)
    bpc = ds.bpc.sel(seed=3, fold="0")
    # the next token is the current one plus 1: a linear read-out of the last tokens knows it
    assert float(bpc.sel(model="probe_input")) < 0.1 < np.log2(5)
    assert np.all(np.isfinite(bpc))
    loss = ds.train_loss.sel(seed=3, fold="0")
    np.testing.assert_array_equal(loss.sel(model="probe_trained"), loss.sel(model="bim"))
    # a probe's multiply-accumulates are spent at every step: 12 x (4 tokens x 5 codes x 5
    # classes, and 2 per feature for the standardisation)
    macs = float(ds.macs_per_sample.sel(seed=3, fold="0", model="probe_input"))
    assert macs == 12 * (20 * 5 + 2 * 20)
