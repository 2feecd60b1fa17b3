"""STDP rules as Brian2 synapses: validation, the recovered window, pairing schemes, bounds."""

import brian2
import numpy as np
import pytest
from brian2 import Hz, ms, mV
from oracle import pair_sum

from bimsim.pairing import frequency_dependence, pairing_schedule, simulate_pairings, stdp_curve
from bimsim.plasticity.stdp import (
    PAIR_DEFAULTS,
    TRIPLET_PRESETS,
    STDPRule,
    WeightBounds,
    pair_rule,
    stdp_equations,
    triplet_preset,
)

BI_POO_DT = np.linspace(-100, 100, 41) * ms


def default_pair(pairing="all"):
    return pair_rule(**PAIR_DEFAULTS, pairing=pairing)


def test_rule_refuses_times_without_units():
    with pytest.raises(brian2.DimensionMismatchError, match="tau_plus"):
        pair_rule(0.01, 0.01, 0.0168, 33.7 * ms)
    with pytest.raises(brian2.DimensionMismatchError, match="tau_minus"):
        pair_rule(0.01, 0.01, 16.8 * ms, 33.7 * mV)


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf")])
def test_rule_refuses_bad_amplitudes(bad):
    with pytest.raises(ValueError, match=r"^a_plus "):  # pair_rule's name, not the rule's a2_plus
        pair_rule(bad, 0.01, 16.8 * ms, 33.7 * ms)
    with pytest.raises(ValueError, match=r"^a2_plus "):
        STDPRule(bad, 0.01, 16.8 * ms, 33.7 * ms)


def test_triplet_terms_need_their_time_constants():
    with pytest.raises(ValueError, match="tau_y"):
        STDPRule(0.0, 0.01, 16.8 * ms, 33.7 * ms, a3_plus=0.01)
    with pytest.raises(ValueError, match="tau_x"):
        STDPRule(0.0, 0.01, 16.8 * ms, 33.7 * ms, a3_minus=0.01)
    with pytest.raises(ValueError, match="pairing"):
        pair_rule(0.01, 0.01, 16.8 * ms, 33.7 * ms, pairing="some")


def test_presets():
    with pytest.raises(ValueError, match="unknown preset 'visual'"):
        triplet_preset("visual")
    with pytest.raises(ValueError, match="fitted for 'all'"):
        triplet_preset("visual-all-full", pairing="nearest")
    assert len(TRIPLET_PRESETS) == 5
    rule = triplet_preset("hippocampal-nearest-full")
    assert rule.label == "triplet-nearest"
    assert rule.a3_minus == 7.5e-9 and rule.tau_x == 575 * ms and rule.tau_y == 47 * ms


def test_equations_follow_pairing_and_triplet_terms():
    pair = stdp_equations(default_pair("all"))
    assert "r1 += 1" in pair.on_pre and "o1 += 1" in pair.on_post
    assert "r2" not in pair.model and "o2" not in pair.model
    nearest = stdp_equations(triplet_preset("visual-nearest-full"))
    assert "r1 = 1" in nearest.on_pre and "r2 = 1" in nearest.on_pre and "o2 = 1" in nearest.on_post
    minimal = stdp_equations(triplet_preset("visual-all-minimal"))
    assert "o2" in minimal.model and "r2" not in minimal.model  # a3_minus = 0
    hard = stdp_equations(default_pair(), WeightBounds("hard", 0.0, 1.0))
    assert "clip(" in hard.on_pre and "clip(" in hard.on_post


def test_pair_all_recovers_programmed_window():
    """Bi & Poo protocol, pair rule, all-to-all at 1 Hz: fitted A±, τ± within 1 % of the inputs."""
    rule = pair_rule(0.0096, 0.0053, 16.8 * ms, 33.7 * ms)
    ds = stdp_curve(rule, BI_POO_DT, n_pairs=60, frequency=1 * Hz)
    assert ds.fit_a_plus.item() == pytest.approx(0.0096, rel=0.01)
    assert ds.fit_a_minus.item() == pytest.approx(0.0053, rel=0.01)
    assert ds.fit_tau_plus.item() == pytest.approx(16.8, rel=0.01)
    assert ds.fit_tau_minus.item() == pytest.approx(33.7, rel=0.01)
    # and point by point: 60 isolated pairs, each giving W(Δt)
    np.testing.assert_allclose(ds.dw.values, 60 * rule.window(BI_POO_DT), rtol=1e-8)


def test_time_step_does_not_change_the_result():
    """Traces are exact between spikes: the coarse default step and 0.1 ms agree."""
    rules = [default_pair(), triplet_preset("visual-all-full")]
    delta_t = np.array([-40, -10, 0, 10, 40]) * ms
    coarse = pairing_schedule(delta_t, 20 * Hz, 10)
    fine = pairing_schedule(delta_t, 20 * Hz, 10, dt=0.1 * ms)
    assert coarse.dt == 10 * ms
    np.testing.assert_allclose(
        simulate_pairings(coarse, rules), simulate_pairings(fine, rules), rtol=1e-9, atol=1e-15
    )


