"""The Python API is as safe as the commands: bad values are refused naming the parameter, sizes
are bounded before anything is allocated, and Brian2's global device is checked, never changed
behind the caller's back."""

import brian2
import numpy as np
import pytest
from brian2 import (
    DimensionMismatchError,
    Hz,
    NeuronGroup,
    SpikeGeneratorGroup,
    defaultclock,
    ms,
    mV,
    prefs,
    second,
)
from brian2.devices.device import all_devices, previous_devices, reset_device

from bimsim.delayed_recall import RecallTask, delayed_recall
from bimsim.devices import simulation_device
from bimsim.encoding import DeltaModulator
from bimsim.gradient_window import gradient_window
from bimsim.network import BIMNetwork
from bimsim.neurons import make_neuron, neuron_group
from bimsim.pairing import pairing_schedule, simulate_pairings, stdp_curve
from bimsim.plasticity.pruning import AdaptivePruning, PruningParameters
from bimsim.plasticity.stdp import PAIR_DEFAULTS, WeightBounds, pair_rule, stdp_synapses
from bimsim.readout import ReadoutInjection, SelectiveSSM, SSMParameters

RULE = pair_rule(**PAIR_DEFAULTS)


def network(*sizes, **kwargs):
    return BIMNetwork(*(sizes or (4, 3, 2)), **kwargs)


def ssm(m=3, n=2, k=2, loss="cross_entropy"):
    return SelectiveSSM(SSMParameters.initial(m, n, k, np.random.default_rng(0)), loss=loss)


def window(**kwargs):
    return gradient_window([-10, 10, 20] * ms, bptt=False, **kwargs)


def recall(**kwargs):
    settings = {"neurons": ["lif"], "delays": [0] * ms, "seeds": [0], "trials": 10, "hidden": 2}
    return delayed_recall(**{**settings, **kwargs})


POSITIVE = r"must be a positive integer, got"
SEED = r"seed must be a whole number in \[0, 4294967295\], got"
MEMORY = r"would need about .* of memory, more than the limit of 8 GiB"

