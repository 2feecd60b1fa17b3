"""The pieces every command is built from: checked flags, output paths, interrupts, size limits."""

import argparse
import signal
import subprocess
import sys
import time
import weakref

import numpy as np
import pytest
from brian2 import Hz, Network, NeuronGroup, ms, network_operation, stop
from conftest import ROOT

from bimsim.cli import _keep_interrupts, check_output_path, integer, quantity, real, run_command
from bimsim.devices import Simulation, SimulationInterrupted, _interrupted_build
from bimsim.gradient_window import gradient_window
from bimsim.limits import MAX_BYTES, MAX_STEPS, require_bytes, require_steps
from bimsim.pairing import pairing_schedule, simulate_pairings
from bimsim.plasticity.stdp import PAIR_DEFAULTS, WeightBounds, pair_rule
from bimsim.readout import SelectiveSSM, SSMParameters


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (integer(1, 10), "0", "must be at least 1, got 0"),
        (integer(1, 10, "a reason"), "11", r"must be at most 10 \(a reason\), got 11"),
        (integer(1, 10), "1e3", "expected a whole number, got '1e3'"),
        (real(), "nan", "must be a finite number"),
        (real(), "-inf", "must be a finite number"),
        (real(0, 1), "1.5", "must be at most 1"),
        (real(above=0), "0", "must be greater than 0"),
        (real(), "one", "expected a number"),
        (quantity("time", positive=True), "0ms", "must be positive"),
        (quantity("time", maximum=1 * ms), "2ms", "must be at most 1. ms"),
        (quantity("time"), "5", "has no units"),
    ],
)
def test_argument_types_refuse_with_a_reason(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        kind(text)


def test_argument_types_accept_their_range():
    assert integer(1, 10)("10") == 10
    assert real(0, 1)("0") == 0.0 and real(above=0)("1e-9") == 1e-9
    assert quantity("time", positive=True)("16.8ms") == 16.8 * ms


def test_output_paths_are_checked_without_writing(tmp_path):
    (tmp_path / "file").write_text("x")
    for path, message in [
        ("", "the output path is empty"),
        ("  ", "the output path is empty"),
        (tmp_path, "is a folder"),
        (tmp_path / "file" / "x.nc", "file is a file, not a folder"),
        (tmp_path / "file" / "a" / "b" / "x.nc", "file is a file, not a folder"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_output_path(path)
    with pytest.raises(ValueError, match=r"fig.pdf is a folder"):
        (tmp_path / "fig.pdf").mkdir()
        check_output_path(tmp_path / "fig", (".png", ".pdf"))
    assert check_output_path(tmp_path / "new" / "deeper" / "x.nc").name == "x.nc"
    assert {p.name for p in tmp_path.iterdir()} == {"file", "fig.pdf"}  # nothing made


def test_run_command_turns_an_interrupt_into_exit_130(capsys):
    def interrupted(argv):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stopped:
        run_command(interrupted)
    assert stopped.value.code == 130
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as finished:
        run_command(lambda argv: None)
    assert finished.value.code == 0
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def test_an_interrupt_python_swallows_is_raised_again(monkeypatch):
    """Ctrl-C inside a weakref callback (Brian2's gc runs many) would be dropped silently."""
    monkeypatch.setattr(sys, "unraisablehook", _keep_interrupts(lambda unraisable: None))

    class Thing:
        pass

    def callback(reference):
        raise KeyboardInterrupt

    thing = Thing()
    reference = weakref.ref(thing, callback)
    with pytest.raises(KeyboardInterrupt):
        del thing  # Python swallows the callback's interrupt here ...
        time.sleep(2)  # ... and the hook raises it again in the main thread
    assert reference() is None


def test_a_stopped_simulation_is_an_interrupt_not_a_result():
    """Brian2's stop() (what its Ctrl-C handler calls) leaves a truncated run: refused."""

    def group():
        return NeuronGroup(1, "dv/dt = -v / (10*ms) : 1")

    @network_operation(dt=1 * ms)
    def halt(t):
        if t >= 5 * ms:
            stop()

    with pytest.raises(SimulationInterrupted, match=r"stopped at 5\.\d* ms of 20\. ms"):
        Simulation("runtime", None).run(Network(group(), halt), 20 * ms)
    Simulation("runtime", None).run(Network(group()), 20 * ms)  # and a full run passes


def test_a_compiler_killed_by_sigint_is_told_from_a_failed_compile():
    # Brian2 reports make's wait status: 2 is "killed by SIGINT", 512 is "exited with status 2"
    assert _interrupted_build(RuntimeError("Project compilation failed (error code: 2)."))
    assert not _interrupted_build(RuntimeError("Project compilation failed (error code: 512)."))
    assert not _interrupted_build(RuntimeError("something else"))


def test_limits_say_what_the_run_would_need():
    with pytest.raises(ValueError, match=r"x would take 2e\+08 time steps, more than the limit"):
        require_steps("x", 2 * MAX_STEPS)
    with pytest.raises(ValueError, match=r"y would need about 16 GiB of memory"):
        require_bytes("y", 2 * MAX_BYTES)
    assert require_steps("x", MAX_STEPS) == MAX_STEPS


def test_pairing_schedules_are_bounded_before_allocating():
    delta_t = np.linspace(-100, 100, 41) * ms
    with pytest.raises(ValueError, match=r"60 pairings at 1e-09 Hz would take .* time steps"):
        pairing_schedule(delta_t, 1e-9 * Hz, 60)
    with pytest.raises(ValueError, match=r"n_pairs must be an integer from 1 to 1000000"):
        pairing_schedule(delta_t, 1 * Hz, 10**7)
    with pytest.raises(ValueError, match=r"100000 conditions of 1000000 pairings would need"):
        pairing_schedule(np.linspace(-1, 1, 100_000) * ms, 1 * Hz, 10**6)


def test_an_initial_weight_outside_the_bounds_is_refused():
    schedule = pairing_schedule(np.array([-10, 10]) * ms, 1 * Hz, 2)
    rule = pair_rule(**PAIR_DEFAULTS)
    for kind in ("hard", "soft"):
        with pytest.raises(ValueError, match=rf"w_init = 3 lies outside the {kind} bounds"):
            simulate_pairings(schedule, [rule], bounds=WeightBounds(kind, 0, 2), w_init=3)
    assert WeightBounds("none", 0, 2).check_weight(3) == 3.0


def test_the_gradient_window_is_bounded_before_allocating():
    with pytest.raises(ValueError, match=r"the gradient window protocol would take 5.5e\+08"):
        gradient_window(np.linspace(-100, 100, 81) * ms, dt=1e-6 * ms, bptt=False)


def test_readout_state_bytes_are_what_reset_state_allocates():
    ssm = SelectiveSSM(SSMParameters.initial(12, 4, 3, np.random.default_rng(0)))
    ssm.reset_state(batch=5)
    held = ssm.h.nbytes + sum(a.nbytes for a in ssm._sens.values())
    assert SelectiveSSM.state_bytes(12, 4, batch=5) == held


@pytest.mark.parametrize(
    "command",
    ["bimsim.tasks.ecg", "bimsim.tasks.eeg", "bimsim.tasks.speech", "bimsim.tasks.lm",
     "protocols/stdp_pairing.py", "protocols/stdp_frequency.py"],
)  # fmt: skip
def test_help_imports_neither_torch_nor_scikit_learn(command):
    """What a command prints before any work (``--help``, a refused flag) comes without the
    imports only training (torch, 2.3 s) or scoring (scikit-learn, 0.6 s) needs."""
    run = "run_path" if command.endswith(".py") else "run_module"
    script = (
        "import runpy, sys\n"
        f"sys.argv = [{command!r}, '--help']\n"
        "try:\n"
        f"    runpy.{run}({command!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('imported:', *(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    assert done.stdout.splitlines()[-1] == "imported:"
