"""Unit checks at bimsim's public boundaries, and parsing of quantities typed on a command line.

Every public function that takes a time, a rate or a voltage checks it here, so that a plain float
(``tau=0.02``) or a wrong unit (``tau=20*mV``) is refused with a message naming the parameter.
"""

import math
import numbers
import re

import brian2
import numpy as np
from brian2.units.fundamentalunits import DimensionMismatchError, get_dimensions

from bimsim.errors import show_own_errors_plainly

show_own_errors_plainly()  # after Brian2's import installed its hook

__all__ = [
    "MAX_SEED",
    "parse_quantity",
    "require",
    "require_count",
    "require_instance",
    "require_multiple",
    "require_positive",
    "require_real",
    "require_seed",
    "require_whole",
]

#: The largest seed: numpy's global generator, which Brian2's ``seed`` sets, takes 32 bits.
MAX_SEED = 2**32 - 1

_DIMENSION_NAMES = {
    "time": brian2.second,
    "frequency": brian2.Hz,
    "voltage": brian2.volt,
    "current": brian2.amp,
    "resistance": brian2.ohm,
}


def require(name, value, kind, *, scalar=False):
    """Check that ``value`` is a Brian2 quantity of the physical ``kind`` and return it.

    Parameters
    ----------
    name : str
        The parameter's name, used in the error message.
    value : Quantity
        The value to check (scalar or array).
    kind : {'time', 'frequency', 'voltage', 'current', 'resistance'}
        The physical dimension ``value`` must have.
    scalar : bool
        Refuse an array: the parameter is one value (a time step, a time constant).

    Raises
    ------
    DimensionMismatchError
        If ``value`` has no units or units of another dimension (None or a string included).
    ValueError
        If it is not finite, or an array where ``scalar``.
    """
    unit = _DIMENSION_NAMES[kind]
    try:
        dimensions = get_dimensions(value)
    except TypeError:  # None, a string, a list of quantities: nothing Brian2 can read units of
        dimensions = None
    if dimensions is not get_dimensions(unit):
        if isinstance(value, brian2.Quantity):
            given = f"units {value.dim}"
        elif isinstance(value, numbers.Number | np.ndarray):
            given = "no units"
        else:
            given = f"type {type(value).__name__}"
        raise DimensionMismatchError(
            f"{name} must be a {kind} with units (e.g. {_example(kind)}), got {value!r} "
            f"with {given}"
        )
    if not np.all(np.isfinite(np.asarray(value))):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if scalar and np.ndim(value) != 0:
        raise ValueError(f"{name} must be one {kind}, got {value!r}")
    return value