#: (call, exception, message): each refused before anything is built or allocated.
BAD_CALLS = {
    # BIMNetwork: time steps and time constants
    "net dt < 0": (lambda: network(dt=-0.1 * ms), ValueError, r"dt must be positive"),
    "net dt = 0": (lambda: network(dt=0 * ms), ValueError, r"dt must be positive"),
    "net dt None": (lambda: network(dt=None), DimensionMismatchError, r"dt must be a time"),
    "net tau_readout = 0": (
        lambda: network(tau_readout=0 * ms),
        ValueError,
        r"tau_readout must be positive",
    ),
    "net readout_dt off dt": (
        lambda: network(readout_dt=0.15 * ms),
        ValueError,
        r"readout_dt \(150. us\) must be a whole multiple of dt \(100. us\)",
    ),
    "net readout_dt < dt": (
        lambda: network(readout_dt=0.05 * ms),
        ValueError,
        r"readout_dt \(50. us\) must be a whole multiple of dt",
    ),
    "net dt array": (lambda: network(dt=[0.1, 0.2] * ms), ValueError, r"dt must be one time"),
    # BIMNetwork: initial weights
    "net w_init low > high": (
        lambda: network(w_init=(0.4, 0.1)),
        ValueError,
        r"w_init must be \(low, high\) with low <= high, got \(0.4, 0.1\)",
    ),
    "net w_init nan": (
        lambda: network(w_init=(0.1, float("nan"))),
        ValueError,
        r"w_init\[1\] must be a finite number, got nan",
    ),
    "net w_init three": (
        lambda: network(w_init=(0.1, 0.2, 0.3)),
        ValueError,
        r"w_init must be a pair \(low, high\)",
    ),
    "net w_init outside bounds": (
        lambda: network(bounds=WeightBounds("hard", 0, 0.2)),
        ValueError,
        r"w_init\[1\] = 0.4 lies outside the hard bounds \[0, 0.2\]",
    ),
    # BIMNetwork: seeds
    "net seed < 0": (lambda: network(seed=-1), ValueError, rf"{SEED} -1"),
    "net seed > 2**32 - 1": (lambda: network(seed=2**32), ValueError, rf"{SEED} 4294967296"),
    "net seed 1.5": (lambda: network(seed=1.5), ValueError, rf"{SEED} 1.5"),
    # BIMNetwork: sizes
    "net n_inputs None": (lambda: network(None, 3, 2), ValueError, rf"n_inputs {POSITIVE} None"),
    "net n_hidden None": (lambda: network(4, None, 2), ValueError, rf"n_hidden {POSITIVE} None"),
    "net n_outputs None": (lambda: network(4, 3, None), ValueError, rf"n_outputs {POSITIVE} None"),
    "net n_inputs True": (lambda: network(True, 3, 2), ValueError, rf"n_inputs {POSITIVE} True"),
    "net n_states None": (lambda: network(n_states=None), ValueError, rf"n_states {POSITIVE}"),
    "net n_hidden 1e9": (
        lambda: network(4, 10**9, 2),
        ValueError,
        rf"a BIM network of 4 inputs, 1000000000 hidden neurons, .*{MEMORY}",
    ),
    "net n_inputs 1e9": (
        lambda: network(10**9, 3, 2),
        ValueError,
        rf"a BIM network of 1000000000 inputs, .*{MEMORY}",
    ),
    "net copies 1e8": (lambda: network(copies=10**8), ValueError, rf"100000000 copies {MEMORY}"),
    # BIMNetwork: rates and settings
    "net eta None": (lambda: network(eta=None), ValueError, r"eta \(η\) must be a finite number"),
    "net lam None": (lambda: network(lam=None), ValueError, r"lambda \(λ\) must be a finite"),
    "net eta string": (lambda: network(eta="0.1"), ValueError, r"eta \(η\) must be a finite"),
    "net readout_learning_rate None": (
        lambda: network(readout_learning_rate=None),
        ValueError,
        r"readout_learning_rate must be a finite number at least 0.0, got None",
    ),
    "net readout_learning_rate inf": (
        lambda: network(readout_learning_rate=float("inf")),
        ValueError,
        r"readout_learning_rate must be a finite number",
    ),
    "net max_grad_norm string": (
        lambda: network(max_grad_norm="x"),
        ValueError,
        r"max_grad_norm must be a finite number above 0.0, got 'x'",
    ),
    "net rule string": (lambda: network(rule="pair"), TypeError, r"rule must be a STDPRule"),
    "net bounds string": (lambda: network(bounds="hard"), TypeError, r"bounds must be a Weight"),
    "net pruning float": (lambda: network(pruning=0.5), TypeError, r"pruning must be a Pruning"),
    "net inputs int": (lambda: network(inputs=5), TypeError, r"inputs must be a Group or None"),
    # BIMNetwork.run_sequence
    "sequence duration < 0": (
        lambda: network().run_sequence([0], [1] * ms, -5 * ms, []),
        ValueError,
        r"duration must be at least 0 ms, got -5. ms",
    ),
    "sequence too long": (
        lambda: network().run_sequence([0], [1] * ms, 1e9 * second, []),
        ValueError,
        r"a sequence of 1. Gs would take 1e\+13 time steps of 100. us, more than the limit",
    ),
    "sequence fractional index": (
        lambda: network().run_sequence([0.5], [1] * ms, 5 * ms, []),
        ValueError,
        r"spike indices must be whole numbers",
    ),
    "sequence targets None": (
        lambda: network().run_sequence([0], [1] * ms, 5 * ms, None),
        TypeError,
        r"targets must be a sequence of one target \(or None\) per readout step, got None",
    ),
    "sequence mse target of 3": (
        lambda: network(loss="mse").run_sequence([0], [1] * ms, 5 * ms, [None, [1, 2, 3]]),
        ValueError,
        r"targets\[1\]: an mse target is 2 numbers, got \[1, 2, 3\]",
    ),
    # the readout
    "SSMParameters None": (
        lambda: SSMParameters.initial(None, 2, 2, np.random.default_rng(0)),
        ValueError,
        rf"n_inputs {POSITIVE} None",
    ),
    "SSMParameters 1e5 inputs": (
        lambda: SSMParameters.initial(10**5, 8, 2, np.random.default_rng(0)),
        ValueError,
        rf"a readout of 100000 inputs, 8 states and 2 outputs {MEMORY}",
    ),
    "SelectiveSSM batch 1e4": (
        lambda: ssm(300, 8).reset_state(10**4),
        ValueError,
        rf"a readout of 300 inputs x 8 states for 10000 copies .*{MEMORY}",
    ),
    "SelectiveSSM learning rate nan": (
        lambda: ssm().apply(float("nan")),
        ValueError,
        r"learning_rate must be a finite number at least 0.0, got nan",
    ),
    "ReadoutInjection learning_rate None": (
        lambda: ReadoutInjection(ssm(), learning_layer(), learning_rate=None),
        ValueError,
        r"learning_rate must be a finite number at least 0.0, got None",
    ),
    "ReadoutInjection dt off the layer's": (
        lambda: ReadoutInjection(ssm(), learning_layer(), dt=0.25 * ms),
        ValueError,
        r"dt \(250. us\) must be a whole multiple of the layer's time step \(100. us\)",
    ),
    "ReadoutInjection ssm None": (
        lambda: ReadoutInjection(None, learning_layer()),
        TypeError,
        r"ssm must be a SelectiveSSM, got None",
    ),
    # neurons
    "neuron_group n None": (
        lambda: neuron_group(make_neuron("lif"), None),
        ValueError,
        rf"n {POSITIVE} None",
    ),
    "neuron_group n 1e10": (
        lambda: neuron_group(make_neuron("lif"), 10**10),
        ValueError,
        rf"10000000000 neurons of the lif model {MEMORY}",
    ),
    "neuron_group tau_readout 0": (
        lambda: neuron_group(make_neuron("lif"), 2, learning=True, tau_readout=0 * ms),
        ValueError,
        r"tau_readout must be positive",
    ),
    "LIF tau_m None": (
        lambda: make_neuron("lif", {"tau_m": None}),
        DimensionMismatchError,
        r"tau_m must be a time with units .* got None",
    ),
    "ELM seed 2**32": (
        lambda: make_neuron("elm", {"seed": 2**32}),
        ValueError,
        rf"{SEED} 4294967296",
    ),
    "make_neuron settings list": (
        lambda: make_neuron("lif", [1]),
        TypeError,
        r"settings must be a dict",
    ),
    # plasticity
    "pair_rule amplitude None": (
        lambda: pair_rule(None, 0.1, 10 * ms, 10 * ms),
        ValueError,
        r"^a_plus must be a finite number at least 0.0, got None",
    ),
    "pair_rule amplitude string": (
        lambda: pair_rule("0.1", 0.1, 10 * ms, 10 * ms),
        ValueError,
        r"^a_plus must be a finite number",
    ),
    "pair_rule amplitude infinite": (
        lambda: pair_rule(0.1, float("inf"), 10 * ms, 10 * ms),
        ValueError,
        r"^a_minus must be a finite number",
    ),
    "pair_rule tau None": (
        lambda: pair_rule(0.1, 0.1, None, 10 * ms),
        DimensionMismatchError,
        r"tau_plus must be a time with units .* got None",
    ),
    "pair_rule tau array": (
        lambda: pair_rule(0.1, 0.1, [10, 20] * ms, 10 * ms),
        ValueError,
        r"tau_plus must be one time",
    ),
    "WeightBounds w_min None": (
        lambda: WeightBounds("hard", None, 1.0),
        ValueError,
        r"w_min must be a finite number, got None",
    ),
    "WeightBounds w_max with units": (
        lambda: WeightBounds("hard", 0.0, 1 * mV),
        ValueError,
        r"w_max must be a finite number",
    ),
    "PruningParameters None": (
        lambda: PruningParameters(None),
        ValueError,
        r"target_sparsity ρ must be a finite number at least 0.0 and below 1.0, got None",
    ),
    "PruningParameters beta None": (
        lambda: PruningParameters(0.5, beta=None),
        ValueError,
        r"beta must be a finite number above 0.0, got None",
    ),
    "PruningParameters theta string": (
        lambda: PruningParameters(0.5, theta_init="0"),
        ValueError,
        r"theta_init must be a finite number",
    ),
    "AdaptivePruning seed -1": (
        lambda: AdaptivePruning(prunable_synapses(), PruningParameters(0.5), seed=-1),
        ValueError,
        rf"{SEED} -1",
    ),
    "AdaptivePruning params float": (
        lambda: AdaptivePruning(prunable_synapses(), 0.5),
        TypeError,
        r"params must be a PruningParameters, got 0.5",
    ),
    # encoding
    "DeltaModulator channels None": (
        lambda: DeltaModulator(None, 1 * mV),
        ValueError,
        rf"channels {POSITIVE} None",
    ),
    "DeltaModulator 1e9 channels": (
        lambda: DeltaModulator(10**9, 1 * mV),
        ValueError,
        rf"a delta modulator of 2000000000 neurons {MEMORY}",
    ),
    "DeltaModulator dt < 0": (
        lambda: DeltaModulator(2, 1 * mV, dt=-1 * ms),
        ValueError,
        r"dt must be positive",
    ),
    "DeltaModulator signal held on 1e10 steps": (
        lambda: DeltaModulator(1, 1 * mV).set_signal(np.zeros((2, 1, 1)) * mV, 1e5 * second),
        ValueError,
        rf"2 samples of 100. ks held on steps of 100. us {MEMORY}",
    ),
    # pairing
    "pairing_schedule n_pairs None": (
        lambda: pairing_schedule([1] * ms, 1 * Hz, None),
        ValueError,
        r"n_pairs must be an integer from 1 to 1000000, got None",
    ),
    "pairing_schedule frequency None": (
        lambda: pairing_schedule([1] * ms, None, 10),
        DimensionMismatchError,
        r"frequency must be a frequency with units .* got None",
    ),
    "stdp_curve rule None": (
        lambda: stdp_curve(None, [1, 2, 3] * ms, n_pairs=2),
        TypeError,
        r"rule must be a STDPRule, got None",
    ),
    "stdp_curve bounds string": (
        lambda: stdp_curve(RULE, [1, 2, 3] * ms, n_pairs=2, bounds="hard"),
        TypeError,
        r"bounds must be a WeightBounds or None, got 'hard'",
    ),
    "simulate_pairings one rule, not a list": (
        lambda: simulate_pairings(pairing_schedule([1] * ms, 1 * Hz, 2), RULE),
        ValueError,
        r"give a sequence of at least one STDP rule",
    ),
    # the gradient window
    "gradient_window w None": (
        lambda: window(w=None),
        ValueError,
        r"w must be a finite number above 0.0, got None",
    ),
    "gradient_window stdp without its keys": (
        lambda: window(stdp={"a": 1}),
        ValueError,
        r"stdp must give a_plus, a_minus, tau_plus, tau_minus, got \{'a': 1\}",
    ),
    "gradient_window no delta_t": (
        lambda: gradient_window([] * ms, bptt=False),
        ValueError,
        r"delta_t must be one or more times",
    ),
    "gradient_window dt array": (
        lambda: window(dt=[0.1, 0.2] * ms),
        ValueError,
        r"dt must be one time",
    ),
    # delayed recall
    "delayed_recall seed -1": (
        lambda: recall(seeds=[-1]),
        ValueError,
        r"seeds\[0\] must be a whole number in \[0, 4294967295\], got -1",
    ),
    "delayed_recall seed 1.5": (lambda: recall(seeds=[1.5]), ValueError, r"seeds\[0\] .*1.5"),
    "delayed_recall trials None": (lambda: recall(trials=None), ValueError, rf"trials {POSITIVE}"),
    "delayed_recall neurons string": (
        lambda: recall(neurons="lif"),
        TypeError,
        r"neurons must be a sequence, got 'lif'",
    ),
    "delayed_recall noise rate None": (
        lambda: recall(noise_rates=None),
        DimensionMismatchError,
        r"noise_rate must be a frequency",
    ),
    "delayed_recall 1e6 inputs per group": (
        lambda: recall(trials=2000, hidden=256, group=10**6),
        ValueError,
        rf"2000 trials of 256 neurons, 3000010 inputs and 31 steps {MEMORY}",
    ),
    "delayed_recall delay of 1e6 s": (
        lambda: recall(delays=[1e6] * second),
        ValueError,
        r"a trial with a delay of 1. Ms would take 1e\+09 time steps of 1. ms",
    ),
    "RecallTask noise_rate None": (
        lambda: RecallTask(noise_rate=None),
        DimensionMismatchError,
        r"noise_rate must be a frequency",
    ),
}


