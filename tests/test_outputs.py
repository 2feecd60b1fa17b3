"""No command writes over anything it reads, or over anything that is not a regular file (issue 27).

Each command is given each of its inputs as its output, in every form a path can take: the input
itself, a symbolic link to it, a path through ``..``, another name of the same file (a hard link),
and, for an input folder, a file in it that does not exist yet (the tasks' and make_mitdb_subset's
and bench_tasks' ``--data``, the figures' ``--input``, the sweep's config). Each protocol, figure,
benchmark and the sweep is also given the running script, a new file in bimsim's package, a
folder, a FIFO, a socket, a link to ``/dev/null`` and ``/dev/null`` itself; and the commands that
keep runs to go on from (neuron_table, the sweep, run_suite ``--keep``) one of those runs. Every
one must be refused before any work: exit status 2, one line on stderr, every file as it was.

The check is made on paths, by the parser, before any input is read, so an input folder with a
dummy file stands for the real data: :func:`test_the_dummy_inputs_are_refused_only_once_read`
shows that the same command lines with the output elsewhere get past the output's check and are
refused only when they read the dummy input, so a check that is missing shows as another message.

A Python process spends about 2 s importing Brian2, xarray and matplotlib, and the table has a few
hundred rows; so the rows run as processes forked from one that has imported them
(:func:`run_forked`): each row is still a process of its own that runs the command's script as
``python SCRIPT ARGS`` or ``python -m MODULE ARGS`` would, with its own working folder, standard
streams, environment and exit status, in a fraction of a second.
:func:`test_a_forked_command_is_the_command` checks that rows run so and run as plain processes
end the same.
"""

import os
import re
import socket
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from commands import ROOT, command, run_forked

import bimsim

#: The package the commands import (the one on ``PYTHONPATH``, as for this test's own import).
PACKAGE = Path(bimsim.__file__).resolve().parent

# -- what a row leaves behind ----------------------------------------------------------------------


def snapshot(folder):
    """Everything under ``folder``, links not followed: each path's kind, and a file's bytes or a
    link's target (a FIFO or socket is not opened)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            found[path] = ("link", os.readlink(path))
        elif stat.S_ISREG(mode):
            found[path] = ("file", path.read_bytes())
        else:
            found[path] = (stat.S_IFMT(mode), None)
    return found


def code_snapshot():
    """bimsim's package and the repository's scripts, without Python's byte-code caches."""
    found = {}
    for folder in (PACKAGE, ROOT / "protocols", ROOT / "figures", ROOT / "benchmarks"):
        found.update(
            (path, state)
            for path, state in snapshot(folder).items()
            if "__pycache__" not in path.parts
        )
    return found