def require_positive(name, value, kind, *, scalar=False):
    """Like :func:`require`, and also check that every element is strictly positive."""
    require(name, value, kind, scalar=scalar)
    if not np.all(np.asarray(value) > 0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return value


def require_count(name, value, maximum=math.inf):
    """Check that ``value`` is a whole number from 1 to ``maximum`` (a size, a number of copies;
    ``4.0`` is taken as 4) and return it as an int.

    Raises
    ------
    ValueError
        Naming ``name``, for anything else: 0, a fraction, a bool, None, a string.
    """
    value = _plain(value)
    number = _is_real(value) and math.isfinite(value)
    if not number or int(value) != value or not 1 <= value <= maximum:
        if maximum == math.inf:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        raise ValueError(f"{name} must be an integer from 1 to {maximum}, got {value!r}")
    return int(value)


def require_whole(name, value, minimum=0, maximum=math.inf):
    """Check that ``value`` is an ``int`` (not a bool, not a float) in ``[minimum, maximum]`` and
    return it; a ``ValueError`` naming ``name`` otherwise (for settings that name things, such as
    a model's number of states, where ``2.0`` is a mistake, not a 2)."""
    whole = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not whole or not minimum <= value <= maximum:
        bounds = f">= {minimum}" if maximum == math.inf else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
    return int(value)


def require_instance(name, value, kind, optional=False):
    """Check that ``value`` is a ``kind`` (a class; None too where ``optional``) and return it; a
    ``TypeError`` naming ``name`` and the class otherwise (a rule given as ``'pair'``, bounds as
    ``'hard'``)."""
    if (optional and value is None) or isinstance(value, kind):
        return value
    article = "an" if kind.__name__[0] in "AEIOU" else "a"
    either = " or None" if optional else ""
    raise TypeError(f"{name} must be {article} {kind.__name__}{either}, got {value!r}")


def require_seed(name, value):
    """Check that ``value`` is a random seed, a whole number in ``[0, MAX_SEED]`` (what
    ``brian2.seed`` and numpy's generators take, and ``--seed``), and return it."""
    return require_whole(name, value, 0, MAX_SEED)


_UNITS = {
    "s": brian2.second,
    "second": brian2.second,
    "ms": brian2.ms,
    "us": brian2.us,
    "Hz": brian2.Hz,
    "kHz": brian2.kHz,
    "mV": brian2.mV,
    "V": brian2.volt,
    "pA": brian2.pA,
    "nA": brian2.nA,
    "Mohm": brian2.Mohm,
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*([A-Za-z]*)\s*$")


def _is_real(value):
    """Whether ``value`` is a plain real number (a Python or numpy int or float, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _plain(value):
    """``value``, or the number a 0-d numpy array without units holds (what xarray's
    ``.values`` and numpy reductions give)."""
    if (
        type(value) is np.ndarray
        and value.ndim == 0
        and (np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating))
    ):
        return value.item()
    return value


def require_real(name, value, minimum=0.0, maximum=math.inf, above=False, below=False):
    """Check that ``value`` is a finite plain number in ``[minimum, maximum]`` (above ``minimum``
    with ``above=True``, below ``maximum`` with ``below=True``) and return it; a ``ValueError``
    naming ``name`` otherwise (None, a string, a bool or a quantity with units included)."""
    value = _plain(value)
    ok = _is_real(value) and math.isfinite(value)
    if (
        not ok
        or not minimum <= value <= maximum
        or (above and value == minimum)
        or (below and value == maximum)
    ):
        bounds = []
        if minimum != -math.inf:
            bounds.append(f"above {minimum}" if above else f"at least {minimum}")
        if maximum != math.inf:
            bounds.append(f"below {maximum}" if below else f"at most {maximum}")
        within = f" {' and '.join(bounds)}" if bounds else ""
        raise ValueError(f"{name} must be a finite number{within}, got {value!r}")
    return value


def require_multiple(name, value, dt, of="dt"):
    """Check that ``value`` (a time) is a whole number of steps ``dt`` (named ``of`` in the
    message) and return it; a ``ValueError`` naming ``name`` otherwise, also where a value above
    0 is less than one step."""
    ratio = float(value / dt)
    steps = round(ratio)
    if abs(ratio - steps) > 1e-9 or (ratio > 0 and steps == 0):
        raise ValueError(f"{name} ({value}) must be a whole multiple of {of} ({dt})")
    return value


def parse_quantity(text, kind, name=None):
    """Parse a quantity typed by a user, such as ``"16.8ms"``, ``"1 Hz"`` or ``"-100*ms"``.

    Parameters
    ----------
    text : str
        A number followed by a unit (``s``, ``ms``, ``us``, ``Hz``, ``kHz``, ``mV``, ``V``, ``pA``,
        ``nA``, ``Mohm``), optionally separated by a space or ``*``.
    kind : str
        The physical dimension the quantity must have (see :func:`require`).
    name : str, optional
        The parameter's name, starting error messages (a command-line parser adds its own).

    Returns
    -------
    Quantity
    """
    prefix = f"{name}: " if name else ""
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"{prefix}cannot read {text!r} as a {kind} (e.g. {_example(kind)})")
    number, unit_name = match.groups()
    if not unit_name:
        raise DimensionMismatchError(
            f"{prefix}{text!r} has no units; write it as a {kind} such as {_example(kind)}"
        )
    if unit_name not in _UNITS:
        raise ValueError(f"{prefix}unknown unit {unit_name!r} in {text!r}; known: {sorted(_UNITS)}")
    return require(name or "the value", float(number) * _UNITS[unit_name], kind)


def _example(kind):
    return {
        "time": "16.8*ms",
        "frequency": "1*Hz",
        "voltage": "-65*mV",
        "current": "100*pA",
        "resistance": "100*Mohm",
    }[kind]
