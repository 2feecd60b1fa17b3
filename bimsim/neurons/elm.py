"""The Expressive Leaky Memory (ELM) neuron (Spieler et al. 2023), one dendritic branch, with a
spiking output, in discrete time.

Each step, per neuron::

    s  ← κ_s s + I_in + I_ext              the synaptic trace (I_in: the input of the step before)
    a  = W₁ [s, κ_m ⊙ m]                   the MLP's hidden layer (2 d_m units) ...
    Δm = 1.7159 tanh(⅔ W₂ relu(a))         ... and its output, the memory update
    m  ← κ_m ⊙ m + λ (1 - κ_m) ⊙ Δm        d_m leaky memory units
    y  = W_y m,    z = H(y - V_th)         the read-out of the memory, and the spike

with ``κ = exp(-dt / τ)``, ``τ_s`` the synaptic trace's time constant and the memory units' ``τ_m``
log-spaced from ``tau_memory_min`` to ``tau_memory_max`` (the paper's 1 to 1000 steps at
``dt = 1 ms``). The exponential decay over a step is exact; the MLP and the memory update run once
per step, as Brian2's ``run_regularly`` on the group's clock.

Where bimsim's neuron differs from the paper's, and why:

- **One branch.** The paper's MLP reads every synapse's trace (``w_s ⊙ s``); here a synapse adds
  ``w * w_unit`` to one input ``I_in`` per neuron, and the MLP reads the summed trace (the
  Branch-ELM with one branch). The weights ``w`` are BIM's learned, signed weights (the paper's
  ``w_s ≥ 0``).
- **Fixed dendrites.** ``W₁``, ``W₂`` and ``W_y`` are drawn once from ``seed`` (uniform in
  ``±1/√fan_in``, no biases, so rest is a fixed point: silence in, silence out), ``W₂`` scaled
  so the memory's loop through the MLP has a gain below 1 and ``W_y`` so a steady input excites (see
  :meth:`ELM.dendrites`); the layer's neurons share them and only the synaptic weights learn.
  The paper learns them (with λ = 5 and random weights, a memory unit can hold itself up for
  ever after one input, which learning would have to undo). The scaling is strong: for seeds 0
  to 9 the bound on the loop's gain is 5.5 to 6.3 as drawn, so ``W₂`` is scaled by 0.14 to
  0.16; λ stays the memory update's scale, but the MLP drives it about six times more weakly.
  The dendrites are those of the model's ``seed`` whatever the run's seed.
- **A spike.** The paper's neuron outputs ``y``; a BIM layer's readout reads spike trains, so the
  neuron spikes on every step its ``y`` is above ``V_th``. Nothing is reset: the memory is the
  state. The spike's pseudo-derivative is a triangle of height ``pd_scale / V_th`` and half-width
  ``V_th`` centred on the threshold, on ``y``.
- **Fewer memory units.** The paper's ``d_m`` is up to about 100; exact traces cost about
  ``4 d_m²`` per synapse and step, and the generated code grows as ``d_m²`` (d_m = 8 compiles in
  about 30 s here), so ``d_m`` is at most :data:`MAX_MEMORY` (16; default 8).

The eligibility traces are exact for one neuron (real-time recurrent learning within the neuron):
each synapse holds ``ε_s = ∂s/∂w`` and ``ε_k = ∂m_k/∂w`` and follows the neuron's step through
the MLP's derivative, which the neuron keeps each step (variables of a learning layer: the
hidden units' relu gates ``on_j = 1[a_j > 0]`` and the memory updates' slopes ``g_k = λ (1 -
κ_k) 1.7159 ⅔ (1 - tanh²)``)::

    ε_s ← κ_s ε_s + w_unit x
    u_j  = on_j (W₁[j, 0] ε_s + Σ_k W₁[j, k + 1] κ_k ε_k)
    ε_k ← κ_k ε_k + g_k Σ_j W₂[k, j] u_j,        e = ψ W_y · ε

where ``x`` counts the presynaptic spikes delivered in the step before. (The product through the
neuron's Jacobian ``∂m[t]/∂m[t-1]``, formed once per neuron, would cost fewer operations per
synapse but ``2 d_m³`` terms of generated code: at d_m = 8 it compiled for four minutes.)
"""

from dataclasses import dataclass, field

import numpy as np
from brian2 import Quantity, ms, second

from bimsim.neurons.model import Eligibility, NeuronModel, model_of
from bimsim.quantities import require_positive, require_real, require_seed, require_whole

