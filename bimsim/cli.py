"""Command-line pieces shared by bimsim's commands: checked flags, the run's start and its ending.

Every command (protocols, tasks, benchmarks, figures) is built from these, so that it behaves like a
tool a user can trust:

* a wrong flag is refused by the parser, before any work, with one line that names the flag
  (:class:`ArgumentParser`, and the types :func:`integer`, :func:`real`, :func:`quantity`,
  :func:`output_path`, with bounds on every size a user types);
* ``--out`` is checked first: an empty path, a folder, a device, FIFO or socket, a path under a
  file or in a folder that cannot be written is refused before any simulation, and so is an
  output that is, or resolves to, something the command reads (:meth:`ArgumentParser.add_input`,
  :func:`check_not_input`);
* a run either writes a complete result atomically as its last step (:func:`finish_run`) or
  leaves the file at ``--out`` untouched: an interrupt (Ctrl-C, SIGINT, SIGTERM) ends the command
  with exit status 130 and one line that says what was written, no traceback; a fault of the
  environment is one line too, and a failing standard output does not stop it
  (:func:`run_command`);
* the processes a command starts end with it, even when it is killed
  (:func:`tied_to_this_process`, :func:`end_with_parent`, :func:`temporary_folder`).
"""

import _thread
import argparse
import ctypes
import errno
import gc
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from argparse import RawTextHelpFormatter
from contextlib import contextmanager
from pathlib import Path

import brian2
import numpy as np

from bimsim.devices import DEVICES, device_problem
from bimsim.errors import Fault
from bimsim.files import special_kind, tied_to_this_process, unwritable
from bimsim.io import provenance, write_dataset, written
from bimsim.quantities import MAX_SEED, parse_quantity

__all__ = [
    "MAX_SEED",
    "ArgumentParser",
    "add_delta_t_arguments",
    "add_out_argument",
    "add_run_arguments",
    "add_seed_argument",
    "check_device_argument",
    "check_output_path",
    "distinct",
    "end_with_parent",
    "finish_run",
    "integer",
    "kept_runs",
    "output_path",
    "quantity",
    "real",
    "run_command",
    "temporary_folder",
    "tied_to_this_process",
]

#: Most Δt values of one protocol run (each is one independent pair of neurons).
MAX_POINTS = 100_000

