"""Settings of the task models, as frozen and validated dataclasses with units.

Every default of a task model is defined here, once: :class:`BIMConfig` for BIM (its encoder,
spiking layer, readout and training), :class:`BaselineConfig` for the torch baselines trained by
BPTT. A task changes what it needs with :func:`dataclasses.replace` (its module says what and
why); a command line builds its configs from the defaults and the flags the user typed
(:mod:`bimsim.tasks.command`), and provenance records them (:func:`as_attrs`).

The η, λ and readout learning rate defaults are :mod:`bimsim.network`'s (η = 0.0005, λ = 1,
readout learning rate 0.05); a task that has chosen its own on validation sets them in its module.
"""

import dataclasses
import math
from dataclasses import dataclass, field, fields

import numpy as np
from brian2 import Hz, Quantity, ms, mV

from bimsim.network import ETA, LAM, READOUT_LEARNING_RATE, require_recurrent
from bimsim.neurons import NEURONS, TAU_M, TAU_SYN, require_adaptation, require_apart
from bimsim.plasticity.optimizers import Optimizer, require_decay
from bimsim.plasticity.pruning import PruningParameters
from bimsim.quantities import require, require_multiple, require_positive, require_real

__all__ = ["MAX_COPIES", "MAX_HIDDEN", "BIMConfig", "BaselineConfig", "as_attrs"]

#: Largest spiking layer and most copies a user may ask for (the readout's RTRL memory is bounded
#: separately, :func:`bimsim.limits.require_bytes`).
MAX_HIDDEN = 4096
MAX_COPIES = 4096

#: Most training epochs of BIM, and of a baseline.
MAX_EPOCHS = 1000
MAX_BASELINE_EPOCHS = 10_000


def _count(name, value, maximum):
    whole = isinstance(value, int | float) and not isinstance(value, bool)
    if not whole or not math.isfinite(value) or int(value) != value or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be a whole number in [1, {maximum}], got {value!r}")


