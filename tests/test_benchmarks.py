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
import sys
import time

import numpy as np
import psutil
import pytest
import xarray as xr
from commands import PREVIOUS, refusal_tests, start
from conftest import ROOT

MEMORY = "benchmarks/bench_memory.py"
PAIRING = "benchmarks/bench_pairing.py"
READOUT = "benchmarks/bench_readout_step.py"
SWEEP = "benchmarks/bench_sweep.py"
STDP_NETWORK = "benchmarks/bench_stdp_network.py"
TASKS = "benchmarks/bench_tasks.py"
SUITE = "benchmarks/run_suite.py"

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
    (STDP_NETWORK, ["--sizes", "999"], r"argument --sizes: must be at least 1000, got 999"),
    (STDP_NETWORK, ["--sizes", "1500"], r"argument --sizes: must be multiples of 1000, got 1500"),
    (STDP_NETWORK, ["--sizes", "2e3"], r"argument --sizes: expected a whole number, got '2e3'"),
    (STDP_NETWORK, ["--sizes", "20000000"], r"argument --sizes: must be at most 10000000 \(1e7"),
    (STDP_NETWORK, ["--sizes", "1000", "1000"], r"argument --sizes: each size once"),
    (STDP_NETWORK, ["--duration", "0s"], r"argument --duration: must be positive"),
    (STDP_NETWORK, ["--duration", "10"], r"argument --duration: .*has no units"),
    (STDP_NETWORK, ["--duration", "5mV"], r"argument --duration: .*must be a time"),
    (STDP_NETWORK, ["--duration", "0.15ms"], r"argument --duration: must be a whole number of"),
    (STDP_NETWORK, ["--duration", "1e5s"], r"--duration 100. ks would take 1e\+09 time steps"),
    (STDP_NETWORK, ["--repeats", "0"], r"argument --repeats: must be at least 1, got 0"),
    (STDP_NETWORK, ["--device", "runtime"], r"argument --device: invalid choice: 'runtime'"),
    (STDP_NETWORK, ["--seed", "-1"], r"argument --seed: must be at least 0, got -1"),
    (TASKS, ["--tasks", "ecg", "ecg"], r"argument --tasks: each once, got ecg ecg"),
    (TASKS, ["--tasks", "mnist"], r"argument --tasks: invalid choice: 'mnist'"),
    (TASKS, ["--models", "cnn", "bim"], r"argument --models: give bim first"),
    (TASKS, ["--models", "bim"], r"argument --models: give bim first and at least one model"),
    (TASKS, ["--models", "bim", "cnn", "cnn"], r"argument --models: each once"),
    (TASKS, ["--data", "nowhere"], r"argument --data: nowhere is not a folder"),
    # ECG reads its shipped subset and would train first: the next task's missing data is seen
    (TASKS, ["--data", "."], r"argument --tasks: eeg: Bonn EEG folder .*eeg_bonn does not exist"),
    (TASKS, ["--out", "prev.nc/x.nc"], r"argument --out: .*prev.nc is a file, not a folder"),
    (SUITE, ["--only", "pairing", "pairing"], r"argument --only: each benchmark once"),
    (SUITE, ["--only", "speed"], r"argument --only: invalid choice: 'speed'"),
    (SUITE, ["--runs", "prev.nc"], r"--runs: prev.nc is a file, not a folder"),
    (SUITE, ["--out", "."], r"argument --out: \. is a folder; give a file name"),
    (SUITE, ["--out", "table.md"], r"argument --out: give the dataset's file, not the table's"),
]


bad_input_runs, test_bad_input_is_one_line_before_any_work = refusal_tests(BAD_INPUTS)


def test_every_benchmark_has_bad_inputs():
    benchmarks = {f"benchmarks/{path.name}" for path in (ROOT / "benchmarks").glob("*.py")}
    peers = {"benchmarks/nest_pairing_process.py"}  # started by bench_pairing, not by a user
    assert {script for script, _, _ in BAD_INPUTS} == benchmarks - peers
    assert len(BAD_INPUTS) >= 60


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


