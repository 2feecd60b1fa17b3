"""Command-line pieces shared by bimsim's commands: checked flags, the run's start and its ending.

Every command (protocols, tasks, benchmarks, figures) is built from these, so that it behaves like a
tool a user can trust:

* a wrong flag is refused by the parser, before any work, with one line that names the flag
  (:class:`ArgumentParser`, and the types :func:`integer`, :func:`real`, :func:`quantity`,
  :func:`output_path`, with bounds on every size a user types);
* ``--out`` is checked first: an empty path, a folder, a path under a file or in a folder that
  cannot be written is refused before any simulation;
* a run either writes a complete result atomically (:func:`finish_run`) or leaves the file at
  ``--out`` untouched: an interrupt (Ctrl-C, SIGINT, SIGTERM) ends the command with exit status
  130 and one line, no traceback (:func:`run_command`).
"""

import _thread
import argparse
import ctypes
import gc
import math
import os
import signal
import sys
import tempfile
import threading
from argparse import RawTextHelpFormatter
from pathlib import Path

import brian2

from bimsim.devices import DEVICES
from bimsim.io import provenance, write_dataset
from bimsim.quantities import parse_quantity

__all__ = [
    "MAX_SEED",
    "ArgumentParser",
    "add_delta_t_arguments",
    "add_out_argument",
    "add_run_arguments",
    "add_seed_argument",
    "check_output_path",
    "distinct",
    "end_with_parent",
    "finish_run",
    "integer",
    "output_path",
    "quantity",
    "real",
    "run_command",
]

#: Largest seed: numpy's and Brian2's seeds are 32-bit.
MAX_SEED = 2**32 - 1

#: Most Δt values of one protocol run (each is one independent pair of neurons).
MAX_POINTS = 100_000

#: Exit status of a command stopped by an interrupt (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors are one line: ``prog: error: what is wrong``.

    The help text is printed as written (``RawTextHelpFormatter``) unless another formatter is
    given.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", RawTextHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _type(name, parse):
    """Wrap ``parse`` as an argparse type: ``ValueError`` becomes argparse's error for the flag."""

    def convert(text):
        try:
            return parse(text)
        except (ValueError, brian2.DimensionMismatchError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = name  # argparse names the type in its messages
    return convert


def distinct(what=None):
    """An argparse action for a flag of many values (``nargs="+"``) that refuses a value given
    twice: "argument --FLAG: each WHAT once, got ..." (``what`` None: "each once")."""
    each = f"each {what} once" if what else "each once"

    class Distinct(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            if len(set(values)) < len(values):
                got = " ".join(map(str, values))
                raise argparse.ArgumentError(self, f"{each}, got {got}")
            setattr(namespace, self.dest, values)

    return Distinct


def integer(minimum, maximum, why=None):
    """An argparse type for a whole number from ``minimum`` to ``maximum`` (both included).

    ``why`` (e.g. ``"each copy holds the readout's sensitivities"``) is added to the message of a
    value above ``maximum``.
    """

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        if value > maximum:
            reason = f" ({why})" if why else ""
            raise ValueError(f"must be at most {maximum}{reason}, got {value}")
        return value

    return _type("integer", parse)


def real(minimum=None, maximum=None, *, above=None, below=None):
    """An argparse type for a finite number, optionally within ``[minimum, maximum]``.

    ``above`` and ``below`` exclude their value: ``real(above=0)`` accepts only positive
    numbers, ``real(0, below=1)`` those in [0, 1).
    """

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {text!r}")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum:g}, got {value:g}")
        if above is not None and value <= above:
            raise ValueError(f"must be greater than {above:g}, got {value:g}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum:g}, got {value:g}")
        if below is not None and value >= below:
            raise ValueError(f"must be less than {below:g}, got {value:g}")
        return value

    return _type("number", parse)


def quantity(kind, *, positive=False, maximum=None):
    """An argparse type that reads a quantity with units (e.g. ``16.8ms``) of ``kind``.

    ``positive`` refuses zero and negative values; ``maximum`` (a quantity) bounds it above.
    """

    def parse(text):
        value = parse_quantity(text, kind)
        if positive and not value > 0:
            raise ValueError(f"must be positive, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}, got {value}")
        return value

    return _type(kind, parse)


def check_output_path(path, suffixes=("",)):
    """Check, before any work, that a result can be written at ``path``; return it.

    ``suffixes`` are appended to ``path`` to give the files that will be written (a figure's
    ``.png`` and ``.pdf``). Folders that do not exist yet are fine (they are made when the result
    is written); the nearest one that exists must be a folder that can be written in, checked by
    creating and removing a temporary file there.

    Raises
    ------
    ValueError
        For an empty path, a path that is a folder, one under a file, or one in a folder that
        cannot be written.
    """
    if not str(path).strip():
        raise ValueError("the output path is empty")
    path = Path(path)
    for suffix in suffixes:
        target = Path(f"{path}{suffix}")
        if target.is_dir():
            raise ValueError(f"{target} is a folder; give a file name")
    folder = path.parent
    while not folder.exists() and not folder.is_symlink():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{path} cannot be written: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"{path} cannot be written: {folder}: {err.strerror}") from None
    return path


