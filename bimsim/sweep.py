"""Sweeps: a grid over the command-line settings of any task or protocol, run on dask.distributed.

A sweep is a command (a module run with ``python -m``, such as ``bimsim.tasks.ecg``, or a script,
such as ``protocols/stdp_pairing.py``), the arguments every point shares, and a grid: for some of
the command's options, the values to try. Each point of the grid is one run of the command, a
process of its own, that writes its dataset into the sweep's folder of runs (atomically, as every
bimsim command does); the points run as tasks of a dask.distributed cluster, a ``LocalCluster`` by
default or any scheduler by its address (whose workers must share this file system and have
bimsim installed). Then the runs merge into one Dataset along the sweep's dimensions, one per
option of the grid. A sweep written as TOML::

    command = "bimsim.tasks.ecg"
    args = ["--quick", "--models", "bim", "--seeds", "2", "--no-progress"]

    [grid]
    lam = [0.0, 0.5, 1.0]
    prune-target = [0.0, 0.3, 0.6]

runs with ``python -m bimsim.sweep sweeps/ecg_lam_rho.toml``, or from Python::

    sweep = Sweep.from_toml("sweeps/ecg_lam_rho.toml")
    ds = run_sweep(sweep, "results/sweep_runs", workers=2)

What holds:

- every point's options and values are checked by the command's own parser, and by its checks
  after parsing (a task's refusals of flags without effect, of a weight decay its rate cannot
  take, ...), before any point runs (a command is sweepable if its module has ``parser()``, or
  a ``TASK`` with one; its checks are its module's or ``TASK``'s ``check_arguments``); a sweep of
  sweeps (the command is this module) is refused, and so, on the command line, is an output
  (``--out``, ``--runs``, a point's run or log) that is the config or the command's file;
- names never stop the merge after the points ran: a grid option that every run records as a
  one-valued dimension of its own (a task's ``seed``) merges along it, and a run's name that the
  merge keeps for itself is kept as ``run_<name>`` (:func:`merge_runs`);
- a re-run keeps the points already written with the same command line (an interrupted sweep goes
  on where it stopped), and refuses one written with another (never taking it for the point);
- a failing point leaves its output in ``<point>.log`` and is recorded in the merged dataset's
  ``error`` (its values NaN) while the others go on; a re-run tries it again;
- standalone builds do not collide: each dask worker builds in a folder of its own
  (``$BIMSIM_CACHE/sweep-<worker>``), so workers compile in parallel and reuse their builds.
"""

import contextlib
import importlib
import importlib.util
import io
import itertools
import json
import logging
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from bimsim.files import same_file, tied_to_this_process

__all__ = [
    "MAX_POINTS",
    "MAX_WORKERS",
    "Sweep",
    "check_outputs",
    "command_parser",
    "merge_runs",
    "point_name",
    "recorded_command",
    "run_point",
    "run_sweep",
]

#: Most points of one sweep, and most workers of a local cluster.
MAX_POINTS = 10_000
MAX_WORKERS = 256

#: Options a sweep sets itself, which its arguments and grid must not.
_OWN = ("out", "help")

#: Names the merged sweep keeps for itself: no grid option may take them (a run's variable of
#: that name is kept as ``run_<name>``).
_RESERVED = ("error", "point")

#: Longest file name of a point (most file systems allow 255 bytes).
MAX_NAME = 200

_OPTION = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")