@pytest.mark.parametrize("frequency", [1, 20, 50])
def test_pairing_schemes_match_pair_by_pair_theory(frequency):
    """All-to-all and nearest pairing equal a direct pair-by-pair sum (independent of Brian2);
    they agree at 1 Hz and differ at high frequency, where neighbouring pairings interact."""
    delta_t = np.array([-15, -10, -5, 0, 5, 10, 15]) * ms
    schedule = pairing_schedule(delta_t, frequency * Hz, 60)
    rules = [default_pair("all"), default_pair("nearest")]
    dw = simulate_pairings(schedule, rules)
    p = PAIR_DEFAULTS
    for k, rule in enumerate(rules):
        expected = [
            pair_sum(
                schedule.pre_times()[schedule.pre_indices == c] / ms,
                schedule.post_times()[schedule.post_indices == c] / ms,
                p["a_plus"],
                p["a_minus"],
                float(p["tau_plus"] / ms),
                float(p["tau_minus"] / ms),
                rule.pairing,
            )
            for c in range(len(delta_t))
        ]
        np.testing.assert_allclose(dw[k], expected, rtol=1e-9)
    relative_difference = np.abs(dw[0] - dw[1]) / np.abs(dw[1])
    if frequency == 1:
        assert relative_difference.max() < 1e-9
    else:
        assert relative_difference.min() > 0.01


def test_hard_and_soft_bounds():
    schedule = pairing_schedule(np.array([5.0, -5.0]) * ms, 1 * Hz, 60)
    strong = pair_rule(0.05, 0.05, 16.8 * ms, 33.7 * ms)
    unbounded = simulate_pairings(schedule, [strong], w_init=0.5)[0]
    hard = simulate_pairings(schedule, [strong], bounds=WeightBounds("hard", 0.0, 1.0), w_init=0.5)[
        0
    ]
    soft = simulate_pairings(schedule, [strong], bounds=WeightBounds("soft", 0.0, 1.0), w_init=0.5)[
        0
    ]
    assert unbounded[0] > 0.5 and unbounded[1] < -0.5  # would leave [0, 1]
    np.testing.assert_allclose(hard, [0.5, -0.5])  # clipped at w_max = 1 and w_min = 0
    assert 0 < soft[0] < 0.5 and -0.5 < soft[1] < 0  # approaches the bounds, never reaches them


def test_triplet_rule_reproduces_frequency_dependence_and_pair_rule_fails():
    """Sjöström et al. (2001): the visual-cortex triplet rule has the sign of the data wherever
    |data| > 0.1; every pair rule depresses at 40-50 Hz for Δt = -10 ms, where data potentiate."""
    rules = {
        "pair-all": default_pair("all"),
        "pair-nearest": default_pair("nearest"),
        "triplet-all": triplet_preset("visual-all-minimal"),
        "triplet-nearest": triplet_preset("visual-nearest-full"),
    }
    ds = frequency_dependence(rules)
    clear = np.abs(ds.data_mean) > 0.1
    for rule in ("triplet-all", "triplet-nearest"):
        model = ds.dw.sel(rule=rule)
        assert bool((np.sign(model) == np.sign(ds.data_mean)).where(clear, True).all()), rule
    for rule in ("pair-all", "pair-nearest"):
        high = ds.dw.sel(rule=rule, delta_t=-10.0, frequency=[40.0, 50.0])
        assert bool((high < 0).all()), rule
    errors = ds.weighted_error.to_series()
    assert errors["triplet-all"] < 1 and errors["triplet-nearest"] < 1
    assert min(errors["pair-all"], errors["pair-nearest"]) > 5


def test_default_step_keeps_every_spike_exact():
    assert pairing_schedule(BI_POO_DT, 1 * Hz, 60).dt == 5 * ms
    assert pairing_schedule(np.array([-10, 10]) * ms, 40 * Hz, 60).dt == 5 * ms  # 25 ms period
    third = pairing_schedule(np.array([-10, 10]) * ms, 3 * Hz, 60)  # 333.33 ms period
    assert third.dt == 0.1 * ms
    onsets = third.pre_steps[third.pre_indices == 0] * float(third.dt / ms)
    drift = (onsets - onsets[0]) - np.arange(60) * 1000 / 3
    assert np.abs(drift).max() <= 0.05 + 1e-9  # each onset within half a step of k / f


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_pairs": 0}, "n_pairs"),
        ({"frequency": [1, 2] * Hz}, "one rate or one per delta_t"),
        ({"frequency": 20 * Hz}, "overlap"),
        ({"frequency": 1.0}, "frequency must be a frequency"),
        ({"dt": 0.3 * ms}, "not a multiple"),
    ],
)
def test_schedule_refuses_bad_input(kwargs, match):
    args = {"delta_t": BI_POO_DT, "frequency": 1 * Hz, "n_pairs": 60, **kwargs}
    with pytest.raises((ValueError, brian2.DimensionMismatchError), match=match):
        pairing_schedule(**args)
