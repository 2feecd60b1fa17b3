"""Adaptive pruning (SPEC eq. 6, keep-probability reading)."""

import brian2
import numpy as np
import pytest
from brian2 import Hz, Network, SpikeGeneratorGroup, ms, second

from bimsim.pairing import pairing_schedule
from bimsim.plasticity.pruning import AdaptivePruning, PruningParameters
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule, stdp_synapses

RULE = pair_rule(**PAIR_DEFAULTS)


def silent_synapses(n, weights):
    pre = SpikeGeneratorGroup(n, [], [] * ms)
    post = SpikeGeneratorGroup(n, [], [] * ms)
    syn = stdp_synapses(pre, post, RULE, prunable=True)
    syn.connect()
    syn.active = True
    syn.w = weights
    return pre, post, syn


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
def test_sparsity_reaches_the_target_within_two_seconds(rho):
    """Defaults (β = 100, γ = 2/s, a step every 10 ms), 10,000 synapses with |w| ~ U(0, 1):
    from t = 2 s on the sparsity stays within ρ ± 0.02."""
    weights = np.random.default_rng(1).uniform(0, 1, 10_000)
    pre, post, syn = silent_synapses(100, weights)
    pruning = AdaptivePruning(syn, PruningParameters(rho), seed=2)
    Network(pre, post, syn, pruning.operation).run(5 * second)
    ds = pruning.dataset()
    late = ds.sparsity.where(ds.time >= 2000, drop=True)
    assert np.abs(late - rho).max() <= 0.02
    # weak synapses went first: every survivor is stronger than the median pruned synapse
    survivors = weights[ds.active.values == 1]
    assert survivors.min() > np.median(weights[ds.active.values == 0])
    assert int(ds.n_pruned.sum()) == int((ds.active == 0).sum())
    assert np.all(syn.w[:][ds.active.values == 0] == 0)


def test_pruned_synapses_neither_learn_nor_change():
    schedule = pairing_schedule(np.array([10.0, -10.0, 10.0]) * ms, 10 * Hz, 20, dt=0.1 * ms)
    pre = SpikeGeneratorGroup(3, schedule.pre_indices, schedule.pre_times())
    post = SpikeGeneratorGroup(3, schedule.post_indices, schedule.post_times())
    syn = stdp_synapses(pre, post, RULE, prunable=True)
    syn.connect(j="i")
    syn.active = [True, False, False]
    syn.w = [0.5, 0.0, 0.0]
    Network(pre, post, syn).run(schedule.duration)
    assert syn.w[0] > 0.5  # the active synapse potentiated
    np.testing.assert_array_equal(syn.w[1:], [0.0, 0.0])  # pruned ones stayed at 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"target_sparsity": 1.0},
            r"target_sparsity ρ must be a finite number at least 0.0 and below 1.0, got 1.0",
        ),
        ({"target_sparsity": -0.1}, "target_sparsity"),
        ({"target_sparsity": float("nan")}, "target_sparsity"),
        ({"target_sparsity": 0.5, "beta": 0}, "beta"),
        ({"target_sparsity": 0.5, "gamma": 2.0}, "gamma must be a frequency"),
        ({"target_sparsity": 0.5, "interval": 10}, "interval must be a time"),
    ],
)
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises((ValueError, brian2.DimensionMismatchError), match=match):
        PruningParameters(**kwargs)


def test_pruning_needs_prunable_synapses():
    group = SpikeGeneratorGroup(2, [], [] * ms)
    syn = stdp_synapses(group, group, RULE)
    with pytest.raises(ValueError, match="build them with prunable=True"):
        AdaptivePruning(syn, PruningParameters(0.5))