@dataclass(frozen=True)
class Sweep:
    """A grid over a command's options (see the module docstring).

    Parameters
    ----------
    command : str
        A module run with ``python -m`` (``bimsim.tasks.ecg``) or a script's path
        (``protocols/stdp_pairing.py``, relative to the working directory).
    grid : dict
        ``{option: values}``, an option as the command spells it without its dashes
        (``prune-target``), and its values (numbers, or strings such as ``"10ms"``), each option
        one dimension of the result, in this order.
    args : tuple of str
        Arguments every point shares (not ``--out``: each point's is the sweep's).
    """

    command: str
    grid: dict
    args: tuple = ()

    def __post_init__(self):
        if not isinstance(self.command, str) or not self.command.strip():
            raise ValueError(f"command must name a module or a script, got {self.command!r}")
        if not isinstance(self.grid, dict) or not self.grid:
            raise ValueError("grid must give at least one option and its values")
        grid = {}
        for option, values in self.grid.items():
            if not isinstance(option, str) or not _OPTION.match(option):
                raise ValueError(
                    f"grid option {option!r} must be an option's name without its dashes, "
                    "such as 'lam' or 'prune-target'"
                )
            if option in _OWN:
                raise ValueError(f"--{option} is the sweep's to set, not a grid option")
            grid[option] = _values(option, values)
        points = math.prod(len(v) for v in grid.values())
        if points > MAX_POINTS:
            raise ValueError(f"the grid has {points} points, more than {MAX_POINTS}")
        if isinstance(self.args, str) or not all(isinstance(a, str) for a in self.args):
            raise ValueError(f"args must be a list of strings, got {self.args!r}")
        for arg in self.args:
            name = arg.removeprefix("--").split("=")[0]
            if arg.startswith("--") and (name in _OWN or name in grid):
                raise ValueError(f"args must not set --{name}: the sweep sets it")
        reserved = sorted({o.replace("-", "_") for o in grid} & set(_RESERVED))
        if reserved:
            raise ValueError(f"grid option {reserved[0]!r} names what the merged sweep keeps "
                             "for itself")  # fmt: skip
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "args", tuple(self.args))
        names = [point_name(p) for p in self.points()]
        if len(set(names)) < len(names):
            raise ValueError("two points of the grid have the same file name: give other values")
        long = max(names, key=len)
        if len(long.encode()) > MAX_NAME:
            raise ValueError(f"the point file name {long[:40]}... is longer than {MAX_NAME} "
                             "bytes: give shorter values")  # fmt: skip

    @classmethod
    def from_toml(cls, path):
        """The sweep a TOML file describes (``command``, ``args``, and a ``[grid]`` table)."""
        path = Path(path)
        try:
            config = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ValueError(f"{path} cannot be read as a sweep: {err}") from None
        unknown = sorted(set(config) - {"command", "args", "grid"})
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; a sweep has "
                             "command, args and [grid]")  # fmt: skip
        if "command" not in config or "grid" not in config:
            raise ValueError(f"{path} must give command and [grid]")
        args = config.get("args", [])
        if not isinstance(args, list):
            raise ValueError(f"{path}: args must be a list of strings, got {args!r}")
        return cls(config["command"], config["grid"], tuple(args))

    @property
    def dims(self):
        """The result's dimension of each option (``prune-target``: ``prune_target``)."""
        return {option: option.replace("-", "_") for option in self.grid}

    def points(self):
        """Every point, ``{option: value}``, the last option varying fastest."""
        return [dict(zip(self.grid, values, strict=True))
                for values in itertools.product(*self.grid.values())]  # fmt: skip

    def arguments(self, point, out):
        """The command's arguments (after the program) of ``point``, written to ``out``."""
        options = [f"--{option}={_text(value)}" for option, value in point.items()]
        return [*self.args, *options, "--out", str(out)]

    def program(self):
        """The file that runs: the script, or the module's source, as an absolute path."""
        if _is_script(self.command):
            return Path(self.command).resolve()
        spec = importlib.util.find_spec(self.command)
        if spec is None or spec.origin is None:
            raise ValueError(f"the command's module {self.command!r} cannot be found")
        return Path(spec.origin).resolve()

    def argv(self, point, out):
        """The command line of ``point`` after the interpreter (its script as an absolute path,
        so that a worker elsewhere on a shared file system runs the same file)."""
        if _is_script(self.command):
            return [str(self.program()), *self.arguments(point, out)]
        return ["-m", self.command, *self.arguments(point, out)]

    def check(self, runs=None):
        """Parse every point's arguments with the command's own parser, and check them as the
        command does before its work (a task's ``check_arguments``); a ``ValueError`` naming
        the point and what the command said, before any point runs. A sweep of sweeps (the
        command is this module) is refused: each point would run a sweep of its own, without
        bound.

        With ``runs``, the folder of runs, each point is parsed with the file it will write
        there, so that the command's own check of its outputs against its inputs sees it.

        Returns
        -------
        list of (str, str)
            What the points read, as their parsers declare it (``(flag, path)``; see
            :meth:`bimsim.cli.ArgumentParser.inputs`).
        """
        parser, checks = _command_checks(self.command)
        if _is_this_module(self.program()):
            raise ValueError(
                f"the command {self.command} is a sweep itself: a sweep of sweeps would start "
                "sweeps without bound; sweep the command that the inner sweep runs"
            )
        known = set(parser._option_string_actions)  # argparse would take an abbreviation
        for option in self.grid:
            if f"--{option}" not in known:
                raise ValueError(f"{self.command} has no option --{option}")
        inputs, runs_of = [], {}
        for point in self.points():
            message = io.StringIO()
            out = Path(runs) / f"{point_name(point)}.nc" if runs is not None else "point.nc"
            try:
                with contextlib.redirect_stderr(message), contextlib.redirect_stdout(message):
                    args = parser.parse_args(self.arguments(point, out))
                    if checks is not None:
                        checks(parser, args)
            except SystemExit:
                said = message.getvalue().strip().splitlines()
                # the parser's line without its "prog: error: " and "(see --help)"
                said = said[-1].split(": error: ", 1)[-1] if said else "it exits"
                said = said.removesuffix(" (see --help)")
                raise ValueError(
                    f"{self.command} refuses the point {_describe(point)}: {said}"
                ) from None
            if hasattr(parser, "inputs"):
                inputs += [entry for entry in parser.inputs(args) if entry not in inputs]
            # two spellings of one value ("10ms", "0.01s") would be one run, twice
            key = _settings(args)
            if key in runs_of:
                raise ValueError(
                    f"the points {_describe(runs_of[key])} and {_describe(point)} are the same "
                    "run: the command reads their values as the same settings"
                )
            runs_of[key] = point
        return inputs


