"""The BIM network: hybrid learning online, with the readout's signal injected by a network op."""

import numpy as np
import pytest
from brian2 import Hz, Network, SpikeGeneratorGroup, SpikeMonitor, Synapses, ms, mV, nA, second
from oracle import pair_sum

from bimsim.network import BIMNetwork
from bimsim.neurons import lif_neurons
from bimsim.pairing import pairing_schedule, simulate_pairings
from bimsim.plasticity.hybrid import hybrid_synapses
from bimsim.plasticity.stdp import PAIR_DEFAULTS, WeightBounds, pair_rule

pytestmark = pytest.mark.slow


def recall_sequence(rng, label):
    """Ten input neurons of the class fire 4 times each in the first 40 ms; the class must be
    reported from 60 to 80 ms, 20 ms after the input has ended."""
    indices = np.repeat(np.arange(10) + 10 * label, 4)
    times = np.concatenate([rng.choice(400, 4, replace=False) for _ in range(10)]) * 0.1 * ms
    return indices, times, 80 * ms, [None] * 60 + [label] * 20


def mean_loss(net, rng, n, learn):
    return np.mean(
        [net.run_sequence(*recall_sequence(rng, rng.integers(2)), learn=learn) for _ in range(n)]
    )


def test_gradient_learning_lowers_the_loss_on_delayed_recall():
    """λ = 1: from about ln 2 to below 0.05 after 30 training sequences (stated level)."""
    rng = np.random.default_rng(0)
    net = BIMNetwork(
        20, 30, 2, lam=1.0, eta=0.002, readout_learning_rate=0.01, w_init=(0.02, 0.1), seed=1
    )
    before = mean_loss(net, rng, 20, learn=False)
    weights = net.synapses.w[:].copy()
    after_eval = mean_loss(net, rng, 5, learn=False)
    np.testing.assert_array_equal(net.synapses.w[:], weights)  # learn=False changes nothing
    assert after_eval == pytest.approx(before, rel=0.5)
    mean_loss(net, rng, 30, learn=True)
    after = mean_loss(net, rng, 20, learn=False)
    assert before > 0.5 and after < 0.05
    ds = net.dataset()
    assert ds.loss.attrs["units"] == "1" and ds.weights.shape == (75, 600)
    assert not np.allclose(ds.weights[-1], weights)  # the spiking layer learned


def test_lambda_zero_applies_exactly_the_stdp_rule_to_the_network_s_own_spikes():
    rng = np.random.default_rng(2)
    net = BIMNetwork(
        6, 4, 2, lam=0.0, eta=1.0, readout_learning_rate=0.0, w_init=(0.1, 0.3), seed=3
    )
    monitor_pre, monitor_post = SpikeMonitor(net.inputs), SpikeMonitor(net.layer)
    net.network.add(monitor_pre, monitor_post)
    w0 = net.synapses.w[:].copy()
    indices = np.repeat(np.arange(6), 12)
    times = np.concatenate([rng.choice(2000, 12, replace=False) for _ in range(6)]) * 0.1 * ms
    net.run_sequence(indices, times, 210 * ms, [])
    assert monitor_post.num_spikes > 10
    # updates pending in omega since the last readout step count too
    changed = net.synapses.w[:] - w0 + net.synapses.omega[:]
    pre, post = monitor_pre.spike_trains(), monitor_post.spike_trains()
    p = PAIR_DEFAULTS
    expected = [
        pair_sum(
            pre[j] / ms,
            post[i] / ms,
            p["a_plus"],
            p["a_minus"],
            float(p["tau_plus"] / ms),
            float(p["tau_minus"] / ms),
            "all",
        )
        for j, i in zip(net.synapses.i[:], net.synapses.j[:], strict=True)
    ]
    np.testing.assert_allclose(changed, expected, rtol=1e-9, atol=1e-15)