#: Exit status of a command stopped by an interrupt (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors are one line: ``prog: error: what is wrong``.

    The help text is printed as written (``RawTextHelpFormatter``) unless another formatter is
    given. On top of argparse's own checks, :meth:`parse_args` runs, in order:

    * the checks added with :meth:`add_check` (each may raise ``ValueError``);
    * the check that no output (:meth:`add_output`) is, or resolves to, an input
      (:meth:`add_input`), bimsim's own files or the running script (:func:`check_not_input`).

    Each failure becomes the parser's one-line error, before any work.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", RawTextHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)  # --pair is not --pairs
        super().__init__(*args, **kwargs)
        self._checks = []
        self._inputs = []
        self._outputs = []

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def _refuse_repeated(self, argv):
        """Refuse an option given twice (argparse keeps the last and drops the first without a
        word: ``--scales 0 --scales 0.001`` would sweep 0.001 alone)."""
        seen = {}
        for token in argv:
            if token == "--":
                break
            action = self._option_string_actions.get(token.split("=", 1)[0])
            if action is None or not token.startswith("-"):
                continue
            if action.dest in seen:
                self.error(f"argument {token.split('=', 1)[0]}: given twice; give it once")
            seen[action.dest] = token

    def add_check(self, check):
        """Run ``check(args)`` after parsing; a ``ValueError`` it raises is the parser's error."""
        self._checks.append(check)

    def add_input(self, flag, paths=None, name=None):
        """Declare that the command reads what ``flag`` names: a file, or a folder and all in it.

        ``paths(args)`` gives the paths read (one, several, or None) where they are not simply
        the flag's value (a default folder, say); an error it raises (the input is missing) is
        left to the command's own checks. ``name`` says what the input is in messages (default:
        the flag).
        """
        dest = flag.lstrip("-").replace("-", "_")
        self._inputs.append((name or flag, paths or (lambda args: getattr(args, dest))))

    def add_output(self, flag, suffixes=("",), dest=None, shipped=None):
        """Declare that the command writes at ``flag``'s value plus each of ``suffixes``.

        ``shipped``: the one file of bimsim's package this command exists to write (the data
        it ships), which it may replace.
        """
        dest = dest or flag.lstrip("-").replace("-", "_")
        self._outputs.append((flag, dest, tuple(suffixes), shipped))

    def inputs(self, args):
        """The ``(flag, path)`` of every input ``args`` name (see :meth:`add_input`)."""
        found = []
        for flag, paths in self._inputs:
            try:
                value = paths(args)
            except (OSError, ValueError):  # a missing input: the command refuses it itself
                continue
            if value is None:
                continue
            if isinstance(value, (str, os.PathLike)):
                value = [value]
            found.extend((flag, path) for path in value if str(path).strip())
        return found

    def check_outputs(self, args):
        """Raise ``ValueError`` if an output named in ``args`` is, or resolves to, an input."""
        inputs = self.inputs(args)
        for flag, dest, suffixes, shipped in self._outputs:
            value = getattr(args, dest, None)
            if value is None:
                continue
            for suffix in suffixes:
                target = f"{value}{suffix}"
                if shipped is not None and os.path.realpath(target) == os.path.realpath(shipped):
                    check_not_input(target, inputs, flag=flag, package=False)
                else:
                    check_not_input(target, inputs, flag=flag)

    def parse_args(self, args=None, namespace=None):
        argv = sys.argv[1:] if args is None else list(args)
        parsed = super().parse_args(argv, namespace)
        self._refuse_repeated(argv)
        try:
            for check in self._checks:
                check(parsed)
            self.check_outputs(parsed)
        except ValueError as err:
            self.error(str(err))
        return parsed


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
            if len(set(map(_comparable, values))) < len(values):
                got = " ".join(map(str, values))
                raise argparse.ArgumentError(self, f"{each}, got {got}")
            setattr(namespace, self.dest, values)

    return Distinct