def _settings(args):
    """The settings a command's parser read (but the output), as a hashable key: quantities by
    value and dimensions, lists as tuples."""

    def key(value):
        if isinstance(value, (list, tuple)):
            return tuple(key(item) for item in value)
        if hasattr(value, "dim"):  # a Brian2 quantity (unhashable)
            return float(np.asarray(value)), repr(value.dim)
        return value if isinstance(value, Hashable) else repr(value)

    return tuple(sorted((name, key(value)) for name, value in vars(args).items() if name != "out"))


def _values(option, values):
    """``values`` of a grid option, checked: a non-empty list of distinct numbers, or of distinct
    strings (not both)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"grid option {option!r} needs a list of one or more values")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    texts = all(isinstance(v, str) and v.strip() for v in values)
    if not (numbers or texts):
        raise ValueError(
            f"the values of {option!r} must be all numbers or all non-empty strings, got {values!r}"
        )
    if numbers and not all(math.isfinite(v) for v in values):
        raise ValueError(f"the values of {option!r} must be finite, got {values!r}")
    if len({float(v) if numbers else v for v in values}) < len(values):
        raise ValueError(f"a value of {option!r} is given twice: {values!r}")
    return tuple(values)


def _text(value):
    """A value as the command line gets it (a float as Python writes it: no digit lost)."""
    return repr(value) if isinstance(value, float) else str(value)


def _describe(point):
    return " ".join(f"--{option}={_text(value)}" for option, value in point.items())


def _is_script(command):
    return command.endswith(".py") or os.sep in command


def _is_this_module(program):
    """Whether ``program`` is this module's file (by the file itself: a link or another spelling
    of its path is the same file)."""
    return same_file(program, __file__)  # False where it does not exist: the parser says so


def point_name(point):
    """The file name (without suffix) of ``point``'s run, from its options and values."""
    return "_".join(f"{option}={_UNSAFE.sub('-', _text(v))}" for option, v in point.items())


