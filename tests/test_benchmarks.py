"""The benchmarks as a user runs them: bad input refused before any work, interrupts lose nothing.

Each bad input is a subprocess that must exit with status 2 and one line on stderr naming the flag,
before any work, leaving the previous result at ``--out`` byte for byte as it was and no other file
behind. Ctrl-C (SIGINT to the whole
process group), SIGTERM or SIGINT to the command alone end it with status 130 and one line; the
workers of ``bench_memory`` end with it, also when it is killed outright.
"""

import os
import signal
import subprocess
import time

import psutil
import pytest
from commands import PREVIOUS, refusal_tests, start

MEMORY = "benchmarks/bench_memory.py"
PAIRING = "benchmarks/bench_pairing.py"
READOUT = "benchmarks/bench_readout_step.py"
SWEEP = "benchmarks/bench_sweep.py"

# (script, arguments, what stderr's one line must match); "--out prev.nc" is added unless the row
# gives its own --out.
BAD_INPUTS = [
    (MEMORY, ["--steps", "0"], r"argument --steps: must be at least 1, got 0"),
    (MEMORY, ["--steps", "-5"], r"argument --steps: must be at least 1, got -5"),
    (MEMORY, ["--steps", "2.5"], r"argument --steps: expected a whole number, got '2.5'"),
    (MEMORY, ["--steps", "nan"], r"argument --steps: expected a whole number, got 'nan'"),
    (MEMORY, ["--steps", "10000000"], r"argument --steps: must be at most 1000000 \(BPTT keeps"),
    (MEMORY, ["--steps", "100", "100"], r"argument --steps: each length once, got 100 100"),
    (
        MEMORY,
        ["--steps", "300000", "--inputs", "1", "--states", "1"],
        r"BPTT over --steps 300000 with --inputs 1 and --states 1 would need about 8.03 GiB of "
        r"memory, more than the limit of 8 GiB",
    ),
    (
        MEMORY,
        ["--steps", "1000", "--inputs", "4096", "--states", "16"],
        r"RTRL with --inputs 4096 and --states 16 would need about 16 GiB of memory",
    ),
    (MEMORY, ["--inputs", "0"], r"argument --inputs: must be at least 1, got 0"),
    (MEMORY, ["--inputs", "5000"], r"argument --inputs: must be at most 4096 \(RTRL's"),
    (MEMORY, ["--states", "inf"], r"argument --states: expected a whole number, got 'inf'"),
    (MEMORY, ["--outputs", "0"], r"argument --outputs: must be at least 1"),
    (MEMORY, ["--out", "."], r"argument --out: \. is a folder; give a file name"),
    (MEMORY, ["--out", "prev.nc/x.nc"], r"argument --out: .*prev.nc is a file, not a folder"),
    (PAIRING, ["--repeats", "0"], r"argument --repeats: must be at least 1, got 0"),
    (PAIRING, ["--repeats", "-1"], r"argument --repeats: must be at least 1, got -1"),
    (PAIRING, ["--repeats", "1001"], r"argument --repeats: must be at most 1000, got 1001"),
    (PAIRING, ["--repeats", "inf"], r"argument --repeats: expected a whole number, got 'inf'"),
    (PAIRING, ["--devices", "gpu"], r"argument --devices: invalid choice: 'gpu'"),
    (PAIRING, ["--devices"], r"argument --devices: expected at least one argument"),
    (PAIRING, ["--devices", "runtime", "runtime"], r"argument --devices: each device once"),
    (PAIRING, ["--out", ""], r"argument --out: the output path is empty"),
    (READOUT, ["--hidden", "0"], r"argument --hidden: must be at least 1, got 0"),
    (READOUT, ["--hidden", "5000"], r"argument --hidden: must be at most 4096 \(the readout's"),
    (READOUT, ["--hidden", "16", "16"], r"argument --hidden: each size once, got 16 16"),
    (
        READOUT,
        ["--hidden", "4096"],
        r"--hidden 4096 with --inputs 40 and --states 8 would need about 8.04 GiB of memory",
    ),
    (READOUT, ["--inputs", "0"], r"argument --inputs: must be at least 1"),
    (READOUT, ["--inputs", "1e9"], r"argument --inputs: expected a whole number"),
    (READOUT, ["--states", "0"], r"argument --states: must be at least 1"),
    (READOUT, ["--duration", "0ms"], r"argument --duration: must be positive"),
    (READOUT, ["--duration=-5ms"], r"argument --duration: must be positive"),
    (READOUT, ["--duration", "1000"], r"argument --duration: .*has no units"),
    (READOUT, ["--duration", "5mV"], r"argument --duration: .*must be a time"),
    (READOUT, ["--duration", "100.5ms"], r"argument --duration: must be a whole number of readout"),
    (READOUT, ["--duration", "2e4s"], r"argument --duration: must be at most"),
    (
        READOUT,
        ["--duration", "1000s", "--hidden", "8", "16", "32"],
        r"12 sequences of --duration 1000 s .* would take 1.2e\+08 time steps of 100. us, more "
        r"than the limit",
    ),
    (READOUT, ["--rate", "0Hz"], r"argument --rate: must be positive"),
    (READOUT, ["--rate=-5Hz"], r"argument --rate: must be positive"),
    (READOUT, ["--rate", "nanHz"], r"argument --rate: cannot read 'nanHz'"),
    (READOUT, ["--rate", "1e999Hz"], r"argument --rate: .*must be finite"),
    (READOUT, ["--rate", "20"], r"argument --rate: .*has no units"),
    (READOUT, ["--rate", "300Hz"], r"--rate 300 Hz with --inputs 40: .* at most 250 Hz"),
    (READOUT, ["--repeats", "0"], r"argument --repeats: must be at least 1"),
    (READOUT, ["--seed", "-1"], r"argument --seed: must be at least 0, got -1"),
    (READOUT, ["--seed", "4294967296"], r"argument --seed: must be at most 4294967295"),
    (READOUT, ["--out", "prev.nc/deeper/x.nc"], r"prev.nc is a file, not a folder"),
    (SWEEP, ["--points", "1"], r"argument --points: must be at least 2, got 1"),
    (SWEEP, ["--points", "65"], r"argument --points: must be at most 64, got 65"),
    (SWEEP, ["--workers", "1"], r"argument --workers: must be at least 2, got 1"),
    (SWEEP, ["--workers", "2.5"], r"argument --workers: expected a whole number, got '2.5'"),
    (SWEEP, ["--out", "."], r"argument --out: \. is a folder; give a file name"),
]


