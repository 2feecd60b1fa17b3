"""The readout in generated code (bimsim.readout.ssm_code) equals the numpy reference step by step.

Each case drives a source group's ``u`` from a TimedArray with the numbers the reference
(:meth:`SelectiveSSM.step`) gets, and compares, to 1e-9 of each quantity's largest magnitude
(float64): the outputs, each step's loss and learning signal, the final state and RTRL
sensitivities, and the gradients accumulated over the sequence, with steps without a target
mixed in. A learning readout is compared with :meth:`SelectiveSSM.learn_step` (the
network-operation path's step) for every optimiser, with and without the gradient's clip and
weight decay, and an input scale: the parameters and the optimiser's state after the sequence
too, and the outputs, which depend on every update before them.
"""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, StateMonitor, TimedArray, ms, prefs

from bimsim import limits
from bimsim.devices import simulation_device
from bimsim.plasticity.optimizers import NumpyOptimizer, Optimizer
from bimsim.readout import SelectiveSSM, SSMParameters
from bimsim.readout.ssm_code import SSMReadoutCode

M, N, K, STEPS = 4, 3, 3, 30
TOLERANCE = 1e-9


@pytest.fixture
def numpy_target(monkeypatch):
    """``runtime`` with Brian2's numpy target: the same abstract code, run with no compiler
    (Cython would compile some 40 operations, about two minutes on a cold cache; the C++ that
    Cython's code resembles is compiled and checked on ``cpp_standalone`` below)."""
    monkeypatch.setitem(prefs, "codegen.target", "numpy")


def case(loss, copies, seed):
    """Random parameters (beyond the initial ranges), inputs ``(steps, copies, m)`` and targets,
    about a third of the steps without one."""
    rng = np.random.default_rng(seed)
    params = SSMParameters.initial(M, N, K, rng)
    for value in params.as_dict().values():
        value += rng.normal(0, 0.3, value.shape)
    inputs = rng.normal(0, 1, (STEPS, copies, M))
    targets = []
    for _ in range(STEPS):
        if rng.random() < 0.35:
            targets.append(None)
        elif loss == "mse":
            target = rng.normal(0, 1, (copies, K))
            targets.append(target[0] if copies == 1 else target)
        else:
            target = rng.integers(K, size=copies)
            targets.append(int(target[0]) if copies == 1 else target)
    assert any(t is None for t in targets) and any(t is not None for t in targets)
    return {
        "loss": loss,
        "copies": copies,
        "params": params,
        "inputs": inputs,
        "targets": targets,
        "starts": [0],
        "learning": None,
    }


def in_sequences(spec, *starts):
    """``spec`` run as sequences back to back, each starting at one of ``starts`` (steps)."""
    return spec | {"starts": [0, *starts]}


def learning(spec, learning_rate=0.05, max_grad_norm=None, optimizer=None, input_scale=1.0):
    """``spec`` with a learning readout (the constructor's arguments)."""
    settings = {"learning_rate": learning_rate, "max_grad_norm": max_grad_norm}
    settings.update(optimizer=optimizer, input_scale=input_scale)
    return spec | {"learning": settings}


def reference(spec):
    """Per step, the reference's outputs ``(steps, copies·k)``, loss and signal ``(steps,
    copies·m)``, and the readout at the end (with its NumpyOptimizer, if any); a learning spec
    steps as :class:`ReadoutInjection` does."""
    copies = spec["copies"]
    params = SSMParameters(**{k: v.copy() for k, v in spec["params"].as_dict().items()})
    ssm = SelectiveSSM(params, loss=spec["loss"])
    ssm.reset_state(None if copies == 1 else copies)
    settings = spec["learning"]
    numpy_optimizer = None
    if settings is not None and settings["optimizer"] is not None:
        numpy_optimizer = NumpyOptimizer(settings["optimizer"])
    outputs, losses, signals = [], [], []
    for step, (u, target) in enumerate(zip(spec["inputs"], spec["targets"], strict=True)):
        if step in spec["starts"]:
            ssm.reset_state(None if copies == 1 else copies)
        u = u[0] if copies == 1 else u
        if settings is None:
            o, loss, signal = ssm.step(u, target)
        else:
            scale = settings["input_scale"]
            o, loss, signal = ssm.learn_step(
                scale * u, target, settings["learning_rate"], settings["max_grad_norm"],
                numpy_optimizer,
            )  # fmt: skip
            signal = scale * signal
        outputs.append(np.ravel(o))
        losses.append(loss)
        signals.append(np.ravel(signal))
    return {
        "o": np.array(outputs),
        "loss": np.array(losses),
        "L": np.array(signals),
        "ssm": ssm,
        "optimizer": numpy_optimizer,
    }