__all__ = ["ELM", "LOOP_GAIN", "MAX_MEMORY"]

#: Most memory units per neuron (each synapse onto the layer holds one trace per unit, and the
#: generated code grows with their square).
MAX_MEMORY = 16

#: The most gain of the memory's loop through the MLP (see ``ELM.dendrites``).
LOOP_GAIN = 0.9

#: LeCun's scaled tanh of the memory update, ``1.7159 tanh(⅔ o)``.
SCALE, SLOPE = 1.7159, 2.0 / 3.0


@dataclass(frozen=True)
class ELM(NeuronModel):
    """The ELM neuron (one branch, fixed dendrites, spiking read-out; see the module docstring).
    Variables of its group: ``s``, ``m0`` … ``m{d_m - 1}``, ``y``, ``I_in`` (where a synapse adds
    ``w * w_unit``), ``I_ext`` (added to the trace every step); of a learning layer also ``on0`` …
    ``on{2 d_m - 1}`` and ``g0`` … ``g{d_m - 1}`` (the MLP's derivative). At rest, all 0.

    Parameters
    ----------
    memory_units : int
        ``d_m``, memory units per neuron (1 to :data:`MAX_MEMORY`); the MLP's hidden layer has
        ``2 d_m`` units.
    tau_synapse : Quantity
        ``τ_s``, the synaptic trace's time constant.
    tau_memory_min, tau_memory_max : Quantity
        The memory units' time constants, log-spaced between these.
    lam : float
        ``λ``, the scale of the memory update.
    v_threshold : float
        ``V_th``, what ``y`` must exceed for a spike.
    pd_scale : float
        Height of the pseudo-derivative in units of ``1 / V_th``.
    seed : int
        Seed of the fixed dendritic weights ``W₁``, ``W₂``, ``W_y``.
    """

    name = "elm"
    input_variable = "I_in"
    weight_unit = 1.0

    memory_units: int = 8
    tau_synapse: Quantity = field(default_factory=lambda: 5 * ms)
    tau_memory_min: Quantity = field(default_factory=lambda: 1 * ms)
    tau_memory_max: Quantity = field(default_factory=lambda: 1000 * ms)
    lam: float = 5.0
    v_threshold: float = 1.0
    pd_scale: float = 0.3
    seed: int = 0

    def __post_init__(self):
        require_whole("memory_units", self.memory_units, 1, MAX_MEMORY)
        require_seed("seed", self.seed)
        for name in ("tau_synapse", "tau_memory_min", "tau_memory_max"):
            require_positive(name, getattr(self, name), "time")
            if np.ndim(getattr(self, name)) != 0:
                raise ValueError(f"{name} must be one time, got {getattr(self, name)!r}")
        if self.tau_memory_max < self.tau_memory_min:
            raise ValueError(
                f"tau_memory_max ({self.tau_memory_max}) must not be below tau_memory_min "
                f"({self.tau_memory_min})"
            )
        require_real("lam", self.lam, above=True)
        require_real("v_threshold", self.v_threshold, above=True)
        require_real("pd_scale", self.pd_scale)

    # -- the dendrites ---------------------------------------------------------------------------

    @property
    def hidden(self):
        """The MLP's hidden units, ``2 d_m``."""
        return 2 * self.memory_units

    def tau_memory(self):
        """The memory units' time constants (s), log-spaced."""
        low, high = float(self.tau_memory_min), float(self.tau_memory_max)
        return np.geomspace(low, high, self.memory_units)

    def dendrites(self):
        """``(W₁, W₂, W_y)``: ``(2 d_m, d_m + 1)``, ``(d_m, 2 d_m)`` and ``(d_m,)``.

        Drawn from :attr:`seed`, uniform in ``±1/√fan_in``; then ``W₂`` is scaled so that the
        memory's loop through the MLP has a gain of at most :data:`LOOP_GAIN`
        (``λ · 1.7159 · ⅔ ‖W₂‖ ‖W₁[:, 1:]‖``), which makes rest the one fixed point without input
        (for ten seeds tested, every memory unit decays once the input stops), and ``W_y`` so that
        a steady trace ``s = 1`` holds ``y`` at 1 (in the limit of slow memory, ``m = λ Δm``): a
        positive input excites, and the default threshold lies at a trace of about 1.
        """
        rng = np.random.default_rng(self.seed)
        d, h = self.memory_units, self.hidden
        w1 = rng.uniform(-1, 1, (h, d + 1)) / np.sqrt(d + 1)
        w2 = rng.uniform(-1, 1, (d, h)) / np.sqrt(h)
        wy = rng.uniform(-1, 1, d) / np.sqrt(d)
        gain = self.lam * SCALE * SLOPE * np.linalg.norm(w2, 2) * np.linalg.norm(w1[:, 1:], 2)
        w2 = w2 * min(1.0, LOOP_GAIN / gain)
        m = np.zeros(d)
        for _ in range(400):  # a contraction of gain <= LOOP_GAIN: converged to 1e-18
            m = self.lam * SCALE * np.tanh(SLOPE * (w2 @ np.maximum(w1 @ np.r_[1.0, m], 0)))
        response = wy @ m
        if not abs(response) > 1e-6:
            raise ValueError(
                f"the ELM neuron's dendrites drawn from seed {self.seed} do not respond to a "
                "steady input; choose another seed"
            )
        return w1, w2, wy / response

    # -- Brian2 ----------------------------------------------------------------------------------

    def equations(self, learning):
        d = self.memory_units
        lines = ["s : 1", *(f"m{k} : 1" for k in range(d)), "y : 1", "I_in : 1", "I_ext : 1"]
        if learning:
            lines += [f"on{j} : 1" for j in range(self.hidden)]
            lines += [f"g{k} : 1" for k in range(d)]
        return "\n".join(lines) + "\n"

    def _step(self, learning):
        """The neuron's step (the ``groups`` slot); a learning layer also keeps the MLP's
        derivative (``on``, ``g``) for the traces."""
        d, h = self.memory_units, self.hidden
        w1, w2, wy = self.dendrites()
        lines = [
            "s = exp(-dt / elm_tau_s) * s + I_in + I_ext",
            "I_in = 0",
            *(f"elm_kappa{k} = exp(-dt / elm_tau{k})" for k in range(d)),
        ]
        for j in range(h):
            terms = [f"{_literal(w1[j, 0])} * s"]
            terms += [f"{_literal(w1[j, k + 1])} * elm_kappa{k} * m{k}" for k in range(d)]
            lines += [f"elm_a{j} = {' + '.join(terms)}", f"elm_on{j} = int(elm_a{j} > 0)"]
        for k in range(d):
            out = " + ".join(f"{_literal(w2[k, j])} * elm_on{j} * elm_a{j}" for j in range(h))
            lines.append(f"elm_t{k} = tanh({SLOPE!r} * ({out}))")
            # λ (1 - κ_k) times the derivative of the scaled tanh
            lines.append(
                f"elm_g{k} = elm_lambda * (1 - elm_kappa{k}) * {SCALE * SLOPE!r}"
                f" * (1 - elm_t{k}**2)"
            )
        if learning:  # what the traces read: the hidden units' gates and the updates' slopes
            lines += [f"on{j} = elm_on{j}" for j in range(h)]
            lines += [f"g{k} = elm_g{k}" for k in range(d)]
        for k in range(d):
            lines.append(
                f"m{k} = elm_kappa{k} * m{k} + elm_lambda * (1 - elm_kappa{k}) * {SCALE!r}"
                f" * elm_t{k}"
            )
        lines.append(f"y = {' + '.join(f'{_literal(wy[k])} * m{k}' for k in range(d))}")
        return "\n".join(lines)

    def threshold(self):
        return "y > v_threshold"

    def reset(self):
        return []  # the memory is the state: a spike resets nothing

    def namespace(self):
        constants = {
            "v_threshold": float(self.v_threshold),
            "pd_scale": float(self.pd_scale),
            "elm_lambda": float(self.lam),
            "elm_tau_s": self.tau_synapse,
        }
        for k, tau in enumerate(self.tau_memory()):
            constants[f"elm_tau{k}"] = tau * second
        return constants

    def initialise(self, group, learning):
        group.run_regularly(self._step(learning), when="groups", name=f"{group.name}_step")
        group.I_ext = 0
        self.start(group)

    def rest(self):
        d = self.memory_units
        names = ["s", "y", "I_in", *(f"m{k}" for k in range(d))]
        names += [f"on{j}" for j in range(self.hidden)]
        names += [f"g{k}" for k in range(d)]
        return dict.fromkeys(names, 0)

    # -- learning --------------------------------------------------------------------------------

    def pseudo_derivative(self):
        psi = "pd_scale / v_threshold * clip(1 - abs(y - v_threshold) / v_threshold, 0, 1)"
        return psi, "1"

    def eligibility(self):
        d = range(self.memory_units)
        h = range(self.hidden)
        w1, w2, wy = self.dendrites()
        step = ["eps_s = exp(-dt / elm_tau_s) * eps_s + w_unit * x_e"]
        step += [f"elm_kappa{k} = exp(-dt / elm_tau{k})" for k in d]
        for j in h:  # the hidden layer's change, through the gate of its relu
            terms = " + ".join(f"{_literal(w1[j, k + 1])} * elm_kappa{k} * eps{k}" for k in d)
            step.append(f"elm_u{j} = on{j}_post * ({_literal(w1[j, 0])} * eps_s + {terms})")
        for k in d:
            terms = " + ".join(f"{_literal(w2[k, j])} * elm_u{j}" for j in h)
            step.append(f"elm_e{k} = elm_kappa{k} * eps{k} + g{k}_post * ({terms})")
        step += [f"eps{k} = elm_e{k}" for k in d]
        step.append("x_e = 0")
        variables = ("x_e", "eps_s", *(f"eps{k}" for k in d))
        return Eligibility(
            model="\n".join(f"{name} : 1" for name in variables),
            on_pre="x_e += 1",
            signal=f"psi_post * ({' + '.join(f'{_literal(wy[k])} * eps{k}' for k in d)})",
            variables=variables,
            step="\n".join(step),
        )

    def operations_per_step(self, channels=1):
        """``4 d_m² + 5 d_m + 1``: the trace's decay (1), ``κ_m ⊙ m`` (``d_m``, for the MLP and
        the memory update both), the MLP (``2 d_m (d_m + 1)`` into the hidden layer, ``2 d_m²``
        out of it), the memory update (``d_m``: ``κ_m ⊙ m`` plus ``λ (1 - κ_m) Δm``) and its
        read-out (``d_m``); the tanh and relu are not counted as MACs. The learning traces (about
        ``4 d_m²`` per synapse and step) are not either, as no model's are."""
        d = self.memory_units
        return 1 + d + 2 * d * (d + 1) + 2 * d * d + d + d

    def reference(self, group, draws=None):
        if draws is not None:
            raise ValueError(f"the {self.name} neuron draws no random numbers to replay")
        return ELMReference(group)


