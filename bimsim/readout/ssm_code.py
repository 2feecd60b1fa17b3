"""The selective SSM readout's step and its exact RTRL as Brian2 generated code (issue 28).

:class:`SSMReadoutCode` builds, for given :class:`~bimsim.readout.selective_ssm.SSMParameters`,
the Brian2 groups, synapses, summed and linked variables and ``run_regularly`` operations that
carry out each readout step of :meth:`SelectiveSSM.step
<bimsim.readout.selective_ssm.SelectiveSSM.step>` (the reference, numpy, on the network-operation
path of :class:`~bimsim.readout.injection.ReadoutInjection`) with no Python between steps, so the
same readout runs on ``runtime`` and on the standalone devices: the forward step (Δ, the decays,
B, C, the states, y, the outputs), the loss and ``∂ℓ/∂o`` ('mse' or 'cross_entropy'), the exact
RTRL sensitivities, their gradients pooled as the mean over copies, and the learning signal
``∂ℓ_t/∂u_t`` written into the source group; with a learning rate, also the step of
:meth:`SelectiveSSM.learn_step <bimsim.readout.selective_ssm.SelectiveSSM.learn_step>` (the
network-operation path's): the gradient's global-norm clip and the optimiser's update (SGD,
momentum, RMSprop, Adam, decoupled weight decay; :func:`bimsim.plasticity.optimizers.synapse_code`,
the code the synapses' updates use), at the steps with a target.

Layout (``c`` a copy of ``C``, ``d`` and ``j`` input channels of ``m``, ``n`` a state of ``N``,
``q`` an output of ``k``; each group is indexed in the order of its subscripts, the first slowest)::

    group / synapses          size             holds
    <name>_par_m              m                b_delta, D and their gradients
    <name>_par_mm             m·m   (d, j)     W_delta, its gradient
    <name>_par_mn             m·N   (d, n)     A_log, its gradient
    <name>_par_nm             N·m   (n, j)     W_B, W_C, their gradients
    <name>_par_km             k·m   (q, d)     W_out, its gradient
    <name>_par_k              k                b_out, its gradient
    <name>_channels           C·m   (c, d)     u (linked to the source), z, Δ, y, ∂ℓ/∂y, L
    <name>_bc                 C·N   (c, n)     B, C (summed), ∂ℓ/∂C
    <name>_states             C·m·N (c, d, n)  a, h, S_A_log, S_b_delta, ∂ℓ/∂h
    <name>_outputs            C·k   (c, q)     o, ∂ℓ/∂o
    <name>_copies             C                the loss, the softmax's max and sum
    <name>_control            1                learning only: the rate, the step's gate and
                                               clip scale, the gradient's squares per group
    <name>_delta   channels -> channels, (c, j) -> (c, d):  W_Δ u; back: Σ_d (...) W_Δ[d, j]
    <name>_bcsyn   channels -> bc,  (c, j) -> (c, n):       W_B u, W_C u; back through both
    <name>_y       states -> channels, (c, d, n) -> (c, d): Σ_n C h; back: Σ_n ∂ℓ/∂h (...)
    <name>_out     channels -> outputs, (c, d) -> (c, q):   W_out y; back: ∂ℓ/∂o W_out
    <name>_s_wd    states -> par_mm, (c, d, n) -> (d, j):   S_W_delta[c, d, n, j], its gradient
    <name>_s_wb    states -> par_nm, (c, d, n) -> (n, j):   S_W_B[c, d, n, j], its gradient
    and one synapse per term from a per-copy group onto a parameter group for each other
    gradient (its sum over copies, the pooling), for 'cross_entropy', outputs -> outputs
    within a copy (the rank of each output, which picks the max) and outputs -> copies, and
    for the clip, each parameter group -> control (the sum of its gradients' squares).

Parameters are one copy, in the parameter groups; a synapse reads the weight it multiplies
through a linked variable indexed by an integer of the synapse (so a later update of a parameter
in generated code, or a standalone run's ``run_args``, changes every copy at once). A value
that a synapse reads from a per-copy group other than its ends is a linked variable too.

Schedule: every operation runs on the readout's clock in the ``end`` slot, one after another in
the order the steps below are listed, 0.01 apart, so that the signal written into the source
runs at ``order`` (0 by default, the slot of
:class:`~bimsim.readout.injection.ReadoutInjection`: after the layer's step and before its
synapses add ``L`` to their gradient at order 1) and a learning readout's update (step 10)
after it, below ``order + 0.2``::

    1  u, the source's variable times the input scale;  sums W_Δ u, W_B u, W_C u
    2  z, Δ = softplus(z), σ(z), Δ u
    3  per state: at a sequence's start h, S_A_log and S_b_delta zeroed; a = exp(Δ A_c),
       ∂h/∂z, S_A_log, S_b_delta, h (in that order: S needs h_{t-1})
    4  S_W_delta, S_W_B (per synapse, zeroed first at a sequence's start);  the sum Σ_n C h
    5  y = Σ_n C h + D u;  the sum W_out y;  o = W_out y + b_out
    6  the loss and ∂ℓ/∂o: 'mse' o - target and ½ Σ (o - target)²; 'cross_entropy' the rank of
       each output, the max (the output of rank 0), exp(o - max), their sum, the loss
       log Σ - (o_target - max), softmax - one-hot; both times the step's target mask
    7  ∂ℓ/∂y = Σ_q ∂ℓ/∂o W_out (summed), the sums of W_out's and b_out's gradients
    8  ∂ℓ/∂h = ∂ℓ/∂y C;  the sums of the gradients' terms but W_C's, and of the signal's
    9  W_C's gradient term and the sums back through W_Δ, W_B and W_C; the gradients
       accumulated (the pooled sums times 1 / C); the signal L (times the input scale)
       written into the source
   10  learning only: the sums of the gradients' squares (with a clip); the gate (the step has
       a target and the rate is above 0) and the clip's scale; per parameter group, the
       optimiser's state and the parameters updated, gated, and the gradients zeroed

Costs: 42 operations a step for 'cross_entropy' (38 for 'mse'), each a pass over its group or
synapses, and 7 more to learn (13 with the clip). Per copy the two sensitivity synapses hold and
update ``2 m² N`` numbers, as the reference does, and each product of a matrix with a vector is
one synapse per entry; a sensitivity synapse also stores its two ends and the index of the input
it reads, so memory is a few times the reference's (:meth:`SSMReadoutCode.memory_bytes` counts 6
numbers per sensitivity, bounded by :func:`bimsim.limits.require_bytes` before anything is
built). Where a step has no target, the loss and ``∂ℓ/∂o`` are 0 and every gradient term and the
signal are computed as zeros (the reference skips them), so those steps cost as much as the
others. On ``runtime`` each operation is its own Cython call: at m = 32, N = 8, k = 3, 4 copies
a step took 1.1 ms, the numpy reference's 0.33 ms, and on ``cpp_standalone`` (one thread) 0.26
ms (each measured once, on 2 busy cores): in one process this layout is no faster than numpy;
what it gives is a readout that runs where network operations cannot (the layout by measurement,
threads and the GPU are the issue's later slices).

Where a learning step's update leaves a parameter non-finite, the reference raises
(:meth:`SelectiveSSM.apply`) and generated code cannot: the parameters hold the NaN, for the
caller to check after the run (as :func:`bimsim.tasks.runner.check_run` checks every result).

The readout's steps are counted from the run's start (``t_epoch``, 0 at build; its targets and
sequence starts are :class:`brian2.TimedArray` values, given again for a next run by
:meth:`SSMReadoutCode.set_sequences`).

:class:`bimsim.network.BIMNetwork` builds it with ``generated=True``.
"""