def generated(device, specs, source_dt=1 * ms, dt=1 * ms):
    """Run one readout per spec, each fed by its own source group, in one network on
    ``device``; per spec the recorded outputs, per-step loss (mean over copies) and signal, and
    the final state, sensitivities and gradients."""
    with simulation_device(device, "readout-code") as sim:
        objects, monitors, readouts = [], [], []
        for number, spec in enumerate(specs):
            copies = spec["copies"]
            source = NeuronGroup(copies * M, "u : 1\nL : 1", dt=source_dt, name=f"source{number}")
            drive = TimedArray(spec["inputs"].reshape(STEPS, copies * M), dt=dt)
            source.namespace["drive"] = drive
            source.run_regularly("u = drive(t, i)", when="start", name=f"source{number}_drive")
            readout = SSMReadoutCode(
                spec["params"],
                source,
                loss=spec["loss"],
                copies=copies,
                targets=spec["targets"],
                sequence_starts=spec["starts"],
                dt=dt,
                name=f"readout{number}",
                **(spec["learning"] or {}),
            )
            recorded = [
                StateMonitor(group, var, record=True, dt=dt, when="end", order=10)
                for group, var in (
                    (readout.outputs, "o"),
                    (readout.copies_group, "loss"),
                    (source, "L"),
                )
            ]
            objects += [source, *readout.objects, *recorded]
            monitors.append(recorded)
            readouts.append(readout)
        sim.run(Network(*objects), STEPS * dt)
        results = []
        for (outputs, losses, signals), readout in zip(monitors, readouts, strict=True):
            results.append(
                {
                    "o": np.array(outputs.o).T,
                    "loss": np.array(losses.loss).T.mean(axis=1),
                    "L": np.array(signals.L).T,
                    "h": readout.h,
                    "sensitivities": readout.sensitivities,
                    "grads": readout.grads,
                    "params": readout.params,
                    "optimizer_state": readout.optimizer_state,
                }
            )
        return results


def assert_same(actual, expected, what):
    expected = np.asarray(expected)
    scale = np.abs(expected).max()
    assert scale > 0, f"{what} is all zeros: nothing compared"
    assert np.shape(actual) == expected.shape, what
    error = np.abs(np.asarray(actual) - expected).max() / scale
    assert error <= TOLERANCE, f"{what}: {error:.3g} of its scale off"


def assert_equal_to_reference(result, spec):
    ref = reference(spec)
    ssm = ref["ssm"]
    for key in ("o", "loss", "L"):
        assert_same(result[key], ref[key], key)
    without = np.array([t is None for t in spec["targets"]])
    assert np.all(result["loss"][without] == 0) and np.all(result["L"][without] == 0)
    assert_same(result["h"], ssm._h, "h")
    for name, value in ssm._sens.items():
        assert_same(result["sensitivities"][name], value, f"sensitivity to {name}")
    assert set(result["grads"]) == set(ssm.grads)
    if spec["learning"] is None:
        for name, value in ssm.grads.items():
            assert_same(result["grads"][name], value, f"gradient of {name}")
        return
    for name, value in result["grads"].items():
        assert np.all(value == 0), f"the gradient of {name} is not dropped after the step"
    initial = spec["params"].as_dict()
    for name, value in ssm.params.as_dict().items():
        assert not np.allclose(value, initial[name], rtol=1e-6, atol=0), f"{name} did not learn"
        assert_same(result["params"].as_dict()[name], value, f"parameter {name}")
    optimizer = ref["optimizer"]
    state = {} if optimizer is None or not optimizer.optimizer.state else optimizer.state
    assert set(result["optimizer_state"]) == set(state)
    for name, values in result["optimizer_state"].items():
        for var, value in values.items():
            if var == "n":
                assert value == state[name]["n"], f"{name}'s step count"
            else:
                assert_same(value, state[name][var], f"the optimiser's {var} of {name}")


@pytest.mark.parametrize("copies", [1, 3])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_generated_readout_equals_the_reference_on_runtime(numpy_target, loss, copies):
    spec = case(loss, copies, seed=copies)
    [result] = generated("runtime", [spec])
    assert_equal_to_reference(result, spec)


