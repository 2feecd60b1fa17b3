"""A BIM network: input spikes -> spiking layer -> selective SSM readout -> loss -> learning signal.

The input layer is a ``SpikeGeneratorGroup`` (encoded spikes), the hidden layer neurons of a neuron
model (:mod:`bimsim.neurons`: LIF of SPEC eq. 2 by default, or TC-LIF) on hybrid synapses (SPEC eq.
3, with the eligibility traces of eq. 5 and the STDP term of eq. 4), the readout a selective SSM
(eq. 1) that learns by exact RTRL and injects the learning signal through a network operation;
optional adaptive pruning (eq. 6) and optional recurrent synapses within the layer, learning by the
same rule (their traces are e-prop's approximation: they leave out the paths through other neurons'
spikes; how far that is from BPTT, :func:`bimsim.gradient_check.recurrent_trace_error` measures).
Sequences stream through :meth:`BIMNetwork.run_sequence` (or :meth:`BIMNetwork.run` with an input
group of the caller's, e.g. an ECG encoder), and :meth:`BIMNetwork.dataset` records what happened.

Brian2's runtime device costs a fixed time per step however small the network, so a network can
hold ``copies`` independent copies of input, layer and synapses that process different sequences
at once: the readout steps them as one batch and pools its gradient as their mean, and before
every update each input (and recurrent) synapse's gradient and STDP term are replaced by their
mean over the copies, so all copies make the same update and stay one model (minibatch learning,
online within each sequence; an optimiser's state sees the pooled direction, as in minibatch
training).

By default the network holds network operations, so it runs on the ``runtime`` device: it refuses
to be built or run while Brian2's current device is another (``brian2.set_device``), which would
drop them. Built with ``generated=True`` it holds none: the readout, its RTRL and optimiser
(:class:`~bimsim.readout.ssm_code.SSMReadoutCode`), the copies' pooling and the resets between
sequences (:mod:`bimsim.streaming`) are Brian2 generated code, the network builds on any device,
and :meth:`BIMNetwork.run_epoch` streams a whole epoch of sequences as one run; it equals the
network-operation path, its reference, to rounding (tested for every neuron model on
``runtime``, with Brian2's numpy target, and on ``cpp_standalone``).
Its sizes are bounded before anything is allocated (:meth:`BIMNetwork.memory_bytes`,
:func:`bimsim.limits.require_bytes`), and a sequence's length (:func:`bimsim.limits.require_steps`).
"""

import brian2
import numpy as np
import xarray as xr
from brian2 import (
    Group,
    Network,
    NetworkOperation,
    Quantity,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    ms,
)

from bimsim.devices import Simulation, device_name, require_runtime
from bimsim.limits import BYTES_PER_VALUE, require_bytes, require_steps
from bimsim.neurons import (
    NeuronModel,
    make_neuron,
    neuron_bytes,
    neuron_group,
    neuron_kind,
    require_weight_unit,
    reset_group,
)
from bimsim.plasticity.eligibility import SYNAPSE_TRACES
from bimsim.plasticity.hybrid import check_mixing, hybrid_bounds, hybrid_synapses
from bimsim.plasticity.optimizers import require_optimizer
from bimsim.plasticity.pruning import AdaptivePruning, PruningParameters
from bimsim.plasticity.stdp import PAIR_DEFAULTS, STDPRule, WeightBounds, pair_rule, stdp_equations
from bimsim.quantities import (
    require,
    require_count,
    require_instance,
    require_multiple,
    require_positive,
    require_real,
    require_seed,
)
from bimsim.readout import ReadoutInjection, SelectiveSSM, SSMParameters
from bimsim.readout.selective_ssm import check_targets, require_loss
from bimsim.readout.ssm_code import SSMReadoutCode
from bimsim.streaming import SequenceResets, pooled_gradients

__all__ = ["ETA", "LAM", "READOUT_LEARNING_RATE", "BIMNetwork", "require_recurrent"]

#: The learning defaults of every BIM network: the hybrid rule's η and λ, and the readout's
#: learning rate (chosen for ECG on its validation split before the encoder's fix of 2026-11-24;
#: a task that has validated its own since sets them in its config, see the README).
ETA = 0.0005
LAM = 1.0
READOUT_LEARNING_RATE = 0.05


def _tiled(neuron, settings, n_hidden, copies):
    """``settings`` with each per-neuron setting of ``n_hidden`` values repeated for every copy."""
    settings = dict(settings)
    for name in neuron_kind(neuron).per_neuron:
        value = settings.get(name)
        if np.ndim(value) > 0:
            value = Quantity(value)  # a list of quantities keeps its units
            if value.shape != (n_hidden,):
                raise ValueError(
                    f"{name} must be one value or {n_hidden} values (one per hidden neuron), "
                    f"got shape {value.shape}"
                )
            settings[name] = np.tile(value, copies)
    return settings


