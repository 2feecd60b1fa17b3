"""Cross-check against NEST, an independent simulator, on the same pairing schedules."""

import numpy as np
import pytest
from brian2 import Hz, ms

from bimsim.pairing import pairing_schedule, simulate_pairings
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule, triplet_preset

pytest.importorskip("nest")
from bimsim.nest_peer import simulate_pairings_nest

pytestmark = pytest.mark.nest


def test_bi_poo_curve_matches_nest_stdp_synapse():
    """Bi & Poo protocol, pair rule all-to-all: NEST's stdp_synapse gives the same curve within 1 %
    (Δt = 0 excluded: NEST leaves coincident spikes unpaired, bimsim counts them as Δt = 0+)."""
    delta_t = np.linspace(-100, 100, 41) * ms
    schedule = pairing_schedule(delta_t, 1 * Hz, 60, dt=0.1 * ms)
    rule = pair_rule(**PAIR_DEFAULTS)
    ours = simulate_pairings(schedule, [rule])[0]
    nest = simulate_pairings_nest(schedule, rule)
    nonzero = np.asarray(delta_t) != 0
    np.testing.assert_allclose(ours[nonzero], nest[nonzero], rtol=0.01)
    assert np.max(np.abs(ours[nonzero] - nest[nonzero]) / np.abs(nest[nonzero])) < 1e-6


@pytest.mark.parametrize(
    "rule",
    [
        pair_rule(**PAIR_DEFAULTS, pairing="nearest"),
        triplet_preset("visual-all-full"),
        triplet_preset("hippocampal-all-full"),
    ],
    ids=lambda rule: rule.label,
)
def test_high_frequency_pairing_matches_nest(rule):
    """Nearest-neighbour pairs and triplets where neighbouring pairings interact (10-50 Hz)."""
    delta_t = np.array([-10, 10, -10, 10, -10, 10]) * ms
    frequency = np.array([10, 10, 20, 20, 50, 50]) * Hz
    schedule = pairing_schedule(delta_t, frequency, 60)
    ours = simulate_pairings(schedule, [rule])[0]
    np.testing.assert_allclose(ours, simulate_pairings_nest(schedule, rule), rtol=1e-6)