def _comparable(value):
    """``value`` as a hashable key: a quantity (unhashable) by its SI value and dimensions."""
    if isinstance(value, brian2.Quantity):
        return float(np.asarray(value)), repr(value.dim)
    return value


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
    creating and removing a temporary file there. A file already at a target must be a regular
    file (or a link to one), which the result replaces.

    Raises
    ------
    ValueError
        For an empty path, a path that is (or links to) a folder, a device, a FIFO or a socket,
        one under a file, or one in a folder that cannot be written.
    """
    if not str(path).strip():
        raise ValueError("the output path is empty")
    if str(path).endswith(os.sep):
        raise ValueError(f"{path} ends in {os.sep}, as a folder would; give a file name")
    try:
        return _check_output_path(Path(path), suffixes)
    except OSError as err:  # a name too long to look at, a folder that cannot be searched
        raise ValueError(f"{path} cannot be written: {err.strerror or err}") from None


def _check_output_path(path, suffixes):
    folder = path.parent
    while not folder.exists() and not folder.is_symlink():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{path} cannot be written: {folder} is a file, not a folder")
    too_long = _too_long(path, folder, max(map(len, suffixes)))
    if too_long:
        raise ValueError(f"{path} cannot be written: {too_long}")
    for suffix in suffixes:
        target = Path(f"{path}{suffix}")
        if target.is_dir():
            raise ValueError(f"{target} is a folder; give a file name")
        kind = special_kind(target, folders=False)
        if kind and not kind.startswith("a dangling link"):  # a dangling link is replaced
            raise ValueError(f"{target} is {kind}, not a regular file: a result cannot replace it")
    reason = unwritable(folder)
    if reason:
        raise ValueError(f"{path} cannot be written: {folder}: {reason}")
    return path


def _too_long(path, folder, suffix):
    """Why ``path`` (plus a ``suffix`` of that many characters) is too long for the file system
    of ``folder``, its nearest existing folder, or None."""
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
        path_max = os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError):
        return None
    parts = [os.fsencode(part) for part in Path(os.path.abspath(path)).parts]
    longest = max(len(part) for part in parts) + suffix
    if longest > name_max:
        return f"a file or folder name of {longest} bytes, longer than the {name_max} allowed"
    if len(os.fsencode(os.path.abspath(path))) + suffix > path_max:
        return f"the path is longer than the {path_max} bytes allowed"
    return None


def check_not_input(target, inputs, flag="--out", package=True):
    """Refuse to write ``target`` where it would replace something the command reads.

    ``target`` must not be, or resolve to (through links, ``..``, or as another name of the same
    file, a hard link), one of ``inputs`` (``(flag, path)`` pairs: a file, or a folder and all
    it holds), a file of bimsim's package (its code and shipped data), the running script, or a
    module the process has imported (``package`` False: bimsim's package may hold it, for the
    command that makes the data bimsim ships).

    Raises
    ------
    ValueError
        ``"--out X is ...; write it elsewhere"``, naming the input.
    """
    import bimsim

    real = Path(os.path.realpath(target))
    try:
        existing = os.stat(target)
    except OSError:
        existing = None
    source = Path(os.path.realpath(Path(bimsim.__file__).parent))
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
    read = [*inputs, *([("bimsim's package", source)] if package else [])]
    if script:
        read.append(("the running script", script))
    for name, path in read:
        source = Path(os.path.realpath(path))
        same = real == source or (existing is not None and _same_file(existing, path))
        if same or (source.is_dir() and source in real.parents):
            where = "is" if same else "lies in"
            raise ValueError(
                f"{flag} {target} {where} {name} {path}, which this command reads; write elsewhere"
            )
        if existing is not None and existing.st_nlink > 1 and source.is_dir():
            for other in _files_under(source):
                if _same_file(existing, other):
                    raise ValueError(
                        f"{flag} {target} is another name (a hard link) of {other}, in {name} "
                        f"{path}, which this command reads; write elsewhere"
                    )
    if existing is not None:
        origin = _module_files().get((existing.st_dev, existing.st_ino))
        if origin:
            raise ValueError(f"{flag} {target} is {origin}, code this command runs")


def _module_files(cache={}):  # noqa: B006 (the cache lives as long as the process)
    """The files of the modules imported so far, by ``(device, inode)``; made again only when
    more modules have been imported since."""
    modules = list(sys.modules.values())
    if cache.get("count") != len(modules):
        files = {}
        for module in modules:
            origin = getattr(module, "__file__", None)
            try:
                status = os.stat(origin) if origin else None
            except (OSError, TypeError, ValueError):
                status = None
            if status is not None:
                files[status.st_dev, status.st_ino] = origin
        cache.update(count=len(modules), files=files)
    return cache["files"]


def _same_file(status, path):
    try:
        return os.path.samestat(status, os.stat(path))
    except OSError:
        return False


def _files_under(folder, limit=100_000):
    """Up to ``limit`` files under ``folder`` (links not followed into folders)."""
    count = 0
    for root, _, names in os.walk(folder):
        for name in names:
            yield Path(root) / name
            count += 1
            if count >= limit:
                return


def output_path(suffixes=("",)):
    """An argparse type for ``--out``: the path, checked by :func:`check_output_path`."""
    return _type("path", lambda text: str(check_output_path(text, suffixes)))


def runs_folder(runs, out, inputs=()):
    """The folder where a command keeps its runs: ``runs`` as typed (``--runs``), or beside
    ``out`` (``<out>_runs``), checked that a run can be written there and that it is not, nor
    lies in, one of ``inputs`` (``(name, path)`` pairs, see :func:`check_not_input`) or bimsim's
    package.

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
    check_not_input(folder, [entry for entry in inputs if entry[0] != "--runs"], flag="--runs")
    return folder


def kept_runs(args):
    """The folder of runs that ``args.runs`` names where it is one: a command that keeps its
    runs there reads them back (for :meth:`ArgumentParser.add_input`; a ``--runs`` that is a
    file is refused by :func:`runs_folder`)."""
    return args.runs if args.runs and Path(args.runs).is_dir() else None


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