@dataclass(frozen=True)
class BIMConfig:
    """BIM as a sequence classifier (:class:`bimsim.tasks.bim_classifier.BIMClassifier`).

    Parameters
    ----------
    epochs : int
        Passes over the training samples.
    hidden : int
        Neurons of the spiking layer.
    neuron : str
        The spiking layer's neuron model, a key of :data:`bimsim.neurons.NEURONS`: ``'lif'``
        (default), ``'tc_lif'``, ``'p_spikessm'`` or ``'elm'`` (each with its own defaults;
        ``tau_m``, ``adaptation`` and ``tau_adaptation`` are LIF's and must keep their defaults
        with another neuron).
    states : int
        Readout states per readout input (N).
    copies : int
        Samples simulated at once, as independent copies of one network.
    lam, eta : float
        The hybrid rule's λ (1: gradient only, 0: STDP only) and η of the input synapses.
    readout_learning_rate : float
        Step size of the readout's RTRL descent.
    readout_scale : float
        The readout reads the layer's filtered spike trains (+1 per spike, decaying with
        ``tau_readout``) times this.
    optimizer, readout_optimizer : Optimizer
        How the spiking layer's and the readout's updates are made
        (:mod:`bimsim.plasticity.optimizers`; default SGD); a weight decay times its rate
        (``eta``, ``readout_learning_rate``) must be below 1
        (:func:`~bimsim.plasticity.optimizers.require_decay`).
    lr_decay : float
        The schedule: epoch ``e`` (from 0) learns with both rates times ``lr_decay ** e``, in
        (0, 1]; 1 (default) keeps them constant.
    max_grad_norm : float
        Clip of the readout's gradient per step (global norm).
    delta : Quantity
        Level step of the delta-modulation encoder (signals enter it in mV).
    feature_delta : float
        Feature units per spike of the features' count code.
    w_init : (float, float)
        Initial input weights, drawn uniformly.
    tau_m : (Quantity, Quantity)
        The layer's membrane time constants, ``(low, high)``: neuron ``i`` of ``hidden`` gets
        ``low * (high / low) ** (i / (hidden - 1))`` (log-spaced, the same in every copy; a
        spread needs ``hidden`` > 1); equal values (default, the LIF default twice) give one
        time constant to all. Each must differ from the layer's ``tau_syn`` (5 ms) by at least
        1 % (:data:`bimsim.neurons.lif.MIN_TAU_GAP`).
    recurrent : float
        Recurrent synapses within the layer, learning as the input synapses do, their initial
        weights normal with mean 0 and this standard deviation (x ``w_unit``); 0 (default):
        none (:class:`bimsim.network.BIMNetwork`'s ``recurrent``).
    adaptation, tau_adaptation : Quantity
        The layer's threshold adaptation (ALIF): each spike raises a neuron's threshold by
        ``adaptation``, decaying with ``tau_adaptation``; 0 mV (default): plain LIF.
    prune_target : float
        ρ of the adaptive pruning of the input synapses (SPEC eq. 6,
        :class:`bimsim.plasticity.pruning.PruningParameters`' ``target_sparsity``), in [0, 1);
        0 (default): no pruning.
    target_rate : Quantity
        Before training, all input weights are scaled by one factor so that the layer fires at
        this mean rate on a minibatch of training samples
        (:mod:`bimsim.tasks.rate_calibration`); 0 Hz: no scaling.
    dt, readout_dt : Quantity
        Simulation step, and the readout's step.
    tau_readout : Quantity
        Time constant of the spike trace the readout reads.
    """

    epochs: int = 3
    hidden: int = 32
    neuron: str = "lif"
    states: int = 8
    copies: int = 64
    lam: float = LAM
    eta: float = ETA
    readout_learning_rate: float = READOUT_LEARNING_RATE
    readout_scale: float = 1.0
    optimizer: Optimizer = field(default_factory=Optimizer)
    readout_optimizer: Optimizer = field(default_factory=Optimizer)
    lr_decay: float = 1.0
    max_grad_norm: float = 1.0
    delta: Quantity = field(default_factory=lambda: 0.05 * mV)
    feature_delta: float = 0.1
    w_init: tuple = (0.0, 0.3)
    tau_m: tuple = (TAU_M, TAU_M)
    recurrent: float = 0.0
    adaptation: Quantity = field(default_factory=lambda: 0 * mV)
    tau_adaptation: Quantity = field(default_factory=lambda: 200 * ms)
    prune_target: float = 0.0
    target_rate: Quantity = field(default_factory=lambda: 0 * Hz)
    dt: Quantity = field(default_factory=lambda: 1 * ms)
    readout_dt: Quantity = field(default_factory=lambda: 10 * ms)
    tau_readout: Quantity = field(default_factory=lambda: 50 * ms)

    def __post_init__(self):
        _count("epochs", self.epochs, MAX_EPOCHS)
        _count("hidden", self.hidden, MAX_HIDDEN)
        _count("states", self.states, 1024)
        _count("copies", self.copies, MAX_COPIES)
        require_real("lam", self.lam, 0.0, 1.0)
        require_real("eta", self.eta)
        require_real("readout_learning_rate", self.readout_learning_rate)
        require_real("readout_scale", self.readout_scale, above=True)
        require_real("max_grad_norm", self.max_grad_norm, above=True)
        require_real("lr_decay", self.lr_decay, 0.0, 1.0, above=True)
        require_real("feature_delta", self.feature_delta, above=True)
        require_recurrent(self.recurrent, self.hidden)
        require_real("prune_target", self.prune_target, 0.0, 1.0)
        if self.prune_target == 1:
            raise ValueError("prune_target must lie in [0, 1): 1 would prune every synapse")
        for name in ("optimizer", "readout_optimizer"):
            if not isinstance(getattr(self, name), Optimizer):
                raise TypeError(f"{name} must be an Optimizer, got {getattr(self, name)!r}")
        # the largest rates are epoch 0's: lr_decay only lowers them
        require_decay("eta", self.eta, "optimizer's weight_decay", self.optimizer.weight_decay)
        require_decay(
            "readout_learning_rate", self.readout_learning_rate,
            "readout_optimizer's weight_decay", self.readout_optimizer.weight_decay,
        )  # fmt: skip
        require_positive("delta", self.delta, "voltage")
        require("target_rate", self.target_rate, "frequency")
        rate = self.target_rate
        if getattr(rate, "shape", ()) != () or not (math.isfinite(float(rate)) and rate >= 0 * Hz):
            raise ValueError(f"target_rate must be one finite rate >= 0 Hz, got {rate}")
        if float(rate * self.dt) >= 1:
            raise ValueError(
                f"target_rate ({rate}) must be below one spike per time step (1 / dt = "
                f"{1 / self.dt})"
            )
        for name in ("dt", "readout_dt", "tau_readout"):
            require_positive(name, getattr(self, name), "time")
        finite = len(self.w_init) == 2 and all(math.isfinite(w) for w in self.w_init)
        if not finite or not self.w_init[0] <= self.w_init[1]:
            raise ValueError(f"w_init must be finite (low, high), low <= high, got {self.w_init!r}")
        if not isinstance(self.tau_m, tuple) or len(self.tau_m) != 2:
            raise ValueError(f"tau_m must be (low, high), got {self.tau_m!r}")
        for name, value in zip(("tau_m low", "tau_m high"), self.tau_m, strict=True):
            require_positive(name, value, "time")
            if getattr(value, "shape", ()) != ():
                raise ValueError(f"{name} must be one time, got {value!r}")
        if not self.tau_m[0] <= self.tau_m[1]:
            raise ValueError(f"tau_m must be (low, high) with low <= high, got {self.tau_m!r}")
        if self.hidden == 1 and self.tau_m[0] != self.tau_m[1]:
            raise ValueError(f"a spread of tau_m {self.tau_m!r} needs more than one hidden neuron")
        if self.neuron not in NEURONS:
            raise ValueError(f"unknown neuron {self.neuron!r}; choose one of {', '.join(NEURONS)}")
        require_apart(self.membrane_time_constants(), TAU_SYN)  # the layer's tau_syn
        require_adaptation(self.adaptation, self.tau_adaptation)
        if self.neuron != "lif":
            for name in _LIF_FIELDS:
                if getattr(self, name) != _default(name):
                    raise ValueError(f"{name} is a setting of the lif neuron, not of {self.neuron}")
        require_multiple("readout_dt", self.readout_dt, self.dt)
        if self.readout_dt < self.dt:
            raise ValueError(
                f"readout_dt ({self.readout_dt}) must be a whole multiple of dt ({self.dt})"
            )

    def membrane_time_constants(self):
        """``tau_m`` of each hidden neuron (one time where low = high)."""
        low, high = self.tau_m
        if low == high:
            return low
        return np.geomspace(float(low / ms), float(high / ms), self.hidden) * ms

    def network_arguments(self):
        """The arguments of :class:`bimsim.network.BIMNetwork` this config sets (the layer,
        readout and learning; not the sizes of input and output, the loss or the steps)."""
        return {
            "n_states": self.states,
            "lam": self.lam,
            "eta": self.eta,
            "readout_learning_rate": self.readout_learning_rate,
            "readout_scale": self.readout_scale,
            "optimizer": self.optimizer,
            "readout_optimizer": self.readout_optimizer,
            "max_grad_norm": self.max_grad_norm,
            "w_init": self.w_init,
            "recurrent": self.recurrent,
            "pruning": PruningParameters(self.prune_target) if self.prune_target > 0 else None,
            "dt": self.dt,
            "tau_readout": self.tau_readout,
            "neuron": self.neuron,
            **self.neuron_settings(),
        }

    def neuron_settings(self):
        """The settings of the neuron model this config makes (LIF's ``tau_m``, ``adaptation``
        and ``tau_adaptation``; none for another model)."""
        if self.neuron != "lif":
            return {}
        return {
            "tau_m": self.membrane_time_constants(),
            "adaptation": self.adaptation,
            "tau_adaptation": self.tau_adaptation,
        }

    def network_with(self, neuron_params):
        """:meth:`network_arguments` and further settings of the neuron model (LIF's
        ``v_threshold``, ``pd_scale``, ...); a setting this config makes (``tau_m``,
        ``adaptation``, ``dt``, ...) is refused, naming the field to set instead."""
        arguments = self.network_arguments()
        taken = sorted(set(neuron_params) & (set(arguments) | set(_LIF_FIELDS)))
        if taken:
            raise TypeError(
                f"{', '.join(taken)} come(s) from the BIMConfig: set them there "
                "(dataclasses.replace(config, ...)), not as neuron settings"
            )
        return {**arguments, **neuron_params}


