"""Brian2's exact integration of linear equations, its result kept on disk between processes.

Brian2 integrates linear equations (``method='exact'``) by solving them with sympy: a symbolic
matrix exponential, then simplification. The result is abstract code, the same in every process
for the same equations, but Brian2 keeps it only in memory, so every new process pays for it
again: about 3 s for a learning LIF layer, about 4 s of an 11 s ``python -m bimsim.tasks.ecg
--quick --models bim`` (the layer's neurons and its eligibility synapses). :data:`exact` is a
state updater that computes the same code with Brian2's own ``exact`` once and then reads it from
``<cache>/integration/`` (see :func:`bimsim.devices.cache_dir`).

A stored solution is found by a SHA-256 key over what Brian2's solver reads, and more: the
equations, every variable Brian2 hands it (its kind, unit, dtype and flags, a constant's value, a
subexpression's expression, a function's flags), the time step, the method's options, and the
versions of Brian2 and sympy. A group whose variables cannot be described the same way in another
process (an object address in a repr) is solved by Brian2 directly, as before. Each file holds
its key on its first line and an end mark on its last; a file without both (cut short by a crash)
is solved and written again. Files are written to a temporary file of their own and renamed into
place, so parallel workers, also on other hosts, can share the folder.
"""

import hashlib
import os
import tempfile
from contextlib import suppress
from pathlib import Path

import brian2
import sympy
from brian2 import get_logger
from brian2.core.functions import FunctionImplementationContainer
from brian2.core.variables import Variable
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.stateupdaters.exact import linear

from bimsim.devices import cache_dir

__all__ = ["StoredExact", "exact", "integrator", "solution_key"]

logger = get_logger(__name__)

#: Bumped when the key's recipe or the file's layout changes, so that older files are not read.
_KEY_FORMAT = 2

#: Attributes that do not change the solution: Brian2's own cache ignores ``owner``; ``_id`` is a
#: random identity of named objects (e.g. a ``TimedArray``), ``_name`` its name in a network.
_IRRELEVANT = {"owner", "device", "size", "_id", "_name"}

_END = "\n# end\n"


def _describe(value):
    """A repr of ``value`` that is the same in every process, or None if there is none."""
    if isinstance(value, Variable):  # e.g. the refractoriness flag a variable's writes depend on
        value = (type(value).__name__, value.name)
    elif isinstance(value, FunctionImplementationContainer):
        return "implementations"  # a function's code for each target, not read by the solver
    elif callable(value) and hasattr(value, "__qualname__"):  # a function's Python version
        value = f"{value.__module__}.{value.__qualname__}"
    elif isinstance(value, (set, frozenset)):  # e.g. a subexpression's identifiers
        value = sorted(map(repr, value))
    text = repr(value)
    return None if " at 0x" in text else text


def _variables_key(variables):
    parts = []
    for name in sorted(variables):
        variable = variables[name]
        state = [f"{type(variable).__module__}.{type(variable).__qualname__}"]
        for attribute, value in sorted(vars(variable).items()):
            if attribute in _IRRELEVANT:
                continue
            text = _describe(value)
            if text is None:
                return None
            state.append(f"{attribute}={text}")
        parts.append(f"{name}: {', '.join(state)}")
    return "\n".join(parts)


def solution_key(equations, variables, method_options=None):
    """The key of Brian2's exact solution of ``equations`` over ``variables``.

    Parameters
    ----------
    equations : brian2.Equations
    variables : dict or None
        What Brian2 hands a state updater: the group's variables and the external names resolved.
    method_options : dict, optional

    Returns
    -------
    str or None
        64 hexadecimal digits, or None where a variable cannot be described the same way in
        another process.
    """
    variables = variables or {}
    described = _variables_key(variables)
    if described is None:
        return None
    dt = variables["dt"].get_value()[0] if "dt" in variables else None
    text = "\n\n".join(
        [
            f"format {_KEY_FORMAT}, brian2 {brian2.__version__}, sympy {sympy.__version__}",
            f"options {sorted((method_options or {}).items())!r}, dt {dt!r}",
            str(equations),
            described,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


class StoredExact(StateUpdateMethod):
    """Brian2's ``exact`` state updater, its solutions stored in ``folder``.

    Parameters
    ----------
    folder : path, optional
        Where solutions are kept (default: ``<cache>/integration``, looked up at each call, so
        ``$BIMSIM_CACHE`` may change between runs).
    """

    __name__ = "exact"  # what Brian2's log calls the method

    def __init__(self, folder=None):
        self._folder = None if folder is None else Path(folder)

    @property
    def folder(self):
        return cache_dir() / "integration" if self._folder is None else self._folder

    def __call__(self, equations, variables=None, method_options=None):
        key = solution_key(equations, variables, method_options)
        if key is None:
            logger.debug("variables without a stable description: solved by Brian2")
            return linear(equations, variables, method_options)
        path = self.folder / f"{key}.txt"
        header = f"# bimsim exact solution {key}\n"
        with suppress(OSError, UnicodeDecodeError):  # not solved yet, or no readable folder
            text = path.read_text(encoding="utf-8")
            if text.startswith(header) and text.endswith(_END):
                return text[len(header) : -len(_END)]
        code = linear(equations, variables, method_options)
        self._store(path, f"{header}{code}{_END}")
        return code

    @staticmethod
    def _store(path, text):
        """Write ``path`` through a temporary file of its own; a failure costs the next process
        the solution, nothing else."""
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            temporary = None
        except OSError as err:
            logger.warn(
                f"cannot keep exact solutions in {path.parent} ({err}); every new process "
                "solves them again",
                name_suffix="unwritable",
                once=True,
            )
        finally:
            if temporary is not None:
                with suppress(OSError):
                    os.unlink(temporary)

    def __repr__(self):
        folder = "" if self._folder is None else repr(str(self._folder))
        return f"{type(self).__name__}({folder})"


#: The state updater bimsim's neurons and synapses use for ``method='exact'``.
exact = StoredExact()


def integrator(method):
    """The state updater for a method's name.

    Parameters
    ----------
    method : str
        A Brian2 state updater's name.

    Returns
    -------
    StateUpdateMethod or str
        :data:`exact` for ``'exact'``, else ``method`` (for Brian2 to look up).
    """
    return exact if method == "exact" else method