def output_path(suffixes=("",)):
    """An argparse type for ``--out``: the path, checked by :func:`check_output_path`."""
    return _type("path", lambda text: str(check_output_path(text, suffixes)))


def runs_folder(runs, out):
    """The folder where a command keeps its runs: ``runs`` as typed (``--runs``), or beside
    ``out`` (``<out>_runs``), checked that a run can be written there.

    Raises
    ------
    ValueError
        Naming ``--runs``: an empty path, a file, or a place a run cannot be written.
    """
    if runs is not None and not runs.strip():
        raise ValueError("--runs: the folder is empty")
    folder = Path(runs if runs is not None else f"{Path(out).with_suffix('')}_runs")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--runs: {folder} is a file, not a folder")
    try:  # a folder under a file, or one not writable, is refused
        check_output_path(folder / "run.nc")
    except ValueError as err:
        raise ValueError(f"--runs: {err}") from None
    return folder


def add_delta_t_arguments(parser, points):
    """Add ``--dt-min``, ``--dt-max`` (-100 ms to 100 ms) and ``--points`` (default ``points``)."""
    parser.add_argument(
        "--dt-min",
        type=quantity("time"),
        default=-100 * brian2.ms,
        help="smallest Δt = t_post - t_pre; write negative values as --dt-min=-100ms",
    )
    parser.add_argument(
        "--dt-max", type=quantity("time"), default=100 * brian2.ms, help="largest Δt"
    )
    parser.add_argument(
        "--points",
        type=integer(2, MAX_POINTS, "one pair of neurons per Δt"),
        default=points,
        help=f"number of Δt values (default: {points})",
    )


def add_out_argument(parser, out, default_help=None):
    """Add ``--out``, the netCDF file to write (default ``out``), checked before any work.

    ``out`` None leaves the default to the command (``default_help`` says what it is), which
    then checks it with :func:`check_output_path`."""
    default = default_help or "%(default)s"
    parser.add_argument(
        "--out", type=output_path(), default=out, help=f"netCDF file to write (default: {default})"
    )


def add_seed_argument(parser):
    """Add ``--seed``, a random seed from 0 to :data:`MAX_SEED` (default 0)."""
    parser.add_argument(
        "--seed", type=integer(0, MAX_SEED), default=0, help="random seed (recorded)"
    )


def add_run_arguments(parser, out, devices=DEVICES, out_help=None):
    """Add ``--device`` (one of ``devices``), ``--seed`` and ``--out`` (default ``out``, see
    :func:`add_out_argument`)."""
    parser.add_argument("--device", choices=devices, default="runtime", help="Brian2 device")
    add_seed_argument(parser)
    add_out_argument(parser, out, out_help)