#: The fields of :class:`BIMConfig` that set the LIF neuron (at their defaults with another neuron).
_LIF_FIELDS = ("tau_m", "adaptation", "tau_adaptation")


def _default(name):
    """The default of :class:`BIMConfig`'s field ``name``."""
    item = BIMConfig.__dataclass_fields__[name]
    return item.default if item.default is not dataclasses.MISSING else item.default_factory()


@dataclass(frozen=True)
class BaselineConfig:
    """A torch baseline trained by BPTT (:mod:`bimsim.tasks.baselines`): Adam, cross-entropy.

    Parameters
    ----------
    epochs : int
        Passes over the training samples.
    batch : int
        Minibatch size.
    learning_rate : float
        Adam's step size.
    """

    epochs: int = 20
    batch: int = 64
    learning_rate: float = 1e-3

    def __post_init__(self):
        _count("epochs", self.epochs, MAX_BASELINE_EPOCHS)
        _count("batch", self.batch, 65_536)
        require_real("learning_rate", self.learning_rate, above=True)


def as_attrs(config, prefix):
    """``config``'s fields as netCDF attributes ``<prefix>_<field>`` (quantities as text; a
    field that is itself a dataclass gives ``<prefix>_<field>_<its field>``)."""
    attrs = {}
    for item in fields(config):
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value):
            attrs.update(as_attrs(value, f"{prefix}_{item.name}"))
            continue
        if isinstance(value, tuple):  # (0.0, 0.3), (10. ms, 200. ms)
            value = f"({', '.join(str(item) for item in value)})"
        elif isinstance(value, Quantity):
            value = str(value)
        attrs[f"{prefix}_{item.name}"] = value
    return attrs
