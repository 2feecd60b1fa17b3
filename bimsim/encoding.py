"""Signals into spikes inside Brian2: delta (level-crossing) modulation with up and down channels.

Each signal channel has one reference level ``ref`` and drives two neurons: every time step, if
the signal ``x`` has risen more than ``delta`` above ``ref`` the *up* neuron fires and ``ref``
rises by ``delta``; if it has fallen more than ``delta`` below, the *down* neuron fires and ``ref``
falls by ``delta``::

    x - ref > delta:   up spike,    ref ← ref + delta
    ref - x > delta:   down spike,  ref ← ref - delta

so ``ref`` (the running sum of ``±delta``) stays within ``delta`` of the signal wherever the signal
changes by less than ``delta`` per step; a faster change is spread over the following steps (at
most one spike per neuron and step). Both neurons of a channel keep their own copy of ``ref`` and
apply the same rule, the other neuron's crossing silently, so the copies stay equal.

The signal is a :class:`brian2.TimedArray` of shape ``(time, copies * channels)``, each sample held
until the next, read from the time :meth:`DeltaModulator.set_signal` was called (``t_start``),
so every run that follows a ``set_signal`` encodes its signal from the first sample, however long
the network has run before. The group holds ``copies`` independent copies, neuron
``2 * (c * channels + k) + s`` being channel ``k`` of copy ``c``, ``s = 0`` up and ``s = 1`` down.
"""

import numpy as np
from brian2 import NeuronGroup, TimedArray, volt

from bimsim.limits import BYTES_PER_VALUE, require_bytes
from bimsim.quantities import require, require_count, require_positive

__all__ = ["DELTA_EQUATIONS", "DeltaModulator"]

DELTA_EQUATIONS = """
x = signal(t - t_start, column) : volt
ref : volt
t_start : second (shared)
polarity : 1 (constant)
column : integer (constant)
"""


class DeltaModulator:
    """A Brian2 group that turns ``channels`` signals (per copy) into up and down spikes.

    Parameters
    ----------
    channels : int
        Signal channels per copy (e.g. ECG leads); with ``copies``, within
        :data:`bimsim.limits.MAX_BYTES` of memory.
    delta : Quantity
        The level step (a voltage, e.g. ``0.05 * mV``).
    copies : int
        Independent copies (one sequence each).
    dt : Quantity, optional
        Time step of the group.
    name : str

    Attributes
    ----------
    group : brian2.NeuronGroup
        ``2 * channels * copies`` neurons; add it to the network.
    """

    def __init__(self, channels, delta, *, copies=1, dt=None, name="delta_modulator"):
        self.channels = require_count("channels", channels)
        self.copies = require_count("copies", copies)
        require_positive("delta", delta, "voltage", scalar=True)
        if dt is not None:
            require_positive("dt", dt, "time", scalar=True)
        n = 2 * self.channels * self.copies
        # ref, t_start, polarity, column and Brian2's own index and spike space
        require_bytes(f"a delta modulator of {n} neurons", n * 6 * BYTES_PER_VALUE)
        kwds = {} if dt is None else {"dt": dt}
        self.group = NeuronGroup(
            n,
            DELTA_EQUATIONS,
            threshold="polarity * (x - ref) > delta",
            reset="ref += polarity * delta",
            namespace={"delta": delta},
            name=name,
            **kwds,
        )
        self.group.polarity = np.tile([1.0, -1.0], n // 2)
        self.group.column = np.arange(n) // 2
        # the other neuron's crossing: follow it without a spike
        self.group.run_regularly(
            "ref -= polarity * delta * int(polarity * (ref - x) > delta)",
            when="thresholds",
            order=-1,
            name=f"{name}_track",
        )
        self.signal = None

    def __len__(self):
        return len(self.group)

    def set_signal(self, values, sample_dt, start=None):
        """Give the signals to encode from now on (the next run starts at their first sample) and
        set each reference level.

        Parameters
        ----------
        values : Quantity
            ``(samples, copies, channels)`` voltages.
        sample_dt : Quantity
            Sampling interval.
        start : Quantity, optional
            ``(copies, channels)`` initial reference levels (default: the first samples, so a
            signal produces spikes only as it changes; a start of 0 turns a constant into a
            burst of ``value / delta`` spikes, a count code).

        Returns
        -------
        dict
            The namespace entry ``{"signal": TimedArray}`` to pass to the run.
        """
        require("values", values, "voltage")
        require_positive("sample_dt", sample_dt, "time", scalar=True)
        shape = (self.copies, self.channels)
        if np.ndim(values) != 3 or np.shape(values)[1:] != shape:
            raise ValueError(
                f"values must have shape (samples, {shape[0]}, {shape[1]}), got {np.shape(values)}"
            )
        flat = np.asarray(values / volt).reshape(len(values), -1)
        if start is None:
            first = flat[0]
        else:
            require("start", start, "voltage")
            if np.shape(start) != shape:
                raise ValueError(f"start must have shape {shape}, got {np.shape(start)}")
            first = np.asarray(start / volt).ravel()
        if not (np.all(np.isfinite(flat)) and np.all(np.isfinite(first))):
            raise ValueError("the signal holds NaN or infinite values")
        # sample and hold on the group's own time grid (a TimedArray on another grid works the
        # same but makes Brian2 warn at every run)
        dt = self.group.clock.dt
        steps = int(np.ceil(float(len(flat) * sample_dt / dt) - 1e-9))
        # the held signal, its indices and the TimedArray's copy
        require_bytes(
            f"{len(flat)} samples of {sample_dt} held on steps of {dt}",
            steps * (2 * flat.shape[1] + 1) * 8,
        )
        held = np.floor(np.arange(steps) * float(dt / sample_dt) + 1e-9).astype(int)
        self.signal = TimedArray(flat[np.minimum(held, len(flat) - 1)] * volt, dt=dt)
        self.group.ref = np.repeat(first, 2) * volt
        # the signal starts now: the network's clock goes on from run to run
        self.group.t_start = self.group.t[:]
        return {"signal": self.signal}
