"""Brian2's exact integration of linear equations, its result kept on disk between processes.

Brian2 integrates linear equations (``method='exact'``) by solving them with sympy: a symbolic
matrix exponential, then simplification. The result is abstract code, the same in every process
for the same equations, but Brian2 keeps it only in memory, so every new process pays for it
again: 7.7 s of a 20 s ``python -m bimsim.tasks.ecg --quick --models bim`` went to the learning
layer's two systems (the neurons and their eligibility traces). :data:`exact` is a state updater
that computes the same code with Brian2's own ``exact`` once and then reads it from
``<cache>/integration/`` (see :func:`bimsim.devices.cache_dir`), the folder where bimsim keeps its
standalone builds.

A stored solution is found by a SHA-256 key over everything Brian2's solver reads: the equations,
every variable the group defines (its kind, unit, dtype and flags, a constant's value, a
subexpression's expression), the time step, the method's options, and the versions of Brian2 and
sympy. A group whose variables cannot be described without object addresses is solved by Brian2
directly, as before. Files are written atomically (a temporary file, then a rename), so parallel
workers can share the folder.
"""

import hashlib
import os
from contextlib import suppress
from pathlib import Path

import brian2
import sympy
from brian2.core.functions import FunctionImplementationContainer
from brian2.core.variables import Variable
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.stateupdaters.exact import linear

from bimsim.devices import cache_dir

__all__ = ["StoredExact", "exact", "integrator"]

#: Bumped when the key's recipe changes, so that older files are not read.
_KEY_FORMAT = 1

#: Variable attributes that do not change the solution (Brian2's own cache ignores ``owner``).
_IRRELEVANT = {"owner", "device", "size"}


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
        state = [type(variable).__name__]
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
    """The key of Brian2's exact solution of ``equations`` over ``variables``, or None where a
    variable cannot be described the same way in another process."""
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
        Where solutions are kept (default: ``<cache>/integration``, read when first needed, so
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
            return linear(equations, variables, method_options)
        path = self.folder / f"{key}.txt"
        try:
            return path.read_text()
        except OSError:  # not solved yet, or no folder that can hold it
            pass
        code = linear(equations, variables, method_options)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            # an unwritable folder costs the next process the solution, nothing else
            with suppress(OSError):
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary.write_text(code)
                os.replace(temporary, path)
        finally:
            with suppress(OSError):
                temporary.unlink(missing_ok=True)
        return code

    def __repr__(self):
        return f"{type(self).__name__}()"


#: The state updater bimsim's neurons and synapses use for ``method='exact'``.
exact = StoredExact()


def integrator(method):
    """The state updater for the method named ``method``: :data:`exact` for ``'exact'``, else
    ``method`` itself (for Brian2 to look up)."""
    return exact if method == "exact" else method