import logging

import numpy as np
from brian2 import NeuronGroup, Synapses, TimedArray, linked_var, second
from brian2.groups.group import Group

from bimsim.limits import BYTES_PER_VALUE, require_bytes
from bimsim.plasticity.optimizers import namespace as optimizer_namespace
from bimsim.plasticity.optimizers import require_optimizer, synapse_code
from bimsim.quantities import (
    require,
    require_count,
    require_instance,
    require_multiple,
    require_positive,
    require_real,
)
from bimsim.readout.selective_ssm import SSMParameters, check_targets, require_loss
from bimsim.streaming import start_flags

__all__ = ["SSMReadoutCode"]

logger = logging.getLogger(__name__)

#: Gradient names and the parameter group (suffix) that holds each, as in ``SelectiveSSM.grads``.
_HOLDERS = {
    "W_delta": "par_mm",
    "b_delta": "par_m",
    "A_log": "par_mn",
    "W_B": "par_nm",
    "W_C": "par_nm",
    "D": "par_m",
    "W_out": "par_km",
    "b_out": "par_k",
}

#: Spacing of the readout's operations' orders within the ``end`` slot.
ORDER_STEP = 0.01


def _softplus(z):
    """``log(1 + exp(z))`` without overflow (numpy's ``logaddexp(0, z)``)."""
    return f"({z} * int({z} > 0) + log1p(exp(-abs({z}))))"


