"""BIM in generated code (``BIMNetwork(generated=True)``, issue 28) equals the operations path.

An epoch of sequences streamed as one run (:meth:`BIMNetwork.run_epoch`) against the same
sequences run one by one on the network-operation path (:meth:`BIMNetwork.run_sequence`, the
reference): each sequence's loss and hidden spikes, and after the epoch the input and recurrent
weights, their optimiser's state, and the readout's parameters and optimiser's state, to 1e-9 of
each quantity's largest magnitude (float64). Every neuron model, λ ∈ {0, 0.5, 1}, one and
several copies, recurrent synapses, an evaluation epoch after a learning one; runtime on
Brian2's numpy target (no compiler), and one case on ``cpp_standalone``.
"""

import numpy as np
import pytest
from brian2 import ms, prefs

from bimsim.devices import Simulation, simulation_device
from bimsim.network import BIMNetwork
from bimsim.plasticity.optimizers import Optimizer
from bimsim.plasticity.pruning import PruningParameters

TOLERANCE = 1e-9
N_INPUTS, N_HIDDEN, N_OUTPUTS = 4, 6, 3


@pytest.fixture
def numpy_target(monkeypatch):
    """``runtime`` with Brian2's numpy target: the same abstract code with no compiler (Cython
    would compile the readout's some 50 operations, about two minutes on a cold cache)."""
    monkeypatch.setitem(prefs, "codegen.target", "numpy")


def sequences(copies, seed, count=3, k=N_OUTPUTS, dt=0.1 * ms):
    """``count`` sequences of 10, 14, 18 ... ms: 20 to 40 random input spikes on distinct time
    steps of ``dt``, and a class target per copy at about 70 % of the 1 ms steps."""
    rng = np.random.default_rng(seed)
    result = []
    for number in range(count):
        duration = (10 + 4 * number) * ms
        steps = round(float(duration / dt))
        n = min(int(rng.integers(20, 40)), steps)
        step = np.sort(rng.choice(steps, n, replace=False))
        indices = rng.integers(0, copies * N_INPUTS, n)
        targets = []
        for _ in range(round(float(duration / ms))):
            if rng.random() < 0.3:
                targets.append(None)
            else:
                target = rng.integers(k, size=copies)
                targets.append(int(target[0]) if copies == 1 else target)
        result.append((indices, step * dt, duration, targets))
    return result


def network(generated, copies, **settings):
    return BIMNetwork(
        N_INPUTS, N_HIDDEN, N_OUTPUTS, n_states=3, copies=copies, seed=3, generated=generated,
        **settings,
    )  # fmt: skip


def state(net):
    """What the comparison reads from a network after its runs."""
    result = {
        "w": np.array(net.synapses.w[:]),
        "recurrent": net.recurrent_weights(),
        "spikes": list(net._records["spikes"]),
        "readout": (net.readout.params if net.generated else net.readout.ssm.params).as_dict(),
    }
    for name in net.optimizer.state:
        result[f"opt_{name}"] = np.array(getattr(net.synapses, f"opt_{name}")[:])
    if net.generated:
        result["readout_optimizer"] = net.readout.optimizer_state
    elif net.readout.optimizer is not None and net.readout_optimizer.state:
        result["readout_optimizer"] = {
            name: {var: values[var] for var in net.readout_optimizer.state}
            for name, values in net.readout.optimizer.state.items()
        }
    else:
        result["readout_optimizer"] = {}
    return result


def assert_same(actual, expected, what):
    """Equal to TOLERANCE of the largest magnitude, NaN where the expected is NaN."""
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    assert actual.shape == expected.shape, what
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=what)
    actual, expected = actual[~np.isnan(expected)], expected[~np.isnan(expected)]
    scale = np.abs(expected).max() if expected.size else 0.0
    if scale == 0:
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    error = np.abs(actual - expected).max() / scale
    assert error <= TOLERANCE, f"{what}: {error:.3g} of its scale off"


def assert_equal_paths(reference, generated, initial):
    for key in ("w", "recurrent", *(k for k in reference if k.startswith("opt_"))):
        assert_same(generated[key], reference[key], key)
    assert generated["spikes"] == reference["spikes"]
    assert sum(reference["spikes"]) > 0, "no hidden spike: little is compared"
    assert not np.allclose(reference["w"], initial["w"], rtol=1e-6, atol=0), "nothing learned"
    for name, value in reference["readout"].items():
        assert_same(generated["readout"][name], value, f"readout {name}")
    assert set(generated["readout_optimizer"]) == set(reference["readout_optimizer"])
    for name, values in reference["readout_optimizer"].items():
        for var, value in values.items():
            assert_same(generated["readout_optimizer"][name][var], value, f"readout {var} {name}")