def wait_for_worker(process, timeout=60, marker="--worker"):
    """The running child of ``process`` whose command line holds ``marker``: by default the
    ``--worker`` process of a ``bench_memory`` run (its imports may fork too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                if any(marker in word for word in child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.05)
    pytest.fail(f"no {marker} process started")


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
    """Ctrl-C while the whole processes are timed (the first timings): the benchmark and the
    command it was timing end, and nothing is written."""
    process = started(PAIRING, "--repeats", 1000, "--devices", "runtime")
    timed = wait_for_worker(process, 120, "stdp_pairing.py")
    assert_interrupted(process, "bench_pairing.py", 30)
    assert gone(timed, 30)
    assert (tmp_path / "prev.nc").read_bytes() == PREVIOUS


def test_nest_process_runs_the_schedule_as_nest_peer_does(tmp_path):
    """``nest_pairing_process.py``, bench_pairing's whole-process NEST side, gives NEST's own
    weight changes for the schedule bench_pairing writes for it."""
    pytest.importorskip("nest")
    import importlib.util

    from brian2 import Hz, ms

    from bimsim.nest_peer import simulate_pairings_nest
    from bimsim.pairing import pairing_schedule
    from bimsim.plasticity.stdp import triplet_preset

    spec = importlib.util.spec_from_file_location("bench_pairing", ROOT / PAIRING)
    bench_pairing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_pairing)
    rule = triplet_preset("visual-all-full")
    schedule = pairing_schedule([-10, 10, -10, 10] * ms, [10, 10, 20, 20] * Hz, 30)
    bench_pairing.write_nest_schedule(tmp_path / "schedule.npz", schedule, rule)
    subprocess.run(
        [sys.executable, ROOT / "benchmarks/nest_pairing_process.py", "schedule.npz", "dw.npy"],
        cwd=tmp_path,
        check=True,
        env={**os.environ, "PYNEST_QUIET": "1"},
    )
    dw = np.load(tmp_path / "dw.npy")
    assert np.abs(dw).min() > 0
    np.testing.assert_array_equal(dw, simulate_pairings_nest(schedule, rule))


@pytest.mark.slow
def test_the_suite_merges_its_benchmarks_into_one_dataset_and_a_table(tmp_path):
    """Two benchmarks, small: one dataset with each one's prefixed variables and provenance,
    and a markdown row per ratio with its target and verdict. bench_stdp_network itself fails
    if bimsim's and Brian2's networks end with different weights."""
    result = subprocess.run(
        [sys.executable, ROOT / SUITE, "--quick", "--only", "stdp_network", "memory",
         "--out", "suite.nc"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "suite_runs").iterdir()) == [
        "memory.nc",
        "stdp_network.nc",
    ]
    with xr.open_dataset(tmp_path / "suite.nc") as ds:
        assert ds.stdp_network_ratio.dims == ("stdp_network_size",)
        assert list(ds.stdp_network_variant.values) == ["bimsim", "brian2"]
        assert np.ptp(ds.stdp_network_mean_weight.sel(stdp_network_size=1000).values) == 0
        assert ds.memory_ratio.sel(memory_steps=1000) < 1  # RTRL below BPTT
        assert "stdp_network_command_line" in ds.attrs and "memory_created" in ds.attrs
    rows = (tmp_path / "suite.md").read_text().splitlines()
    assert rows[0] == "| benchmark | compared | ratio | target | verdict |"
    network = [row.split(" | ") for row in rows if row.startswith("| stdp_network |")]
    assert len(network) == 1
    assert network[0][1:4] == ["size 1000", network[0][2], "<= 1.05"]
    assert network[0][4].rstrip(" |") in ("meets", "misses")
    assert any(row.startswith("| memory | steps 1000 |") and "| none |" in row for row in rows)
    # --keep takes both datasets from the runs folder and runs nothing again
    kept = subprocess.run(
        [sys.executable, ROOT / SUITE, "--quick", "--keep", "--only", "stdp_network", "memory",
         "--runs", "suite_runs", "--out", "again.nc"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    assert "== stdp_network: kept" in kept.stdout and "== memory: kept" in kept.stdout
    assert (tmp_path / "again.md").read_text() == "\n".join(rows) + "\n"
