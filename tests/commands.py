"""Running bimsim's commands as a user does: tables of bad input, and commands to interrupt.

A command is a script of the repository (``"protocols/stdp_pairing.py"``) or a module run with
``-m`` (``("-m", "bimsim.tasks.ecg")``). A table row is ``(command, arguments, message)``:
the command must refuse the arguments with exit status 2 and one line on stderr matching
``message``, before any work, leaving the previous result at ``--out`` as it was and nothing else
behind. The rows run as processes forked from one Python process that has imported Brian2,
xarray, matplotlib and bimsim's command modules (:func:`run_forked`): each is still a process of
its own, running the command as ``python SCRIPT`` or ``python -m MODULE`` does, without the two
seconds of imports a new interpreter spends.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What a folder's ``prev.nc`` holds before a command runs there.
PREVIOUS = b"the previous result, which a failed run must leave as it is"


def command(cmd, *args):
    """The argv of ``cmd`` (a script's path in the repository, or ``("-m", module)``)."""
    if isinstance(cmd, str):
        return [sys.executable, str(ROOT / cmd), *map(str, args)]
    return [sys.executable, *cmd, *map(str, args)]


def row_id(row):
    """A short test id for a table row: the command's name and the start of its arguments."""
    cmd, args, _ = row
    name = Path(cmd).stem if isinstance(cmd, str) else cmd[-1].rsplit(".", 1)[-1]
    return f"{name}:{' '.join(args)[:40]}"


def files(folder):
    """Every file under ``folder`` and its bytes."""
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def run_rows(rows, tmp_path_factory, workers=4):
    """Run every row, a few at a time, each in a folder of its own that holds ``prev.nc``, as a
    process forked from one that has imported the commands' modules (:func:`run_forked`).

    ``--out prev.nc`` is added unless the row gives its own ``--out``.

    Returns
    -------
    list of (subprocess.CompletedProcess, dict, dict)
        The run, and the folder's files before and after it.
    """
    runs, folders = [], []
    for row in rows:
        cmd, args, _ = row
        folder = tmp_path_factory.mktemp("bad-input")
        (folder / "prev.nc").write_bytes(PREVIOUS)
        out = [] if "--out" in args else ["--out", "prev.nc"]
        runs.append((command(cmd, *args, *out)[1:], folder, {}))
        folders.append((folder, files(folder)))
    done = run_forked(runs, tmp_path_factory.mktemp("streams"), workers)
    return [
        (run, before, files(folder)) for run, (folder, before) in zip(done, folders, strict=True)
    ]


def assert_refused(run, message):
    """Exit status 2, one stderr line matching ``message``, and the folder as it was."""
    result, before, after = run
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert lines[0].endswith("(see --help)")
    assert after == before  # the previous result intact, nothing else written


def start(cmd, *args, cwd, env=None):
    """Start ``cmd`` in its own process group, as a shell starts a foreground job."""
    return subprocess.Popen(
        command(cmd, *args),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def refusal_tests(rows):
    """The fixture and the test of a table of bad inputs, for a test module to take as its own::

        bad_input_runs, test_bad_input_is_one_line_before_any_work = refusal_tests(BAD_INPUTS)

    The fixture runs every row once (:func:`run_rows`); the test checks one row
    (:func:`assert_refused`), with an id that names the command and its arguments.
    """

    @pytest.fixture(scope="module")
    def bad_input_runs(tmp_path_factory):
        return run_rows(rows, tmp_path_factory)

    @pytest.mark.parametrize(
        ("row", "message"),
        [(k, message) for k, (_, _, message) in enumerate(rows)],
        ids=map(row_id, rows),
    )
    def test_bad_input_is_one_line_before_any_work(bad_input_runs, row, message):
        assert_refused(bad_input_runs[row], message)

    return bad_input_runs, test_bad_input_is_one_line_before_any_work


# -- rows run as processes forked from one that has imported the commands' modules ---------------

#: Modules every command imports; the fork server imports them once.
PRELOADED = ("brian2", "xarray", "netCDF4", "matplotlib.pyplot", "bimsim.cli", "bimsim.plotting",
             "bimsim.tasks.command")  # fmt: skip

#: Longest a row may run: a refusal takes well under a second once the modules are imported.
ROW_TIMEOUT = 60

#: The fork server: reads the jobs (JSON) on stdin, imports the modules named in its arguments,
#: then forks a process per job, at most ``workers`` at a time; prints each job's exit status.
#: A child runs its command as Python's own ``python SCRIPT`` / ``python -m MODULE`` does: argv,
#: ``sys.path[0]``, ``__main__``, its working folder, streams, environment, Brian2's log of its
#: own; exit handlers run.
FORK_SERVER = r"""
import atexit, importlib, importlib.util, json, os, runpy, signal, sys, traceback

def run(job):
    os.chdir(job["cwd"])
    for name, value in job["env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for fd, path in ((0, os.devnull), (1, job["stdout"]), (2, job["stderr"])):
        flags = os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        opened = os.open(path, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    signal.alarm(job["timeout"])
    module = job["argv"][1] if job["argv"][0] == "-m" else None
    if module:  # python -m: the module's file as argv[0], the working folder first on the path
        sys.argv = [importlib.util.find_spec(module).origin, *job["argv"][2:]]
        sys.path[0] = os.getcwd()
        sys.modules.pop(module, None)
    else:  # python SCRIPT: the script's folder first on the path
        sys.argv = list(job["argv"])
        sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    # a process of its own has its own Brian2 debug log (the server's is removed at its exit)
    importlib.import_module("brian2.utils.logger").BrianLogger.initialize()
    try:
        if module:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(sys.argv[0], run_name="__main__")
        status = 0
    except SystemExit as exit:
        if exit.code is None or isinstance(exit.code, int):
            status = exit.code or 0
        else:
            print(exit.code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)

jobs = json.load(sys.stdin)
workers = int(sys.argv[1])
for name in sys.argv[2:]:
    importlib.import_module(name)
sys.stdout.flush()
sys.stderr.flush()
pending, running, status = list(enumerate(jobs)), {}, [None] * len(jobs)
while pending or running:
    while pending and len(running) < workers:
        index, job = pending.pop(0)
        pid = os.fork()
        if pid == 0:
            run(job)
        running[pid] = index
    pid, wait_status = os.wait()
    status[running.pop(pid)] = os.waitstatus_to_exitcode(wait_status)
json.dump(status, sys.stdout)
"""


def run_forked(runs, streams, workers=4):
    """Run each ``(argv, cwd, env)`` of ``runs`` as a process forked from a Python process that
    has imported :data:`PRELOADED`, at most ``workers`` at a time.

    ``argv`` is a command's (:func:`commands.command`) without the interpreter; ``env`` changes
    the environment (a value None removes the variable). ``streams`` is a folder for the runs'
    standard output and error.

    Returns
    -------
    list of subprocess.CompletedProcess
        Each run's exit status (minus the signal's number where one ended it) and output.
    """
    jobs = [
        {
            "argv": [str(a) for a in argv],
            "cwd": str(cwd),
            "env": env,
            "stdout": str(streams / f"{k}.out"),
            "stderr": str(streams / f"{k}.err"),
            "timeout": ROW_TIMEOUT,
        }
        for k, (argv, cwd, env) in enumerate(runs)
    ]
    server = subprocess.run(
        [sys.executable, "-c", FORK_SERVER, str(workers), *PRELOADED],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=ROW_TIMEOUT * len(jobs) / workers + 120,
    )
    assert server.returncode == 0, server.stderr
    return [
        subprocess.CompletedProcess(
            job["argv"],
            status,
            Path(job["stdout"]).read_text(errors="replace"),
            Path(job["stderr"]).read_text(errors="replace"),
        )
        for job, status in zip(jobs, json.loads(server.stdout), strict=True)
    ]