class SSMReadoutCode:
    """A selective SSM readout and its exact RTRL as Brian2 objects (see the module docstring).

    Parameters
    ----------
    params : SSMParameters
        Copied into the parameter groups at build.
    source : NeuronGroup
        Holds the readout's input in ``variable`` and receives the learning signal in ``signal``,
        ``copies · m`` neurons, copy-major (``c * m + i``, as :class:`ReadoutInjection`).
    loss : {'mse', 'cross_entropy'}
    copies : int
        Copies stepped together; their gradients are pooled as the mean over copies.
    targets : sequence
        One per readout step: a target (k values for 'mse', a class index for 'cross_entropy';
        with ``copies`` above 1, one per copy) or None where the step has no loss. Steps past its
        end have none.
    sequence_starts : sequence of int
        The readout steps at which a sequence starts, increasing: before such a step the state
        and the RTRL sensitivities are zeroed (as ``SelectiveSSM.reset_state`` zeroes them) in
        generated code, so sequences run back to back in one run. Default: one sequence.
    learning_rate : float, optional
        None (default): the gradients accumulate over the run (:attr:`grads`), as
        :meth:`SelectiveSSM.step <bimsim.readout.selective_ssm.SelectiveSSM.step>` accumulates
        them, and the parameters do not change. A rate >= 0: every step learns as
        :meth:`SelectiveSSM.learn_step <bimsim.readout.selective_ssm.SelectiveSSM.learn_step>`
        (the network-operation path's step): where the step has a target and the rate is not 0,
        the step's gradient, clipped to ``max_grad_norm``, is turned into the parameters' change
        by ``optimizer``; the gradient is dropped at the end of every step. The rate is a
        variable (:attr:`learning_rate`), changed between runs without a new build.
    max_grad_norm : float, optional
        Clip each step's gradient to this global norm (all parameters together); only with a
        ``learning_rate``.
    optimizer : Optimizer, optional
        SGD by default; its state is held per parameter (:attr:`optimizer_state`); only with a
        ``learning_rate``.
    input_scale : float
        The readout reads ``input_scale`` times the source's ``variable``, and the signal is the
        derivative with respect to the variable itself (as :class:`ReadoutInjection`'s).
    dt : Quantity, optional
        The readout step, a whole multiple of the source's (default: the source's).
    variable, signal : str
        The source's variables for the input ``u`` and the learning signal ``∂ℓ_t/∂u_t``.
    order : float
        The order of the readout's last operation in the ``end`` slot (the others before it).
    name : str
        Prefix of every object's name.

    Attributes
    ----------
    objects : list
        The Brian2 objects to add to a network (with the source).
    channels, states, outputs, copies_group : NeuronGroup
        Per copy: ``y`` in channels, ``h`` in states, ``o`` in outputs (``c * k + q``), each
        copy's ``loss`` in copies_group (the reference's loss is their mean).
    """

    def __init__(
        self,
        params,
        source,
        *,
        loss="mse",
        copies=1,
        targets=(),
        sequence_starts=(0,),
        learning_rate=None,
        max_grad_norm=None,
        optimizer=None,
        input_scale=1.0,
        dt=None,
        variable="u",
        signal="L",
        order=0.0,
        name="ssm_readout",
    ):
        require_instance("params", params, SSMParameters)
        params.check()
        self.loss = require_loss(loss)
        self.copies = require_count("copies", copies)
        m, n, k = params.shapes
        self.shapes = (m, n, k)
        require_instance("source", source, Group)
        for role, var in (("variable", variable), ("signal", signal)):
            if not isinstance(var, str) or var not in source.variables:
                raise ValueError(f"{role} must name a variable of the source, got {var!r}")
            if source.variables[var].read_only and role == "signal":
                raise ValueError(f"signal {var!r} is read-only in the source")
        if len(source) != m * self.copies:
            raise ValueError(
                f"source must have inputs x copies = {m} x {self.copies} neurons, has {len(source)}"
            )
        if dt is None:
            dt = source.clock.dt
        require_positive("dt", dt, "time", scalar=True)
        require_multiple("dt", dt, source.clock.dt, of="the source's time step")
        if not isinstance(order, (int, float)) or isinstance(order, bool):
            raise ValueError(f"order must be a number, got {order!r}")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"name must be an identifier, got {name!r}")
        if learning_rate is not None:
            learning_rate = float(require_real("learning_rate", learning_rate))
        elif max_grad_norm is not None or optimizer is not None:
            raise ValueError(
                "max_grad_norm and optimizer need a learning_rate (without one the readout "
                "accumulates its gradients and does not learn)"
            )
        if max_grad_norm is not None:
            max_grad_norm = float(require_real("max_grad_norm", max_grad_norm, above=True))
        self.optimizer = require_optimizer("optimizer", optimizer)
        input_scale = float(require_real("input_scale", input_scale, above=True))
        timed = self._timed_arrays(targets, sequence_starts, dt, name)
        learning = learning_rate is not None
        require_bytes(
            f"a generated readout of {m} inputs x {n} states x {k} outputs for {self.copies} "
            "copies (exact RTRL keeps inputs² x states sensitivities per copy)",
            self.memory_bytes(m, n, k, self.copies, self.optimizer if learning else None),
        )
        self.dt = dt
        self.name = name
        self.max_grad_norm = max_grad_norm
        self._schedule = []
        self._namespace = {
            **timed,
            "t_epoch": 0 * second,
            "pool_weight": 1.0 / self.copies,
            "input_scale": input_scale,
            "max_grad_norm": max_grad_norm or 0.0,
            **optimizer_namespace(self.optimizer),
        }
        self.control = None
        self._build(params, source, variable, signal, learning_rate)
        signal_rank = self._schedule.index(self._signal)
        for rank, obj in enumerate(self._schedule):
            obj.when = "end"
            obj.order = order + ORDER_STEP * (rank - signal_rank)
        logger.debug("%s: %d operations a step", name, len(self._schedule))

    @staticmethod
    def memory_bytes(n_inputs, n_states, n_outputs, copies, optimizer=None):
        """Bytes the readout's groups and synapses take, estimated before any is built
        (:data:`bimsim.limits.BYTES_PER_VALUE` per number stored, counting the synapses' ends
        and index variables); with an ``optimizer``, a learning readout (its state, the links
        to the rate and the synapses of the gradient's norm)."""
        m, n, k, c = n_inputs, n_states, n_outputs, copies
        parameters = 6 * m + 3 * m * m + 3 * m * n + 6 * n * m + 3 * k * m + 3 * k
        if optimizer is not None:
            values = SSMParameters.values(m, n, k)
            parameters += values * (len(optimizer.state) + 6) + 16
        per_copy = 25 * m + 6 * n + 25 * m * n + 15 * k + 6
        synapses = 12 * m * m * n + 5 * m * m + 26 * m * n + 4 * m + 10 * k * m + 8 * k + 4 * k * k
        return BYTES_PER_VALUE * (parameters + c * (per_copy + synapses))

    def set_sequences(self, targets, sequence_starts=(0,), t_start=0 * second):
        """Give the next run its targets and sequence starts (as the constructor's), its steps
        counted from ``t_start`` (the run's start: a network's time when it runs again on
        ``runtime``; 0 for the one run of a standalone build).

        On ``runtime`` this changes only values the generated code reads: Cython compiles again
        only the few operations that read the targets, and only where their number of steps
        changes (measured); on a standalone device call it before the build.
        """
        require("t_start", t_start, "time", scalar=True)
        timed = self._timed_arrays(targets, sequence_starts, self.dt, self.name)
        self._namespace.update(timed, t_epoch=t_start)

    def _timed_arrays(self, targets, sequence_starts, dt, name):
        """The namespace's TimedArrays of ``targets`` and ``sequence_starts``."""
        mask, values = self._target_arrays(targets)
        starts = start_flags(sequence_starts)
        return {
            "target_mask": TimedArray(mask, dt=dt, name=f"{name}_target_mask"),
            "target_value": TimedArray(values, dt=dt, name=f"{name}_target_value"),
            "sequence_start": TimedArray(starts, dt=dt, name=f"{name}_sequence_start"),
        }

    def _target_arrays(self, targets):
        """The step mask ``(steps + 1,)`` and target values ``(steps + 1, C·k)`` (mse) or class
        indices ``(steps + 1, C)``; the last row, without a target, holds past the end."""
        k = self.shapes[2]
        rows = check_targets(targets, self.loss, k, None if self.copies == 1 else self.copies)
        width = self.copies * k if self.loss == "mse" else self.copies
        mask = np.zeros(len(rows) + 1)
        values = np.zeros((len(rows) + 1, width))
        for step, row in enumerate(rows):
            if row is not None:
                mask[step] = 1.0
                values[step] = row.ravel()
        return mask, values

    def _group(self, suffix, size, model, links=None):
        group = NeuronGroup(
            size,
            model,
            dt=self.dt,
            namespace=self._namespace,
            name=f"{self.name}_{suffix}",
        )
        for var, (target, target_var, index) in (links or {}).items():
            setattr(group, var, linked_var(target, target_var, index=index))
        self.objects.append(group)
        return group

    def _synapses(self, suffix, source, target, pre, post, model, links=None):
        """Synapses ``pre[s] -> post[s]``; ``links`` maps a linked variable to ``(group, var,
        index)``, ``index`` an expression in the synapse's ``i`` and ``j``."""
        lines = [model]
        for var in links or {}:
            lines.append(f"{var} : 1 (linked)\n{var}_index : integer (constant)")
        synapses = Synapses(
            source,
            target,
            "\n".join(lines),
            dt=self.dt,
            namespace=self._namespace,
            name=f"{self.name}_{suffix}",
        )
        synapses.connect(i=np.asarray(pre), j=np.asarray(post))
        for var, (group, group_var, index) in (links or {}).items():
            setattr(synapses, f"{var}_index", index)
            setattr(synapses, var, linked_var(group, group_var, index=f"{var}_index"))
        self.objects.append(synapses)
        return synapses

    def _regularly(self, group, code, suffix):
        runner = group.run_regularly(code, dt=self.dt, name=f"{group.name}_{suffix}")
        self._schedule.append(runner)

    def _sum(self, synapses, *targets):
        for target in targets:
            self._schedule.append(synapses.summed_updaters[target])

    def _update_code(self, name):
        """The optimiser's declarations, statements and change for parameter ``name``, gated
        by the control group's ``active`` and read at its rate and scale."""
        return synapse_code(
            self.optimizer,
            f"-scale_l * g_{name}",
            f"opt_{name}_",
            weight=name,
            rate="lr_l",
            gate="active_l",
        )

    def _parameters(self, suffix, size, *names):
        """A parameter group: each parameter, its gradient and this step's pooled sum, and for
        a learning readout the optimiser's state and links to the control group."""
        model = [_params(*names)]
        links = None
        if self.control is not None:
            model += [self._update_code(name)[0] for name in names]
            model += [f"{var}_l : 1 (linked)" for var in ("lr", "active", "scale")]
            zeros = np.zeros(size, dtype=int)
            links = {f"{var}_l": (self.control, var, zeros) for var in ("lr", "active", "scale")}
        return self._group(suffix, size, "\n".join(filter(None, model)), links)

    def _build(self, params, source, variable, signal, learning_rate):
        m, n, k = self.shapes
        c = self.copies
        self.objects = []
        if learning_rate is not None:
            # the rate, whether this step updates, and the gradient's clip
            self.control = self._group(
                "control",
                1,
                "lr : 1\nactive : 1\nscale : 1\n"
                + "\n".join(f"sq_{suffix} : 1" for suffix in dict.fromkeys(_HOLDERS.values())),
            )
            self.control.lr = learning_rate
            self.control.scale = 1.0
        # the parameters, one copy, with their gradients and each step's pooled sum
        par_m = self._parameters("par_m", m, "b_delta", "D")
        par_mm = self._parameters("par_mm", m * m, "W_delta")
        par_mn = self._parameters("par_mn", m * n, "A_log")
        par_nm = self._parameters("par_nm", n * m, "W_B", "W_C")
        par_km = self._parameters("par_km", k * m, "W_out")
        par_k = self._parameters("par_k", k, "b_out")
        self._holders = {"par_m": par_m, "par_mm": par_mm, "par_mn": par_mn}
        self._holders.update(par_nm=par_nm, par_km=par_km, par_k=par_k)
        for name, holder in _HOLDERS.items():
            setattr(self._holders[holder], name, np.ravel(getattr(params, name)))

        ch_index = np.arange(c * m)  # (c, d)
        st_index = np.arange(c * m * n)  # (c, d, n)
        out_index = np.arange(c * k)  # (c, q)
        channels = self._group(
            "channels",
            c * m,
            """
u_in : 1 (linked)
L_out : 1 (linked)
b_delta_l : 1 (linked)
D_l : 1 (linked)
u : 1
z_sum : 1
z : 1
delta : 1
sig : 1
du : 1
y_sum : 1
y : 1
gy : 1
r1 : 1
r3 : 1
s1 : 1
s24 : 1
""",
            {
                "u_in": (source, variable, None),
                "L_out": (source, signal, None),
                "b_delta_l": (par_m, "b_delta", ch_index % m),
                "D_l": (par_m, "D", ch_index % m),
            },
        )
        bc = self._group("bc", c * n, "B : 1\nC : 1\ngC : 1\nr2 : 1")
        cd = st_index // n
        states = self._group(
            "states",
            c * m * n,
            """
delta_l : 1 (linked)
sig_l : 1 (linked)
du_l : 1 (linked)
u_l : 1 (linked)
gy_l : 1 (linked)
A_log_l : 1 (linked)
B_l : 1 (linked)
C_l : 1 (linked)
a : 1
dh_dz : 1
h : 1
S_A_log : 1
S_b_delta : 1
B_st : 1
C_st : 1
du : 1
gy : 1
gh : 1
keep : 1
""",
            {
                "delta_l": (channels, "delta", cd),
                "sig_l": (channels, "sig", cd),
                "du_l": (channels, "du", cd),
                "u_l": (channels, "u", cd),
                "gy_l": (channels, "gy", cd),
                "A_log_l": (par_mn, "A_log", st_index % (m * n)),
                "B_l": (bc, "B", (st_index // (m * n)) * n + st_index % n),
                "C_l": (bc, "C", (st_index // (m * n)) * n + st_index % n),
            },
        )
        outputs = self._group(
            "outputs",
            c * k,
            "b_out_l : 1 (linked)\no_sum : 1\no : 1\ngO : 1\nerr : 1\nrank : 1\nshifted : 1\n"
            "ex : 1\nis_t : 1\nomax_l : 1 (linked)\ntotal_l : 1 (linked)",
            {"b_out_l": (par_k, "b_out", out_index % k)},
        )
        copies_group = self._group("copies", c, "loss : 1\nomax : 1\ntotal : 1\npicked : 1\nsq : 1")
        outputs.omax_l = linked_var(copies_group, "omax", index=out_index // k)
        outputs.total_l = linked_var(copies_group, "total", index=out_index // k)
        self.channels, self.states, self.outputs = channels, states, outputs
        self.copies_group, self.bc = copies_group, bc

        # the synapses: (pre, post) index pairs within each copy
        copy, d, j = (a.ravel() for a in np.indices((c, m, m)))
        delta_syn = self._synapses(
            "delta", channels, channels, copy * m + j, copy * m + d,
            "z_sum_post = W_delta * u_pre : 1 (summed)\ns1_pre = W_delta * r1_post : 1 (summed)",
            {"W_delta": (par_mm, "W_delta", f"(j % {m}) * {m} + i % {m}")},
        )  # fmt: skip
        copy, state, j = (a.ravel() for a in np.indices((c, n, m)))
        bc_syn = self._synapses(
            "bcsyn", channels, bc, copy * m + j, copy * n + state,
            "B_post = W_B * u_pre : 1 (summed)\nC_post = W_C * u_pre : 1 (summed)\n"
            "s24_pre = W_B * r2_post + W_C * gC_post : 1 (summed)",
            {
                "W_B": (par_nm, "W_B", f"(j % {n}) * {m} + i % {m}"),
                "W_C": (par_nm, "W_C", f"(j % {n}) * {m} + i % {m}"),
            },
        )  # fmt: skip
        y_syn = self._synapses(
            "y", states, channels, st_index, cd,
            "y_sum_post = C_st_pre * h_pre : 1 (summed)\nr1_post = gh_pre * dh_dz_pre : 1 (summed)"
            "\nr3_post = gh_pre * B_st_pre : 1 (summed)",
        )  # fmt: skip
        copy, d, q = (a.ravel() for a in np.indices((c, m, k)))
        out_syn = self._synapses(
            "out", channels, outputs, copy * m + d, copy * k + q,
            "o_sum_post = W_out * y_pre : 1 (summed)\ngy_pre = W_out * gO_post : 1 (summed)",
            {"W_out": (par_km, "W_out", f"(j % {k}) * {m} + i % {m}")},
        )  # fmt: skip
        pre, j = (a.ravel() for a in np.indices((c * m * n, m)))
        u_of_j = f"(i // {m * n}) * {m} + j % {m}"
        s_wd = self._synapses(
            "s_wd", states, par_mm, pre, ((pre // n) % m) * m + j,
            "S_W_delta : 1\ngs_W_delta_post = gh_pre * S_W_delta : 1 (summed)",
            {"u_j": (channels, "u", u_of_j)},
        )  # fmt: skip
        s_wb = self._synapses(
            "s_wb", states, par_nm, pre, (pre % n) * m + j,
            "S_W_B : 1\ngs_W_B_post = gh_pre * S_W_B : 1 (summed)",
            {"u_j": (channels, "u", u_of_j)},
        )  # fmt: skip
        self._sensitivity_synapses = {"W_delta": s_wd, "W_B": s_wb}
        a_syn = self._synapses(
            "g_a", states, par_mn, st_index, st_index % (m * n),
            "gs_A_log_post = gh_pre * S_A_log_pre : 1 (summed)",
        )  # fmt: skip
        bd_syn = self._synapses(
            "g_bd", states, par_m, st_index, cd % m,
            "gs_b_delta_post = gh_pre * S_b_delta_pre : 1 (summed)",
        )  # fmt: skip
        d_syn = self._synapses(
            "g_d", channels, par_m, ch_index, ch_index % m,
            "gs_D_post = gy_pre * u_pre : 1 (summed)",
        )  # fmt: skip
        c_syn = self._synapses(
            "g_c", states, bc, st_index, (st_index // (m * n)) * n + st_index % n,
            "gC_post = h_pre * gy_pre : 1 (summed)\nr2_post = gh_pre * du_pre : 1 (summed)",
        )  # fmt: skip
        pre, j = (a.ravel() for a in np.indices((c * n, m)))
        wc_syn = self._synapses(
            "g_wc", bc, par_nm, pre, (pre % n) * m + j,
            "gs_W_C_post = gC_pre * u_j : 1 (summed)",
            {"u_j": (channels, "u", f"(i // {n}) * {m} + j % {m}")},
        )  # fmt: skip
        pre, d = (a.ravel() for a in np.indices((c * k, m)))
        wout_syn = self._synapses(
            "g_wout", outputs, par_km, pre, (pre % k) * m + d,
            "gs_W_out_post = gO_pre * y_d : 1 (summed)",
            {"y_d": (channels, "y", f"(i // {k}) * {m} + j % {m}")},
        )  # fmt: skip
        bout_syn = self._synapses(
            "g_bout", outputs, par_k, out_index, out_index % k,
            "gs_b_out_post = gO_pre : 1 (summed)",
        )  # fmt: skip

        # the step, in schedule order (see the module docstring)
        self._regularly(channels, "u = input_scale * u_in", "input")
        self._sum(delta_syn, "z_sum_post")
        self._sum(bc_syn, "B_post", "C_post")
        self._regularly(
            channels,
            f"z = z_sum + b_delta_l\ndelta = {_softplus('z')}\nsig = 0.5 * (1 + tanh(0.5 * z))\n"
            "du = delta * u",
            "delta",
        )
        self._regularly(
            states,
            """
keep = 1 - sequence_start(t - t_epoch)
h = keep * h
S_A_log = keep * S_A_log
S_b_delta = keep * S_b_delta
A_c = -exp(A_log_l)
a = exp(delta_l * A_c)
dh_dz = (a * A_c * h + B_l * u_l) * sig_l
S_A_log = a * S_A_log + a * delta_l * A_c * h
S_b_delta = a * S_b_delta + dh_dz
h = a * h + du_l * B_l
B_st = B_l
C_st = C_l
du = du_l
""",
            "state",
        )
        self._regularly(
            s_wd, "S_W_delta = a_pre * (keep_pre * S_W_delta) + dh_dz_pre * u_j", "sens"
        )
        self._regularly(s_wb, "S_W_B = a_pre * (keep_pre * S_W_B) + du_pre * u_j", "sens")
        self._sum(y_syn, "y_sum_post")
        self._regularly(channels, "y = y_sum + D_l * u", "y")
        self._sum(out_syn, "o_sum_post")
        self._regularly(outputs, "o = o_sum + b_out_l", "o")
        self._loss(outputs, copies_group, out_index)
        self._sum(out_syn, "gy_pre")
        self._sum(wout_syn, "gs_W_out_post")
        self._sum(bout_syn, "gs_b_out_post")
        self._regularly(states, "gy = gy_l\ngh = gy * C_st", "gh")
        self._sum(a_syn, "gs_A_log_post")
        self._sum(bd_syn, "gs_b_delta_post")
        self._sum(d_syn, "gs_D_post")
        self._sum(c_syn, "gC_post", "r2_post")
        self._sum(y_syn, "r1_post", "r3_post")
        self._sum(s_wd, "gs_W_delta_post")
        self._sum(s_wb, "gs_W_B_post")
        self._sum(wc_syn, "gs_W_C_post")
        self._sum(delta_syn, "s1_pre")
        self._sum(bc_syn, "s24_pre")
        for holder in self._holders.values():
            names = self._holder_names(holder)
            code = "\n".join(f"g_{name} += pool_weight * gs_{name}" for name in names)
            self._regularly(holder, code, "accumulate")
        # the chain rule through the scale: the signal is ∂ℓ/∂(the source's variable)
        self._regularly(
            channels, "L_out = input_scale * (s1 + s24 + r3 * delta + gy * D_l)", "signal"
        )
        self._signal = self._schedule[-1]
        if self.control is not None:
            self._learn()

    def _holder_names(self, holder):
        return [name for name, suffix in _HOLDERS.items() if self._holders[suffix] is holder]

    def _learn(self):
        """After the signal: the gradient's norm and the step's gate, then each parameter's
        update (the optimiser's state first) and its gradient zeroed."""
        control = self.control
        scale = "1.0"
        if self.max_grad_norm is not None:
            squares = []
            for suffix, holder in self._holders.items():
                total = " + ".join(f"g_{name}_pre**2" for name in self._holder_names(holder))
                to_control = self._synapses(
                    f"sq_{suffix}", holder, control, np.arange(len(holder)),
                    np.zeros(len(holder), dtype=int), f"sq_{suffix}_post = {total} : 1 (summed)",
                )  # fmt: skip
                self._sum(to_control, f"sq_{suffix}_post")
                squares.append(f"sq_{suffix}")
            # max/max is exactly 1 where the norm is within the bound, as the reference's 1.0
            scale = f"max_grad_norm / clip(sqrt({' + '.join(squares)}), max_grad_norm, inf)"
        self._regularly(
            control, f"active = target_mask(t - t_epoch) * int(lr > 0)\nscale = {scale}", "gate"
        )
        for holder in self._holders.values():
            lines = []
            for name in self._holder_names(holder):
                _, statements, change = self._update_code(name)
                lines += [statements, f"{name} = {name} + {change}", f"g_{name} = 0"]
            self._regularly(holder, "\n".join(filter(None, lines)), "update")

    def _loss(self, outputs, copies_group, out_index):
        """The loss per copy and ``∂ℓ/∂o``, both 0 at a step without a target."""
        k = self.shapes[2]
        per_copy = out_index // k
        if self.loss == "mse":
            to_copy = self._synapses(
                "loss", outputs, copies_group, out_index, per_copy,
                "sq_post = err_pre ** 2 : 1 (summed)",
            )  # fmt: skip
            self._regularly(
                outputs,
                "err = o - target_value(t - t_epoch, i)\ngO = target_mask(t - t_epoch) * err",
                "grad",
            )
            self._sum(to_copy, "sq_post")
            self._regularly(copies_group, "loss = target_mask(t - t_epoch) * 0.5 * sq", "loss")
            return
        q_pre, q_post = (a.ravel() for a in np.indices((k, k)))
        copy = np.repeat(np.arange(self.copies), k * k)
        rank = self._synapses(
            "rank", outputs, outputs, copy * k + np.tile(q_pre, self.copies),
            copy * k + np.tile(q_post, self.copies),
            # how many outputs of the copy come before this one, largest first (ties: by index);
            # the one of rank 0 is the max
            "rank_post = int(o_pre > o_post) + int(o_pre == o_post) * int(i < j) : 1 (summed)",
        )  # fmt: skip
        to_copy = self._synapses(
            "softmax", outputs, copies_group, out_index, per_copy,
            "omax_post = o_pre * int(rank_pre < 0.5) : 1 (summed)\n"
            "total_post = ex_pre : 1 (summed)\npicked_post = is_t_pre * shifted_pre : 1 (summed)",
        )  # fmt: skip
        self._sum(rank, "rank_post")
        self._sum(to_copy, "omax_post")
        self._regularly(
            outputs,
            f"shifted = o - omax_l\nex = exp(shifted)\n"
            f"is_t = int(abs(i % {k} - target_value(t - t_epoch, i // {k})) < 0.5)",
            "softmax",
        )
        self._sum(to_copy, "total_post", "picked_post")
        self._regularly(
            copies_group, "loss = target_mask(t - t_epoch) * (log(total) - picked)", "loss"
        )
        self._regularly(outputs, "gO = target_mask(t - t_epoch) * (ex / total_l - is_t)", "grad")

    @property
    def grads(self):
        """``∂L/∂θ`` accumulated since the build (for a readout without a learning rate; a
        learning one drops each step's at its end), pooled as the mean over copies: a dict with
        the names and shapes of ``SelectiveSSM.grads``."""
        return {name: self._read(name, f"g_{name}") for name in _HOLDERS}

    def _shapes(self):
        """Each parameter's shape, by name, as ``SSMParameters`` holds it."""
        m, n, k = self.shapes
        return {
            "W_delta": (m, m),
            "b_delta": (m,),
            "A_log": (m, n),
            "W_B": (n, m),
            "W_C": (n, m),
            "D": (m,),
            "W_out": (k, m),
            "b_out": (k,),
        }

    def _read(self, name, var):
        """Variable ``var`` of parameter ``name``'s group, in the parameter's shape."""
        holder = self._holders[_HOLDERS[name]]
        return np.array(getattr(holder, var)[:]).reshape(self._shapes()[name])

    @property
    def params(self):
        """The parameters now, a new :class:`SSMParameters`."""
        return SSMParameters(**{name: self._read(name, name) for name in _HOLDERS})

    @property
    def optimizer_state(self):
        """Per parameter, the optimiser's state (``m``, ``v`` in the parameter's shape, ``n`` an
        int) as :class:`~bimsim.plasticity.optimizers.NumpyOptimizer` keeps it; empty for a
        readout that does not learn or for SGD."""
        if self.control is None:
            return {}
        result = {}
        for name in _HOLDERS:
            values = {var: self._read(name, f"opt_{name}_{var}") for var in self.optimizer.state}
            if "n" in values:
                values["n"] = int(values["n"].flat[0])
            if values:
                result[name] = values
        return result

    @property
    def learning_rate(self):
        """The readout's learning rate (None: it does not learn, see the constructor)."""
        return None if self.control is None else float(self.control.lr[0])

    @learning_rate.setter
    def learning_rate(self, value):
        if self.control is None:
            raise ValueError("this readout was built without a learning_rate: it does not learn")
        self.control.lr = float(require_real("learning_rate", value))

    @property
    def h(self):
        """The state, ``(copies, m, N)``."""
        return np.array(self.states.h[:]).reshape(self.copies, *self.shapes[:2])

    @property
    def sensitivities(self):
        """The RTRL sensitivities, named as the parameters: ``(copies, m, N)`` for ``A_log`` and
        ``b_delta``, ``(copies, m, N, m)`` for ``W_delta`` and ``W_B``."""
        m, n, _ = self.shapes
        c = self.copies
        result = {
            "A_log": np.array(self.states.S_A_log[:]).reshape(c, m, n),
            "b_delta": np.array(self.states.S_b_delta[:]).reshape(c, m, n),
        }
        for name, synapses in self._sensitivity_synapses.items():
            pre, post = np.asarray(synapses.i[:]), np.asarray(synapses.j[:])
            values = np.zeros((c, m, n, m))
            values[pre // (m * n), (pre // n) % m, pre % n, post % m] = getattr(
                synapses, f"S_{name}"
            )[:]
            result[name] = values
        return result


def _params(*names):
    """A parameter group's model: each parameter, its gradient and this step's pooled sum."""
    return "\n".join(f"{name} : 1\ng_{name} : 1\ngs_{name} : 1" for name in names)
