"""The BIM classifier: batching without crosstalk, determinism, and refusals."""

import numpy as np
import pytest
from brian2 import DimensionMismatchError, Hz, ms, mV, second

from bimsim.plasticity.stdp import WeightBounds
from bimsim.tasks.bim_classifier import BIMClassifier
from bimsim.tasks.config import BaselineConfig, BIMConfig, as_attrs
from bimsim.tasks.rate_calibration import calibrate_rate, layer_rate

pytestmark = pytest.mark.slow


def problem(n, rng):
    t = np.arange(72) / 360
    labels = rng.integers(2, size=n)
    freq = np.where(labels == 0, 3.0, 9.0)
    signals = np.sin(2 * np.pi * freq[:, None] * t[None, :])[:, :, None] * (
        0.5 + rng.random((n, 1, 1))
    )
    features = rng.random((n, 1)) * 2
    return signals, features, labels


def classifier(seed=0):
    config = BIMConfig(
        copies=4, hidden=8, readout_dt=5 * ms, tau_readout=30 * ms, readout_learning_rate=0.05
    )
    return BIMClassifier(
        1, 1, 2, sample_dt=second / 360, samples=72, target_from=100 * ms, config=config,
        seed=seed,
    )  # fmt: skip


def test_samples_in_a_batch_do_not_see_each_other_and_runs_repeat_exactly():
    rng = np.random.default_rng(0)
    signals, features, labels = problem(9, rng)
    first = classifier(seed=2)
    losses = [first.fit_epoch(signals, features, labels, np.random.default_rng(1))]
    p = first.predict_proba(signals, features)
    assert p.shape == (9, 2) and np.allclose(p.sum(axis=1), 1)
    # every sample is encoded whole, however long the network has run before (about one spike
    # per 0.05 mV of the signal's total variation, the features' count code on top)
    variation = np.abs(np.diff(signals[:, :, 0], axis=1)).sum(axis=1).mean()
    assert first.counts["input_spikes"] > 0.7 * variation / 0.05
    # the same sample predicted in another position of another batch
    shuffled = np.roll(np.arange(9), 3)
    q = first.predict_proba(signals[shuffled], features[shuffled])
    np.testing.assert_allclose(q, p[shuffled], rtol=1e-12)
    again = classifier(seed=2)
    losses.append(again.fit_epoch(signals, features, labels, np.random.default_rng(1)))
    assert losses[0] == losses[1]
    np.testing.assert_array_equal(again.predict_proba(signals, features), p)
    ops = first.operations_per_sample()
    assert ops["accumulates"] == pytest.approx(first.counts["input_spikes"] * 8)
    assert first.parameter_count() == 4 * 8 + sum(
        v.size for v in first.network.readout.ssm.params.as_dict().values()
    )


def test_bad_samples_are_refused():
    clf = classifier()
    rng = np.random.default_rng(0)
    signals, features, labels = problem(8, rng)
    with pytest.raises(ValueError, match=r"signals must have shape \(n, 72, 1\)"):
        clf.predict_proba(signals[:, :50], features)
    with pytest.raises(ValueError, match="signals hold NaN"):
        clf.predict_proba(np.where(signals > 0.9, np.nan, signals), features)
    with pytest.raises(ValueError, match="non-negative"):
        clf.predict_proba(signals, -features)
    with pytest.raises(ValueError, match="fewer samples"):
        clf.fit_epoch(signals[:3], features[:3], labels[:3], rng)
    with pytest.raises(ValueError, match="target_from"):
        BIMClassifier(1, 0, 2, sample_dt=1 * ms, samples=10, target_from=20 * ms)


