"""The write is the last thing that can fail, and faults of the environment are one line.

A command's result is put in place as its last step (:func:`bimsim.io.replace_together`): its
summary is made before, an interrupt between two files of one result waits until both are in place
and the line it prints says what was written; standard output that fails (a closed pipe, a full
device, an encoding without the characters printed) neither loses the result nor changes the exit
status. Faults of the environment (a full disk, no network, no GPU, a build cache that is a file, a
bad ``MPLBACKEND``) end a command with one line naming the cause; a bug is Python's traceback, not
Brian2's "report a bug" message, and leaves no Brian2 debug files.
"""

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import xarray as xr
from commands import PREVIOUS, command

from bimsim import io
from bimsim.cli import run_command
from bimsim.io import read_dataset, replace_together, written

PAIRING = "protocols/stdp_pairing.py"
SHORT = ["--pairs", "2", "--points", "9"]  # a pairing run of about a second


def run(cmd, *args, cwd, env=None, stdout=subprocess.PIPE, timeout=300):
    """Run a command as a user does; its result (stdout captured unless told otherwise)."""
    return subprocess.run(
        command(cmd, *args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )


# --- standard output that fails ------------------------------------------------------------------


def test_a_closed_stdout_neither_loses_the_result_nor_changes_the_exit_status(tmp_path):
    """``command | head -1``: the pipe is closed before the summary is printed."""
    process = subprocess.Popen(
        command(PAIRING, *SHORT, "--out", "out.nc"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()  # "simulating ..."
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=300) == 0, stderr
    assert "Traceback" not in stderr
    assert "standard output failed (Broken pipe); going on without it" in stderr
    assert read_dataset(tmp_path / "out.nc").fit_a_plus.item() > 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_stdout_on_a_full_device_is_said_once_and_the_result_written(tmp_path):
    with open("/dev/full", "w") as full:
        result = run(PAIRING, *SHORT, "--out", "out.nc", cwd=tmp_path, stdout=full)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "stdp_pairing.py: standard output failed (No space left on device); going on without it"
    ]
    assert (tmp_path / "out.nc").exists()


def test_an_encoding_without_the_characters_printed_is_escaped(tmp_path):
    result = run(PAIRING, *SHORT, "--out", "out.nc", cwd=tmp_path,
                 env={"PYTHONIOENCODING": "ascii"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "\\u0394t values" in result.stdout  # Δt, escaped
    assert (tmp_path / "out.nc").exists()


@pytest.mark.parametrize("closed", ["stdout", "stderr", "both"])
def test_a_command_started_with_its_output_closed_still_writes_its_result(tmp_path, closed):
    """``command >&-``: Python starts with ``sys.stdout`` None; printing must not fail."""
    fds = {"stdout": [1], "stderr": [2], "both": [1, 2]}[closed]
    result = subprocess.run(
        ["sh", "-c", '"$@" ' + " ".join(f"{fd}>&-" for fd in fds), "sh",
         *command(PAIRING, *SHORT, "--out", "out.nc")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert read_dataset(tmp_path / "out.nc").fit_a_plus.item() > 0


# --- the write and what an interrupt says ----------------------------------------------------


def test_an_interrupt_between_two_renames_waits_until_both_are_in_place(tmp_path, monkeypatch):
    """Ctrl-C while the first file is renamed: both files are replaced, then the interrupt."""
    targets = {tmp_path / "fig.png": b"new png", tmp_path / "fig.pdf": b"new pdf"}
    for target in targets:
        target.write_bytes(b"old")
    rename = os.replace

    def interrupted(source, target):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the renames are under way
        rename(source, target)

    monkeypatch.setattr(io.os, "replace", interrupted)
    writes = {target: functools.partial(Path.write_bytes, data=data)
              for target, data in targets.items()}  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        replace_together(writes)
    assert {target: target.read_bytes() for target in targets} == targets
    assert written()[-2:] == list(targets)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.pdf", "fig.png"]


def test_an_interrupt_before_the_renames_leaves_every_file_as_it_was(tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "a.pdf"
    for target in (first, second):
        target.write_bytes(b"old")

    def interrupted(temporary):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_together({first: lambda t: t.write_bytes(b"new"), second: interrupted})
    assert first.read_bytes() == second.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "a.png"]


def test_a_rename_failing_after_another_names_what_was_replaced(tmp_path, monkeypatch):
    first, second = tmp_path / "a.png", tmp_path / "a.pdf"
    rename = os.replace

    def failing(source, target):
        if str(target) == str(second):
            raise PermissionError(13, "Permission denied")
        rename(source, target)

    monkeypatch.setattr(io.os, "replace", failing)
    with pytest.raises(OSError, match=r"a.pdf could not be put in place .*after .*a.png had been"):
        replace_together(
            {first: lambda t: t.write_bytes(b"1"), second: lambda t: t.write_bytes(b"2")}
        )
    assert first.read_bytes() == b"1" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no temporary left


def test_an_interrupt_after_the_write_says_what_was_written(tmp_path, capsys):
    out = tmp_path / "out.nc"

    def main(argv):
        replace_together({out: lambda t: t.write_bytes(b"result")})
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stop:
        run_command(main)
    assert stop.value.code == 130
    assert capsys.readouterr().err.endswith(f"interrupted; it had written {out}\n")


# --- faults of the environment -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a file system of 256 KiB (needs mount, e.g. as root)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def fill(folder):
    """Fill the disk of ``folder`` with a file ``filler``."""
    handle = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(handle, b"x" * 512)
    except OSError:
        pass
    finally:
        os.close(handle)


def test_a_full_disk_is_one_line_that_says_so(small_disk, tmp_path):
    (small_disk / "previous.nc").write_bytes(PREVIOUS)
    fill(small_disk)
    result = run(PAIRING, *SHORT, "--out", small_disk / "previous.nc", cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"stdp_pairing.py: no space left on the disk of {small_disk}")
    assert lines[0].endswith("no result was written")
    assert (small_disk / "previous.nc").read_bytes() == PREVIOUS
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "previous.nc"]


def test_a_download_without_network_is_one_line(tmp_path):
    """The download's address is reached through a proxy that refuses every connection."""
    proxy = "http://127.0.0.1:9"
    result = run(("-m", "bimsim.tasks.ecg"), "--download", "--quick", "--models", "floor",
                 cwd=tmp_path, env={"https_proxy": proxy, "http_proxy": proxy},
                 timeout=120)  # fmt: skip
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ecg.py: cannot download https://physionet.org/"), lines[0]
    assert lines[0].endswith("then give the folder with --data); no result was written")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("kind", ["a file", "read-only"])
def test_a_build_cache_that_cannot_be_written_is_refused_first(tmp_path, kind):
    cache = tmp_path / "cache"
    if kind == "a file":
        cache.write_text("not a folder")
        message = f"the build cache {cache} .* cannot be made: {cache} is a file"
    else:
        cache.mkdir()
        cache.chmod(0o555)
        if os.access(cache, os.W_OK):  # root writes anyway: a read-only mount is needed
            mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", cache],
                                   capture_output=True)  # fmt: skip
            if mount.returncode:
                pytest.skip("no read-only folder here for this user")
        message = "cannot be written"
    try:
        result = run(PAIRING, "--device", "cpp_standalone", "--out", "out.nc", cwd=tmp_path,
                     env={"BIMSIM_CACHE": str(cache)})  # fmt: skip
    finally:
        if kind == "read-only":
            subprocess.run(["umount", str(cache)], capture_output=True)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("stdp_pairing.py: error: argument --device: ")
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out.nc").exists()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_cuda_standalone_without_a_gpu_is_refused_first(tmp_path):
    result = run(PAIRING, "--device", "cuda_standalone", "--out", "out.nc", cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "argument --device: cuda_standalone needs" in lines[0]


@pytest.mark.parametrize(
    ("cmd", "name"),
    [
        (PAIRING, "stdp_pairing.py"),
        (("-m", "bimsim.tasks.lm"), "lm.py"),
        ("figures/stdp_curve.py", "stdp_curve.py"),
        (("-m", "bimsim.sweep"), "sweep.py"),
    ],
    ids=["protocol", "task", "figure", "sweep"],
)
def test_a_bad_mplbackend_is_one_line(tmp_path, cmd, name):
    result = run(cmd, "--help", cwd=tmp_path, env={"MPLBACKEND": "no-such-backend"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"{name}: error: MPLBACKEND='no-such-backend' is not a backend matplotlib knows: unset "
        "it, or set MPLBACKEND=Agg (bimsim only saves figures to files)"
    ]


def test_brian2_s_note_of_a_large_cython_cache_does_not_precede_a_command_s_line(tmp_path):
    """A Cython cache above Brian2's ``codegen.max_cache_dir_size`` (here 1 MB, set in the
    ``brian_preferences`` file Brian2 reads from the working folder): Brian2 alone notes it on
    stderr at its import; a command that imports bimsim first says only its own line."""
    cache = tmp_path / "cython"
    cache.mkdir()
    (cache / "filler").write_bytes(b"0" * 3_000_000)
    (tmp_path / "brian_preferences").write_text(
        f"codegen.max_cache_dir_size = 1\ncodegen.runtime.cython.cache_dir = '{cache}'\n"
    )
    alone = subprocess.run([sys.executable, "-c", "import brian2"], cwd=tmp_path,
                           capture_output=True, text=True)  # fmt: skip
    assert "Cache size for target 'cython'" in alone.stderr  # the setting takes effect
    result = run(PAIRING, "--device", "no-such-device", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr


def run_main(body, tmp_path):
    """A command whose ``main`` is ``body`` (Python source, run under run_command) in a process
    whose temporary folder is ``tmp_path/tmp``."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    script = tmp_path / "command.py"
    script.write_text(
        "import bimsim  # first, as the commands\nimport brian2\n"
        "from bimsim.cli import run_command\n\n\ndef main(argv):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n\nrun_command(main)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "TMPDIR": str(temporary)})  # fmt: skip
    return result, sorted(p.name for p in temporary.iterdir())


def test_a_bug_is_a_python_traceback_not_a_brian2_bug_report(tmp_path):
    result, left = run_main("return 1 / 0", tmp_path)
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "Brian" not in result.stderr
    assert left == []  # Brian2's brian_debug_*.log and brian_script_*.py removed


def test_a_script_using_the_library_sees_bimsims_errors_plainly(tmp_path):
    """A user's script (no run_command): a bad value bimsim refuses is Python's traceback of a
    ValueError, not a Brian2 bug report, and Brian2 keeps no debug files; an error from Brian2's
    or numpy's own code still goes to Brian2's hook."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary)}
    script = "from bimsim.network import BIMNetwork\nBIMNetwork(0, 4, 2)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith("n_inputs must be a positive integer, got 0")
    assert "Brian 2" not in result.stderr
    assert list(temporary.iterdir()) == []
    other = "import bimsim.network, numpy\nnumpy.zeros(3).reshape(5)\n"
    result = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True,
                            env=env, timeout=120)  # fmt: skip
    assert "Brian 2" in result.stderr  # not bimsim's error: Brian2's hook as before


def test_an_os_error_during_the_work_is_one_line(tmp_path):
    result, left = run_main("open('/no/such/folder/data.txt')", tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "command.py: /no/such/folder/data.txt: No such file or directory; no result was written"
    ]
    assert left == []


def test_a_dataset_of_the_previous_run_is_replaced_only_whole(tmp_path):
    """The result file is a complete dataset after the command, the previous one before."""
    out = tmp_path / "out.nc"
    out.write_bytes(PREVIOUS)
    result = run(PAIRING, *SHORT, "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with xr.open_dataset(out) as ds:
        assert ds.attrs["param_pairs"] == 2


# --- the library's write, odd command lines, and faults found once working ----------------------


@pytest.mark.parametrize("kind", ["FIFO", "folder"])
def test_the_library_never_writes_over_what_is_not_a_regular_file(tmp_path, kind):
    """``write_dataset`` (as a user's script calls it): a FIFO, a device (``/dev/null``, as
    root) or a folder is refused naming it, before anything is written."""
    from bimsim.io import write_dataset

    target = tmp_path / "target"
    os.mkfifo(target) if kind == "FIFO" else target.mkdir()
    ds = xr.Dataset({"x": ("i", [1.0], {"units": "1", "long_name": "x"})},
                    coords={"i": ("i", [0], {"units": "1", "long_name": "i"})})  # fmt: skip
    with pytest.raises(ValueError, match=rf"^{target} is a {kind}, not a regular file"):
        write_dataset(ds, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_a_command_line_that_is_not_text_is_one_line(tmp_path):
    """A path with bytes that are not UTF-8: Brian2 would fail with a traceback as it is
    imported (it copies the command line into its log)."""
    argv = command(PAIRING, "--out", "bad")
    argv[-1] = os.fsdecode(b"bad\xff\xfe.nc")
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=120)
    lines = result.stderr.decode(errors="replace").splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert "holds bytes that are not UTF-8 text" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_window_too_flat_to_fit_is_one_line(tmp_path):
    """τ₊ = 1e300 ms: the simulated window is flat on its positive side, and its fit cannot
    converge, which only the simulation shows: exit 1, one line, nothing written."""
    result = run(PAIRING, *SHORT, "--tau-plus", "1e300ms", "--out", "out.nc", cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("stdp_pairing.py: fitting the simulated window failed")
    assert lines[0].endswith("no result was written")
    assert not (tmp_path / "out.nc").exists()


@pytest.mark.standalone
def test_a_compiler_that_fails_is_one_line_naming_make_s_log(tmp_path):
    """``$CXX`` a compiler that fails: the standalone build's failure says what make said last
    and where the rest is, in one line (not Brian2's traceback nor make's own lines)."""
    env = {"BIMSIM_CACHE": str(tmp_path / "cache"), "CXX": "false"}
    result = run(PAIRING, "--device", "cpp_standalone", "--out", "out.nc", cwd=tmp_path, env=env)
    ours = [line for line in result.stderr.splitlines() if "[brian2" not in line]
    assert result.returncode == 1 and len(ours) == 1, result.stderr
    said = r"compiling the cpp_standalone project in \S+ failed; make said last: make: \*\*\* "
    assert re.search(said + r".*Error 1 \(all it said is in \S+make.log\)", ours[0]), ours[0]
    assert not (tmp_path / "out.nc").exists()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_a_benchmark_of_cuda_without_a_gpu_is_refused_first(tmp_path):
    result = run("benchmarks/bench_pairing.py", "--devices", "cuda_standalone", cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "argument --devices: cuda_standalone needs" in lines[0]


def test_a_long_file_name_gets_a_temporary_name_within_the_limit(tmp_path):
    """A 250-byte name is valid; its temporary file must be too (name + pid + suffix were not)."""
    target = tmp_path / ("b" * 250 + ".nc")
    replace_together({target: lambda temporary: temporary.write_bytes(b"result")})
    assert target.read_bytes() == b"result"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