def require_recurrent(recurrent, n_hidden):
    """Check a recurrent synapses' standard deviation (a finite number >= 0; 0: none) for a layer
    of ``n_hidden`` neurons (recurrent synapses need 2 or more), naming the culprit."""
    require_real("recurrent", recurrent)
    if recurrent > 0 and n_hidden < 2:
        raise ValueError("recurrent synapses need at least 2 hidden neurons")


#: What every learning synapse holds (with its neuron's traces): the eligibility's filter, the
#: gradient, and the STDP term and traces.
_TRACES = ("ebar", "grad", "omega", "r1", "o1", "r2", "o2")

#: What Brian2 stores per synapse besides the model's variables (its pre- and postsynaptic
#: indices), and the index arrays :class:`BIMNetwork` connects from.
_SYNAPSE_INDICES = 3


def _synapse_bytes(neuron, rule, optimizer, prunable):
    """About the memory of one learning synapse onto ``neuron``: the numbers it stores (weight,
    traces, gradient, STDP term, optimiser state, pruning flag, indices),
    :data:`~bimsim.limits.BYTES_PER_VALUE` each."""
    stored = (
        len(SYNAPSE_TRACES.strip().splitlines())
        + len(neuron.eligibility().variables)
        + len(stdp_equations(rule, variable="omega").model.splitlines())
        + len(optimizer.state)
        + int(prunable)
        + _SYNAPSE_INDICES
    )
    return stored * BYTES_PER_VALUE


def _weight_range(w_init, bounds):
    """``w_init`` as ``(low, high)``: two finite numbers, ``low <= high``, inside ``bounds``."""
    if isinstance(w_init, str) or np.shape(w_init) != (2,):
        raise ValueError(f"w_init must be a pair (low, high), got {w_init!r}")
    bounds = bounds or WeightBounds()
    low, high = (bounds.check_weight(value, f"w_init[{k}]") for k, value in enumerate(w_init))
    if low > high:
        raise ValueError(f"w_init must be (low, high) with low <= high, got {w_init!r}")
    return low, high


