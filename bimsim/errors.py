"""bimsim's own errors are shown as themselves, not as possible Brian2 bugs; faults of the
environment are told apart from bugs (:class:`Fault`).

Importing Brian2 installs an excepthook that prints every uncaught error with "If you think this is
a bug in Brian 2, please report it" and keeps Brian2's debug log and a copy of the script in the
temporary folder. A ``ValueError`` that bimsim raises because a parameter is wrong is not a Brian2
bug: :func:`show_own_errors_plainly` puts a hook in front of Brian2's that prints an error raised
by bimsim's own code with Python's plain traceback (Brian2 then keeps no debug files), and hands
every other error to Brian2's hook as before. Modules that import Brian2 call it once; it changes
nothing else, and a hook a user installs later replaces it as it would Brian2's.
"""

import sys
from pathlib import Path

__all__ = ["Fault", "raised_by_bimsim", "show_own_errors_plainly"]


class Fault(RuntimeError):
    """A fault of the environment found during the work (a standalone project the compiler
    cannot build): a command ends with its one line (:func:`bimsim.cli.run_command`)."""


#: bimsim's package folder.
_PACKAGE = Path(__file__).resolve().parent


def raised_by_bimsim(traceback):
    """Whether the innermost frame of ``traceback`` is bimsim's code (the error is one of its own
    checks, not one from a library it called)."""
    if traceback is None:
        return False
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    filename = Path(traceback.tb_frame.f_code.co_filename)
    return _PACKAGE in filename.resolve().parents


def show_own_errors_plainly():
    """Put the hook in front of the current excepthook (Brian2's), once."""
    previous = sys.excepthook
    if getattr(previous, "_bimsim", False):
        return

    def hook(kind, value, traceback):
        if raised_by_bimsim(traceback):
            sys.__excepthook__(kind, value, traceback)
        else:
            previous(kind, value, traceback)

    hook._bimsim = True
    sys.excepthook = hook