def add_out_argument(parser, out, default_help=None, shipped=None):
    """Add ``--out``, the netCDF file to write (default ``out``), checked before any work.

    ``out`` None leaves the default to the command (``default_help`` says what it is), which
    then checks it with :func:`check_output_path` and :meth:`ArgumentParser.check_outputs`;
    ``shipped`` is passed to :meth:`ArgumentParser.add_output`."""
    default = default_help or "%(default)s"
    parser.add_argument(
        "--out", type=output_path(), default=out, help=f"netCDF file to write (default: {default})"
    )
    parser.add_output("--out", shipped=shipped)


def add_seed_argument(parser):
    """Add ``--seed``, a random seed from 0 to :data:`MAX_SEED` (default 0)."""
    parser.add_argument(
        "--seed", type=integer(0, MAX_SEED), default=0, help="random seed (recorded)"
    )


def add_run_arguments(parser, out, devices=DEVICES, out_help=None):
    """Add ``--device`` (one of ``devices``), ``--seed`` and ``--out`` (default ``out``, see
    :func:`add_out_argument`); a device this machine cannot run is refused after parsing
    (:func:`bimsim.devices.device_problem`)."""
    parser.add_argument("--device", choices=devices, default="runtime", help="Brian2 device")
    add_seed_argument(parser)
    add_out_argument(parser, out, out_help)
    parser.add_check(check_device_argument)


def check_device_argument(args):
    """Refuse ``--device`` where this machine cannot run it (no GPU, no compiler cache)."""
    problem = device_problem(args.device)
    if problem:
        raise ValueError(f"argument --device: {problem}")


def finish_run(ds, args, parameters=None, summary=None):
    """Attach provenance to ``ds``, write it atomically to ``args.out`` and say where.

    ``parameters`` default to every flag in ``args`` but ``--device``, ``--seed`` and ``--out``
    (which provenance records under their own names). ``summary``, text the command prints after
    the write, is made by the caller before: once the result is in place nothing may fail.
    """
    if parameters is None:
        parameters = {k: v for k, v in vars(args).items() if k not in ("device", "seed", "out")}
    ds.attrs.update(
        provenance(device=args.device, seed=args.seed, parameters=parameters, command_line=sys.argv)
    )
    path = write_dataset(ds, args.out)
    print(f"wrote {path}")
    if summary:
        print(summary)
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


@contextmanager
def temporary_folder(prefix):
    """A temporary folder that is removed when the block ends, and also when this process is
    killed (SIGKILL runs no ``finally``).

    A small watcher process, in a session of its own (Ctrl-C does not reach it), waits for this
    process's end (the pipe to it closes, however this process ends) and then removes the
    folder; it removes it once more a moment later, in case a child that was ending with this
    process (:func:`tied_to_this_process`) wrote into it meanwhile.
    """
    folder = tempfile.mkdtemp(prefix=prefix)
    watcher = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _REMOVE_AT_END, folder],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        watcher.stdin.close()  # the watcher finds the folder gone and ends


#: The watcher of :func:`temporary_folder`: wait for the end of standard input, remove the folder.
_REMOVE_AT_END = (
    "import shutil, sys, time\n"
    "sys.stdin.buffer.read()\n"
    "for _ in range(2):\n"
    "    shutil.rmtree(sys.argv[1], ignore_errors=True)\n"
    "    time.sleep(2)\n"
)


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


