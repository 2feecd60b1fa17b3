"""The readout as a Brian2 network operation: it reads the spiking layer, learns, writes back L_i.

Every readout step (its own clock, default 1 ms, at the end of the time step) the operation reads
the layer's filtered spike trains ``u_out`` (times ``input_scale``), advances the selective SSM
one step (with that step's target, if any), adds the step's RTRL gradient to the readout's
parameters, and writes the learning signal ``L_i = ∂ℓ_t/∂u_out,i`` into the layer, where the
synapses' eligibility traces pick it up.

A network operation runs only on Brian2's ``runtime`` device; bimsim refuses to build or run one
elsewhere (:func:`bimsim.devices.require_runtime`).
"""

import numpy as np
from brian2 import NetworkOperation, ms

from bimsim.devices import require_runtime
from bimsim.neurons.model import require_learning_layer
from bimsim.plasticity.optimizers import NumpyOptimizer, require_optimizer
from bimsim.quantities import (
    require_count,
    require_instance,
    require_multiple,
    require_positive,
    require_real,
)
from bimsim.readout.selective_ssm import SelectiveSSM, check_targets

__all__ = ["ReadoutInjection"]


class ReadoutInjection:
    """Connects a :class:`~bimsim.readout.selective_ssm.SelectiveSSM` to a learning layer.

    Parameters
    ----------
    ssm : SelectiveSSM
        Its input size must equal the layer's size.
    layer : NeuronGroup
        A learning layer of any neuron model (``learning=True``).
    dt : Quantity
        The readout step, a whole multiple of the layer's.
    learning_rate : float
        Step size of the readout's own online descent (0: the readout does not learn).
    max_grad_norm : float, optional
        Clip each step's readout gradient to this global norm (see
        :meth:`~bimsim.readout.selective_ssm.SelectiveSSM.apply`).
    optimizer : Optimizer, optional
        How the readout's direction becomes its step (default SGD); its state is
        :attr:`optimizer`'s.
    input_scale : float
        The readout reads ``input_scale * u_out`` (a selective SSM's output grows with the cube
        of its input's size, so a layer firing near its highest rate needs a scale below 1); the
        learning signal is the derivative with respect to ``u_out`` itself.
    copies : int
        The layer holds this many copies of the readout's input, copy-major (``c * m + i``);
        the readout steps them as one batch.
    name : str
        Name of the network operation.

    Attributes
    ----------
    operation : brian2.NetworkOperation
        Add it to the network.
    """

    def __init__(
        self,
        ssm,
        layer,
        *,
        dt=1 * ms,
        learning_rate=0.0,
        max_grad_norm=None,
        optimizer=None,
        input_scale=1.0,
        copies=1,
        name="readout",
    ):
        require_runtime("ReadoutInjection")
        require_instance("ssm", ssm, SelectiveSSM)
        require_learning_layer(layer)
        m, n, _ = ssm.params.shapes
        copies = require_count("copies", copies)
        if m * copies != len(layer):
            raise ValueError(
                f"the readout takes {m} inputs x {copies} copies but layer {layer.name!r} has "
                f"{len(layer)} neurons"
            )
        SelectiveSSM.require_memory(m, n, copies)
        self.copies = copies
        if max_grad_norm is not None:
            require_real("max_grad_norm", max_grad_norm, above=True)
        self.max_grad_norm = max_grad_norm
        require_positive("dt", dt, "time", scalar=True)
        # a step off the layer's grid would read u_out between its steps
        require_multiple("dt", dt, layer.clock.dt, of="the layer's time step")
        self.input_scale = float(require_real("input_scale", input_scale, above=True))
        require_real("learning_rate", learning_rate)
        self.ssm = ssm
        self.layer = layer
        self.learning_rate = float(learning_rate)
        optimizer = require_optimizer("optimizer", optimizer)
        plain = optimizer.kind == "sgd" and not optimizer.weight_decay
        self.optimizer = None if plain else NumpyOptimizer(optimizer)  # SGD: apply's own step
        self._targets = []
        self._step_index = 0
        self.losses, self.outputs = [], []
        self.operation = NetworkOperation(self._step, dt=dt, when="end", order=0, name=name)

    def start_sequence(self, targets):
        """Begin a sequence: reset the readout's state, and give one target per readout step.

        Parameters
        ----------
        targets : sequence
            Per readout step, a target (k values for ``'mse'``, a class index for
            ``'cross_entropy'``; with copies, one such target per copy) or None where the step
            has no loss. Steps past its end have none.

        Raises
        ------
        ValueError
            Naming the first target the loss cannot take (before the run, not in the middle).
        """
        batch = None if self.copies == 1 else self.copies
        if hasattr(targets, "__iter__") and not isinstance(targets, str):
            targets = list(targets)  # kept as given; a generator is read once
        check_targets(targets, self.ssm.loss, self.ssm.params.shapes[2], batch)
        self.ssm.reset_state(batch)
        self._targets = targets
        self._step_index = 0
        self.losses, self.outputs = [], []

    def _step(self, t):
        k = self._step_index
        target = self._targets[k] if k < len(self._targets) else None
        u = self.input_scale * self.layer.variables["u_out"].get_value()
        if self.copies > 1:
            u = u.reshape(self.copies, -1)
        # numpy's overflow warnings would only precede the error that a diverging readout raises
        # (apply) or the check of its losses: they say nothing more
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            output, loss, signal = self.ssm.learn_step(
                u, target, self.learning_rate, self.max_grad_norm, self.optimizer
            )
            # the chain rule through the scale: L = ∂ℓ/∂u_out
            self.layer.variables["L"].set_value(self.input_scale * np.ravel(signal))
        self.losses.append(loss if target is not None else np.nan)
        self.outputs.append(output)
        self._step_index += 1
