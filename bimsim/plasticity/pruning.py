"""Adaptive synaptic pruning (SPEC eq. 6).

Every pruning step, each active synapse is kept with probability

    p_ij = σ(β (|w_ij| - θ(t)))

and pruned otherwise, while the threshold follows the sparsity (fraction of pruned synapses)::

    dθ/dt = γ (ρ - sparsity(t))

The paper calls ``p_ij`` "the probability of pruning". Read literally, that prunes strong synapses
first and prunes *less* as θ rises while sparsity is below target, so the loop runs away. bimsim
takes the self-consistent reading: ``p_ij`` is the probability of being **kept**, so weak synapses
go first and θ rises until the sparsity reaches ρ, then falls back, which slows pruning to a halt.

Pruning is permanent: a pruned synapse's ``active`` flag is cleared and its weight set to 0, and the
synapse equations (``prunable=True`` in :func:`bimsim.plasticity.stdp.stdp_synapses`) keep it there,
so it neither transmits nor learns. (Reading ``synapses.active`` gives Brian2's flag of the whole
object; the per-synapse variable is ``synapses.variables['active'].get_value()``, or the
``active`` variable of :meth:`AdaptivePruning.dataset`. Assigning ``synapses.active = ...`` does
set the variable.) The controller is a Brian2 ``network_operation`` (it needs the
sparsity of the whole group, a global sum), so a pruning network runs on the ``runtime`` device
(and is refused on any other, :func:`bimsim.devices.require_runtime`).
"""

from dataclasses import dataclass, field

import brian2
import numpy as np
import xarray as xr
from brian2 import NetworkOperation, ms, second

from bimsim.devices import require_runtime
from bimsim.quantities import (
    require_count,
    require_instance,
    require_positive,
    require_real,
    require_seed,
)

__all__ = ["AdaptivePruning", "PruningParameters"]


@dataclass(frozen=True)
class PruningParameters:
    """Parameters of adaptive pruning.

    Parameters
    ----------
    target_sparsity : float
        ρ, the fraction of synapses to prune, in [0, 1).
    beta : float
        Steepness of the keep probability, in inverse weight units (> 0).
    gamma : Quantity
        Rate of the threshold, in weight units per second (a rate, e.g. ``2 / second``).
    interval : Quantity
        Time between pruning steps.
    theta_init : float
        Initial threshold θ(0).
    """

    target_sparsity: float
    beta: float = 100.0
    gamma: brian2.Quantity = field(default_factory=lambda: 2.0 / second)
    interval: brian2.Quantity = field(default_factory=lambda: 10 * ms)
    theta_init: float = 0.0

    def __post_init__(self):
        require_real("target_sparsity ρ", self.target_sparsity, 0.0, 1.0, below=True)
        require_real("beta", self.beta, above=True)
        require_positive("gamma", self.gamma, "frequency", scalar=True)
        require_positive("interval", self.interval, "time", scalar=True)
        require_real("theta_init", self.theta_init, minimum=-np.inf)


class AdaptivePruning:
    """Prunes a ``Synapses`` group built with ``prunable=True`` towards a target sparsity.

    Parameters
    ----------
    synapses : brian2.Synapses
        With variables ``w`` and ``active``.
    params : PruningParameters
    seed : int
        Seed of the pruning draws.
    copies : int
        The group holds this many copies of one set of synapses, copy-major, whose weights are
        kept equal (:class:`bimsim.network.BIMNetwork` with ``copies > 1``): each shared synapse
        is drawn once and pruned in every copy.

    Attributes
    ----------
    operation : brian2.NetworkOperation
        Add it to the network beside ``synapses``.
    """

    def __init__(self, synapses, params, seed=0, copies=1):
        require_runtime("AdaptivePruning")
        require_instance("synapses", synapses, brian2.Synapses)
        require_instance("params", params, PruningParameters)
        require_seed("seed", seed)
        if "active" not in synapses.variables:
            raise ValueError(
                f"synapses {synapses.name!r} have no 'active' flag: build them with prunable=True"
            )
        copies = require_count("copies", copies)
        if len(synapses) % copies:
            raise ValueError(f"{len(synapses)} synapses cannot hold {copies!r} equal copies")
        self.synapses = synapses
        self.copies = copies
        self.params = params
        self.theta = params.theta_init
        self._rng = np.random.default_rng(seed)
        self._pruned_at = None
        self._history = {"t": [], "theta": [], "sparsity": [], "pruned": []}
        self.operation = NetworkOperation(
            self._step, dt=params.interval, name=f"{synapses.name}_pruning"
        )

    def sparsity(self):
        """Fraction of the synapses that are pruned."""
        active = self.synapses.variables["active"].get_value()
        return 1.0 - float(np.mean(active)) if len(active) else 0.0

    def _step(self, t):
        variables = self.synapses.variables
        shared = len(self.synapses) // self.copies
        active = variables["active"].get_value().astype(bool)[:shared]
        w = variables["w"].get_value()[:shared]
        if self._pruned_at is None:
            self._pruned_at = np.full(len(active), np.nan)
        p = self.params
        keep = 1.0 / (1.0 + np.exp(-p.beta * (np.abs(w) - self.theta)))
        pruned = active & (self._rng.random(len(active)) >= keep)
        if pruned.any():
            active[pruned] = False
            w = w.copy()
            w[pruned] = 0.0
            variables["active"].set_value(np.tile(active, self.copies))
            variables["w"].set_value(np.tile(w, self.copies))
            self._pruned_at[pruned] = float(t / ms)
        sparsity = 1.0 - active.mean()
        self.theta += float(p.gamma * p.interval) * (p.target_sparsity - sparsity)
        for key, value in zip(
            self._history, (float(t / ms), self.theta, sparsity, int(pruned.sum())), strict=True
        ):
            self._history[key].append(value)

    def dataset(self):
        """θ(t), sparsity and pruning counts over ``time`` (ms), and each synapse's fate."""
        h = self._history
        n = len(self.synapses) // self.copies
        pruned_at = self._pruned_at if self._pruned_at is not None else np.full(n, np.nan)
        p = self.params
        return xr.Dataset(
            {
                "theta": ("time", h["theta"], {"units": "1", "long_name": "pruning threshold"}),
                "sparsity": ("time", h["sparsity"], {"units": "1", "long_name": "pruned fraction"}),
                "n_pruned": (
                    "time",
                    np.asarray(h["pruned"], dtype=np.int64),
                    {"units": "1", "long_name": "synapses pruned at this step"},
                ),
                "active": (
                    "synapse",
                    np.isnan(pruned_at).astype(np.int8),
                    {"units": "1", "long_name": "synapse still active (1) or pruned (0)"},
                ),
                "pruned_at": (
                    "synapse",
                    np.nan_to_num(pruned_at, nan=-1.0),
                    {"units": "ms", "long_name": "time of pruning (-1: never pruned)"},
                ),
            },
            coords={
                "time": ("time", h["t"], {"units": "ms", "long_name": "time of the pruning step"}),
                "synapse": ("synapse", np.arange(n), {"units": "1", "long_name": "synapse index"}),
            },
            attrs={
                "pruning_target_sparsity": p.target_sparsity,
                "pruning_beta": p.beta,
                "pruning_gamma": str(p.gamma),
                "pruning_interval": str(p.interval),
                "pruning_rule": "keep with probability sigmoid(beta (|w| - theta))",
            },
        )