def command_parser(command):
    """The argparse parser of ``command`` (its module's ``parser()``, or its ``TASK``'s)."""
    return _command_checks(command)[0]


def _command_checks(command):
    """The parser of ``command`` and its checks after parsing, ``check(parser, args)`` (its
    module's ``check_arguments``, or its ``TASK``'s: a task's refusals that argparse cannot
    see, such as a flag without effect), or None where it has none."""
    if _is_script(command):
        path = Path(command)
        if not path.is_file():
            raise ValueError(f"the command's script {command} does not exist")
        spec = importlib.util.spec_from_file_location(f"_sweep_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # the script's own import error, named
            raise ValueError(f"the command's script {command} cannot be imported: {err}") from err
    else:
        try:
            module = importlib.import_module(command)
        except ImportError as err:
            raise ValueError(
                f"the command's module {command!r} cannot be imported: {err}"
            ) from None
    task = getattr(module, "TASK", None)
    check = getattr(module, "check_arguments", getattr(task, "check_arguments", None))
    if hasattr(module, "parser"):
        return module.parser(), check
    if hasattr(task, "parser"):
        return task.parser(), check
    raise ValueError(f"{command} has no parser() (nor a TASK with one): it cannot be swept")


def run_point(arguments, own_cache=False):
    """Run one point, ``arguments`` being its command line after the interpreter, with this
    process's Python (on a dask worker: the worker's): ``(exit status, stdout, stderr)``. With
    ``own_cache``, standalone builds go to a folder of this worker's own."""
    env = dict(os.environ)
    if own_cache:
        from bimsim.files import cache_dir  # not bimsim.devices: no Brian2 in a worker's thread

        try:
            from distributed import get_worker

            worker = get_worker().name
        except ValueError:  # not on a worker
            worker = "local"
        env["BIMSIM_CACHE"] = str(cache_dir() / f"sweep-{_UNSAFE.sub('-', str(worker))}")
    # ended (SIGTERM: the command writes nothing) when the thread that started it ends: a sweep
    # stopped on a worker leaves no point running there
    argv = tied_to_this_process([sys.executable, *arguments])
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    return done.returncode, done.stdout, done.stderr


def recorded_command(ds):
    """The program a dataset's run ran (its ``sys.argv[0]`` as an absolute path, or None) and its
    arguments without ``--out``, read from its ``command_line`` provenance attribute."""
    words = shlex.split(ds.attrs.get("command_line", ""))
    if not words:
        return None, []
    arguments, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word == "--out":
            skip = True
        elif not word.startswith("--out="):
            arguments.append(word)
    return Path(words[0]).resolve(), arguments


def _wanted_arguments(sweep, point):
    return sweep.arguments(point, "-")[:-2]


def run_sweep(
    sweep, runs, *, workers=2, scheduler=None, serial=False, progress=True, log=print, check=True
):
    """Run every point of ``sweep`` not yet in ``runs`` (a folder), then merge them.

    Parameters
    ----------
    sweep : Sweep
    runs : path
        Folder of the points' runs (``<point>.nc``, and ``<point>.log`` for one that failed).
    workers : int
        Workers of the ``LocalCluster`` (one thread each; each point is a process of its own).
    scheduler : str, optional
        Address of a dask scheduler to use instead of a local cluster.
    serial : bool
        Run the points one after another in this process's children, without dask.
    progress : bool
    log : callable
    check : bool
        Check every point first (:meth:`Sweep.check`); False where the caller just did.

    Returns
    -------
    (xarray.Dataset, dict)
        The merged runs (:func:`merge_runs`) and ``{point index: error}`` of the failed points.
    """
    from tqdm.auto import tqdm

    from bimsim.quantities import require_whole  # Brian2: not in the workers that import this

    require_whole("workers", workers, 1, MAX_WORKERS)
    if check:
        sweep.check(runs)
    runs = Path(runs)
    program = sweep.program()
    points = sweep.points()
    paths = [runs / f"{point_name(p)}.nc" for p in points]
    kept = {}
    for k, (point, path) in enumerate(zip(points, paths, strict=True)):
        if path.exists():
            ds = _read(path)
            wanted = _wanted_arguments(sweep, point)
            if recorded_command(ds) != (program, wanted):
                raise ValueError(
                    f"{path} was made by another command line ({ds.attrs.get('command_line')!r}, "
                    f"not the arguments {shlex.join(wanted)}): remove it, or give another folder"
                )
            kept[k] = ds
    todo = [k for k in range(len(points)) if k not in kept]
    log(f"{len(kept)} of {len(points)} points kept in {runs}; {len(todo)} to run")
    runs.mkdir(parents=True, exist_ok=True)
    # absolute paths: a worker of another scheduler, on a shared file system, writes here too
    argvs = {k: sweep.argv(points[k], paths[k].resolve()) for k in todo}
    errors = {}

    def finish(k, result):
        status, stdout, stderr = result
        record = paths[k].with_suffix(".log")
        if status == 0 and paths[k].exists():
            kept[k] = _read(paths[k])
            record.unlink(missing_ok=True)
            return
        lines = stderr.strip().splitlines()
        errors[k] = f"exit {status}: {lines[-1] if lines else 'no output'}"
        if paths[k].exists():  # written, then failed: not a point to keep for a re-run
            paths[k].unlink()
            errors[k] += " (its dataset, written before the failure, was removed)"
        record.write_text(f"$ python {shlex.join(argvs[k])}\n{stdout}\n{stderr}")
        log(f"point {_describe(points[k])} failed ({errors[k]}); its output is in {record}")

    bar = tqdm(total=len(todo), desc="sweep", disable=not progress)
    if serial or not todo:
        for k in todo:
            finish(k, run_point(argvs[k]))
            bar.update()
    else:
        _run_on_dask(argvs, finish, bar, workers, scheduler)
    bar.close()
    return merge_runs(sweep, {k: kept[k] for k in sorted(kept)}, errors), errors


def _run_on_dask(argvs, finish, bar, workers, scheduler):
    import tempfile

    import dask
    from distributed import Client, LocalCluster, as_completed

    with contextlib.ExitStack() as stack:
        # on an interrupt the cluster is shut down from here: its log of the cancelled tasks and
        # of the workers it stops says nothing more than the command's own line
        stack.enter_context(_quiet_logger("distributed", logging.CRITICAL))
        if scheduler is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="bimsim-dask-"))
            stack.enter_context(dask.config.set({"temporary-directory": scratch}))
            # the workers' processes start with Ctrl-C ignored (Python keeps an ignored SIGINT),
            # so that Ctrl-C reaches this process alone, which ends them and their points; their
            # log (set up as they import distributed) keeps errors only
            with _ignoring(signal.SIGINT), _environment(DASK_LOGGING__DISTRIBUTED="error"):
                local = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, local_directory=scratch,
                )  # fmt: skip
            cluster = stack.enter_context(local)
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler))
            except (OSError, ValueError) as err:  # unreachable, or not an address
                raise OSError(f"cannot reach the dask scheduler {scheduler}: {err}") from None
        futures = {
            client.submit(run_point, argv, True, pure=False, key=f"sweep-point-{k}"): k
            for k, argv in argvs.items()
        }
        try:
            for future in as_completed(futures):
                k = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # the worker itself failed (not the command)
                    result = (-1, "", f"the dask task failed: {err!r}")
                finish(k, result)
                bar.update()
        except BaseException:
            client.cancel(list(futures))
            raise


