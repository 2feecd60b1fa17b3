"""Running bimsim's commands as a user does: tables of bad input, and commands to interrupt.

A command is a script of the repository (``"protocols/stdp_pairing.py"``) or a module run with
``-m`` (``("-m", "bimsim.tasks.ecg")``). A table row is ``(command, arguments, message)``:
the command must refuse the arguments with exit status 2 and one line on stderr matching
``message``, before any work, leaving the previous result at ``--out`` as it was and nothing else
behind.
"""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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
    """Run every row, a few at a time, each in a folder of its own that holds ``prev.nc``.

    ``--out prev.nc`` is added unless the row gives its own ``--out``.

    Returns
    -------
    list of (subprocess.CompletedProcess, dict, dict)
        The run, and the folder's files before and after it.
    """

    def run(row, folder):
        cmd, args, _ = row
        (folder / "prev.nc").write_bytes(PREVIOUS)
        before = files(folder)
        out = [] if "--out" in args else ["--out", "prev.nc"]
        result = subprocess.run(
            command(cmd, *args, *out), capture_output=True, text=True, cwd=folder, timeout=300
        )
        return result, before, files(folder)

    # made here, not in the threads: pytest's first mktemp creates its base folder, racily
    folders = [tmp_path_factory.mktemp("bad-input") for _ in rows]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, rows, folders))


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
