"""Results as labelled xarray Datasets: provenance attributes and atomic netCDF writes."""

import datetime
import errno
import hashlib
import os
import shlex
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import brian2
import numpy as np
import xarray as xr

import bimsim
from bimsim.errors import show_own_errors_plainly
from bimsim.files import special_kind

show_own_errors_plainly()  # after Brian2's import installed its hook

__all__ = [
    "check_dataset",
    "labelled",
    "provenance",
    "read_dataset",
    "replace_together",
    "write_atomically",
    "write_dataset",
    "written",
]

#: Every file this process has put in place (:func:`replace_together`), in order: what a command
#: stopped after its write reports as written.
_WRITTEN = []

#: Least free space, in bytes, below which a failed write is reported as a full disk.
_FULL = 2**20


def _attr_value(value):
    """A netCDF-storable form of ``value``: numbers stay numbers, everything else becomes text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value
    return str(value)


def labelled(dims, values, units, long_name, **attrs):
    """A Dataset variable, ``(dims, values, attributes)``, with its ``units`` and ``long_name``
    (and any other ``attrs``)."""
    return dims, values, {"units": units, "long_name": long_name, **attrs}


def provenance(*, device, seed, parameters, command_line=None):
    """Attributes that say how a dataset was made.

    Parameters
    ----------
    device : str
        The Brian2 device the simulation ran on.
    seed : int or None
        The random seed.
    parameters : dict
        Every parameter of the run; stored as ``param_<name>`` (quantities as text with units).
    command_line : list of str, optional
        Defaults to ``sys.argv``.

    Returns
    -------
    dict
    """
    command_line = sys.argv if command_line is None else command_line
    attrs = {
        "bimsim_version": bimsim.__version__,
        "brian2_version": brian2.__version__,
        "python_version": sys.version.split()[0],
        "device": device,
        "seed": "none" if seed is None else int(seed),
        "command_line": shlex.join(str(arg) for arg in command_line),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    attrs.update({f"param_{key}": _attr_value(value) for key, value in parameters.items()})
    return attrs


def check_dataset(ds):
    """Check that every variable and coordinate has ``units`` and ``long_name`` and no NaN.

    A variable may hold NaN only where it says what NaN means there, in a ``nan_means``
    attribute (e.g. the epochs a model did not train), and only where it is written as a
    floating-point number: a variable read from a file keeps that file's type in its encoding,
    and an integer or boolean one would write NaN as a number (-9223372036854775808, True).

    Raises
    ------
    ValueError
        Naming the first variable that breaks the rule.
    """
    for name, var in {**ds.coords, **ds.data_vars}.items():
        missing = [key for key in ("units", "long_name") if key not in var.attrs]
        if missing:
            raise ValueError(f"variable {name!r} has no {' or '.join(missing)} attribute")
        if np.issubdtype(var.dtype, np.floating) and not np.all(np.isfinite(var.values)):
            declared = "nan_means" in var.attrs and not np.any(np.isinf(var.values))
            if not declared:
                raise ValueError(f"variable {name!r} holds NaN or infinite values")
            written = np.dtype(var.encoding.get("dtype", var.dtype))
            if not np.issubdtype(written, np.floating):
                raise ValueError(
                    f"variable {name!r} holds NaN but would be written as {written} (its "
                    "encoding), which has no NaN"
                )
    return ds


def write_dataset(ds, path, encoding=None):
    """Write ``ds`` to netCDF (engine netcdf4) atomically.

    The file is written to a temporary name beside ``path`` and renamed into place, so an
    interrupted or failed write leaves no half-written ``path`` (and no temporary file).
    ``encoding`` is passed to :meth:`xarray.Dataset.to_netcdf` (compression, packed integers).

    Returns
    -------
    Path
    """
    check_dataset(ds)
    return write_atomically(
        path, lambda temporary: ds.to_netcdf(temporary, engine="netcdf4", encoding=encoding)
    )


def write_atomically(path, write):
    """Make ``path`` by ``write(temporary)``, a hidden temporary file beside it, renamed into place
    once written: ``path`` is either as it was or complete, and no temporary file stays.

    Raises
    ------
    OSError
        ``ENOSPC`` naming the folder where the write failed on a full disk (netCDF4 says only
        "HDF error" then), or the write's own error.

    Returns
    -------
    Path
    """
    path = Path(path)
    return replace_together({path: write})[0]


def written():
    """The files this process has put in place so far (:func:`replace_together`), oldest first."""
    return list(_WRITTEN)


def replace_together(writes):
    """Write several files and put them in place as one: all of them or none.

    Each ``write(temporary)`` of ``writes`` (a dict of target path to function) makes a hidden
    temporary file beside its target; once all are made they are renamed into place with Ctrl-C
    and SIGTERM held back, so an interrupt lands before every rename or after the last one, never
    between two (a figure's new PNG beside its old PDF). A failure or an interrupt before the
    renames removes the temporaries and leaves every target as it was. The renamed files are
    recorded (:func:`written`), so that a command stopped afterwards can say what it wrote.

    Returns
    -------
    list of Path
        The targets, in the order given.

    Raises
    ------
    ValueError
        Before anything is written, for a target that is a folder, a device, a FIFO or a socket
        (``/dev/null`` would be replaced by a regular file).
    OSError
        ``ENOSPC`` naming the folder, where a write failed with that folder's disk full; the
        write's own error otherwise. A rename that fails names its target, and what was already
        replaced (a folder made unwritable in between).
    """
    targets = [Path(path) for path in writes]
    for target in targets:
        kind = special_kind(target)
        if kind and not kind.startswith("a dangling link"):  # a dangling link is replaced
            raise ValueError(f"{target} is {kind}, not a regular file: a result cannot replace it")
    temporaries = [_temporary(target) for target in targets]
    try:
        for target, temporary, write in zip(targets, temporaries, writes.values(), strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                write(temporary)
            except Exception as err:
                if _says_disk_full(err) or _disk_full(target.parent):
                    raise OSError(
                        errno.ENOSPC,
                        f"no space left on the disk of {target.parent}: {target} was not written",
                    ) from err
                raise
        with _interrupts_held():
            done = []
            for target, temporary in zip(targets, temporaries, strict=True):
                try:
                    os.replace(temporary, target)
                except OSError as err:
                    after = f" after {', '.join(map(str, done))} had been" if done else ""
                    raise OSError(
                        err.errno, f"{target} could not be put in place ({err.strerror}){after}"
                    ) from err
                done.append(target)
                _WRITTEN.append(target)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    return targets


def _temporary(target):
    """A hidden name beside ``target`` for its temporary file, unique to this process and target,
    and no longer than a file name may be (a 250-byte name plus a suffix would not be)."""
    name = target.name
    if len(os.fsencode(name)) > 150:
        digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:10]
        name = f"{os.fsencode(name)[:100].decode(errors='ignore')}.{digest}"
    return target.with_name(f".{name}.{os.getpid()}.tmp")


def _says_disk_full(err):
    """Whether ``err``, or an error it came from, is ``ENOSPC``."""
    while err is not None:
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return True
        err = err.__cause__ or err.__context__
    return False


def _disk_full(folder):
    """Whether the disk of ``folder`` has (almost) no space left for this user (netCDF4 says only
    "HDF error" when it ran out)."""
    try:
        usage = os.statvfs(folder)
    except OSError:
        return False
    # root may write into the blocks reserved for it; other users only into the available ones
    blocks = usage.f_bfree if os.geteuid() == 0 else usage.f_bavail
    return blocks * usage.f_frsize < _FULL


@contextmanager
def _interrupts_held():
    """Hold back SIGINT and SIGTERM: their handlers run when the block ends.

    The Python-level handlers are swapped for one that only notes the signal (a signal mask would
    not do: the kernel gives a process's signal to any of its threads that does not block it, and
    Python runs its handler in the main thread at once). Outside the main thread, where handlers
    cannot be set, nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is not None:  # None: set outside Python, cannot be put back
            previous[signum] = handler
            signal.signal(signum, lambda number, frame: caught.append((number, frame)))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum, frame in caught:
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


def read_dataset(path):
    """Open a dataset written by :func:`write_dataset` (loaded into memory, file closed)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