@contextlib.contextmanager
def _ignoring(signum):
    """Ignore ``signum`` in the block (its processes started there inherit that), if this is the
    main thread (elsewhere signals cannot be set, and nothing changes)."""
    try:
        previous = signal.signal(signum, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signum, previous)


@contextlib.contextmanager
def _environment(**values):
    """Set environment variables in the block (for the processes started there)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _quiet_logger(name, level):
    """Raise the level of the logger ``name`` to ``level`` in the block."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _read(path):
    from bimsim.io import read_dataset

    try:
        return read_dataset(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} cannot be read ({err}): remove it") from None


def merge_runs(sweep, runs, errors=None):
    """Merge the points' datasets into one, along the sweep's dimensions.

    Names never stop a merge: where every run holds a grid option's value as a dimension of its
    own with that one value (a task's ``seed``, swept with one seed a point), the runs merge
    along it; any other variable or dimension of the runs named as a sweep dimension, ``error``
    or ``point`` is kept as ``run_<name>`` (the attribute ``sweep_renamed`` says which).

    Parameters
    ----------
    sweep : Sweep
    runs : dict
        ``{point index: Dataset}`` of the points that ran (index into :meth:`Sweep.points`).
    errors : dict, optional
        ``{point index: message}`` of those that failed.

    Returns
    -------
    xarray.Dataset
        Every variable of the runs with the sweep's dimensions first; where a point did not
        run, or its run holds no such entry (its samples, epochs or variants differ from
        another point's), numbers are NaN (integers and booleans too, as floating-point
        numbers) and text is empty, and each variable's ``nan_means`` names which of the two
        occur in it (after the runs' own meaning); ``error`` over the grid says why a point
        failed (empty where it ran); the attributes the runs share, and ``sweep_command``,
        ``sweep_args`` and ``sweep_grid``.
    """
    errors = dict(errors or {})
    points = sweep.points()
    if not runs:
        raise ValueError("no point of the sweep ran: nothing to merge")
    dims = sweep.dims
    runs, renamed = _renamed(sweep, _without_own_dimensions(sweep, runs))
    merged = _stacked(sweep, runs)
    absent = _stacked(sweep, {k: _presence(ds) for k, ds in runs.items()}).isnull()
    grid = {dim: list(sweep.grid[option]) for option, dim in dims.items()}
    ran = xr.DataArray(
        np.isin(np.arange(len(points)), list(runs)).reshape([len(v) for v in grid.values()]),
        coords=grid,
        dims=tuple(grid),
    )
    for option, dim in dims.items():
        merged[dim].attrs.update(
            units="1" if isinstance(sweep.grid[option][0], (int, float)) else "as written",
            long_name=f"--{option} of {sweep.command}",
        )
    for name in list(merged.data_vars):
        original = next(ds[name] for ds in runs.values() if name in ds.variables)
        merged[name] = _filled(merged[name], original, absent[name], ran)
    for var in merged.variables.values():
        var.encoding = {}  # a run's file type (int64, bool) would write NaN as a number
    text = np.array([errors.get(k, "") for k in range(len(points))], dtype=object)
    merged["error"] = (
        tuple(dims.values()),
        text.reshape([len(v) for v in grid.values()]).astype(str),
        {"units": "1", "long_name": "why the point's run failed (empty: it ran)"},
    )
    merged.attrs["sweep_command"] = sweep.command
    merged.attrs["sweep_args"] = shlex.join(sweep.args)
    merged.attrs["sweep_grid"] = json.dumps({o: list(v) for o, v in sweep.grid.items()})
    if renamed:
        merged.attrs["sweep_renamed"] = ", ".join(f"{a} -> {b}" for a, b in renamed.items())
    return merged


