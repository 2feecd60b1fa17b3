"""The readout in generated code (bimsim.readout.ssm_code) equals the numpy reference step by step.

Each case drives a source group's ``u`` from a TimedArray with the numbers the reference
(:meth:`SelectiveSSM.step`) gets, and compares, to 1e-9 of each quantity's largest magnitude
(float64): the outputs, each step's loss and learning signal, the final state and RTRL
sensitivities, and the gradients accumulated over the sequence, with steps without a target
mixed in.
"""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, StateMonitor, TimedArray, ms, prefs

from bimsim import limits
from bimsim.devices import simulation_device
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
    return {"loss": loss, "copies": copies, "params": params, "inputs": inputs, "targets": targets}


def reference(spec):
    """Per step, the reference's outputs ``(steps, copies·k)``, loss and signal ``(steps,
    copies·m)``, and the readout at the end."""
    copies = spec["copies"]
    params = SSMParameters(**{k: v.copy() for k, v in spec["params"].as_dict().items()})
    ssm = SelectiveSSM(params, loss=spec["loss"])
    ssm.reset_state(None if copies == 1 else copies)
    outputs, losses, signals = [], [], []
    for u, target in zip(spec["inputs"], spec["targets"], strict=True):
        o, loss, signal = ssm.step(u[0] if copies == 1 else u, target)
        outputs.append(np.ravel(o))
        losses.append(loss)
        signals.append(np.ravel(signal))
    return {"o": np.array(outputs), "loss": np.array(losses), "L": np.array(signals), "ssm": ssm}


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
                dt=dt,
                name=f"readout{number}",
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
    for name, value in ssm.grads.items():
        assert_same(result["grads"][name], value, f"gradient of {name}")


@pytest.mark.parametrize("copies", [1, 3])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_generated_readout_equals_the_reference_on_runtime(numpy_target, loss, copies):
    spec = case(loss, copies, seed=copies)
    [result] = generated("runtime", [spec])
    assert_equal_to_reference(result, spec)


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


@pytest.mark.standalone
@pytest.mark.slow
def test_generated_readout_equals_the_reference_on_cpp_standalone():
    """Both losses, one and three copies, in one standalone project (one build)."""
    specs = [case("mse", 1, seed=11), case("cross_entropy", 3, seed=12)]
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