def compare(copies, epochs, device="runtime", after=None, **settings):
    """Run ``epochs`` (a list of (sequences, learn)) on both paths; the generated one on
    ``device``, each epoch one run (on a standalone device, one epoch: one build); then
    ``after(network, simulation)``, if given, still on the device."""
    reference = network(False, copies, **settings)
    initial = state(reference)
    losses = [[reference.run_sequence(*s, learn=learn) for s in seqs] for seqs, learn in epochs]
    expected = state(reference)
    with simulation_device(device, "bim-network-code") as sim:
        generated = network(True, copies, **settings)
        got = [
            generated.run_epoch(seqs, learn=learn, simulation=sim if sim.standalone else None)
            for seqs, learn in epochs
        ]
        actual = state(generated)
        if after is not None:
            after(generated, sim)
    for number, (expected_losses, actual_losses) in enumerate(zip(losses, got, strict=True)):
        assert_same(actual_losses, expected_losses, f"losses of epoch {number}")
    assert_equal_paths(expected, actual, initial)


ADAM = Optimizer("adam")
CASES = {
    "lif, λ 0.5, 3 copies, adam, clip": ("lif", 3, 0.5, {"optimizer": ADAM, "max_grad_norm": 1.0}),
    "lif, λ 0, 1 copy, momentum readout": (
        "lif", 1, 0.0, {"readout_optimizer": Optimizer("momentum"), "eta": 0.05},
    ),
    "lif, λ 1, 2 copies, recurrent": ("lif", 2, 1.0, {"recurrent": 0.3}),
    "tc_lif, λ 1, 2 copies": ("tc_lif", 2, 1.0, {"w_init": (0.2, 0.5)}),
    "p_spikessm, λ 0.5, 2 copies": ("p_spikessm", 2, 0.5, {}),
    "p_spikessm_block, λ 1, 1 copy, rmsprop": (
        "p_spikessm_block", 1, 1.0,
        {"optimizer": Optimizer("rmsprop"), "readout_learning_rate": 0.01},
    ),
    "elm, λ 0.5, 2 copies": ("elm", 2, 0.5, {"w_init": (2.0, 4.0)}),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_an_epoch_in_generated_code_equals_the_network_operation_path(numpy_target, case):
    neuron, copies, lam, settings = CASES[case]
    epoch = sequences(copies, seed=len(case))
    compare(copies, [(epoch, True)], neuron=neuron, lam=lam, **settings)


def test_epochs_go_on_from_each_other_and_an_evaluation_changes_nothing(numpy_target):
    """A learning epoch, an evaluation epoch, a learning epoch: the second run of the generated
    network starts where the first ended (its time, weights, optimiser states)."""
    epochs = [(sequences(2, seed=1), True), (sequences(2, seed=2, count=2), False)]
    epochs.append((sequences(2, seed=3), True))
    compare(2, epochs, optimizer=ADAM, readout_optimizer=ADAM)


def test_sequences_without_targets_or_spikes_or_with_more_targets_than_steps(numpy_target):
    """A sequence with no target (its loss NaN on both paths), one with no input spike, one
    whose targets run past its end, at a readout step of 2 ms on a time step of 0.5 ms, and an
    evaluation epoch with the readout's rate at 0."""
    epoch = sequences(2, seed=6, count=3, dt=0.5 * ms)
    indices, times, duration, targets = epoch[0]
    epoch[0] = (indices, times, duration, [None] * len(targets))
    epoch[1] = ([], [] * ms, epoch[1][2], epoch[1][3])
    epoch[2] = (*epoch[2][:3], epoch[2][3] + epoch[2][3])
    settings = {"readout_dt": 2 * ms, "dt": 0.5 * ms, "w_init": (0.3, 0.6)}
    compare(2, [(epoch, True)], **settings)
    quiet = sequences(1, seed=7, count=2)
    compare(1, [(quiet, True), (quiet, False)], readout_learning_rate=0.0)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_a_diverging_readout_raises_as_on_the_network_operation_path(numpy_target):
    """(numpy's warnings are the numpy target's: compiled code does not warn.)"""
    epoch = sequences(1, seed=8)
    with pytest.raises(FloatingPointError, match="readout learning diverged"):
        for sequence in epoch:
            network(False, 1, readout_learning_rate=1e3).run_sequence(*sequence)
    with pytest.raises(FloatingPointError, match=r"readout learning diverged: \w+"):
        network(True, 1, readout_learning_rate=1e3).run_epoch(epoch)


def test_the_dataset_says_which_weights_an_epoch_did_not_record(numpy_target):
    net = network(True, 1)
    net.run_epoch(sequences(1, seed=9, count=2))
    weights = net.dataset().weights
    assert np.isnan(weights[0]).all() and np.isfinite(weights[1]).all()
    assert "records the weights after its last sequence only" in weights.attrs["nan_means"]
    assert "nan_means" not in network(False, 1).dataset().weights.attrs


def test_run_sequence_of_a_generated_network_is_an_epoch_of_one(numpy_target):
    [sequence] = sequences(1, seed=4, count=1)
    reference, generated = network(False, 1), network(True, 1)
    assert generated.run_sequence(*sequence) == pytest.approx(
        reference.run_sequence(*sequence), rel=TOLERANCE
    )
    assert_same(generated.synapses.w[:], reference.synapses.w[:], "w")


@pytest.mark.standalone
@pytest.mark.slow
def test_an_epoch_in_generated_code_equals_the_network_operation_path_on_cpp_standalone():
    """Two copies with recurrent synapses, λ 0.5, Adam and the readout's clip: one build."""
    settings = {"lam": 0.5, "recurrent": 0.3, "optimizer": ADAM, "max_grad_norm": 1.0}
    epoch = sequences(2, seed=5)

    def again(network, simulation):
        """A second epoch, or one without the simulation, is refused before anything changes."""
        weights = np.array(network.synapses.w[:])
        with pytest.raises(ValueError, match="has run once on cpp_standalone: a standalone"):
            network.run_epoch(epoch, simulation=simulation)
        with pytest.raises(ValueError, match="current device is cpp_standalone: give run_epoch"):
            network.run_sequence(*epoch[0])
        np.testing.assert_array_equal(network.synapses.w[:], weights)

    compare(2, [(epoch, True)], device="cpp_standalone", after=again, **settings)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: network(True, 1, pruning=PruningParameters(target_sparsity=0.5)),
            ValueError,
            "neither pruning",
        ),
        (lambda: network(False, 1).run_epoch([]), ValueError, "needs a network built with"),
        (lambda: network(True, 1).run_epoch([]), ValueError, "sequences is empty"),
        (lambda: network(True, 1).run_epoch([(0, 1)]), ValueError, r"sequences\[0\] must be"),
        (
            lambda: network(True, 1).run_epoch([([], [] * ms, 1.5 * ms, [])]),
            ValueError,
            r"sequences\[0\]: duration .* must be a whole multiple of the readout's step",
        ),
        (
            lambda: network(True, 1).run_epoch([([0], [0.5] * ms, 1 * ms, [7])]),
            ValueError,
            r"sequences\[0\]: targets\[0\]: class target",
        ),
        (
            lambda: network(True, 1).run_epoch([([9], [0.5] * ms, 1 * ms, [])]),
            ValueError,
            r"sequences\[0\]: spike indices must lie in \[0, 4\)",
        ),
        (lambda: network(True, 1).run(1 * ms, []), ValueError, "runs sequences: run_epoch"),
        (
            lambda: network(True, 1).run_epoch([([], [] * ms, 0 * ms, [])]),
            ValueError,
            r"sequences\[0\]: duration must be above 0 ms",
        ),
        (
            lambda: network(True, 1).run_epoch(
                [([], [] * ms, 1 * ms, []), ([], [] * ms, 2 * ms, [0, 1, 99])]
            ),
            ValueError,
            r"sequences\[1\]: targets\[2\]: class target must be an index in \[0, 3\)",
        ),
        (
            lambda: network(True, 1).run_epoch([([], [] * ms, 1 * ms, [])], learn="no"),
            TypeError,
            "learn must be True or False",
        ),
        (
            lambda: network(True, 1).run_epoch([([], [] * ms, 1 * ms, [])], simulation="cpp"),
            TypeError,
            "simulation must be what bimsim.devices.simulation_device gives",
        ),
        (
            lambda: network(True, 1).run_epoch(
                [([], [] * ms, 1 * ms, [])], simulation=Simulation("cpp_standalone", None)
            ),
            ValueError,
            "simulation is for cpp_standalone, but Brian2's current device is runtime",
        ),
        (
            lambda: network(True, 1).run_sequence([], [] * ms, 1 * ms, [], profile=True),
            ValueError,
            "profile=True needs the network-operation path",
        ),
        (lambda: network("yes", 1), TypeError, "generated must be True or False"),
    ],
)
def test_bad_calls_are_refused_naming_the_culprit(numpy_target, call, error, message):
    with pytest.raises(error, match=message):
        call()