def _without_own_dimensions(sweep, runs):
    """``runs`` without the dimensions that only record a grid option's value: those that every
    run holds with one value, its point's (the sweep's dimension takes their place)."""
    points = sweep.points()
    for option, dim in sweep.dims.items():
        own = all(
            dim in ds.coords
            and ds.sizes.get(dim) == 1
            and _same(ds[dim].values[0], points[k][option])
            for k, ds in runs.items()
        )
        if own:
            runs = {k: ds.isel({dim: 0}, drop=True) for k, ds in runs.items()}
    return runs


def _same(recorded, value):
    """Whether a run's recorded ``recorded`` is the grid's ``value`` (numbers by value)."""
    if isinstance(recorded, (bool, np.bool_, str, np.str_)) or isinstance(value, str):
        return str(recorded) == str(value)
    try:
        return float(recorded) == float(value)
    except (TypeError, ValueError):
        return False


def _renamed(sweep, runs):
    """``runs`` with every variable or dimension that has a name the merge keeps (a sweep
    dimension, ``error``, ``point``) renamed ``run_<name>``, and ``{name: new name}``."""
    taken = {*sweep.dims.values(), *_RESERVED}
    names = set().union(*({*ds.variables, *ds.dims} for ds in runs.values()))
    renamed = {}
    for name in sorted(names & taken):
        new = f"run_{name}"
        while new in names | taken | set(renamed.values()):
            new = f"run_{new}"
        renamed[name] = new
    runs = {
        k: ds.rename({a: b for a, b in renamed.items() if a in ds.variables or a in ds.dims})
        for k, ds in runs.items()
    }
    return runs, renamed


