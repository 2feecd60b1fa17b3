"""Unit checks at bimsim's public boundaries, and parsing of quantities typed on a command line.

Every public function that takes a time, a rate or a voltage checks it here, so that a plain float
(``tau=0.02``) or a wrong unit (``tau=20*mV``) is refused with a message naming the parameter.
"""

import math
import re

import brian2
import numpy as np
from brian2.units.fundamentalunits import DimensionMismatchError, get_dimensions

__all__ = [
    "parse_quantity",
    "require",
    "require_count",
    "require_multiple",
    "require_positive",
    "require_real",
    "require_whole",
]

_DIMENSION_NAMES = {
    "time": brian2.second,
    "frequency": brian2.Hz,
    "voltage": brian2.volt,
    "current": brian2.amp,
    "resistance": brian2.ohm,
}


def require(name, value, kind):
    """Check that ``value`` is a Brian2 quantity of the physical ``kind`` and return it.

    Parameters
    ----------
    name : str
        The parameter's name, used in the error message.
    value : Quantity
        The value to check (scalar or array).
    kind : {'time', 'frequency', 'voltage', 'current', 'resistance'}
        The physical dimension ``value`` must have.

    Raises
    ------
    DimensionMismatchError
        If ``value`` has no units or units of another dimension.
    """
    unit = _DIMENSION_NAMES[kind]
    if get_dimensions(value) is not get_dimensions(unit):
        given = "no units" if not isinstance(value, brian2.Quantity) else f"units {value.dim}"
        raise DimensionMismatchError(
            f"{name} must be a {kind} with units (e.g. {_example(kind)}), got {value!r} "
            f"with {given}"
        )
    if not np.all(np.isfinite(np.asarray(value))):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def require_positive(name, value, kind):
    """Like :func:`require`, and also check that every element is strictly positive."""
    require(name, value, kind)
    if not np.all(np.asarray(value) > 0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return value


def require_count(name, value):
    """Check that ``value`` is a whole number >= 1 (a size, a number of copies); return it as int.

    Raises
    ------
    ValueError
        Naming ``name``.
    """
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
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


def require_real(name, value, minimum=0.0, maximum=math.inf, above=False):
    """Check that ``value`` is a finite plain number in ``[minimum, maximum]`` (above ``minimum``
    with ``above=True``) and return it; a ``ValueError`` naming ``name`` otherwise."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or value > maximum or (above and value == minimum):
        bound = f"above {minimum}" if above else f"at least {minimum}"
        upper = "" if maximum == math.inf else f" and at most {maximum}"
        raise ValueError(f"{name} must be a finite number {bound}{upper}, got {value!r}")
    return value


def require_multiple(name, value, dt):
    """Check that ``value`` (a time) is a whole number of steps ``dt`` and return it; a
    ``ValueError`` naming ``name`` otherwise."""
    ratio = float(value / dt)
    if abs(ratio - round(ratio)) > 1e-9:
        raise ValueError(f"{name} ({value}) must be a whole multiple of dt ({dt})")
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
