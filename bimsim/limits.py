"""Bounds on the size of a run, checked before any work starts.

A size typed by a user (pairings, Δt values, copies, hidden neurons, steps) or a pairing period far
from the time step can ask for more memory or time than a machine has: numpy then fails after
minutes, the machine swaps, or Brian2's generated code crashes. Every run that allocates in
proportion to such a size checks it here first, and the error says the limit and what the run
would need.

The limits are generous for the work bimsim is built for (the default protocols use about 1e4 time
steps and 1e4 spikes) and far below what would exhaust a 24 GiB machine.
"""

__all__ = [
    "BYTES_PER_VALUE",
    "MAX_BYTES",
    "MAX_STEPS",
    "SECONDS_PER_STEP",
    "require_bytes",
    "require_steps",
]

#: Most time steps one simulation may take.
MAX_STEPS = 10**8

#: Most bytes the arrays of one run may take.
MAX_BYTES = 8 * 2**30

#: Memory per number a Brian2 group stores for each neuron or synapse: the float64 and what Brian2
#: and numpy copy while they build, connect and set it (measured: a BIM network's input synapses
#: take 160 to 240 bytes each for their 13 to 20 numbers).
BYTES_PER_VALUE = 16

#: Brian2's runtime cost of one time step of a small network (measured on 2 cores; see README).
SECONDS_PER_STEP = 15e-6


def _duration(seconds):
    for unit, length in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= length:
            return f"{seconds / length:.3g} {unit}"
    return f"{seconds:.3g} s"


def _size(n_bytes):
    for unit, length in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= length:
            return f"{n_bytes / length:.3g} {unit}"
    return f"{n_bytes:.3g} bytes"


def require_steps(what, steps, dt=None):
    """Refuse a simulation of more than :data:`MAX_STEPS` time steps.

    Parameters
    ----------
    what : str
        What needs the steps, e.g. ``"60 pairings at 1e-09 Hz"``; starts the message.
    steps : int or float
        Time steps the run would take.
    dt : Quantity, optional
        The time step, named in the message.

    Raises
    ------
    ValueError
        Saying the steps, the limit and the time they would take at :data:`SECONDS_PER_STEP`.
    """
    if steps > MAX_STEPS:
        of = f" of {dt}" if dt is not None else ""
        raise ValueError(
            f"{what} would take {steps:.3g} time steps{of}, more than the limit of "
            f"{MAX_STEPS:.0e} (about {_duration(steps * SECONDS_PER_STEP)} at "
            f"{SECONDS_PER_STEP * 1e6:g} µs per step)"
        )
    return steps


def require_bytes(what, n_bytes):
    """Refuse a run whose arrays would take more than :data:`MAX_BYTES`.

    Parameters
    ----------
    what : str
        What needs the memory; starts the message.
    n_bytes : int or float
        The estimate.

    Raises
    ------
    ValueError
        Saying the memory needed and the limit.
    """
    if n_bytes > MAX_BYTES:
        raise ValueError(
            f"{what} would need about {_size(n_bytes)} of memory, more than the limit of "
            f"{_size(MAX_BYTES)}"
        )
    return n_bytes