def _presence(ds):
    """``ds`` with every variable 1 (where the run holds an entry: after merging, NaN marks the
    entries that a run does not hold)."""
    ones = {name: (var.dims, np.ones(var.shape)) for name, var in ds.data_vars.items()}
    return xr.Dataset(ones, coords=ds.coords)


def _stacked(sweep, runs):
    """``runs`` concatenated over the sweep's dimensions, in the grid's order (an outer join of
    their coordinates)."""
    points, dims = sweep.points(), sweep.dims
    stacked = xr.concat(
        [runs[k] for k in runs], dim="point", data_vars="all", coords="minimal",
        compat="override", join="outer", combine_attrs="drop_conflicts",
    )  # fmt: skip
    for option, dim in dims.items():
        stacked = stacked.assign_coords({dim: ("point", [points[k][option] for k in runs])})
    if len(dims) == 1:
        merged = stacked.swap_dims(point=next(iter(dims.values())))
    else:
        merged = stacked.set_index(point=list(dims.values())).unstack("point")
    merged = merged.reindex({dims[o]: list(v) for o, v in sweep.grid.items()})
    return merged.transpose(*dims.values(), ...)


def _filled(var, original, absent, ran):
    """A merged variable with its run's attributes, its entries that a run does not hold
    empty (text) or NaN (numbers, as floating-point ones), and a ``nan_means`` that names why,
    of the point not running and its run not holding the entry, those that occur."""
    attrs = dict(original.attrs)
    if original.dtype.kind in "OUS":  # text
        return var.where(~absent, "").astype(str).assign_attrs(attrs)
    if not absent.any():
        return var.assign_attrs(attrs)
    reasons = [attrs["nan_means"]] if "nan_means" in attrs else []
    if (absent & ~ran).any():
        reasons.append("the sweep point did not run (see error)")
    if (absent & ran).any():
        reasons.append("the point's run holds no such entry (another point's run does)")
    attrs["nan_means"] = "; or ".join(reasons)
    return var.astype(float).assign_attrs(attrs)


# -- the command line ---------------------------------------------------------------------------


