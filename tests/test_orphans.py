"""Children die with their parent, even when it is killed by SIGKILL (issue 27).

SIGKILL runs no handler, so nothing in the killed command can stop what it started: the kernel
must (``setpriv --pdeathsig`` or ``prctl(PR_SET_PDEATHSIG)``), and a watcher process must remove
a temporary folder. Each test starts a command, waits until it has started its children, kills
the command's own process (not its group: the children get no signal from the test) and checks
that what it started is gone: a standalone build's ``make`` and compilers, neuron_table's task
run, bench_tasks' task run and its temporary folder.
"""

import os
import signal
import subprocess
import time

import psutil
import pytest
from commands import command

PAIRING = "protocols/stdp_pairing.py"


def start(cmd, *args, cwd, env=None):
    """Start ``cmd`` in a session of its own, its output in files in ``cwd`` (a pipe nobody
    reads could stall it): ``stdout.txt``, ``stderr.txt``."""
    with open(cwd / "stdout.txt", "w") as stdout, open(cwd / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command(cmd, *args), cwd=cwd, env=env, stdout=stdout,
                                   stderr=stderr, start_new_session=True)  # fmt: skip
    process.stderr_file = cwd / "stderr.txt"
    return process


def descendants(pid):
    """The processes under ``pid`` now."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def name(process):
    try:
        return process.name()
    except psutil.Error:  # it ended meanwhile
        return ""


def cmdline(process):
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def running(processes):
    """Those of ``processes`` still running: not ended, not a zombie (a dead process that its
    new parent has not reaped yet), not another process that took an ended one's pid."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def wait_until(condition, timeout, what, process):
    """Wait until ``condition()`` is true; fail naming ``what`` after ``timeout`` s, or as soon
    as ``process`` (the command, :func:`start`'s) has ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            stderr = process.stderr_file.read_text()[-2000:]
            pytest.fail(f"the command ended (exit {process.returncode}) before {what}: {stderr}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.05)


def kill(process):
    """SIGKILL the command's own process (its children get nothing from the test); return when."""
    process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    process.wait(timeout=10)
    return killed


def assert_ended(find, killed, timeout):
    """Every process ``find()`` gives ends within ``timeout`` s of the command's kill (at
    ``killed``, :func:`time.monotonic`); those that do not are killed (by their pid) after the
    check, so that a failing test leaves nothing running."""
    while running(find()) and time.monotonic() < killed + timeout:
        time.sleep(0.05)
    alive = list({p.pid: p for p in running(find())}.values())
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    described = [f"{p.pid} {name(p)}" for p in alive]
    assert not alive, f"still running {timeout} s after the command was killed: {described}"


def working_in(folder):
    """The running processes whose working folder is in ``folder`` (a build's make, compilers
    and program run in its project folder)."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info["cwd"]
        if cwd and (cwd == str(folder) or cwd.startswith(f"{folder}/")):
            found.append(process)
    return running(found)


@pytest.mark.slow
@pytest.mark.standalone
def test_a_killed_standalone_build_leaves_no_compiler_running(tmp_path):
    """SIGKILL during a cold cpp_standalone compile: make, the compilers and the program they
    build end with the command (Brian2 started make with os.system, which knows nothing of it)."""
    cache = tmp_path / "cache"
    env = {**os.environ, "BIMSIM_CACHE": str(cache)}  # a cold build
    process = start(PAIRING, "--device", "cpp_standalone", "--out", tmp_path / "out.nc",
                    cwd=tmp_path, env=env)  # fmt: skip

    def compiling():
        return any(name(p) in ("make", "cc1plus") for p in descendants(process.pid))

    wait_until(compiling, 300, "make or cc1plus under the command", process)
    time.sleep(0.5)  # into the build: make has started compilers
    build = descendants(process.pid)
    killed = kill(process)
    # nor anything make started after the list was made: a compiler, or the build's ./main
    assert_ended(lambda: [*build, *working_in(cache)], killed, 5)


@pytest.mark.slow
def test_a_killed_neuron_table_leaves_no_task_run(tmp_path):
    """SIGKILL while neuron_table waits for a task's run: the run ends too, and writes nothing
    (it would have gone on and written its dataset into --runs, for a table nobody makes)."""
    runs = tmp_path / "runs"
    process = start("protocols/neuron_table.py", "--quick", "--tasks", "ecg", "--neurons", "lif",
                    "--seeds", "1", "--no-progress", "--runs", runs, "--out",
                    tmp_path / "table.nc", cwd=tmp_path)  # fmt: skip

    def task_runs():
        return any("bimsim.tasks.ecg" in cmdline(p) for p in running(descendants(process.pid)))

    wait_until(task_runs, 300, "task run under neuron_table", process)
    time.sleep(1)  # the run has started its work
    children = descendants(process.pid)
    killed = kill(process)
    assert_ended(lambda: children, killed, 10)
    time.sleep(1)
    assert not list(runs.glob("*.nc")) and not (tmp_path / "table.nc").exists()


@pytest.mark.slow
def test_a_killed_bench_tasks_leaves_no_task_run_nor_its_temporary_folder(tmp_path, data_root):
    """SIGKILL while bench_tasks waits for a task's run: the run ends, and the temporary folder
    it writes into (``$TMPDIR/bench_tasks_*``) is removed (no ``finally`` runs on SIGKILL)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "BIMSIM_DATA": str(data_root)}
    process = start("benchmarks/bench_tasks.py", "--tasks", "lm", "--models", "bim", "cnn",
                    "--out", tmp_path / "bench.nc", cwd=tmp_path, env=env)  # fmt: skip

    def task_running():
        return list(tmp.glob("bench_tasks_*")) and any(
            "bimsim.tasks.lm" in cmdline(p) for p in running(descendants(process.pid))
        )

    wait_until(task_running, 300, "temporary folder and task run under bench_tasks", process)
    time.sleep(1)
    children = descendants(process.pid)  # the task run and the folder's watcher
    killed = kill(process)
    while list(tmp.glob("bench_tasks_*")) and time.monotonic() < killed + 10:
        time.sleep(0.05)
    assert not list(tmp.glob("bench_tasks_*")), "the temporary folder is left"
    assert_ended(lambda: children, killed, 10)
    assert not (tmp_path / "bench.nc").exists()