def test_lambda_zero_reproduces_the_pairing_protocol_stdp_curve():
    """Bi & Poo's protocol (60 pairings at 1 Hz) through a learning layer with the hybrid rule at
    λ = 0: each postsynaptic neuron is made to fire by a voltage kick one step before its spike
    time, its input synapse carries the presynaptic spikes. The total update equals the pairing
    protocol's curve (SpikeGeneratorGroups on both sides, pure STDP synapses)."""
    delta_t = np.arange(-50, 51, 10) * ms
    rule = pair_rule(**PAIR_DEFAULTS)
    schedule = pairing_schedule(delta_t, 1 * Hz, 60, dt=1 * ms)
    expected = simulate_pairings(schedule, [rule])[0]
    dt, n, offset = schedule.dt, schedule.n_channels, 10 * schedule.dt
    pre = SpikeGeneratorGroup(n, schedule.pre_indices, schedule.pre_times() + offset, dt=dt)
    teacher = SpikeGeneratorGroup(
        n, schedule.post_indices, schedule.post_times() + offset - dt, dt=dt
    )
    layer = lif_neurons(n, learning=True, dt=dt)
    kick = Synapses(teacher, layer, on_pre="v_post += 30*mV", dt=dt)
    kick.connect(j="i")
    synapses = hybrid_synapses(pre, layer, rule, lam=0.0, eta=1.0, readout_dt=dt, dt=dt)
    synapses.connect(j="i")
    synapses.w = 0.05
    spikes = SpikeMonitor(layer)
    Network(pre, teacher, layer, kick, synapses, spikes).run(schedule.duration + offset)
    fired = spikes.spike_trains()
    for c in range(n):  # the neuron fired exactly when the protocol says, and only then
        np.testing.assert_allclose(
            fired[c] / ms, np.sort(schedule.post_steps[schedule.post_indices == c] + 10)
        )
    changed = synapses.w[:] - 0.05 + synapses.omega[:]
    np.testing.assert_allclose(changed[np.argsort(synapses.i[:])], expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lam": 1.5}, r"lambda \(λ\) must be a finite number at least 0.0 and at most 1.0"),
        ({"lam": -0.1}, "lambda"),
        ({"eta": float("nan")}, "eta"),
        ({"n_hidden": 0}, "n_hidden"),
        ({"tau_m": [5, 10] * ms}, r"tau_m must be one value or 3 values \(one per hidden neuron\)"),
        ({"tau_m": [8 * ms, 9 * ms]}, r"3 values \(one per hidden neuron\), got shape \(2,\)"),
        ({"adaptation": [1, 2] * mV}, r"adaptation must be one value for the whole group"),
        ({"recurrent": -0.1}, r"recurrent must be a finite number at least 0.0, got -0.1"),
        ({"recurrent": 0.1, "n_hidden": 1}, "recurrent synapses need at least 2 hidden neurons"),
    ],
)
def test_bad_network_parameters_are_refused(kwargs, match):
    args = {"n_inputs": 4, "n_hidden": 3, "n_outputs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        BIMNetwork(**args)


def test_bad_sequences_are_refused():
    net = BIMNetwork(4, 3, 2, seed=0)
    with pytest.raises(ValueError, match="spike indices must lie in"):
        net.run_sequence([5], [1.0] * ms, 10 * ms, [])
    with pytest.raises(ValueError, match="must lie in"):
        net.run_sequence([0], [12.0] * ms, 10 * ms, [])
    with pytest.raises(ValueError, match="twice within one time step"):
        net.run_sequence([0, 0], [1.0, 1.02] * ms, 10 * ms, [])
    with pytest.raises(Exception, match="times must be a time"):
        net.run_sequence([0], [1.0], 10 * ms, [])


def test_hard_bounds_hold_the_network_s_weights_however_large_the_step():
    rng = np.random.default_rng(4)
    bounds = WeightBounds("hard", 0.05, 0.12)
    net = BIMNetwork(20, 10, 2, eta=10.0, bounds=bounds, w_init=(0.06, 0.11), seed=2)
    mean_loss(net, rng, 3, learn=True)
    w = net.synapses.w[:]
    assert w.min() >= 0.05 and w.max() <= 0.12
    assert np.any(w == 0.05) or np.any(w == 0.12)  # the steps did reach a bound


def test_max_grad_caps_each_synapse_s_step():
    """|Δw| <= η max_grad per readout step (80 steps per sequence), and the cap is active."""
    changes = {}
    for max_grad in (None, 1e-4):
        rng = np.random.default_rng(5)
        net = BIMNetwork(20, 10, 2, eta=1.0, max_grad=max_grad, w_init=(0.06, 0.11), seed=2)
        w0 = net.synapses.w[:].copy()
        mean_loss(net, rng, 1, learn=True)
        changes[max_grad] = np.abs(net.synapses.w[:] - w0).max()
    assert 0 < changes[1e-4] <= 80 * 1e-4 * (1 + 1e-9)
    assert changes[None] > 10 * changes[1e-4]
    with pytest.raises(ValueError, match="max_grad"):
        BIMNetwork(4, 3, 2, max_grad=0.0)


def test_soft_bounds_are_refused_by_the_hybrid_rule():
    layer = lif_neurons(2, learning=True)
    with pytest.raises(ValueError, match="not 'soft'"):
        hybrid_synapses(
            layer,
            layer,
            pair_rule(**PAIR_DEFAULTS),
            lam=0.5,
            eta=0.1,
            bounds=WeightBounds("soft"),
            w_unit=1 * nA,
        )


def test_network_with_pruning_records_and_saves_its_history(tmp_path):
    from bimsim.io import read_dataset, write_dataset
    from bimsim.plasticity.pruning import PruningParameters

    rng = np.random.default_rng(0)
    net = BIMNetwork(20, 10, 2, w_init=(0.02, 0.1), pruning=PruningParameters(0.5), seed=1)
    for _ in range(3):
        net.run_sequence(*recall_sequence(rng, rng.integers(2)))
    ds = net.dataset()
    assert set(ds.theta.dims) == {"pruning_time"} and len(ds.pruning_time) == 24
    assert ds.sparsity[-1] > 0 and np.all(net.synapses.w[:][ds.pruned_at.values >= 0] == 0)
    back = read_dataset(write_dataset(ds, tmp_path / "network.nc"))
    assert back.pruning_time.attrs["units"] == "ms"


def test_a_pruned_synapse_carries_no_synaptic_event():
    """Each input spike reaches the active synapses of its neuron: n_hidden without pruning, fewer
    once pruning cleared some (copy 0's flags, which every copy shares)."""
    from bimsim.plasticity.pruning import PruningParameters

    plain = BIMNetwork(3, 4, 2, copies=2, seed=1)
    np.testing.assert_array_equal(plain.fan_out(), [4, 4, 4])
    assert plain.synaptic_events([1, 0, 2, 3, 0, 0]) == 4 * 6
    net = BIMNetwork(3, 4, 2, copies=2, pruning=PruningParameters(0.5), seed=1)
    active = np.ones(2 * 12, dtype=bool)
    active[[0, 1, 5, 12, 13, 17]] = False  # input 0 loses two synapses, input 1 one, each copy
    net.synapses.variables["active"].set_value(active)
    np.testing.assert_array_equal(net.fan_out(), [2, 3, 4])
    # 1 + 3 spikes of input 0, 0 of input 1, 2 of input 2 (over both copies)
    assert net.synaptic_events([1, 0, 2, 3, 0, 0]) == 4 * 2 + 2 * 4


def in_copies(sequences, n_inputs):
    """Merge per-copy sequences (indices, times, duration, targets) into one for a network of
    copies: input i of copy c is neuron c * n_inputs + i."""
    indices = np.concatenate([s[0] + c * n_inputs for c, s in enumerate(sequences)])
    times = np.concatenate([np.asarray(s[1] / ms) for s in sequences]) * ms
    targets = [
        None if steps[0] is None else np.array(steps)
        for steps in zip(*(s[3] for s in sequences), strict=True)
    ]
    return indices, times, sequences[0][2], targets


def small_network(copies, **kwds):
    return BIMNetwork(
        20, 8, 2, lam=1.0, eta=0.002, readout_learning_rate=0.01, w_init=(0.02, 0.1),
        seed=1, copies=copies, **kwds,
    )  # fmt: skip


@pytest.mark.parametrize(
    "neuron",
    [
        {},
        {"tau_m": np.geomspace(8, 80, 8) * ms},
        {"adaptation": 2 * mV, "tau_adaptation": 1 * second},
        {"recurrent": 0.5},
    ],
)
def test_copies_run_independently_without_learning(neuron):
    rng = np.random.default_rng(3)
    sequences = [recall_sequence(rng, label) for label in (0, 1, 1)]
    batched = small_network(3, **neuron)
    if "tau_m" in neuron:  # neuron i of every copy has the i-th time constant
        np.testing.assert_allclose(batched.layer.tau_m[:], np.tile(neuron["tau_m"], 3))
    batched.run(0 * ms, [])  # nothing; checks that an empty run is harmless
    batched.run_sequence(*in_copies(sequences, 20), learn=False)
    outputs = np.array(batched.readout.outputs)  # (steps, copies, k)
    if "adaptation" in neuron:
        assert np.all(batched.layer.a[:] > 0)  # the thresholds adapted, and must be reset
    for c, sequence in enumerate(sequences):
        single = small_network(1, **neuron)
        single.run_sequence(*sequence, learn=False)
        np.testing.assert_allclose(outputs[:, c], np.array(single.readout.outputs), rtol=1e-12)
    # every sequence starts from rest: a second run of the same inputs gives the same outputs
    batched.run_sequence(*in_copies(sequences, 20), learn=False)
    np.testing.assert_allclose(np.array(batched.readout.outputs), outputs, rtol=1e-12)


@pytest.mark.parametrize("recurrent", [0.0, 0.5])
def test_identical_copies_learn_exactly_what_one_network_learns(recurrent):
    """The pooled update of identical copies is each copy's update (and each sequence starts from
    rest, recurrent traces included: otherwise the copies, which saw other sequences before, or
    the single network would differ)."""
    rng = np.random.default_rng(4)
    sequences = [recall_sequence(rng, label) for label in (0, 1, 0)]
    single, batched = small_network(1, recurrent=recurrent), small_network(3, recurrent=recurrent)
    for sequence in sequences:
        single.run_sequence(*sequence)
        batched.run_sequence(*in_copies([sequence] * 3, 20))
    np.testing.assert_allclose(batched.shared_weights(), single.shared_weights(), rtol=1e-10)
    np.testing.assert_allclose(batched.recurrent_weights(), single.recurrent_weights(), rtol=1e-10)
    np.testing.assert_allclose(
        batched.readout.ssm.params.W_out, single.readout.ssm.params.W_out, rtol=1e-10
    )
    assert not np.allclose(single.shared_weights(), small_network(1).shared_weights())


def test_recurrent_synapses_learn_within_each_copy_and_copies_stay_one_model():
    from bimsim.plasticity.optimizers import Optimizer

    rng = np.random.default_rng(6)
    net = small_network(3, recurrent=0.5, optimizer=Optimizer(kind="adam"))
    plain = small_network(3)
    # every other neuron of the same copy, none onto itself
    i, j = net.recurrent.i[:], net.recurrent.j[:]
    assert len(i) == 3 * 8 * 7 and np.all(i != j) and np.all(i // 8 == j // 8)
    mask = np.nonzero(~np.eye(8, dtype=bool))  # copy 0's, in recurrent_weights()'s order
    np.testing.assert_array_equal(i[:56], mask[0])
    np.testing.assert_array_equal(j[:56], mask[1])
    np.testing.assert_array_equal(i[56:] - 8, i[:-56])  # every copy the same, copy-major
    # drawn after the rest: the input weights and the readout are those of the plain network
    np.testing.assert_array_equal(net.shared_weights(), plain.shared_weights())
    np.testing.assert_array_equal(net.readout.ssm.params.W_out, plain.readout.ssm.params.W_out)
    initial = net.recurrent_weights()
    assert initial.shape == (56,) and 0.3 < initial.std() < 0.7
    sequences = in_copies([recall_sequence(rng, c % 2) for c in range(3)], 20)
    net.run_sequence(*sequences, learn=False)
    plain.run_sequence(*sequences, learn=False)
    # the recurrent synapses carry the layer's spikes to the other neurons
    assert not np.allclose(np.array(net.readout.outputs), np.array(plain.readout.outputs))
    # learn=False: no change, the optimiser's state included (its operations are off)
    np.testing.assert_array_equal(net.recurrent_weights(), initial)
    assert np.all(net.recurrent.variables["opt_m"].get_value() == 0)
    assert np.all(net.recurrent.variables["grad"].get_value() == 0)
    for _ in range(2):
        net.run_sequence(*in_copies([recall_sequence(rng, c % 2) for c in range(3)], 20))
    w = net.recurrent.w[:].reshape(3, -1)
    assert np.all(w == w[0])  # the copies' pooled updates keep them one model
    assert not np.allclose(net.recurrent_weights(), initial)
    assert np.any(net.recurrent.variables["opt_m"].get_value() != 0)
    # each sequence starts from rest, the recurrent traces included, and no neuron refractory
    # from a spike at the end of the sequence before (as there are here, the recurrent synapses
    # keeping the layer active): a sequence run before does not change what the next one learns
    first, second = (recall_sequence(rng, label) for label in (0, 1))
    after, fresh = small_network(1, recurrent=0.5), small_network(1, recurrent=0.5)
    after.run_sequence(*first, learn=False)
    assert np.any(after.recurrent.variables["eps"].get_value() != 0)
    after.run_sequence(*second)
    fresh.run_sequence(*second)
    np.testing.assert_array_equal(after.recurrent_weights(), fresh.recurrent_weights())


def test_different_copies_stay_one_model_with_pruning():
    from bimsim.plasticity.pruning import PruningParameters

    rng = np.random.default_rng(5)
    net = small_network(4, pruning=PruningParameters(0.5))
    for _ in range(2):
        net.run_sequence(*in_copies([recall_sequence(rng, c % 2) for c in range(4)], 20))
    w = net.synapses.w[:].reshape(4, -1)
    # ``synapses.active`` is Brian2's object flag; the synaptic variable is read through variables
    active = net.synapses.variables["active"].get_value().reshape(4, -1)
    assert np.all(w == w[0]) and np.all(active == active[0])
    assert 0 < net.pruning.sparsity() < 1 and np.all(w[~active] == 0)
    assert net.dataset().pruned_at.shape == (160,)
