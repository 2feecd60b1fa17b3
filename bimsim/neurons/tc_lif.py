"""The two-compartment LIF neuron of TC-LIF / LSTM-LIF (Zhang et al. 2023, 2024), in the authors'
discrete time.

A dendritic compartment ``U_D`` integrates the input and a somatic one ``U_S`` fires, each step::

    U_D[t] = U_D[t-1] + I[t] + β₁ U_S[t-1] - γ S[t-1]
    U_S[t] = U_S[t-1] + β₂ U_D[t] - V_th S[t-1]
    S[t]   = H(U_S[t] - V_th)

with ``β₁ = -σ(c₁)`` in (-1, 0) and ``β₂ = σ(c₂)`` in (0, 1) (the authors learn ``c₁, c₂`` per
layer; here they are set, not learned). Below threshold the map ``(U_D, U_S)`` has determinant 1:
an undamped rotation, which holds what the dendrite received for as long as no spike resets it
(the point of the model: memory over long delays). Its ODE form would damp or grow the rotation,
so the step is the authors' map, run by Brian2's ``run_regularly`` on the group's clock (one step
of the model per ``dt``). The model is dimensionless, as the authors'.

A synapse adds ``w * w_unit`` (``w_unit`` dimensionless, default 1) to ``I_in`` at the end of the
step its presynaptic spike occurs in; the next step's update adds ``I_in`` (and ``I_ext``) to
the dendrite and empties it. The spike's pseudo-derivative is a triangle of height
``pd_scale / V_th`` and half-width ``V_th`` centred on the threshold, on ``U_S``.

The eligibility traces are exact for one neuron: each synapse holds ``ε_D = ∂U_D/∂w`` and
``ε_S = ∂U_S/∂w`` and follows the map, with the soft reset's dependence on the last spike,
``∂S[t-1]/∂w = ψ[t-1] ε_S[t-1]`` (the reset is a subtraction that the spike's surrogate
derivative reaches, as in the authors' BPTT)::

    ε_D ← ε_D + w_unit x + (β₁ - γ ψ[t-1]) ε_S
    ε_S ← (1 - V_th ψ[t-1]) ε_S + β₂ ε_D

where ``x`` counts the presynaptic spikes delivered in the step before; ``e = ψ ε_S``. With
``detach_reset=True`` the reset carries no gradient (as e-prop's LIF, and SpikingJelly's
``detach_reset``): the ``ψ[t-1]`` terms drop, and the traces are exact for that model instead.
"""

from dataclasses import dataclass

import numpy as np

from bimsim.neurons.model import Eligibility, NeuronModel, model_of
from bimsim.quantities import require_real

__all__ = ["TCLIF", "TC_LIF_EQUATIONS", "TC_LIF_STEP"]

TC_LIF_EQUATIONS = """
U_D : 1
U_S : 1
I_in : 1
I_ext : 1
z_last : 1
"""

#: The authors' step, every ``dt`` in the ``groups`` slot (``z_last``: the spike of the step
#: before, which the reset subtracts).
TC_LIF_STEP = """
U_D = U_D + I_in + I_ext + tc_beta1 * U_S - tc_gamma * z_last
U_S = U_S + tc_beta2 * U_D - v_threshold * z_last
I_in = 0
z_last = 0
"""


