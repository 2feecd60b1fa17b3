"""Small facts about files and processes that bimsim's commands and loaders check before they work.

Kept free of Brian2, xarray and numpy, so that the command line, the devices and the data loaders
can all use it:

* what a path is when it is not a regular file (:func:`special_kind`), for one-line refusals;
* whether a file can be made in a folder (:func:`unwritable`);
* whether two paths name one file (:func:`same_file`), through links, ``..`` and hard links;
* a child process that ends with this one, even when this one is killed with SIGKILL
  (:func:`tied_to_this_process`);
* bimsim's cache folder (:func:`cache_dir`).
"""

import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "same_file", "special_kind", "tied_to_this_process", "unwritable"]


def cache_dir():
    """bimsim's cache folder: ``$BIMSIM_CACHE`` or ``~/.cache/bimsim`` (standalone builds, the
    stored exact solutions of :mod:`bimsim.integration`, downloads)."""
    root = os.environ.get("BIMSIM_CACHE") or Path.home() / ".cache" / "bimsim"
    return Path(root)


_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISSOCK: "a socket",
}


def special_kind(path, folders=True):
    """What ``path`` is, in words, when it exists and is not a regular file (nor a link to one):
    ``"a folder"`` (unless ``folders`` is False), ``"a FIFO"``, ``"a dangling link (to x)"``...;
    None for a regular file or nothing at all."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        if os.path.islink(path):
            return f"a dangling link (to {os.readlink(path)})"
        return None
    if stat.S_ISDIR(mode) and not folders:
        return None
    return next((kind for test, kind in _KINDS.items() if test(mode)), None)


def unwritable(folder):
    """Why no file can be made in the existing ``folder``, in a phrase (``"Permission denied"``),
    or None where one can; found by making and removing a temporary file there (a folder's mode
    says nothing for root or a read-only mount)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return err.strerror or str(err)
    return None


def same_file(a, b):
    """Whether ``a`` and ``b`` both exist and are one file (the same device and inode: also
    through links, ``..`` or as two names of a hard-linked file)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def tied_to_this_process(argv):
    """``argv`` started so that the kernel ends it (SIGTERM) when this process ends, also by
    SIGKILL, which runs no handler: prefixed with ``setpriv --pdeathsig TERM``, or, where there is
    no ``setpriv``, with a Python that asks for the same (``prctl``) before it runs ``argv``
    (Linux); ``argv`` unchanged elsewhere.

    Unlike a ``preexec_fn``, this is safe in a process with threads (a progress bar's, a dask
    worker's). The signal comes when the *thread* that started the child ends, so start it from
    the thread that lives as long as the work (the main thread of a command).
    """
    if not sys.platform.startswith("linux"):
        return list(argv)
    if shutil.which("setpriv") is not None:
        return ["setpriv", "--pdeathsig", "TERM", *argv]
    return [sys.executable, "-c", _END_WITH_PARENT, *argv]  # the same, from Python


#: Run ``sys.argv[1:]`` in this process, asking the kernel first to end it (SIGTERM) when its
#: parent ends (``PR_SET_PDEATHSIG``, which lasts through ``exec``).
_END_WITH_PARENT = (
    "import ctypes, os, signal, sys; ctypes.CDLL(None).prctl(1, signal.SIGTERM); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)
