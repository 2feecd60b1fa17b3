"""Sequences back to back in one run, in generated code: the resets at each sequence's start and
the copies' pooling (issue 28).

:class:`~bimsim.network.BIMNetwork` on its network-operation path starts every sequence from
Python (:func:`bimsim.neurons.reset_group` and the synapses' traces zeroed before each
``Network.run``) and pools the copies' gradients in a network operation. Its generated path does
both with Brian2 objects, so a whole epoch runs as one run on any device:

- :class:`SequenceResets`: at the first time step of each sequence (the ``start`` slot, before
  anything else of the step) the layer goes to its neuron model's rest, ends any refractory
  period, and zeroes ``u_out`` and ``L``; the learning synapses zero their traces. Each is one
  ``run_regularly`` operation on the readout's clock (sequences start on its steps), gated by a
  :class:`brian2.TimedArray` of the steps that start a sequence: ``x = keep * x + start * rest``
  is the rest exactly where ``start`` is 1 and ``x`` exactly where it is 0, for finite ``x``.
- :func:`pooled_gradients`: before the update (order 3), each synapse's gradient and STDP term
  are replaced by their mean over the copies: summed into a group that holds one sum per
  synapse of a copy (synapses onto synapses), in the copies' order as numpy's mean sums them, then
  written back times 1 / copies (Brian2's code takes the division out of the loop, so the mean
  equals numpy's to rounding).
"""

import logging

import numpy as np
from brian2 import NeuronGroup, Quantity, Synapses, TimedArray, second

from bimsim.neurons.model import model_of
from bimsim.quantities import require

__all__ = ["SequenceResets", "pooled_gradients", "start_flags"]

logger = logging.getLogger(__name__)

#: The namespace names the resets read (refused where a group already uses them).
START, EPOCH_START = "sequence_start", "t_epoch"


def start_flags(sequence_starts):
    """1 at each step that starts a sequence, 0 elsewhere and one step past the last start.

    Parameters
    ----------
    sequence_starts : sequence of int
        Increasing steps >= 0.

    Raises
    ------
    TypeError, ValueError
        Naming the first step that is not one.
    """
    if isinstance(sequence_starts, str) or not hasattr(sequence_starts, "__iter__"):
        raise TypeError(f"sequence_starts must be a sequence of steps, got {sequence_starts!r}")
    starts = list(sequence_starts)
    for number, step in enumerate(starts):
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise ValueError(f"sequence_starts[{number}] must be a step >= 0, got {step!r}")
        if number and step <= starts[number - 1]:
            raise ValueError(
                f"sequence_starts must increase, got {step} after {starts[number - 1]}"
            )
    flags = np.zeros(max(starts, default=0) + 2)
    flags[starts] = 1.0
    return flags


def _rest_lines(layer):
    """The layer's reset to its neuron model's rest, and the namespace constants it reads."""
    model = model_of(layer)
    lines, constants = [], {}
    for name, value in model.rest().items():
        if name not in layer.variables:
            continue
        if np.ndim(value):
            raise NotImplementedError(
                f"the {model.name} model's rest of {name} differs between neurons: the "
                "generated reset takes one value"
            )
        if not isinstance(value, Quantity):  # a plain number, e.g. 0, in the variable's unit
            value = Quantity(value, dim=layer.variables[name].dim)
        constants[f"rest_{name}"] = value
        lines.append(f"{name} = keep * {name} + start * rest_{name}")
    if "lastspike" in layer.variables:
        # as Brian2 makes a group: no spike for long before, not refractory
        lines.append("lastspike = keep * lastspike - start * 10000 * second")
        lines.append("not_refractory = not_refractory or start > 0.5")
    lines += [f"{name} = keep * {name}" for name in ("u_out", "L") if name in layer.variables]
    return lines, constants


class SequenceResets:
    """The resets at each sequence's start of a layer and its learning synapses.

    Parameters
    ----------
    layer : NeuronGroup
        A learning layer of a neuron model.
    synapses : sequence of Synapses
        The learning synapses onto it.
    traces : sequence of str
        The synapses' variables zeroed (those a synapses object holds).
    dt : Quantity
        The step on which sequences start (the readout's).

    Attributes
    ----------
    objects : list
        The ``run_regularly`` operations (they are also the groups' contained objects).
    """

    def __init__(self, layer, synapses, traces, dt):
        self._namespaces = []
        self.dt = dt
        self.objects = []
        lines, constants = _rest_lines(layer)
        self._add(layer, lines, constants)
        for group in synapses:
            names = [name for name in traces if name in group.variables]
            self._add(group, [f"{name} = keep * {name}" for name in names], {})
        self.set_starts([0])

    def _add(self, group, lines, constants):
        taken = [name for name in (START, EPOCH_START, *constants) if name in group.namespace]
        taken += [name for name in (START, EPOCH_START, *constants) if name in group.variables]
        if taken:
            raise ValueError(f"{group.name!r} already uses {', '.join(taken)}")
        group.namespace.update(constants)
        self._namespaces.append(group.namespace)
        code = "\n".join([f"start = {START}(t - {EPOCH_START})", "keep = 1 - start", *lines])
        runner = group.run_regularly(
            code, dt=self.dt, when="start", order=-1, name=f"{group.name}_sequence_reset"
        )
        self.objects.append(runner)

    def set_starts(self, sequence_starts, t_start=0 * second):
        """The steps (of ``dt``, counted from ``t_start``) at which the next run's sequences
        start (see :func:`start_flags`)."""
        require("t_start", t_start, "time", scalar=True)
        flags = TimedArray(start_flags(sequence_starts), dt=self.dt, name="sequence_start_flags")
        for namespace in self._namespaces:
            namespace.update({START: flags, EPOCH_START: t_start})


def pooled_gradients(synapses, copies, dt, order=2):
    """Objects that replace each synapse's ``grad`` and ``omega`` by their mean over the copies.

    Parameters
    ----------
    synapses : Synapses
        Copy-major: synapse ``c * S + s`` is synapse ``s`` of copy ``c``.
    copies : int
        Above 1.
    dt : Quantity
        The update's step (the readout's).
    order : float
        In the ``end`` slot: after the gradient's accumulation (order 1), before the update (3).

    Returns
    -------
    list
        A group of ``S`` sums and the synapses onto it (add both to the network).
    """
    size = len(synapses)
    if copies < 2 or size % copies:
        raise ValueError(f"{size} synapses do not split into {copies} copies (2 or more)")
    per_copy = size // copies
    sums = NeuronGroup(per_copy, "grad_sum : 1\nomega_sum : 1", dt=dt, name=f"{synapses.name}_sums")
    pool = Synapses(
        synapses,
        sums,
        "grad_sum_post = grad_pre : 1 (summed)\nomega_sum_post = omega_pre : 1 (summed)",
        dt=dt,
        namespace={"copies": float(copies)},
        name=f"{synapses.name}_pool",
    )
    index = np.arange(size)
    pool.connect(i=index, j=index % per_copy)
    # each synapse is the source of one pooling synapse: writing grad_pre is well defined (Brian2
    # checks this flag before it warns that the order of the writes may matter)
    pool.variables["_synaptic_pre"].unique = True
    for updater in pool.summed_updaters.values():
        updater.when, updater.order = "end", order
    pool.run_regularly(
        "grad_pre = grad_sum_post / copies\nomega_pre = omega_sum_post / copies",
        dt=dt,
        when="end",
        order=order + 0.5,
        name=f"{synapses.name}_pooled",
    )
    return [sums, pool]