class BIMNetwork:
    """Input spikes, a learning spiking layer and a selective SSM readout, trained online.

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Sizes of the input, the spiking layer and the readout's output; with ``n_states`` and
        ``copies``, within :data:`bimsim.limits.MAX_BYTES` of memory (:meth:`memory_bytes`).
    n_states : int
        States per readout input (N).
    loss : {'mse', 'cross_entropy'}
        The readout's loss.
    lam, eta : float
        The hybrid rule's λ (1: gradient only, 0: STDP only) and η (defaults :data:`LAM`,
        :data:`ETA`).
    readout_learning_rate : float
        Step size of the readout's own RTRL descent.
    readout_scale : float
        The readout reads the layer's filtered spike trains times this (default 1; see
        :class:`~bimsim.readout.ReadoutInjection`'s ``input_scale``).
    max_grad_norm : float, optional
        Clip each readout step's gradient to this global norm.
    rule : STDPRule, optional
        The STDP term (default: the pair rule with :data:`PAIR_DEFAULTS`, all-to-all).
    w_unit : Quantity, optional
        What a weight of 1 adds to the neuron's input variable (default: the neuron model's,
        1 nA for LIF).
    bounds : WeightBounds, optional
        ``'none'`` (default) or ``'hard'``: the input weights clipped to ``[w_min, w_max]``.
    max_grad : float, optional
        Clip each input (and recurrent) synapse's gradient per readout step to ``[-max_grad,
        max_grad]`` (with copies, the gradient pooled over the copies).
    optimizer, readout_optimizer : Optimizer, optional
        How the input (and recurrent) synapses' and the readout's updates are made (default
        SGD; see :mod:`bimsim.plasticity.optimizers`).
    w_init : (float, float)
        Initial weights drawn uniformly from this range (``low <= high``; inside ``bounds``).
    pruning : PruningParameters, optional
        Adaptive pruning of the input synapses.
    recurrent : float
        Where above 0, recurrent synapses from every neuron of the layer to every other one of
        its copy (none onto itself, no delay: a spike adds to the others' synaptic current in its
        own time step, and their membranes feel it from the next, as with an input spike), their
        initial weights drawn from a normal distribution of mean 0 and this standard deviation
        (x ``w_unit``), learning by the hybrid rule with the input synapses' λ, η, STDP rule,
        gradient clip and optimiser, without bounds and not pruned; 0 (default): none.
    readout_dt, dt : Quantity
        The readout's step (a whole multiple of ``dt``) and the simulation's.
    seed : int
        Seeds the initial weights and the readout (0 to :data:`bimsim.quantities.MAX_SEED`). A
        stochastic neuron model draws from Brian2's generator, which is global to the process:
        the network seeds it (``brian2.seed(seed)``, which seeds numpy's global generator,
        ``np.random``, too), as a script would before its runs; no other model touches it.
    copies : int
        Independent copies simulated at once (see module docstring); neuron ``c * n + i`` of a
        group is neuron ``i`` of copy ``c``.
    inputs : brian2.Group, optional
        A spike source of ``copies * n_inputs`` neurons to use instead of a SpikeGeneratorGroup
        (then drive it yourself and call :meth:`run`).
    neuron : str or type
        The layer's neuron model: a name of :data:`bimsim.neurons.NEURONS` (``'lif'``, default;
        ``'tc_lif'``, ``'p_spikessm'``, ``'p_spikessm_block'``, ``'elm'``) or a
        :class:`~bimsim.neurons.NeuronModel` class.
    tau_readout : Quantity
        Decay time of the filtered spike trains the readout reads.
    generated : bool
        False (default): the network-operation path, the reference, on ``runtime`` only.
        True: the readout (:class:`~bimsim.readout.ssm_code.SSMReadoutCode`), the copies'
        pooling and the resets between sequences (:mod:`bimsim.streaming`) as Brian2 generated
        code, with no network operation, so the network builds and runs on any device (build it
        inside :func:`bimsim.devices.simulation_device`) and an epoch of sequences streams as one
        run (:meth:`run_epoch`). Not with ``pruning`` or ``inputs`` (yet).
    **neuron_params
        The neuron model's settings (e.g. LIF's ``tau_m``, ``v_threshold``); a setting that may
        be one per neuron (LIF's ``tau_m``) given as ``n_hidden`` values gives neuron ``i`` of
        every copy the ``i``-th.

    Raises
    ------
    RuntimeError
        If Brian2's current device is not its runtime device (``brian2.set_device``): a
        standalone device would drop the network's operations.
    ValueError, TypeError
        For a setting out of its range or of the wrong type, naming it, and for sizes beyond
        :data:`bimsim.limits.MAX_BYTES`; before anything is built.
    """

    def __init__(
        self,
        n_inputs,
        n_hidden,
        n_outputs,
        *,
        n_states=8,
        loss="cross_entropy",
        lam=LAM,
        eta=ETA,
        readout_learning_rate=READOUT_LEARNING_RATE,
        readout_scale=1.0,
        max_grad_norm=None,
        rule=None,
        w_unit=None,
        bounds=None,
        max_grad=None,
        optimizer=None,
        readout_optimizer=None,
        w_init=(0.1, 0.4),
        pruning=None,
        recurrent=0.0,
        readout_dt=1 * ms,
        dt=0.1 * ms,
        seed=0,
        copies=1,
        inputs=None,
        neuron="lif",
        tau_readout=10 * ms,
        generated=False,
        **neuron_params,
    ):
        if not isinstance(generated, bool):
            raise TypeError(f"generated must be True or False, got {generated!r}")
        if not generated:
            require_runtime("BIMNetwork")  # before anything is built on another device
        n_inputs, n_hidden, n_outputs, n_states, copies = (
            require_count(name, value)
            for name, value in (
                ("n_inputs", n_inputs),
                ("n_hidden", n_hidden),
                ("n_outputs", n_outputs),
                ("n_states", n_states),
                ("copies", copies),
            )
        )
        require_loss(loss)
        check_mixing(lam, eta, max_grad)
        require_real("readout_learning_rate", readout_learning_rate)
        require_real("readout_scale", readout_scale, above=True)
        if max_grad_norm is not None:
            require_real("max_grad_norm", max_grad_norm, above=True)
        require_positive("dt", dt, "time", scalar=True)
        require_positive("readout_dt", readout_dt, "time", scalar=True)
        require_multiple("readout_dt", readout_dt, dt)
        require_positive("tau_readout", tau_readout, "time", scalar=True)
        require_recurrent(recurrent, n_hidden)
        require_seed("seed", seed)
        rule = pair_rule(**PAIR_DEFAULTS) if rule is None else rule
        require_instance("rule", rule, STDPRule)
        hybrid_bounds(require_instance("bounds", bounds, WeightBounds, optional=True))
        require_instance("pruning", pruning, PruningParameters, optional=True)
        require_instance("inputs", inputs, Group, optional=True)
        if generated and (pruning is not None or inputs is not None):
            raise ValueError(
                "generated=True takes neither pruning nor inputs yet: give generated=False"
            )
        w_low, w_high = _weight_range(w_init, bounds)
        self.optimizer = require_optimizer("optimizer", optimizer)
        self.readout_optimizer = require_optimizer("readout_optimizer", readout_optimizer)
        if inputs is not None and len(inputs) != copies * n_inputs:
            raise ValueError(
                f"inputs {inputs.name!r} has {len(inputs)} neurons, not copies x n_inputs = "
                f"{copies * n_inputs}"
            )
        self.neuron = make_neuron(neuron, _tiled(neuron, neuron_params, n_hidden, copies))
        if w_unit is not None:
            require_weight_unit(self.neuron, "w_unit", w_unit)
        require_bytes(
            f"a BIM network of {n_inputs} inputs, {n_hidden} hidden neurons, {n_outputs} "
            f"outputs and {n_states} readout states, {copies} copies",
            self.memory_bytes(
                n_inputs, n_hidden, n_outputs, n_states=n_states, copies=copies,
                recurrent=recurrent > 0, neuron=self.neuron, rule=rule,
                optimizer=self.optimizer, pruning=pruning is not None, generated=generated,
                readout_optimizer=self.readout_optimizer,
            ),
        )  # fmt: skip
        rng = np.random.default_rng(seed)
        self.n_inputs, self.n_hidden, self.eta = n_inputs, n_hidden, float(eta)
        self.bounds = bounds
        self.copies = copies
        if inputs is None:
            inputs = SpikeGeneratorGroup(copies * n_inputs, [], [] * ms, dt=dt, name="inputs")
        self.inputs = inputs
        if self.neuron.stochastic:  # its draws come from Brian2's generator: seed it
            brian2.seed(seed)
        self.layer = neuron_group(
            self.neuron, copies * n_hidden, learning=True, tau_readout=tau_readout,
            copies=copies, dt=dt, name="layer",
        )  # fmt: skip
        plastic = {
            "lam": lam, "eta": eta, "w_unit": w_unit, "max_grad": max_grad,
            "optimizer": self.optimizer, "readout_dt": readout_dt, "dt": dt,
        }  # fmt: skip
        self.synapses = hybrid_synapses(
            self.inputs, self.layer, rule, bounds=bounds, prunable=pruning is not None,
            name="hybrid", **plastic,
        )  # fmt: skip
        # all-to-all within each copy, copy-major: synapse c * S + s is synapse s of copy c
        pre = np.repeat(np.arange(n_inputs), n_hidden)
        post = np.tile(np.arange(n_hidden), n_inputs)
        offsets = np.arange(copies)[:, None]
        self.synapses.connect(
            i=(offsets * n_inputs + pre).ravel(), j=(offsets * n_hidden + post).ravel()
        )
        self.synapses.w = np.tile(rng.uniform(w_low, w_high, n_inputs * n_hidden), copies)
        ssm = SelectiveSSM(SSMParameters.initial(n_hidden, n_states, n_outputs, rng), loss=loss)
        self.recurrent = None
        self.plastic = [self.synapses]  # the synapses that learn
        if recurrent > 0:
            self.recurrent = hybrid_synapses(
                self.layer, self.layer, rule, name="recurrent", **plastic
            )
            # every other neuron of the copy, copy-major as the input synapses; drawn after the
            # readout, so the rest of the network is the same as without recurrent synapses
            pre, post = np.nonzero(~np.eye(n_hidden, dtype=bool))
            self.recurrent.connect(
                i=(offsets * n_hidden + pre).ravel(), j=(offsets * n_hidden + post).ravel()
            )
            self.recurrent.w = np.tile(rng.normal(0, recurrent, len(pre)), copies)
            self.plastic.append(self.recurrent)
        self.generated = generated
        self._ran_standalone = False
        self._traces = (*_TRACES, *self.neuron.eligibility().variables)  # zeroed every sequence
        readout = {
            "learning_rate": readout_learning_rate,
            "max_grad_norm": max_grad_norm,
            "optimizer": self.readout_optimizer,
            "input_scale": readout_scale,
            "copies": copies,
            "dt": readout_dt,
        }
        if generated:
            self.readout = SSMReadoutCode(
                ssm.params, self.layer, loss=loss, variable="u_out", signal="L", name="readout",
                **readout,
            )  # fmt: skip
            readout_objects = self.readout.objects
        else:
            self.readout = ReadoutInjection(ssm, self.layer, **readout)
            readout_objects = [self.readout.operation]
        self.readout_learning_rate = float(readout_learning_rate)
        self.spikes = SpikeMonitor(self.layer, record=generated)
        objects = [self.inputs, self.layer, *self.plastic, *readout_objects, self.spikes]
        # the operations that learn, switched off when a run does not: the traces, the gradient's
        # accumulation and pooling, the update and pruning
        self._learning = [
            operation
            for synapses in self.plastic
            for operation in synapses.contained_objects
            if operation.name
            in {f"{synapses.name}_{part}" for part in ("step", "trace", "grad", "update")}
        ]
        if generated:
            self._resets = SequenceResets(self.layer, self.plastic, self._traces, readout_dt)
            # each step's loss per copy, after the readout's last operation
            self._losses = StateMonitor(
                self.readout.copies_group, "loss", record=True, dt=readout_dt, when="end",
                order=0.5, name="readout_losses",
            )  # fmt: skip
            objects.append(self._losses)
            if copies > 1:
                for synapses in self.plastic:
                    objects += pooled_gradients(synapses, copies, readout_dt)
        elif copies > 1:
            # between the gradient's accumulation (order 1) and the update (order 3)
            pool = NetworkOperation(
                self._pool_gradients, dt=readout_dt, when="end", order=2, name="pool_gradients"
            )
            objects.append(pool)
            self._learning.append(pool)
        self.pruning = None
        if pruning is not None:
            self.synapses.active = True
            self.pruning = AdaptivePruning(self.synapses, pruning, seed=seed, copies=copies)
            objects.append(self.pruning.operation)
            self._learning.append(self.pruning.operation)
        self.network = Network(*objects)
        self._records = {"loss": [], "spikes": [], "sparsity": [], "weights": []}

    @staticmethod
    def memory_bytes(
        n_inputs, n_hidden, n_outputs, *, n_states=8, copies=1, recurrent=False, neuron="lif",
        rule=None, optimizer=None, pruning=False, generated=False, readout_optimizer=None,
    ):  # fmt: skip
        """About the memory a network of these sizes takes (what its constructor checks against
        :data:`bimsim.limits.MAX_BYTES` before it allocates anything).

        Parameters
        ----------
        n_inputs, n_hidden, n_outputs, n_states, copies
            As in :class:`BIMNetwork`.
        recurrent : bool
            With recurrent synapses.
        neuron : str, type or NeuronModel
            The layer's neuron model (a name or class with its default settings).
        rule : STDPRule, optional
            The STDP term (default: the pair rule; a triplet rule holds two more traces).
        optimizer : Optimizer, optional
            The synapses' optimiser (its state is held per synapse).
        pruning : bool
            With adaptive pruning (a flag per input synapse).
        generated : bool
            The readout in generated code (:meth:`SSMReadoutCode.memory_bytes
            <bimsim.readout.ssm_code.SSMReadoutCode.memory_bytes>`, with ``readout_optimizer``'s
            state) instead of numpy's.
        readout_optimizer : Optimizer, optional

        Returns
        -------
        int
            Bytes: the input and recurrent synapses and the layer
            (:data:`~bimsim.limits.BYTES_PER_VALUE` per number they store) and the readout (its
            parameters, gradients and optimiser state, and its RTRL state, which grows as
            ``n_hidden² n_states copies``, with the temporaries of one step).
        """
        model = neuron if isinstance(neuron, NeuronModel) else make_neuron(neuron)
        rule = pair_rule(**PAIR_DEFAULTS) if rule is None else rule
        optimizer = require_optimizer("optimizer", optimizer)
        per_synapse = _synapse_bytes(model, rule, optimizer, pruning)
        if generated:
            readout = SSMReadoutCode.memory_bytes(
                n_hidden, n_states, n_outputs, copies,
                require_optimizer("readout_optimizer", readout_optimizer),
            )  # fmt: skip
        else:
            readout = 4 * 8 * SSMParameters.values(n_hidden, n_states, n_outputs)
            readout += 2 * SelectiveSSM.state_bytes(n_hidden, n_states, copies)
        synapses = copies * n_inputs * n_hidden
        if recurrent:
            synapses += copies * n_hidden * (n_hidden - 1)
        return (
            synapses * per_synapse
            + neuron_bytes(model, copies * n_hidden, learning=True)
            + copies * n_inputs * BYTES_PER_VALUE * 4  # a spike generator's index and queue
            + readout
        )

    def _pool_gradients(self, t):
        """Give every copy the mean over the copies of each synapse's gradient and STDP term."""
        for synapses in self.plastic:
            for name in ("grad", "omega"):
                variable = synapses.variables[name]
                values = variable.get_value().reshape(self.copies, -1)
                variable.set_value(np.tile(values.mean(axis=0), self.copies))

    def _reset_state(self):
        """Each sequence starts from the neuron model's rest (no neuron refractory, see
        :func:`bimsim.neurons.reset_group`), with every trace at 0."""
        reset_group(self.layer)
        for synapses in self.plastic:
            for name in self._traces:
                if name in synapses.variables:
                    synapses.variables[name].set_value(0)

    def run_sequence(self, indices, times, duration, targets, learn=True, profile=False):
        """Stream one sequence (per copy) through the network, learning online unless told not.

        Parameters
        ----------
        indices : array_like of int
            Input neuron of each spike, in ``[0, copies * n_inputs)``.
        times : Quantity
            Spike times from the start of the sequence, in ``[0, duration)``.
        duration, targets, learn, profile
            As in :meth:`run`.

        Returns
        -------
        float
            Mean loss over the readout steps that have a target.
        """
        if not isinstance(self.inputs, SpikeGeneratorGroup):
            raise TypeError("this network has its own input group: drive it and call run()")
        if self.generated:
            if profile:
                raise ValueError("profile=True needs the network-operation path (generated=False)")
            return self.run_epoch([(indices, times, duration, targets)], learn=learn)[0]
        self._require_duration(duration)
        indices = self._spike_indices(indices, times, duration)
        self.inputs.set_spikes(indices, times + self.network.t)
        return self.run(duration, targets, learn=learn, profile=profile)

    def _spike_indices(self, indices, times, duration):
        """``indices`` as int64 after checking them with ``times`` for a sequence of
        ``duration`` (see :meth:`run_sequence`), naming what is wrong."""
        require("times", times, "time")
        indices = np.asarray(indices)
        n = len(self.inputs)
        if indices.ndim != 1 or np.ndim(times) != 1 or len(indices) != len(times):
            raise ValueError(
                f"give one spike index per spike time, got {np.shape(indices)} indices and "
                f"{np.shape(times)} times"
            )
        if len(indices) and not (
            indices.dtype.kind in "iu" or (indices.dtype.kind == "f" and np.all(indices % 1 == 0))
        ):
            raise ValueError(f"spike indices must be whole numbers, got {indices!r}")
        if len(indices) and (indices.min() < 0 or indices.max() >= n):
            raise ValueError(f"spike indices must lie in [0, {n})")
        if len(times) and (np.min(times) < 0 * ms or np.max(times) >= duration):
            raise ValueError("spike times must lie in [0, duration)")
        indices = indices.astype(np.int64)
        steps = np.round(np.asarray(times / self.inputs.dt)).astype(np.int64)
        pairs = np.unique(np.stack([indices, steps]), axis=1)
        if len(indices) and pairs.shape[1] < len(indices):
            raise ValueError("an input neuron spikes twice within one time step")
        return indices

    def run_epoch(self, sequences, learn=True, simulation=None):
        """Stream sequences back to back as one run (a network built with ``generated=True``).

        Each sequence starts from rest, as with :meth:`run_sequence`, reset in generated code;
        the result equals :meth:`run_sequence` called for each in turn on the
        network-operation path, to rounding.

        Parameters
        ----------
        sequences : sequence of (indices, times, duration, targets)
            As :meth:`run_sequence` takes them; each ``duration`` above 0 and a whole number of
            readout steps. Every target is checked; those past the sequence's last readout step
            are not used (as on the network-operation path).
        learn : bool
            Update the weights and the readout during every sequence.
        simulation : Simulation, optional
            The :func:`bimsim.devices.simulation_device` the network was built in; needed on a
            standalone device, where a network runs one epoch (one build and run). Default:
            ``runtime``, where epochs go on from each other.

        Returns
        -------
        list of float
            Per sequence, the mean loss over its readout steps that have a target (NaN where
            none has).

        Raises
        ------
        FloatingPointError
            If the readout's learning left one of its parameters or its optimiser's state
            non-finite during the epoch (the network-operation path raises at the step; here the
            network's state stays as the epoch left it).
        """
        if not self.generated:
            raise ValueError("run_epoch needs a network built with generated=True")
        if not isinstance(learn, bool | np.bool_):
            raise TypeError(f"learn must be True or False, got {learn!r}")
        simulation = self._epoch_simulation(simulation)
        plan = self._epoch_plan(sequences)
        steps = len(plan["targets"])
        require_bytes(
            f"the records of an epoch of {steps} readout steps x {self.copies} copies",
            BYTES_PER_VALUE * steps * self.copies,
        )
        t0 = self.network.t
        self.readout.set_sequences(plan["targets"], plan["starts"], t_start=t0)
        self._resets.set_starts(plan["starts"], t_start=t0)
        self.inputs.set_spikes(plan["indices"], plan["times"] + t0)
        self._set_learning(learn)
        self.readout.learning_rate = self.readout_learning_rate if learn else 0.0
        # a standalone network has not run before (its monitor cannot be read before its run)
        spikes_before = 0 if simulation.standalone else int(self.spikes.num_spikes)
        self._ran_standalone = simulation.standalone
        simulation.run(self.network, plan["duration"])
        self._require_finite_readout()
        return self._record_epoch(plan, t0, spikes_before)

    def _epoch_simulation(self, simulation):
        """The simulation an epoch runs in: ``simulation``, checked, or runtime's."""
        current = device_name()
        if simulation is None:
            if current != "runtime":
                raise ValueError(
                    f"Brian2's current device is {current}: give run_epoch the simulation "
                    "(bimsim.devices.simulation_device) the network was built in"
                )
            return Simulation("runtime", None)
        if not isinstance(simulation, Simulation):
            raise TypeError(
                "simulation must be what bimsim.devices.simulation_device gives, got "
                f"{simulation!r}"
            )
        if simulation.device != current:
            raise ValueError(
                f"simulation is for {simulation.device}, but Brian2's current device is "
                f"{current}: give the simulation the network was built in"
            )
        if self._ran_standalone:
            raise ValueError(
                f"this network has run once on {simulation.device}: a standalone network runs "
                "one epoch (build another for the next)"
            )
        return simulation

    def _epoch_plan(self, sequences):
        """The epoch's spikes (relative to its start), targets per readout step, sequence
        starts (readout steps) and bounds (time steps), every sequence checked first."""
        if isinstance(sequences, str) or not hasattr(sequences, "__iter__"):
            raise TypeError(f"sequences must be a sequence of sequences, got {sequences!r}")
        sequences = list(sequences)
        if not sequences:
            raise ValueError("sequences is empty: give at least one")
        readout_dt, dt = self.readout.dt, self.layer.clock.dt
        k = self.readout.shapes[2]
        batch = None if self.copies == 1 else self.copies
        indices, times, targets, starts, bounds = [], [], [], [], []
        offset, step = 0 * ms, 0
        for number, sequence in enumerate(sequences):
            if not isinstance(sequence, tuple | list) or len(sequence) != 4:
                raise ValueError(
                    f"sequences[{number}] must be (indices, times, duration, targets), got "
                    f"{sequence!r}"
                )
            spikes, spike_times, duration, sequence_targets = sequence
            try:
                require("duration", duration, "time", scalar=True)
                self._require_duration(duration)
                if duration <= 0 * ms:
                    raise ValueError(f"duration must be above 0 ms in an epoch, got {duration}")
                require_multiple("duration", duration, readout_dt, of="the readout's step")
                spikes = self._spike_indices(spikes, spike_times, duration)
                sequence_targets = (
                    list(sequence_targets)
                    if hasattr(sequence_targets, "__iter__")
                    and not isinstance(sequence_targets, str)
                    else sequence_targets
                )
                check_targets(sequence_targets, self.readout.loss, k, batch)
            except (TypeError, ValueError) as err:
                raise type(err)(f"sequences[{number}]: {err}") from None
            count = round(float(duration / readout_dt))
            sequence_targets = sequence_targets[:count]
            targets += sequence_targets + [None] * (count - len(sequence_targets))
            starts.append(step)
            first = round(float(offset / dt))
            bounds.append((first, first + round(float(duration / dt)), count))
            indices.append(spikes)
            times.append(np.asarray(spike_times / ms) + float(offset / ms))
            offset += duration
            step += count
        return {
            "indices": np.concatenate(indices),
            "times": np.concatenate(times) * ms,
            "targets": targets,
            "starts": starts,
            "bounds": bounds,
            "duration": offset,
        }

    def _require_finite_readout(self):
        """Raise where the readout's parameters or optimiser's state are no longer finite."""
        values = dict(self.readout.params.as_dict())
        for name, state in self.readout.optimizer_state.items():
            values.update({f"{name}'s optimiser {var}": value for var, value in state.items()})
        for name, value in values.items():
            if not np.all(np.isfinite(value)):
                raise FloatingPointError(
                    f"readout learning diverged: {name} became non-finite in this epoch; lower "
                    "the learning rate"
                )

    def _record_epoch(self, plan, t0, spikes_before):
        """Per sequence of the epoch just run from ``t0``: the loss (as :meth:`run` takes it),
        the spikes, and the weights after its last sequence (NaN for the others, see
        :meth:`dataset`)."""
        mask = np.array([target is not None for target in plan["targets"]])
        losses = np.asarray(self._losses.loss).T[-len(mask) :].mean(axis=1)  # the copies' mean
        losses = np.where(mask, losses, np.nan)
        dt = self.layer.clock.dt
        spike_steps = np.round(np.asarray(self.spikes.t_[spikes_before:]) / float(dt))
        spike_steps -= round(float(t0 / dt))
        result, step = [], 0
        for first, end, count in plan["bounds"]:
            chosen = losses[step : step + count]
            step += count
            loss = float(np.nanmean(chosen)) if np.isfinite(chosen).any() else float("nan")
            result.append(loss)
            self._records["loss"].append(loss)
            spikes = (spike_steps >= first) & (spike_steps < end)
            self._records["spikes"].append(int(spikes.sum()))
            self._records["sparsity"].append(0.0)
            self._records["weights"].append(None)  # not recorded
        self._records["weights"][-1] = self.shared_weights()
        return result

    def run(self, duration, targets, learn=True, profile=False, namespace=None):
        """Run the network for ``duration`` from rest (the inputs driven by the caller).

        Parameters
        ----------
        duration : Quantity
            Length of the sequence.
        targets : sequence
            One target (or None) per readout step, see
            :meth:`bimsim.readout.ReadoutInjection.start_sequence` (with copies, one per copy).
        learn : bool
            Update the weights and the readout.
        profile : bool
            Record Brian2's time per object (the readout's network operation included) in
            ``self.network.profiling_info``.
        namespace : dict, optional
            Names the input group's equations use (e.g. a TimedArray).

        Returns
        -------
        float
            Mean loss over the readout steps that have a target.
        """
        if self.generated:
            raise ValueError("a network built with generated=True runs sequences: run_epoch")
        self._require_duration(duration)
        self._reset_state()
        self._set_learning(learn)
        self.readout.learning_rate = self.readout_learning_rate if learn else 0.0
        self.readout.start_sequence(targets)
        spikes_before = int(self.spikes.num_spikes)
        Simulation("runtime", None).run(
            self.network, duration, profile=profile, namespace=namespace
        )
        losses = np.array(self.readout.losses)
        loss = float(np.nanmean(losses)) if np.isfinite(losses).any() else float("nan")
        self._records["loss"].append(loss)
        self._records["spikes"].append(int(self.spikes.num_spikes) - spikes_before)
        self._records["sparsity"].append(self.pruning.sparsity() if self.pruning else 0.0)
        self._records["weights"].append(self.shared_weights())
        return loss

    def _set_learning(self, learn):
        """Switch the synapses' learning on or off for the next run."""
        for synapses in self.plastic:
            synapses.namespace["eta"] = self.eta if learn else 0.0
        for operation in self._learning:
            operation.active = bool(learn)

    def _require_duration(self, duration):
        """Refuse to run the network-operation path on another device than runtime (see the
        module docstring), or a ``duration`` that is not one time >= 0 within
        :data:`bimsim.limits.MAX_STEPS`."""
        if not self.generated:
            require_runtime("this BIM network")
        require("duration", duration, "time", scalar=True)
        if duration < 0 * ms:
            raise ValueError(f"duration must be at least 0 ms, got {duration}")
        dt = self.layer.clock.dt
        require_steps(f"a sequence of {duration}", float(duration / dt), dt)

    def shared_weights(self):
        """The input weights of copy 0 (all copies hold the same), ``n_inputs * n_hidden``."""
        return np.array(self.synapses.w[: self.n_inputs * self.n_hidden])

    def fan_out(self):
        """Active input synapses from each input neuron of one copy (all copies hold the same):
        ``n_hidden`` each without pruning, fewer where pruning removed some."""
        if self.pruning is None:
            return np.full(self.n_inputs, self.n_hidden)
        active = self.synapses.variables["active"].get_value()[: self.n_inputs * self.n_hidden]
        return np.asarray(active, dtype=bool).reshape(self.n_inputs, self.n_hidden).sum(axis=1)

    def synaptic_events(self, input_counts):
        """Synaptic events onto the layer of ``input_counts`` input spikes per input neuron (all
        copies, ``copies * n_inputs``, or one copy's): each spike reaches every active synapse
        of its neuron."""
        counts = np.asarray(input_counts, dtype=float).reshape(-1, self.n_inputs).sum(axis=0)
        return float(counts @ self.fan_out())

    def recurrent_weights(self):
        """The recurrent weights of copy 0 (all copies hold the same), ``n_hidden * (n_hidden -
        1)`` in the order of ``numpy.nonzero`` of an off-diagonal mask (row: the presynaptic
        neuron); empty without recurrent synapses."""
        if self.recurrent is None:
            return np.zeros(0)
        return np.array(self.recurrent.w[: self.n_hidden * (self.n_hidden - 1)])

    def dataset(self):
        """Per sequence: loss, hidden spikes, sparsity and the input weights (not the recurrent
        ones: :meth:`recurrent_weights` gives those at the end); pruning history if any."""
        r = self._records
        size = self.n_inputs * self.n_hidden
        weights = np.full((len(r["loss"]), size), np.nan)
        for row, values in enumerate(r["weights"]):
            if values is not None:
                weights[row] = values
        unrecorded = {}
        if any(values is None for values in r["weights"]):
            unrecorded["nan_means"] = (
                "not recorded: the sequence ran within an epoch (run_epoch), which records the "
                "weights after its last sequence only"
            )
        ds = xr.Dataset(
            {
                "loss": ("sequence", r["loss"], {"units": "1", "long_name": "mean readout loss"}),
                "spikes": (
                    "sequence",
                    np.asarray(r["spikes"], dtype=np.int64),
                    {"units": "1", "long_name": "spikes of the hidden layer, all copies"},
                ),
                "sparsity": (
                    "sequence",
                    r["sparsity"],
                    {"units": "1", "long_name": "fraction of pruned input synapses"},
                ),
                "weights": (
                    ("sequence", "synapse"),
                    weights,
                    {"units": "1", "long_name": "input weights after the sequence (x w_unit)"}
                    | unrecorded,
                ),
            },
            coords={
                "sequence": (
                    "sequence",
                    np.arange(len(r["loss"])),
                    {"units": "1", "long_name": "sequence index"},
                ),
                "synapse": (
                    "synapse",
                    np.arange(self.n_inputs * self.n_hidden),
                    {"units": "1", "long_name": "input synapse index"},
                ),
            },
        )
        if self.pruning is not None:
            pruning = self.pruning.dataset().rename(time="pruning_time", synapse="synapse")
            ds = ds.merge(pruning[["theta", "n_pruned", "pruned_at"]])
        return ds