def test_configs_refuse_bad_settings_with_their_names():
    with pytest.raises(ValueError, match="copies must be a whole number"):
        BIMConfig(copies=0)
    with pytest.raises(ValueError, match="eta must be a finite number"):
        BIMConfig(eta=float("nan"))
    with pytest.raises(ValueError, match=r"lam must be .* at most 1"):
        BIMConfig(lam=2.0)
    with pytest.raises(DimensionMismatchError):
        BIMConfig(delta=0.05 * ms)
    with pytest.raises(ValueError, match="readout_dt"):
        BIMConfig(readout_dt=0.5 * ms)
    with pytest.raises(ValueError, match="learning_rate"):
        BaselineConfig(learning_rate=0.0)
    with pytest.raises(ValueError, match="readout_scale must be a finite number above 0"):
        BIMConfig(readout_scale=0.0)
    with pytest.raises(ValueError, match="target_rate must be one finite rate >= 0 Hz"):
        BIMConfig(target_rate=-1 * Hz)
    with pytest.raises(ValueError, match="target_rate must be one finite rate"):
        BIMConfig(target_rate=[1, 2] * Hz)
    with pytest.raises(ValueError, match=r"target_rate \(1. kHz\) must be below one spike per"):
        BIMConfig(target_rate=1000 * Hz)
    with pytest.raises(DimensionMismatchError):
        BIMConfig(target_rate=20 * ms)
    with pytest.raises(DimensionMismatchError, match="tau_m low must be a time"):
        BIMConfig(tau_m=(5.0, 20 * ms))
    with pytest.raises(ValueError, match="tau_m high must be positive"):
        BIMConfig(tau_m=(5 * ms, -20 * ms))
    with pytest.raises(ValueError, match=r"tau_m must be \(low, high\), got"):
        BIMConfig(tau_m=20 * ms)
    with pytest.raises(ValueError, match=r"tau_m \(5. ms\) must differ from tau_syn"):
        BIMConfig(hidden=5, tau_m=(5 * ms, 80 * ms))  # the first neuron's equals tau_syn
    with pytest.raises(ValueError, match="adaptation must be a finite voltage >= 0"):
        BIMConfig(adaptation=-1 * mV)
    with pytest.raises(DimensionMismatchError, match="adaptation must be a voltage"):
        BIMConfig(adaptation=1 * ms)
    with pytest.raises(ValueError, match="tau_adaptation must be positive"):
        BIMConfig(tau_adaptation=0 * ms)


def test_a_spread_of_membrane_time_constants_is_log_spaced_over_the_layer():
    assert BIMConfig().membrane_time_constants() == 20 * ms  # one for all by default
    taus = BIMConfig(hidden=5, tau_m=(10 * ms, 160 * ms)).membrane_time_constants()
    np.testing.assert_allclose(np.asarray(taus / ms), [10, 20, 40, 80, 160])
    with pytest.raises(ValueError, match=r"needs more than one hidden neuron"):
        BIMConfig(hidden=1, tau_m=(10 * ms, 160 * ms))
    # a setting the config makes cannot come in twice, as a neuron setting too
    with pytest.raises(TypeError, match=r"tau_m come\(s\) from the BIMConfig: set them there"):
        BIMConfig().network_with({"tau_m": 10 * ms, "pd_scale": 0.5})
    assert BIMConfig().network_with({"pd_scale": 0.5})["pd_scale"] == 0.5
    attrs = as_attrs(BIMConfig(tau_m=(10 * ms, 160 * ms)), "bim")  # provenance, in units
    assert attrs["bim_tau_m"] == "(10. ms, 160. ms)" and attrs["bim_w_init"] == "(0.0, 0.3)"


@pytest.mark.parametrize("target", [5.0, 40.0])
def test_input_scaling_brings_the_layer_to_the_target_rate(target):
    signals, features, _ = problem(8, np.random.default_rng(0))
    clf = classifier()
    initial = np.array(clf.network.synapses.w[:])
    chosen = np.random.default_rng(1).choice(8, 4, replace=False)  # the minibatch it draws
    before = layer_rate(clf, signals[chosen], features[chosen])
    factor, rate = calibrate_rate(clf, signals, features, target * Hz, np.random.default_rng(1))
    # one factor on every weight of every copy; the rate it reaches is the layer's real rate
    np.testing.assert_allclose(clf.network.synapses.w[:], initial * factor, rtol=1e-12)
    assert float(rate / Hz) == pytest.approx(target, rel=0.15)
    assert layer_rate(clf, signals[chosen], features[chosen]) == rate
    assert (factor > 1) == (before < target * Hz)


def test_input_scaling_refuses_what_it_cannot_reach_and_leaves_the_weights():
    signals, features, _ = problem(8, np.random.default_rng(0))
    clf = classifier()
    initial = np.array(clf.network.synapses.w[:])
    # 600 Hz is above what 2 ms of refractoriness allows (500 Hz)
    with pytest.raises(RuntimeError, match=r"no input scaling between 2\*\*-12 and 2\*\*12 brings"):
        calibrate_rate(clf, signals, features, 600 * Hz, np.random.default_rng(1))
    np.testing.assert_array_equal(clf.network.synapses.w[:], initial)
    with pytest.raises(ValueError, match="target must be a rate above 0"):
        calibrate_rate(clf, signals, features, 0 * Hz, np.random.default_rng(1))
    with pytest.raises(DimensionMismatchError):
        calibrate_rate(clf, signals, features, 5.0, np.random.default_rng(1))
    bounded = BIMClassifier(
        1, 1, 2, sample_dt=second / 360, samples=72, target_from=100 * ms,
        config=BIMConfig(copies=4, hidden=8), bounds=WeightBounds("hard"),
    )  # fmt: skip
    with pytest.raises(ValueError, match="would move bounded weights out of their bounds"):
        calibrate_rate(bounded, signals, features, 5 * Hz, np.random.default_rng(1))