def _literal(value):
    """``value`` as a number in generated code (the fixed dendritic weights are written into the
    code: as namespace constants, each one's lookup adds to the compiled code)."""
    return f"({float(value)!r})"


class ELMReference:
    """The ELM step in torch (see :mod:`bimsim.surrogate_bptt`)."""

    def __init__(self, group):
        import torch

        self.torch = torch
        self.model = model = model_of(group)
        dt = float(group.clock.dt)
        self.kappa_s = float(np.exp(-dt / float(model.tau_synapse)))
        self.kappa = torch.tensor(np.exp(-dt / model.tau_memory()))[:, None]
        w1, w2, wy = model.dendrites()
        self.w1, self.w2, self.wy = (torch.tensor(w) for w in (w1, w2, wy))

    def initial(self, n, start=None):
        if start:
            raise ValueError(f"the elm reference starts at rest, not at {sorted(start)}")
        zeros = self.torch.zeros(n, dtype=self.torch.float64)
        m = self.torch.zeros((self.model.memory_units, n), dtype=self.torch.float64)
        return {"s": zeros.clone(), "I_in": zeros.clone(), "m": m, "y": zeros.clone()}

    def advance(self, state, drive):
        torch, model = self.torch, self.model
        s = self.kappa_s * state["s"] + state["I_in"] + drive
        hidden = torch.relu(self.w1 @ torch.cat([s[None], self.kappa * state["m"]]))
        update = SCALE * torch.tanh(SLOPE * (self.w2 @ hidden))
        m = self.kappa * state["m"] + model.lam * (1 - self.kappa) * update
        return {"s": s, "I_in": 0 * state["I_in"], "m": m, "y": self.wy @ m}

    def membrane(self, state):
        theta = self.model.v_threshold
        return state["y"], theta, self.model.pd_scale / theta, theta

    def deliver(self, state, current):
        return {**state, "I_in": state["I_in"] + current}

    def reset(self, state, z):
        return state

    def observe(self, state):
        """The state as the group's variables."""
        memory = {f"m{k}": state["m"][k] for k in range(len(state["m"]))}
        return {"s": state["s"], "y": state["y"], **memory}