def test_sequences_back_to_back_start_from_a_zero_state(numpy_target):
    """Three sequences in one run equal the reference reset before each; without the resets
    the run differs (the state carries over), so the comparison sees them."""
    spec = in_sequences(case("mse", 3, seed=5), 8, 21)
    [result] = generated("runtime", [spec])
    assert_equal_to_reference(result, spec)
    carried = reference(spec | {"starts": [0]})["o"]
    assert np.abs(carried - result["o"]).max() > 1e-3


def test_readout_steps_coarser_than_the_source_read_its_input_at_their_steps(numpy_target):
    spec = case("mse", 3, seed=7)
    [result] = generated("runtime", [spec], source_dt=0.5 * ms, dt=1 * ms)
    assert_equal_to_reference(result, spec)


def test_cross_entropy_subtracts_the_max_once_where_outputs_are_large_and_tied(numpy_target):
    """Outputs near 800 (exp overflows without the max taken off) and two of them equal at every
    step (the max taken once, not summed over the tied outputs)."""
    spec = case("cross_entropy", 3, seed=4)
    params = spec["params"]
    params.W_out[1] = params.W_out[0]
    params.b_out[:] = 800.0
    [result] = generated("runtime", [spec])
    assert np.abs(result["o"]).min() > 700
    np.testing.assert_array_equal(result["o"][:, 0::K], result["o"][:, 1::K])
    assert_equal_to_reference(result, spec)


ADAM = Optimizer("adam", weight_decay=0.1)
OPTIMIZERS = {
    "sgd, weight decay": Optimizer("sgd", weight_decay=0.2),
    "momentum": Optimizer("momentum", beta1=0.8),
    "rmsprop, weight decay": Optimizer("rmsprop", beta2=0.9, weight_decay=0.1),
    "adam, weight decay": ADAM,
}


def test_a_learning_readout_equals_learn_step_for_every_optimiser(numpy_target):
    """Plain SGD (the reference's own step) and every optimiser, both losses, one and three
    copies, the gradient's clip on some (a bound the norm crosses), an input scale on one: all
    in one network."""
    specs = [learning(in_sequences(case("mse", 1, seed=21), 9, 20))]
    specs.append(learning(case("cross_entropy", 3, seed=22), max_grad_norm=0.5, input_scale=0.5))
    for number, optimizer in enumerate(OPTIMIZERS.values()):
        loss, copies = (("mse", 3), ("cross_entropy", 1))[number % 2]
        spec = in_sequences(case(loss, copies, seed=30 + number), 5 + number, 17)
        specs.append(learning(spec, 0.02, max_grad_norm=1.0 if number < 2 else None,
                              optimizer=optimizer))  # fmt: skip
    results = generated("runtime", specs)
    for result, spec in zip(results, specs, strict=True):
        assert_equal_to_reference(result, spec)


def test_the_clip_bounds_the_steps_where_the_gradient_is_larger(numpy_target):
    """The bound is crossed: the readout learns otherwise without it; a rate of 0 learns
    nothing and keeps the optimiser's state (Adam's count included) as it was."""
    spec = case("cross_entropy", 3, seed=22)
    clipped = reference(learning(spec, max_grad_norm=0.5))["ssm"].params.as_dict()
    free = reference(learning(spec))["ssm"].params.as_dict()
    assert any(not np.allclose(clipped[name], free[name]) for name in clipped)
    still = learning(spec, learning_rate=0.0, optimizer=ADAM)
    [result] = generated("runtime", [still])
    for name, value in spec["params"].as_dict().items():
        np.testing.assert_array_equal(result["params"].as_dict()[name], value)
    assert all(values["n"] == 0 for values in result["optimizer_state"].values())
    assert all(not np.any(values["m"]) for values in result["optimizer_state"].values())


@pytest.mark.standalone
@pytest.mark.slow
def test_generated_readout_equals_the_reference_on_cpp_standalone():
    """Both losses, one and three copies, accumulating and learning (Adam with weight decay,
    the gradient's clip and an input scale), in one standalone project (one build)."""
    specs = [
        in_sequences(case("mse", 1, seed=11), 12),
        learning(
            in_sequences(case("cross_entropy", 3, seed=12), 7, 19),
            0.02,
            1.0,
            ADAM,
            input_scale=0.5,
        ),
    ]
    for result, spec in zip(generated("cpp_standalone", specs), specs, strict=True):
        assert_equal_to_reference(result, spec)


