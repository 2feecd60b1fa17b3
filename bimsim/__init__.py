"""bimsim: a Brian2 simulator of Bio-Inspired Mamba (BIM).

Spiking neurons and plasticity rules are Brian2 equations, generated to C++ (Cython runtime or
``cpp_standalone``) and CUDA (``cuda_standalone``); every run saves a labelled
:class:`xarray.Dataset` with units and provenance.
"""

import logging
import os
import sys

__version__ = "0.1.0"

__all__ = ["EnvironmentFault", "__version__"]


class EnvironmentFault(ImportError):
    """The environment bimsim runs in cannot work (e.g. an ``MPLBACKEND`` matplotlib does not
    know), found when bimsim is imported; a command or script ends with this one line and exit
    status 2, no traceback (an interactive session just sees the exception)."""


def _one_line(previous):
    """An excepthook that ends the process on an :class:`EnvironmentFault` with
    ``prog: error: ...`` and exit status 2 (nothing has started: bimsim is being imported)."""

    def hook(kind, value, traceback):
        if isinstance(value, EnvironmentFault):
            sys.stderr.write(f"{_program()}: error: {value}\n")
            sys.stderr.flush()
            os._exit(2)  # a refusal before any work, as the commands' other refusals
        else:
            previous(kind, value, traceback)

    return hook


def _program():
    """The command's name as argparse gives it (``ecg.py`` for ``python -m bimsim.tasks.ecg``,
    whose ``sys.argv[0]`` is still ``-m`` while its package is imported)."""
    argv = getattr(sys, "orig_argv", sys.argv)
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1].rsplit(".", 1)[-1] + ".py"
    script = sys.argv[0] if sys.argv else ""
    return os.path.basename(script) if script not in ("", "-c") else "python"


def _check_matplotlib_backend():
    """Refuse an ``MPLBACKEND`` that matplotlib does not know, in one line: Brian2 imports
    matplotlib, which would otherwise fail in every bimsim module with a long traceback."""
    name = os.environ.get("MPLBACKEND")
    if not name or "matplotlib" in sys.modules:
        return
    try:
        import matplotlib  # noqa: F401
    except ValueError as err:
        if "backend" not in str(err):
            raise
        if not (sys.flags.interactive or hasattr(sys, "ps1")):  # a command or script, not a REPL
            sys.excepthook = _one_line(sys.excepthook)
        raise EnvironmentFault(
            f"MPLBACKEND={name!r} is not a backend matplotlib knows: unset it, or set "
            "MPLBACKEND=Agg (bimsim only saves figures to files)"
        ) from None


def _check_command_line():
    """Refuse, in one line, a command line with bytes that are not text in the file system's
    encoding (a path with invalid UTF-8): Brian2 copies the command line into its log when it is
    imported, and fails there with a traceback."""
    if "brian2" in sys.modules:
        return
    for argument in sys.argv:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            if not (sys.flags.interactive or hasattr(sys, "ps1")):
                sys.excepthook = _one_line(sys.excepthook)
            raise EnvironmentFault(
                f"the argument {argument!r} holds bytes that are not UTF-8 text, which Brian2 "
                "cannot record in its log; rename the file or folder"
            ) from None


_check_matplotlib_backend()
_check_command_line()


class _WithoutCacheNote(logging.Filter):
    """Drops the note Brian2 logs at its import where its Cython cache is above
    ``codegen.max_cache_dir_size`` (1 GB): it would be printed before a command's one line (a
    refusal, a result). The README says where the cache is and how to empty it."""

    def filter(self, record):
        return not record.getMessage().startswith("Cache size for target")


# Brian2 logs it on the logger of its package's own module, brian2.brian2 (once it is imported
# it has been said: this matters where bimsim is imported first, as by the commands)
logging.getLogger("brian2.brian2").addFilter(_WithoutCacheNote())