# -- the rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One command line to refuse.

    ``make(folder)`` makes the row's files in its own folder and returns the command's arguments;
    ``message`` is what stderr's one line must match; ``env`` changes the environment.
    """

    name: str
    cmd: object
    make: object
    message: str
    env: dict = field(default_factory=dict)


def reads(flag):
    """The refusal of an output that is, or resolves to, what ``flag`` names."""
    return rf"--out \S+ .*{flag} \S+, which this command reads; write elsewhere"


FOLDER = r"argument --out: \S+ is a folder"

TASKS = {
    "ecg": "100.dat",
    "eeg": "Z/Z001.txt",
    "speech": "recordings/0_jackson_0.wav",
    "lm": "wiki.test.tokens",
}

#: Commands that read a folder (``--data``), the dummy file in it, the folder within it that
#: the command reads (bench_tasks' ``--data`` is the root of the tasks' folders) and arguments.
FOLDER_INPUTS = {
    **{("-m", f"bimsim.tasks.{task}"): (name, ".", ()) for task, name in TASKS.items()},
    ("-m", "bimsim.data.make_mitdb_subset"): ("100.dat", ".", ()),
    "benchmarks/bench_tasks.py": ("wikitext-2/wiki.test.tokens", "wikitext-2", ("--tasks", "lm")),
}


def dummy_folder(folder, name):
    """``folder/data``, holding the dummy file ``name``; returns the folder and the file."""
    data = folder / "data"
    file = data / name
    file.parent.mkdir(parents=True)
    file.write_bytes(b"a dummy input: the check must refuse the output before reading it\n")
    return data, file


def link(path, target):
    path.symlink_to(target)
    return path


def hard_link(path, target):
    os.link(target, path)
    return path


def through_dots(folder, path):
    """``path`` (under ``folder``) written as ``folder/elsewhere/../...``."""
    (folder / "elsewhere").mkdir()
    return f"{folder}/elsewhere/../{path.relative_to(folder)}"


#: The forms of a folder input as an output: ``form(folder, data, file)`` -> ``--out``, where
#: ``data`` is the folder (in the row's ``folder``) and ``file`` the file in it.
FOLDER_FORMS = {
    "the folder": lambda folder, data, file: data,
    "a file in it": lambda folder, data, file: file,
    "a new file in it": lambda folder, data, file: data / "new.nc",
    "a link to a file in it": lambda folder, data, file: link(folder / "link.nc", file),
    "a new file through a link to it": lambda folder, data, file: (
        link(folder / "data-link", data) / "new.nc"
    ),
    "a path through ..": lambda folder, data, file: through_dots(folder, file),
    "a hard link to a file in it": lambda folder, data, file: hard_link(folder / "hard.nc", file),
}


def folder_input_rows():
    rows = []
    for cmd, (name, read, extra) in FOLDER_INPUTS.items():
        for form, make_out in FOLDER_FORMS.items():

            def make(folder, name=name, read=read, extra=extra, make_out=make_out):
                data, file = dummy_folder(folder, name)
                out = make_out(folder, (data / read).resolve() if read != "." else data, file)
                return [*extra, "--data", data, "--out", out]

            message = FOLDER if form == "the folder" else reads(r"(--data|a task's data)")
            rows.append(Row(f"{label(cmd)}: --data as --out, {form}", cmd, make, message))
    return rows


FIGURES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "figures").glob("*.py"))
PROTOCOLS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "protocols").glob("*.py"))
BENCHMARKS = sorted(
    str(path.relative_to(ROOT))
    for path in (ROOT / "benchmarks").glob("*.py")
    if path.name != "nest_pairing_process.py"  # a worker of bench_pairing, not a command
)
SWEEP = ("-m", "bimsim.sweep")


def dummy_figure_input(folder):
    """``folder/data/fig.png``: a figure's ``--input``, named as ``--out folder/data/fig``'s PNG."""
    data = folder / "data"
    data.mkdir()
    path = data / "fig.png"
    path.write_bytes(b"a dummy dataset: the check must refuse the output before reading it\n")
    return path


#: The forms of a figure's ``--input`` as its ``--out`` (a path without suffix: ``.png`` and
#: ``.pdf`` are appended): ``form(folder, input)`` -> ``--out``.
FIGURE_FORMS = {
    "the input itself": lambda folder, path: path.with_suffix(""),
    "a link to it": lambda folder, path: link(folder / "out.png", path).with_suffix(""),
    "a path through ..": lambda folder, path: through_dots(folder, path.with_suffix("")),
    "a hard link to it (the PDF)": lambda folder, path: hard_link(
        folder / "out.pdf", path
    ).with_suffix(""),
}


def figure_input_rows():
    rows = []
    for script in FIGURES:
        for form, make_out in FIGURE_FORMS.items():

            def make(folder, make_out=make_out):
                path = dummy_figure_input(folder)
                return ["--input", path, "--out", make_out(folder, path)]

            rows.append(Row(f"{label(script)}: --input as --out, {form}", script, make,
                            reads("--input")))  # fmt: skip
    return rows


#: A sweep of one point of a small pairing protocol (a few seconds, were it run).
SWEEP_CONFIG = f"""command = "{ROOT / "protocols" / "stdp_pairing.py"}"
args = ["--points", "9", "--pairs", "1"]