def source_group(size):
    return NeuronGroup(size, "u : 1\nL : 1", name="refused_source")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"loss": "hinge"}, "loss must be one of"),
        ({"copies": 0}, "copies"),
        ({"copies": 2}, "source must have inputs x copies"),
        ({"variable": "v"}, "variable must name a variable of the source"),
        ({"signal": "i"}, "signal 'i' is read-only"),
        ({"targets": [[0.0] * K, [1.0]]}, r"targets\[1\]: an mse target is 3 numbers"),
        ({"loss": "cross_entropy", "targets": [None, K]}, r"targets\[1\]: class target"),
        ({"dt": 0.25 * ms}, r"dt \(.*\) must be a whole multiple of the source"),
        ({"name": "two words"}, "name must be an identifier"),
        ({"sequence_starts": [0, 5, 5]}, "sequence_starts must increase, got 5 after 5"),
        ({"sequence_starts": [0, -1]}, r"sequence_starts\[1\] must be a step >= 0"),
        ({"sequence_starts": [0, 2.0]}, r"sequence_starts\[1\] must be a step >= 0"),
        ({"learning_rate": -0.1}, "learning_rate must be a finite number at least 0"),
        ({"max_grad_norm": 1.0}, "max_grad_norm and optimizer need a learning_rate"),
        ({"learning_rate": 0.1, "max_grad_norm": 0}, "max_grad_norm must be a finite number"),
        ({"input_scale": 0}, "input_scale must be a finite number above 0"),
    ],
)
def test_bad_arguments_are_refused_naming_them(change, message):
    params = SSMParameters.initial(M, N, K, np.random.default_rng(0))
    arguments = {"loss": "mse", "copies": 1, **change}
    with pytest.raises(ValueError, match=message):
        SSMReadoutCode(params, source_group(M), **arguments)


def test_a_readout_too_large_is_refused_before_anything_is_built(monkeypatch):
    params = SSMParameters.initial(M, N, K, np.random.default_rng(0))
    needed = SSMReadoutCode.memory_bytes(M, N, K, 1)
    assert SSMReadoutCode.memory_bytes(2 * M, N, K, 1) > 2 * needed  # m² N sensitivities
    monkeypatch.setattr(limits, "MAX_BYTES", needed - 1)
    built = []
    monkeypatch.setattr(SSMReadoutCode, "_build", lambda *args: built.append(args))
    with pytest.raises(ValueError, match="exact RTRL keeps inputs² x states"):
        SSMReadoutCode(params, source_group(M))
    assert not built


def test_a_second_run_takes_new_targets_and_goes_on_learning(numpy_target):
    """Two runs of one network on runtime, the second's targets and start given by
    ``set_sequences``: its outputs and the parameters at its end equal the reference's second
    sequence after its first (the parameters and the optimiser's state carried over)."""
    first = learning(case("cross_entropy", 3, seed=41), optimizer=ADAM)
    second = case("cross_entropy", 3, seed=42)
    both = first | {
        "inputs": np.concatenate([first["inputs"], second["inputs"]]),
        "targets": first["targets"] + second["targets"],
        "starts": [0, STEPS],
    }
    ref = reference(both)
    with simulation_device("runtime", "readout-code") as sim:
        source = NeuronGroup(3 * M, "u : 1\nL : 1", dt=1 * ms, name="source")
        source.namespace["drive"] = TimedArray(both["inputs"].reshape(2 * STEPS, -1), dt=1 * ms)
        source.run_regularly("u = drive(t, i)", when="start", name="source_drive")
        readout = SSMReadoutCode(
            first["params"], source, loss="cross_entropy", copies=3, targets=first["targets"],
            dt=1 * ms, **first["learning"],
        )  # fmt: skip
        outputs = StateMonitor(readout.outputs, "o", record=True, when="end", order=10)
        net = Network(source, *readout.objects, outputs)
        sim.run(net, STEPS * ms)
        readout.set_sequences(second["targets"], t_start=net.t)
        sim.run(net, STEPS * ms)
        assert_same(np.array(outputs.o).T, ref["o"], "o")
        for name, value in ref["ssm"].params.as_dict().items():
            assert_same(readout.params.as_dict()[name], value, f"parameter {name}")