def device_name():
    """The name of Brian2's current device."""
    return next(name for name, device in all_devices.items() if device is brian2.get_device())


def learning_layer():
    return neuron_group(make_neuron("lif"), 3, learning=True, dt=0.1 * ms)


def prunable_synapses():
    group = SpikeGeneratorGroup(2, [], [] * ms)
    return stdp_synapses(group, group, RULE, prunable=True)


@pytest.mark.parametrize(("call", "error", "match"), BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_calls_are_refused_naming_the_parameter(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.fixture
def set_standalone(tmp_path, monkeypatch):
    """A function that makes ``cpp_standalone`` Brian2's current device, as a user's script does
    with ``brian2.set_device``; after the test, runtime is again, whatever the test did."""
    monkeypatch.setenv("BIMSIM_CACHE", str(tmp_path / "cache"))
    stack = list(previous_devices)
    runtime = brian2.get_device()
    assert device_name() == "runtime"

    def switch():
        brian2.set_device("cpp_standalone", build_on_run=False, directory=str(tmp_path / "user"))
        return brian2.get_device()

    yield switch
    all_devices["cpp_standalone"].reinit()
    reset_device(runtime)
    previous_devices[:] = stack


def holds_objects(device):
    """Whether anything but Brian2's default clock was created on ``device``."""
    return any(variable.owner.name != "defaultclock" for variable in device.arrays)


def test_a_bim_network_is_refused_on_a_standalone_device_before_it_is_built(set_standalone):
    device = set_standalone()
    with pytest.raises(
        RuntimeError,
        match=r"BIMNetwork needs Brian2's runtime device, but the current device is "
        r"cpp_standalone \(chosen with brian2.set_device\), which drops its network operations",
    ):
        BIMNetwork(4, 3, 2)
    assert not holds_objects(device)  # nothing was added to the user's project


def test_a_bim_network_refuses_to_run_after_a_switch_to_a_standalone_device(set_standalone):
    """A network built on runtime, then run after ``set_device('cpp_standalone')``: before, a
    NaN loss and no spikes, without a word."""
    net = BIMNetwork(4, 3, 2)
    set_standalone()
    with pytest.raises(RuntimeError, match=r"this BIM network needs Brian2's runtime device"):
        net.run_sequence([0, 1], [1, 2] * ms, 5 * ms, [None] * 4 + [1])
    assert net.network.t == 0 * ms


@pytest.mark.parametrize("build", ["readout", "pruning", "delayed_recall", "gradient_window"])
def test_network_operations_and_runtime_protocols_refuse_a_standalone_device(set_standalone, build):
    readout, synapses = ssm(), prunable_synapses()
    layer = learning_layer()
    calls = {
        "readout": lambda: ReadoutInjection(readout, layer),
        "pruning": lambda: AdaptivePruning(synapses, PruningParameters(0.5)),
        "delayed_recall": recall,
        "gradient_window": window,
    }
    device = set_standalone()
    with pytest.raises(RuntimeError, match=r"needs Brian2's runtime device, but the current"):
        calls[build]()
    assert not holds_objects(device)


def test_stdp_curve_leaves_a_user_s_standalone_device_as_it_was(set_standalone):
    """Before: the pairing ran on runtime and left runtime as the user's device."""
    device = set_standalone()
    stack = list(previous_devices)
    with pytest.raises(
        RuntimeError,
        match=r"Brian2's current device is cpp_standalone \(chosen with brian2.set_device\); "
        r"bimsim runs this on the runtime device and will not switch yours",
    ):
        stdp_curve(RULE, [-10, 10] * ms, n_pairs=2)
    assert brian2.get_device() is device
    assert device.build_on_run is False and device.build_options["directory"].endswith("user")
    assert previous_devices == stack


def test_a_runtime_run_leaves_the_device_stack_and_the_clock_as_they_were():
    """Before: every runtime run pushed the device onto Brian2's stack of previous devices."""
    stack, dt = list(previous_devices), defaultclock.dt
    defaultclock.dt = 0.05 * ms
    try:
        for _ in range(2):
            with simulation_device("runtime", "unused"):
                defaultclock.dt = 1 * ms  # what a network's own code may do
        assert previous_devices == stack
        assert defaultclock.dt == 0.05 * ms and device_name() == "runtime"
    finally:
        defaultclock.dt = dt


def test_a_standalone_block_restores_the_preferences_and_clock_and_clears_its_project(
    set_standalone,
):
    """Before: leaving the block reset every Brian2 preference to its value at import and the
    default clock to 0.1 ms (``reinit_devices``)."""
    stack, dt = list(previous_devices), defaultclock.dt
    size = prefs["logging.file_log_max_size"]
    defaultclock.dt = 0.05 * ms
    prefs["logging.file_log_max_size"] = size + 1
    try:
        with simulation_device("cpp_standalone", "api-safety") as sim:
            assert device_name() == "cpp_standalone" and sim.device == "cpp_standalone"
            assert defaultclock.dt == 0.05 * ms  # the caller's step, carried over
            group = NeuronGroup(2, "v : 1", name="api_safety_group")
        assert device_name() == "runtime" and previous_devices == stack
        assert defaultclock.dt == 0.05 * ms
        assert prefs["logging.file_log_max_size"] == size + 1
        assert not holds_objects(all_devices["cpp_standalone"])  # ready for the next project
        del group
    finally:
        defaultclock.dt = dt
        prefs["logging.file_log_max_size"] = size


def test_a_standalone_device_holding_a_user_s_project_is_not_taken_over(set_standalone):
    """A user built on cpp_standalone, then went back to runtime without clearing it: bimsim
    would have added its network to that project, then cleared both."""
    device = set_standalone()
    group = NeuronGroup(2, "v : 1", name="user_group")
    brian2.set_device("runtime")
    with (
        pytest.raises(RuntimeError, match=r"Brian2's cpp_standalone device holds another project"),
        simulation_device("cpp_standalone", "api-safety"),
    ):
        pass
    assert holds_objects(device) and device_name() == "runtime"
    del group


def test_a_target_the_loss_cannot_take_is_refused_before_the_run():
    """Before: refused by the readout's network operation in the middle of the run."""
    net = BIMNetwork(4, 3, 2)
    with pytest.raises(ValueError, match=r"targets\[4\]: class target must be an index in"):
        net.run_sequence([0], [1] * ms, 5 * ms, [None] * 4 + [7])
    assert net.network.t == 0 * ms


def test_an_error_in_a_network_operation_reaches_the_caller_as_bimsim_s_own():
    """Brian2 runs a network operation's function as it is (a code object's error, it wraps in a
    BrianObjectException): a readout that diverges says so, as a FloatingPointError."""
    net = BIMNetwork(4, 3, 2, loss="mse", readout_learning_rate=1e300)
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(FloatingPointError, match=r"^readout learning diverged: b_out would become"),
    ):
        net.run_sequence([], [] * ms, 5 * ms, [[1.0, 0.0]] * 5)
    assert net.network.t == 1 * ms  # in the run, at the readout's first step


def test_a_gradient_window_of_one_side_fits_that_side_only():
    """Before: every Δt positive ran the whole protocol, then failed in numpy's fit."""
    ds = gradient_window([2, 4, 6, 8] * ms, bptt=False, tail=60 * ms, t_pre=20 * ms)
    assert list(ds.fit_found.sel(side="negative").values) == [0]
    assert ds.sizes["delta_t"] == 4