def parser():
    from bimsim.cli import ArgumentParser, add_out_argument, integer

    p = ArgumentParser(
        prog="python -m bimsim.sweep",
        description=__doc__.split("\n\n")[0] + " See bimsim.sweep's documentation.",
    )
    p.add_argument("config", help="the sweep, a TOML file (command, args, [grid])")
    p.add_input("config", name="the sweep's config")
    p.add_argument("--runs", help="folder of the points' runs (default: the --out path with _runs)")
    p.add_argument("--workers", type=integer(1, MAX_WORKERS),
                   help="workers of the local dask cluster (default 2)")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a dask scheduler to run on instead of a local cluster "
                   "(its workers must share this file system)")  # fmt: skip
    p.add_argument("--serial", action="store_true",
                   help="run the points one after another, without dask")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_out_argument(p, None, "results/sweep_<config name>.nc")
    return p


def check_outputs(sweep, config, out, runs, inputs=()):
    """Refuse, before any point runs, an output of the sweep that is one of its inputs.

    The outputs: ``out``, the folder of runs, and every point's run and log in it; the inputs:
    the sweep's ``config``, the command's file (:meth:`Sweep.program`), what the points read
    (``inputs``, ``(flag, path)`` pairs from :meth:`Sweep.check`: a task's data folder) and, for
    ``out``, the runs kept in the folder of runs (read back to merge). Paths are resolved (links,
    ``..``) and files compared by device and inode, so another name of an input is refused too
    (:func:`bimsim.cli.check_not_input`).

    Raises
    ------
    ValueError
        Naming the output and the input it is.
    """
    from bimsim.cli import check_not_input

    read = [("the sweep's config", config), ("the command's file", sweep.program())]
    read += [(f"the points' {flag}", path) for flag, path in inputs]
    check_not_input(out, [*read, ("--runs", runs)], flag="--out")
    check_not_input(runs, read, flag="--runs")
    for point in sweep.points():
        name = point_name(point)
        for what, suffix in (("run", ".nc"), ("log", ".log")):
            path = Path(runs) / f"{name}{suffix}"
            check_not_input(path, read, flag=f"the point {_describe(point)}'s {what}")


def main(argv=None):
    from bimsim.cli import check_output_path, runs_folder
    from bimsim.io import provenance, write_dataset

    p = parser()
    args = p.parse_args(argv)
    for flag, given in (("--scheduler", args.scheduler), ("--workers", args.workers)):
        if args.serial and given is not None:
            p.error(f"--serial runs without dask: it takes no {flag}")
    if args.scheduler is not None and args.workers is not None:
        p.error("--workers sets the local cluster's size: it does nothing with --scheduler")
    if args.workers is None:
        args.workers = 2  # recorded as used
    try:
        sweep = Sweep.from_toml(args.config)
    except ValueError as err:
        p.error(str(err))
    out = Path(args.out or f"results/sweep_{Path(args.config).stem}.nc")
    try:
        check_output_path(out)
        runs = runs_folder(args.runs, out)
        # the command's parser on every point, and no sweep of sweeps
        inputs = sweep.check(runs)
        check_outputs(sweep, args.config, out, runs, inputs)
    except ValueError as err:
        p.error(str(err))
    try:
        ds, errors = run_sweep(sweep, runs, workers=args.workers, scheduler=args.scheduler,
                               serial=args.serial, progress=not args.no_progress,
                               check=False)  # fmt: skip
    except ValueError as err:  # found once points ran (none ran, or their runs do not merge)
        p.exit(1, f"{p.prog}: {err}; no result was written\n")
    parameters = {
        "config": args.config, "runs": str(runs), "workers": args.workers,
        "scheduler": args.scheduler, "serial": args.serial,
    }  # fmt: skip
    ds.attrs.update(provenance(device="each point's own (see sweep_args)", seed=None,
                               parameters=parameters))  # fmt: skip
    path = write_dataset(ds, out)
    print(f"wrote {path}")
    if errors:
        raise SystemExit(
            f"{len(errors)} of {len(sweep.points())} points failed (their error is in {path}, "
            f"their output in {runs}/*.log); a re-run tries them again"
        )
    return ds


if __name__ == "__main__":
    from bimsim.cli import run_command

    run_command(main)