bad_input_runs, test_bad_input_is_one_line_before_any_work = refusal_tests(BAD_INPUTS)


def test_every_benchmark_has_bad_inputs():
    assert {script for script, _, _ in BAD_INPUTS} == {MEMORY, PAIRING, READOUT, SWEEP}
    assert len(BAD_INPUTS) >= 40


@pytest.fixture
def started(tmp_path):
    """Start benchmarks with a previous result at ``prev.nc``; kill what is left at the end."""
    processes = []

    def start_benchmark(script, *args):
        (tmp_path / "prev.nc").write_bytes(PREVIOUS)
        process = start(script, *args, "--out", "prev.nc", cwd=tmp_path)
        processes.append(process)
        return process

    yield start_benchmark
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def wait_for_worker(process, timeout=60):
    """The running ``--worker`` process of a ``bench_memory`` run (its imports may fork too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                if "--worker" in child.cmdline():
                    return child
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.05)
    pytest.fail("no worker started")


def gone(worker, timeout):
    """Whether ``worker`` ended (a zombie, dead but not yet reaped, counts) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if worker.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def assert_interrupted(process, name, seconds, signum=signal.SIGINT, group=True):
    """Send ``signum`` (to the group, as Ctrl-C does); it ends in time, in one line, at 130."""
    (os.killpg if group else os.kill)(process.pid, signum)
    try:
        _, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name} still ran {seconds} s after {signal.Signals(signum).name}")
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == [f"{name}: interrupted; no result was written"], stderr


# a worker busy for about 20 s (RTRL at m = N = 1 takes about 90 µs a step), and the tiny BPTT
# that follows within the memory limit
BUSY_MEMORY = ("--steps", 200_000, "--inputs", 1, "--states", 1, "--outputs", 1)


@pytest.mark.parametrize(
    ("signum", "group"),
    [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, False)],
    ids=["ctrl-c", "sigint-to-the-command", "sigterm-to-the-command"],
)
def test_an_interrupt_ends_bench_memory_and_its_worker(started, tmp_path, signum, group):
    process = started(MEMORY, *BUSY_MEMORY)
    worker = wait_for_worker(process)
    time.sleep(1)  # into the worker's loop
    assert_interrupted(process, "bench_memory.py", 30, signum, group)
    assert gone(worker, 30)
    assert (tmp_path / "prev.nc").read_bytes() == PREVIOUS


def test_the_worker_dies_when_bench_memory_is_killed(started, tmp_path):
    """SIGKILL runs no handler: the kernel ends the worker (PR_SET_PDEATHSIG)."""
    process = started(MEMORY, *BUSY_MEMORY)
    worker = wait_for_worker(process)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert gone(worker, 30)
    assert (tmp_path / "prev.nc").read_bytes() == PREVIOUS


def test_a_failed_worker_is_a_clear_error(started, tmp_path):
    process = started(MEMORY, *BUSY_MEMORY)
    worker = wait_for_worker(process)
    time.sleep(1)  # into the worker's loop
    worker.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.splitlines() == [
        "bench_memory.py: error: the rtrl worker at T=200000 was killed by SIGTERM"
    ]
    assert (tmp_path / "prev.nc").read_bytes() == PREVIOUS


@pytest.mark.slow
def test_ctrl_c_while_bench_pairing_times_writes_nothing(started, tmp_path):
    process = started(PAIRING, "--repeats", 1000, "--devices", "runtime")
    # past the imports (about 2.5 s of CPU) and into the timed curves
    deadline = time.monotonic() + 120
    while sum(psutil.Process(process.pid).cpu_times()[:2]) < 6:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    assert_interrupted(process, "bench_pairing.py", 30)
    assert (tmp_path / "prev.nc").read_bytes() == PREVIOUS