class _Tolerant:
    """A text stream that does not let a failing standard output stop the command.

    A closed pipe (``| head -1``), a full device or a closed descriptor make ``print`` raise; the
    command's result does not depend on what it prints, so the first failure is said once on
    ``complaint`` (standard error; None for standard error itself), the descriptor is pointed at
    the null device (also for what Python flushes at exit), and the command goes on silently.
    """

    def __init__(self, stream, name, complaint=None):
        self._stream = stream
        self._name = name
        self._complaint = complaint
        self._failed = False

    def _guard(self, method, *args):
        if self._failed:
            return None
        try:
            return method(*args)
        except (OSError, ValueError) as err:  # ValueError: a closed file
            self._fail(err)
            return None

    def _fail(self, err):
        self._failed = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass
        if self._complaint is not None:
            reason = getattr(err, "strerror", None) or str(err)
            self._complaint.write(
                f"{Path(sys.argv[0]).name}: {self._name} failed ({reason}); going on without it\n"
            )

    def write(self, text):
        self._guard(self._stream.write, text)
        return len(text)

    def flush(self):
        self._guard(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _tolerant_streams():
    """Make standard output and error unable to stop the command: characters their encoding
    lacks are escaped (``PYTHONIOENCODING=ascii``), failures are survived (:class:`_Tolerant`)."""
    if isinstance(sys.stdout, _Tolerant):  # a caller that runs commands one after another
        return
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with the descriptor closed (>&-)
            setattr(sys, name, open(os.devnull, "w"))
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    sys.stderr = _Tolerant(sys.stderr, "standard error")
    sys.stdout = _Tolerant(sys.stdout, "standard output", complaint=sys.stderr)


def _what_was_written(done):
    """The end of a stopped command's last line: what it had put in place (``done``), if
    anything."""
    if not done:
        return "no result was written"
    return f"it had written {', '.join(map(str, done))}"


def _environment_fault(err):
    """An ``OSError`` in words: the file and the reason, a full disk said as such."""
    reason = err.strerror or str(err) or type(err).__name__
    if err.errno == errno.ENOSPC and "space" not in reason:
        reason = f"no space left on the disk ({reason})"
    return f"{err.filename}: {reason}" if err.filename else reason


def run_command(main, argv=None):
    """Run a command's ``main(argv)`` as a process a user started, and exit.

    An interrupt, Ctrl-C (SIGINT) or SIGTERM, ends the command with exit status 130 and one line
    on stderr, with no traceback: results are only written atomically at the end, so the file
    at ``--out`` stays as it was, and the line says what was written where an interrupt came
    after the write. Brian2 would otherwise stop a running simulation early on Ctrl-C and let
    the command go on with its truncated result; bimsim's simulations raise instead
    (:meth:`bimsim.devices.Simulation.run`).

    A fault of the environment during the work (``OSError``: a full disk, a folder made
    unwritable, a network or scheduler out of reach) ends it with exit status 1 and one line
    naming the cause and what was written; so does running out of memory. Standard output and
    error that fail (a closed pipe, a full device, an encoding without the characters printed)
    do not stop the command, and its exit status keeps its meaning (0: the result was written).
    Any other error is a bug: Python's traceback, not Brian2's "report it" message (and Brian2
    keeps no debug files for it).

    The objects alive when ``main`` starts and when it ends are frozen (:func:`gc.freeze`): no
    garbage collection walks them again, and at exit their reference cycles are not collected
    (``__del__`` methods in cycles do not run; results are written and closed before then). A
    caller that catches the ``SystemExit`` and goes on should call :func:`gc.unfreeze`.
    """
    # Brian2's own SIGINT handler stops runs early (and fails where SIGINT was inherited ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    sys.unraisablehook = _keep_interrupts(sys.unraisablehook)
    # Brian2's hook calls every uncaught error a possible Brian2 bug and keeps its debug files
    sys.excepthook = sys.__excepthook__
    _tolerant_streams()
    # The modules imported so far (Brian2, sympy, xarray: a few hundred thousand objects) live
    # until the process ends; frozen, they are no longer walked by the garbage collections that
    # Brian2 runs before every simulation and that Python runs at exit (about 0.4 s a command).
    gc.freeze()
    name = Path(sys.argv[0]).name
    earlier = len(written())  # what this process wrote before (a caller that goes on)

    def stop(status, what):
        sys.stderr.write(f"{name}: {what}; {_what_was_written(written()[earlier:])}\n")
        sys.exit(status)

    try:
        main(argv)
    except KeyboardInterrupt:
        # the objects of a network the interrupt left unrun would be reported at exit
        brian2.BrianLogger.suppress_name("unused_brian_object")
        stop(INTERRUPTED, "interrupted")
    except OSError as err:
        stop(1, _environment_fault(err))
    except Fault as err:
        stop(1, str(err))
    except MemoryError:
        stop(1, "out of memory")
    # done and written: a Ctrl-C now would only end the process with the signal and no word
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()
    sys.exit(0)