[grid]
seed = [0]
"""


def sweep_config(folder):
    path = folder / "s.toml"
    path.write_text(SWEEP_CONFIG)
    return path


#: The forms of the sweep's config file as its ``--out``: ``form(folder, config)`` -> ``--out``.
CONFIG_FORMS = {
    "the config itself": lambda folder, config: config,
    "a link to it": lambda folder, config: link(folder / "out.nc", config),
    "a path through ..": through_dots,
    "a hard link to it": lambda folder, config: hard_link(folder / "out.nc", config),
}


def sweep_config_rows():
    rows = []
    for form, make_out in CONFIG_FORMS.items():

        def make(folder, make_out=make_out):
            config = sweep_config(folder)
            return [config, "--serial", "--no-progress", "--out", make_out(folder, config)]

        message = r"--out \S+ .*s\.toml, which this command reads; write elsewhere"
        rows.append(Row(f"sweep: its config as --out, {form}", SWEEP, make, message))
    return rows


def script_of(cmd):
    """The file Python runs for ``cmd``."""
    if isinstance(cmd, str):
        return ROOT / cmd
    return PACKAGE.parent / (cmd[-1].replace(".", "/") + ".py")


def socket_file(path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    return path


DEVICE = r"argument --out: \S+ is a character device, not a regular file"


def the_script(folder, cmd, name):
    """The running script; for a figure (whose ``--out`` gets a suffix), a link to it."""
    return link(folder / name, script_of(cmd)) if name != "out.nc" else script_of(cmd)


def made(make, path):
    make(path)
    return path


#: What no command may write over: ``form(folder, cmd, name)`` -> the file the command would
#: write (``name``: ``out.nc``, or a figure's ``out.pdf``), and what the refusal says.
ANY_FORMS = {
    "the running script": (
        the_script,
        r"--out \S+ (is the running script|lies in bimsim's package) \S+, which this command reads",
    ),
    "a new file in bimsim's package": (
        lambda folder, cmd, name: PACKAGE / "data" / f"x{Path(name).suffix}",
        r"--out \S+ lies in bimsim's package \S+, which this command reads",
    ),
    "a folder": (lambda folder, cmd, name: made(Path.mkdir, folder / name), FOLDER),
    "a FIFO": (
        lambda folder, cmd, name: made(os.mkfifo, folder / name),
        r"argument --out: \S+ is a FIFO, not a regular file",
    ),
    "a socket": (
        lambda folder, cmd, name: socket_file(folder / name),
        r"argument --out: \S+ is a socket, not a regular file",
    ),
    "a link to /dev/null": (lambda folder, cmd, name: link(folder / name, "/dev/null"), DEVICE),
}


def any_rows():
    rows = []
    for cmd in [*PROTOCOLS, *FIGURES, *BENCHMARKS, SWEEP]:
        for form, (make_target, message) in ANY_FORMS.items():

            def make(folder, cmd=cmd, make_target=make_target):
                figure = cmd in FIGURES
                target = make_target(folder, cmd, "out.pdf" if figure else "out.nc")
                args = [sweep_config(folder)] if cmd == SWEEP else []
                return [*args, "--out", target.with_suffix("") if figure else target]

            rows.append(Row(f"{label(cmd)}: --out {form}", cmd, make, message))
    return rows


def null_device_rows():
    """``--out /dev/null`` itself, for every command but the figures (whose ``--out`` gets a
    suffix: ``/dev/null.png`` is a regular file's name)."""
    rows = []
    for cmd in [*PROTOCOLS, *BENCHMARKS, SWEEP]:

        def make(folder, cmd=cmd):
            return [*([sweep_config(folder)] if cmd == SWEEP else []), "--out", "/dev/null"]

        rows.append(Row(f"{label(cmd)}: --out /dev/null", cmd, make, DEVICE))
    return rows


def label(cmd):
    return Path(cmd).stem if isinstance(cmd, str) else cmd[-1].removeprefix("bimsim.")


def junk_run(folder, name):
    """``folder/runs/name``: a run a command keeps, here one it cannot read (so that it stops
    before any work where it does not refuse the output first)."""
    runs = folder / "runs"
    runs.mkdir()
    (runs / name).write_bytes(b"a kept run, which the command reads\n")
    return runs


NO_DATA = {"BIMSIM_DATA": None}  # run_suite refuses its tasks benchmark before any work


def kept_table_run(folder):
    """neuron_table's ``--out`` a run it keeps (and reads) in ``--runs``."""
    runs = junk_run(folder, "ecg_lif.nc")
    return [*"--tasks ecg --neurons lif --seeds 1 --quick --runs".split(), runs,
            "--out", runs / "ecg_lif.nc"]  # fmt: skip


def kept_sweep_point(folder):
    """The sweep's ``--out`` a point's run it keeps (and reads) in ``--runs``."""
    runs = junk_run(folder, "seed=0.nc")
    return [sweep_config(folder), "--serial", "--runs", runs, "--out", runs / "seed=0.nc"]


def kept_benchmark(folder):
    """run_suite's ``--out`` a benchmark's dataset it keeps (``--keep``, and reads) in
    ``--runs``."""
    runs = junk_run(folder, "tasks.nc")
    return ["--keep", "--only", "tasks", "--runs", runs, "--out", runs / "tasks.nc"]


def table_to_script(folder):
    """run_suite's ``--out`` whose table (``.md``) is a link to the running script."""
    table = link(folder / "suite.md", ROOT / "benchmarks" / "run_suite.py")
    return ["--only", "tasks", "--out", table.with_suffix(".nc")]


def table_to_fifo(folder):
    """run_suite's ``--out`` whose table (``.md``) is a FIFO."""
    table = made(os.mkfifo, folder / "suite.md")
    return ["--only", "tasks", "--out", table.with_suffix(".nc")]


def suite_runs_in_package(folder):
    return ["--only", "tasks", "--runs", PACKAGE / "data" / "runs", "--out", folder / "suite.nc"]


def sweep_runs_in_package(folder):
    """The sweep's ``--runs`` in bimsim's package; a point its command refuses (``--points 1``),
    so that the sweep stops before any run where it takes the folder."""
    config = folder / "s.toml"
    config.write_text(SWEEP_CONFIG.replace('"9"', '"1"'))
    return [config, "--serial", "--runs", PACKAGE / "data" / "runs", "--out", folder / "s.nc"]


IN_PACKAGE = r"--runs \S+ lies in bimsim's package"

#: Outputs that are inputs through a command's folder of runs (read to go on where a run
#: stopped), and outputs besides ``--out``: run_suite's table (``--out`` with ``.md``) and the
#: folders of runs, which must not lie in bimsim's package either.
OTHER_ROWS = [
    Row("neuron_table: --out a run it keeps in --runs", "protocols/neuron_table.py",
        kept_table_run, reads("--runs")),
    Row("sweep: --out a point's run it keeps in --runs", SWEEP, kept_sweep_point,
        reads("--runs")),
    Row("run_suite: --keep, --out a dataset it keeps in --runs", "benchmarks/run_suite.py",
        kept_benchmark, reads("--runs"), NO_DATA),
    Row("run_suite: its table a link to the running script", "benchmarks/run_suite.py",
        table_to_script, r"suite\.md is the running script", NO_DATA),
    Row("run_suite: its table a FIFO", "benchmarks/run_suite.py", table_to_fifo,
        r"suite\.md is a FIFO, not a regular file", NO_DATA),
    Row("run_suite: --runs in bimsim's package", "benchmarks/run_suite.py",
        suite_runs_in_package, IN_PACKAGE, NO_DATA),
    Row("sweep: --runs in bimsim's package", SWEEP, sweep_runs_in_package, IN_PACKAGE),
]  # fmt: skip

ROWS = [*folder_input_rows(), *figure_input_rows(), *sweep_config_rows(), *any_rows(),
        *OTHER_ROWS]  # fmt: skip
NULL_ROWS = null_device_rows()


# -- running the rows ----------------------------------------------------------------------------


def run_table(rows, tmp_path_factory, out_elsewhere=False):
    """Run every row in a folder of its own, forked (:func:`run_forked`).

    ``out_elsewhere``: the row's ``--out`` replaced by a new file in its folder (``new.nc``, or a
    figure's ``new``), the rest of its command line kept.

    Returns
    -------
    list of (subprocess.CompletedProcess, dict, dict)
        The run, and the folder's files (:func:`snapshot`) before and after it.
    """
    runs, folders = [], []
    for row in rows:
        folder = tmp_path_factory.mktemp("row")
        args = row.make(folder)
        if out_elsewhere:
            args[args.index("--out") + 1] = folder / ("new" if row.cmd in FIGURES else "new.nc")
        runs.append((command(row.cmd, *args)[1:], folder, row.env))
        folders.append((folder, snapshot(folder)))
    done = run_forked(runs, tmp_path_factory.mktemp("streams"))
    return [
        (run, before, snapshot(folder)) for run, (folder, before) in zip(done, folders, strict=True)
    ]


def problems(run, message):
    """What keeps ``run`` (:func:`run_table`'s) from being a refusal matching ``message`` before
    any work (exit status 2, one stderr line, every file as it was): a list, empty if none."""
    result, before, after = run
    lines = result.stderr.splitlines()
    found = []
    if result.returncode != 2:
        found.append(f"exit status {result.returncode}, not 2")
    if len(lines) != 1:
        found.append(f"{len(lines)} lines on stderr, not 1")
    elif not (re.search(message, lines[0]) and lines[0].endswith("(see --help)")):
        found.append(f"the line does not match {message!r}")
    changed = sorted(str(path) for path in before.keys() | after.keys()
                     if before.get(path) != after.get(path))  # fmt: skip
    if changed:
        found.append(f"files changed, made or removed: {', '.join(changed)}")
    return found


class Runs(dict):
    """The rows' runs by name; its repr is short (pytest prints a failing test's fixtures)."""

    def __repr__(self):
        return f"<runs of {len(self)} rows>"


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """Every row's run by its name (:func:`run_table`), with ``code_changed``, what the rows
    changed in bimsim's package and the scripts (what they added is removed), and ``null``, the
    null device's kind before and after."""
    code, null = code_snapshot(), stat.S_IFMT(os.stat("/dev/null").st_mode)
    runs = Runs(zip([row.name for row in ROWS], run_table(ROWS, tmp_path_factory), strict=True))
    # /dev/null itself only where the same command refused a link to it: as root, a command
    # that took it would replace the machine's null device
    safe = [
        row for row in NULL_ROWS
        if not problems(runs[row.name.replace("/dev/null", "a link to /dev/null")], DEVICE)
    ]  # fmt: skip
    runs.update(zip([row.name for row in safe], run_table(safe, tmp_path_factory), strict=True))
    after = code_snapshot()
    runs.code_changed = sorted(
        str(p) for p in code.keys() | after.keys() if code.get(p) != after.get(p)
    )
    for path in sorted(after.keys() - code.keys(), reverse=True):  # so that the next run is clean
        if after[path][0] == stat.S_IFDIR:
            path.rmdir()
        else:
            path.unlink()
    runs.null = (null, stat.S_IFMT(os.stat("/dev/null").st_mode))
    return runs


@pytest.mark.parametrize("row", [*ROWS, *NULL_ROWS], ids=lambda row: row.name)
def test_an_output_that_is_read_or_is_no_regular_file_is_refused_before_any_work(refusals, row):
    runs = refusals
    if row.name not in runs:
        pytest.fail("not run: the same command took a link to /dev/null")
    found = problems(runs[row.name], row.message)
    assert not found, f"{'; '.join(found)}; stderr: {runs[row.name][0].stderr[-2000:]!r}"


def test_no_command_changed_bimsim_its_scripts_or_the_null_device(refusals):
    assert not refusals.code_changed  # no file in bimsim/ or the scripts written, replaced, added
    assert refusals.null == (stat.S_IFCHR, stat.S_IFCHR)


# -- the table's premises ------------------------------------------------------------------------

#: Where the same command line with ``--out`` elsewhere is refused once the dummy input is read.
CONTROLS = [
    row
    for row in ROWS
    if row.name.endswith((", a file in it", ", a link to it")) and row.cmd != SWEEP
]


def test_the_dummy_inputs_are_refused_only_once_read(tmp_path_factory):
    """The rows' dummy inputs stand for real data: with ``--out`` elsewhere, each command goes on
    past the output's check and refuses the dummy input (not its output) when it reads it. So
    the refusals above come before any input is read, and a check that is missing shows as
    another message (no input is good enough to start the work)."""
    runs = run_table(CONTROLS, tmp_path_factory, out_elsewhere=True)
    for row, (result, before, after) in zip(CONTROLS, runs, strict=True):
        lines = result.stderr.splitlines()
        # bench_tasks checks that each task's folder is there; the task it starts refuses the rest
        status = 1 if row.cmd == "benchmarks/bench_tasks.py" else 2
        assert result.returncode == status and len(lines) == 1, (row.name, result.stderr)
        assert "--out" not in lines[0], (row.name, lines[0])
        assert after == before, row.name


def test_make_mitdb_subset_may_write_the_subset_it_ships(tmp_path):
    """Its default ``--out`` is ``bimsim/data/mitdb_beats.nc``, the file it exists to write (the
    README: "written by python -m bimsim.data.make_mitdb_subset"): not refused as a file of
    bimsim's package; here it goes on to refuse the dummy folder, before writing anything."""
    data, _ = dummy_folder(tmp_path, "100.hea")
    code = code_snapshot()
    [result] = run_forked(
        [(["-m", "bimsim.data.make_mitdb_subset", "--data", data], tmp_path, {})], tmp_path
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "--out" not in lines[0], lines[0]
    assert code_snapshot() == code


#: A row of each kind of command, run both ways.
SAMPLES = [
    "tasks.ecg: --data as --out, a path through ..",
    "bench_tasks: --data as --out, a hard link to a file in it",
    "ecg_roc: --input as --out, a link to it",
    "stdp_pairing: --out the running script",
    "bench_memory: --out a FIFO",
    "sweep: --out a new file in bimsim's package",
]


def test_a_forked_command_is_the_command(tmp_path_factory):
    """A row forked from the server ends as the same command line run by a new Python process:
    the same exit status and stderr (its folder's name aside)."""
    rows = [row for row in ROWS if row.name in SAMPLES]
    assert len(rows) == len(SAMPLES)
    forked = run_table(rows, tmp_path_factory)
    folders = [tmp_path_factory.mktemp("plain") for _ in rows]
    with ThreadPoolExecutor(max_workers=4) as pool:
        plain = list(pool.map(run_plain, rows, folders))
    base = re.escape(str(tmp_path_factory.getbasetemp()))
    for row, (fork, _, _), run in zip(rows, forked, plain, strict=True):
        assert run.returncode == fork.returncode == 2, (row.name, run.stderr, fork.stderr)
        assert re.sub(rf"{base}/(row|plain)\d+", "F", run.stderr) == re.sub(
            rf"{base}/(row|plain)\d+", "F", fork.stderr
        ), row.name


def run_plain(row, folder):
    """``row`` run by a Python process of its own, in ``folder``."""
    env = {**os.environ, **{k: v for k, v in row.env.items() if v is not None}}
    for name in (k for k, v in row.env.items() if v is None):
        env.pop(name, None)
    args = row.make(folder)
    return subprocess.run(command(row.cmd, *args), cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def refused_plainly(argv, cwd, env=None, timeout=120):
    """Run ``argv`` as a process; its exit status and its one stderr line (asserted one)."""
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})  # fmt: skip
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    return lines[0]


def test_the_neuron_table_refuses_an_output_in_a_task_s_data(tmp_path):
    """neuron_table reads every task's data (its default folder under ``$BIMSIM_DATA``)."""
    root = tmp_path / "root"
    segment = root / "eeg_bonn" / "A_Z" / "Z001.txt"
    segment.parent.mkdir(parents=True)
    segment.write_bytes(b"a segment")
    before = segment.read_bytes()
    line = refused_plainly(
        command("protocols/neuron_table.py", "--tasks", "eeg", "--neurons", "lif", "--quick",
                "--out", segment),
        tmp_path, {"BIMSIM_DATA": str(root)},
    )  # fmt: skip
    assert re.search(r"--out \S+Z001.txt lies in a task's data \S+eeg_bonn, which this", line)
    assert segment.read_bytes() == before


def test_a_sweep_refuses_an_output_or_runs_in_what_its_points_read(tmp_path):
    """The points of a task sweep read ``--data``: the merged result, the folder of runs and
    every point's run must lie elsewhere."""
    data, segment = dummy_folder(tmp_path, "A_Z/Z001.txt")
    config = tmp_path / "s.toml"
    config.write_text(
        f'command = "bimsim.tasks.eeg"\nargs = ["--data", "{data}", "--quick"]\n'
        "[grid]\nlam = [0.0, 1.0]\n"
    )
    before = snapshot(tmp_path)
    for extra, message in (
        (["--out", segment, "--runs", tmp_path / "runs"], r"--out \S+Z001.txt lies in the poi"),
        (["--runs", data / "runs"], r"runs\S* lies in (the points' )?--data"),
    ):
        line = refused_plainly(command(("-m", "bimsim.sweep"), config, *extra), tmp_path)
        assert re.search(message, line), line
    assert snapshot(tmp_path) == before