def finish_run(ds, args, parameters=None):
    """Attach provenance to ``ds``, write it atomically to ``args.out`` and say where.

    ``parameters`` default to every flag in ``args`` but ``--device``, ``--seed`` and ``--out``
    (which provenance records under their own names).
    """
    if parameters is None:
        parameters = {k: v for k, v in vars(args).items() if k not in ("device", "seed", "out")}
    ds.attrs.update(
        provenance(device=args.device, seed=args.seed, parameters=parameters, command_line=sys.argv)
    )
    path = write_dataset(ds, args.out)
    print(f"wrote {path}")
    return path


def end_with_parent(signum=signal.SIGTERM, *, ignore_interrupt=False):
    """A ``preexec_fn`` for :mod:`subprocess` that ties the child to this process.

    On Linux the kernel sends the child ``signum`` when this process ends, also by SIGKILL, which
    runs no handler: a command stopped while it waits for another (a benchmark, a task) leaves
    nothing running. A bimsim command ended by SIGTERM writes nothing. ``ignore_interrupt``:
    the child ignores Ctrl-C, which reaches the whole process group, and leaves it to this
    process. The function runs between fork and exec, so start children so from a process
    without threads of its own.
    """
    parent = os.getpid()
    # libc is loaded here: loading a library in a child forked from threads can deadlock
    prctl = ctypes.CDLL(None).prctl if sys.platform == "linux" else None

    def setup():
        if ignore_interrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # stays ignored past exec
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signum))
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), signum)

    return setup


#: Linux's prctl option that sets the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def _terminate(signum, frame):
    raise KeyboardInterrupt


def _keep_interrupts(previous):
    """An unraisable-exception hook that does not let Python swallow an interrupt.

    A KeyboardInterrupt raised while Python runs a finalizer or a weakref callback (Brian2's
    garbage collection runs many) is printed as "Exception ignored" and dropped, and the command
    would go on. This hook raises it again in the main thread once the callback has returned
    (raised at once it would be swallowed again); other unraisable exceptions go to ``previous``.
    """

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            threading.Timer(0.01, _thread.interrupt_main).start()
        else:
            previous(unraisable)

    return hook


def run_command(main, argv=None):
    """Run a command's ``main(argv)`` as a process a user started, and exit.

    An interrupt, Ctrl-C (SIGINT) or SIGTERM, ends the command with exit status 130 and one line
    on stderr, with no traceback and nothing written: results are only written atomically at the
    end, so the file at ``--out`` stays as it was. Brian2 would otherwise stop a running simulation
    early on Ctrl-C and let the command go on with its truncated result; bimsim's simulations
    raise instead (:meth:`bimsim.devices.Simulation.run`).

    The objects alive when ``main`` starts and when it ends are frozen (:func:`gc.freeze`): no
    garbage collection walks them again, and at exit their reference cycles are not collected
    (``__del__`` methods in cycles do not run; results are written and closed before then). A
    caller that catches the ``SystemExit`` and goes on should call :func:`gc.unfreeze`.
    """
    # Brian2's own SIGINT handler stops runs early (and fails where SIGINT was inherited ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    sys.unraisablehook = _keep_interrupts(sys.unraisablehook)
    # The modules imported so far (Brian2, sympy, xarray: a few hundred thousand objects) live
    # until the process ends; frozen, they are no longer walked by the garbage collections that
    # Brian2 runs before every simulation and that Python runs at exit (about 0.4 s a command).
    gc.freeze()
    try:
        main(argv)
    except KeyboardInterrupt:
        # the objects of a network the interrupt left unrun would be reported at exit
        brian2.BrianLogger.suppress_name("unused_brian_object")
        sys.stderr.write(f"{Path(sys.argv[0]).name}: interrupted; no result was written\n")
        sys.exit(INTERRUPTED)
    gc.freeze()
    sys.exit(0)
