"""A BIM network: input spikes -> LIF layer -> selective SSM readout -> loss -> learning signal.

The input layer is a ``SpikeGeneratorGroup`` (encoded spikes), the hidden layer LIF neurons
(SPEC eq. 2) on hybrid synapses (SPEC eq. 3, with the eligibility traces of eq. 5 and the STDP term
of eq. 4), the readout a selective SSM (eq. 1) that learns by exact RTRL and injects the learning
signal through a network operation; optional adaptive pruning (eq. 6). Sequences stream through
:meth:`BIMNetwork.run_sequence`, and :meth:`BIMNetwork.dataset` records what happened.

The network holds network operations, so it runs on the ``runtime`` device.
"""

import numpy as np
import xarray as xr
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, ms, nA

from bimsim.devices import Simulation
from bimsim.neurons import lif_neurons
from bimsim.plasticity.hybrid import check_mixing, hybrid_synapses
from bimsim.plasticity.pruning import AdaptivePruning
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule
from bimsim.quantities import require
from bimsim.readout import ReadoutInjection, SelectiveSSM, SSMParameters

__all__ = ["BIMNetwork"]

_TRACES = ("x_e", "I_e", "eps", "ebar", "grad", "omega", "r1", "o1", "r2", "o2")


class BIMNetwork:
    """Input spikes, a learning LIF layer and a selective SSM readout, trained online.

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Sizes of the input, the spiking layer and the readout's output.
    n_states : int
        States per readout input (N).
    loss : {'mse', 'cross_entropy'}
        The readout's loss.
    lam, eta : float
        The hybrid rule's λ (1: gradient only, 0: STDP only) and η.
    readout_learning_rate : float
        Step size of the readout's own RTRL descent.
    rule : STDPRule, optional
        The STDP term (default: the pair rule with :data:`PAIR_DEFAULTS`, all-to-all).
    w_unit : Quantity
        Current of a weight of 1.
    w_init : (float, float)
        Initial weights drawn uniformly from this range.
    pruning : PruningParameters, optional
        Adaptive pruning of the input synapses.
    readout_dt, dt : Quantity
        The readout's step and the simulation's.
    seed : int
    **neuron_params
        Passed to :func:`bimsim.neurons.lif_neurons`.
    """

    def __init__(
        self,
        n_inputs,
        n_hidden,
        n_outputs,
        *,
        n_states=8,
        loss="cross_entropy",
        lam=1.0,
        eta=0.01,
        readout_learning_rate=0.05,
        rule=None,
        w_unit=1 * nA,
        w_init=(0.1, 0.4),
        pruning=None,
        readout_dt=1 * ms,
        dt=0.1 * ms,
        seed=0,
        **neuron_params,
    ):
        for name, value in (("n_inputs", n_inputs), ("n_hidden", n_hidden)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_mixing(lam, eta)
        require("readout_dt", readout_dt, "time")
        require("dt", dt, "time")
        rng = np.random.default_rng(seed)
        self.n_inputs, self.eta = int(n_inputs), float(eta)
        self.inputs = SpikeGeneratorGroup(n_inputs, [], [] * ms, dt=dt, name="inputs")
        self.layer = lif_neurons(n_hidden, learning=True, dt=dt, name="layer", **neuron_params)
        self.synapses = hybrid_synapses(
            self.inputs,
            self.layer,
            rule or pair_rule(**PAIR_DEFAULTS),
            lam=lam,
            eta=eta,
            w_unit=w_unit,
            readout_dt=readout_dt,
            prunable=pruning is not None,
            dt=dt,
            name="hybrid",
        )
        self.synapses.connect()
        self.synapses.w = rng.uniform(*w_init, len(self.synapses))
        ssm = SelectiveSSM(SSMParameters.initial(n_hidden, n_states, n_outputs, rng), loss=loss)
        self.readout = ReadoutInjection(
            ssm, self.layer, dt=readout_dt, learning_rate=readout_learning_rate
        )
        self.readout_learning_rate = float(readout_learning_rate)
        self.spikes = SpikeMonitor(self.layer, record=False)
        objects = [self.inputs, self.layer, self.synapses, self.readout.operation, self.spikes]
        self.pruning = None
        if pruning is not None:
            self.synapses.active = True
            self.pruning = AdaptivePruning(self.synapses, pruning, seed=seed)
            objects.append(self.pruning.operation)
        self.network = Network(*objects)
        self._v_rest = self.layer.namespace["v_rest"]
        self._records = {"loss": [], "spikes": [], "sparsity": [], "weights": []}

    def _reset_state(self):
        """Each sequence starts from rest: membrane, currents and every trace."""
        self.layer.v = self._v_rest
        for name in ("x_syn", "I_syn", "u_out", "L"):
            self.layer.variables[name].set_value(0)
        for name in _TRACES:
            if name in self.synapses.variables:
                self.synapses.variables[name].set_value(0)

    def run_sequence(self, indices, times, duration, targets, learn=True, profile=False):
        """Stream one sequence through the network, learning online unless ``learn=False``.

        Parameters
        ----------
        indices : array_like of int
            Input neuron of each spike.
        times : Quantity
            Spike times from the start of the sequence, in ``[0, duration)``.
        duration : Quantity
            Length of the sequence.
        targets : sequence
            One target (or None) per readout step, see
            :meth:`bimsim.readout.ReadoutInjection.start_sequence`.
        learn : bool
            Update the weights and the readout.
        profile : bool
            Record Brian2's time per object (the readout's network operation included) in
            ``self.network.profiling_info``.

        Returns
        -------
        float
            Mean loss over the readout steps that have a target.
        """
        require("times", times, "time")
        require("duration", duration, "time")
        indices = np.asarray(indices)
        if len(indices) != len(times):
            raise ValueError(f"{len(indices)} spike indices but {len(times)} spike times")
        if len(indices) and (indices.min() < 0 or indices.max() >= self.n_inputs):
            raise ValueError(f"spike indices must lie in [0, {self.n_inputs})")
        if len(times) and (np.min(times) < 0 * ms or np.max(times) >= duration):
            raise ValueError("spike times must lie in [0, duration)")
        steps = np.round(np.asarray(times / self.inputs.dt)).astype(np.int64)
        pairs = np.unique(np.stack([indices, steps]), axis=1)
        if len(indices) and pairs.shape[1] < len(indices):
            raise ValueError("an input neuron spikes twice within one time step")
        self._reset_state()
        self.synapses.namespace["eta"] = self.eta if learn else 0.0
        self.readout.learning_rate = self.readout_learning_rate if learn else 0.0
        self.inputs.set_spikes(indices, times + self.network.t)
        self.readout.start_sequence(targets)
        spikes_before = int(self.spikes.num_spikes)
        Simulation("runtime", None).run(self.network, duration, profile=profile)
        losses = np.array(self.readout.losses)
        loss = float(np.nanmean(losses)) if np.isfinite(losses).any() else float("nan")
        self._records["loss"].append(loss)
        self._records["spikes"].append(int(self.spikes.num_spikes) - spikes_before)
        self._records["sparsity"].append(self.pruning.sparsity() if self.pruning else 0.0)
        self._records["weights"].append(np.array(self.synapses.w[:]))
        return loss

    def dataset(self):
        """Per sequence: loss, hidden spikes, sparsity and the weights; pruning history if any."""
        r = self._records
        ds = xr.Dataset(
            {
                "loss": ("sequence", r["loss"], {"units": "1", "long_name": "mean readout loss"}),
                "spikes": (
                    "sequence",
                    np.asarray(r["spikes"], dtype=np.int64),
                    {"units": "1", "long_name": "spikes of the hidden layer"},
                ),
                "sparsity": (
                    "sequence",
                    r["sparsity"],
                    {"units": "1", "long_name": "fraction of pruned input synapses"},
                ),
                "weights": (
                    ("sequence", "synapse"),
                    np.array(r["weights"]).reshape(len(r["loss"]), -1),
                    {"units": "1", "long_name": "input weights after the sequence (x w_unit)"},
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
                    np.arange(len(self.synapses)),
                    {"units": "1", "long_name": "input synapse index"},
                ),
            },
        )
        if self.pruning is not None:
            pruning = self.pruning.dataset().rename(time="pruning_time", synapse="synapse")
            ds = ds.merge(pruning[["theta", "n_pruned", "pruned_at"]])
        return ds