@dataclass(frozen=True)
class TCLIF(NeuronModel):
    """The TC-LIF (LSTM-LIF) two-compartment neuron (build a layer with
    :func:`~bimsim.neurons.neuron_group`: variables ``U_D``, ``U_S``, ``I_in``, where a synapse
    adds ``w * w_unit``, ``I_ext``, added to the dendrite every step, and ``z_last``; at rest, 0).

    Parameters
    ----------
    v_threshold : float
        ``V_th``, the somatic threshold (also what a spike subtracts from ``U_S``).
    gamma : float
        ``γ``, what a spike subtracts from ``U_D``.
    beta1 : float
        ``β₁ = -σ(c₁)``, in (-1, 0): how the soma feeds back on the dendrite.
    beta2 : float
        ``β₂ = σ(c₂)``, in (0, 1): how the dendrite drives the soma.
    pd_scale : float
        Height of the pseudo-derivative in units of ``1 / V_th``.
    detach_reset : bool
        The reset carries no gradient; False (default): the gradient flows through it too (see
        the module docstring).
    """

    name = "tc_lif"
    input_variable = "I_in"
    weight_unit = 1.0
    method = "exact"

    v_threshold: float = 1.0
    gamma: float = 0.5
    beta1: float = -0.5
    beta2: float = 0.5
    pd_scale: float = 0.3
    detach_reset: bool = False

    def __post_init__(self):
        require_real("v_threshold", self.v_threshold, above=True)
        require_real("gamma", self.gamma)
        require_real("pd_scale", self.pd_scale)
        if not isinstance(self.detach_reset, bool):
            raise TypeError(f"detach_reset must be True or False, got {self.detach_reset!r}")
        if not -1 < _real("beta1", self.beta1) < 0:
            raise ValueError(f"beta1 (β₁ = -σ(c₁)) must lie in (-1, 0), got {self.beta1!r}")
        if not 0 < _real("beta2", self.beta2) < 1:
            raise ValueError(f"beta2 (β₂ = σ(c₂)) must lie in (0, 1), got {self.beta2!r}")

    def equations(self, learning):
        # the last step's pseudo-derivative, for the traces of the soft reset
        return TC_LIF_EQUATIONS + ("psi_last : 1\n" if self._through_reset(learning) else "")

    def _through_reset(self, learning):
        """Whether the traces need the last step's ψ (a learning layer whose reset carries the
        gradient)."""
        return learning and not self.detach_reset

    def threshold(self):
        return "U_S > v_threshold"

    def reset(self):
        return ["z_last = 1"]

    def namespace(self):
        # prefixed: synapses onto the layer read these beside their own constants (an
        # optimiser's beta1 and beta2)
        return {
            "v_threshold": float(self.v_threshold),
            "pd_scale": float(self.pd_scale),
            **{f"tc_{name}": float(getattr(self, name)) for name in ("gamma", "beta1", "beta2")},
        }

    def initialise(self, group, learning):
        group.run_regularly(TC_LIF_STEP, when="groups", name=f"{group.name}_step")
        if self._through_reset(learning):
            # after the traces have read it (thresholds) and before the next step's
            group.run_regularly("psi_last = psi", when="end", name=f"{group.name}_psi_last")
        group.I_ext = 0
        self.start(group)

    def rest(self):
        return {"U_D": 0, "U_S": 0, "I_in": 0, "z_last": 0, "psi_last": 0}

    def pseudo_derivative(self):
        psi = "pd_scale / v_threshold * clip(1 - abs(U_S - v_threshold) / v_threshold, 0, 1)"
        return psi, "1"

    def eligibility(self):
        feedback, keep = "tc_beta1", "eps_S"
        if not self.detach_reset:
            feedback = "(tc_beta1 - tc_gamma * psi_last_post)"
            keep = "eps_S * (1 - v_threshold * psi_last_post)"
        return Eligibility(
            model="x_e : 1\neps_D : 1\neps_S : 1",
            on_pre="x_e += 1",
            signal="psi_post * eps_S",
            variables=("x_e", "eps_D", "eps_S"),
            step=(
                f"eps_D = eps_D + w_unit * x_e + {feedback} * eps_S\n"
                f"eps_S = {keep} + tc_beta2 * eps_D\n"
                "x_e = 0"
            ),
        )

    def operations_per_step(self, channels=1):
        """2: ``β₁ U_S`` into the dendrite and ``β₂ U_D`` into the soma (the input and the
        resets are additions)."""
        return 2

    def reference(self, group, draws=None):
        if draws is not None:
            raise ValueError(f"the {self.name} neuron draws no random numbers to replay")
        return TCLIFReference(group)


def _real(name, value):
    return require_real(name, value, minimum=-np.inf)


class TCLIFReference:
    """The TC-LIF step in torch (see :mod:`bimsim.surrogate_bptt`); the soft reset carries the
    gradient through the spike's surrogate derivative unless the model detaches it."""

    def __init__(self, group):
        import torch

        self.torch = torch
        self.model = model_of(group)

    def initial(self, n, start=None):
        if start:
            raise ValueError(f"the tc_lif reference starts at rest, not at {sorted(start)}")
        zeros = self.torch.zeros(n, dtype=self.torch.float64)
        return {name: zeros.clone() for name in ("U_D", "U_S", "I_in", "z_last")}

    def advance(self, s, drive):
        m = self.model
        u_d = s["U_D"] + s["I_in"] + drive + m.beta1 * s["U_S"] - m.gamma * s["z_last"]
        u_s = s["U_S"] + m.beta2 * u_d - m.v_threshold * s["z_last"]
        return {"U_D": u_d, "U_S": u_s, "I_in": 0 * s["I_in"], "z_last": 0 * s["z_last"]}

    def membrane(self, s):
        theta = self.model.v_threshold
        return s["U_S"], theta, self.model.pd_scale / theta, theta

    def deliver(self, s, current):
        return {**s, "I_in": s["I_in"] + current}

    def observe(self, s):
        """The state as the group's variables."""
        return {"U_D": s["U_D"], "U_S": s["U_S"]}

    def reset(self, s, z):
        return {**s, "z_last": z.detach() if self.model.detach_reset else z}
