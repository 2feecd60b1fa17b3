"""The probabilistic spiking SSM neuron of P-SpikeSSM (Bal & Sengupta, ICLR 2025), one channel,
online: the causal kernel only.

Each step, per neuron (channel)::

    x  = I_in + I_ext                        (the synaptic input of the step before)
    s  ~ Bernoulli(clip(a_in x + b_in, 0, 1))                   the input sampler
    h_k ← Ā_k h_k + B̄_k s,   k = 0 .. N - 1                     the SSM state (S4D-Real)
    y  = c Σ_k h_k + d s,    v = GELU(y)                        the SSM's output, K∗s + D s
    z  ~ Bernoulli(clip(a_out v + b_out, 0, 1))                 the output sampler: the spike

with ``A_k = -(k + 1)`` (S4D-Real, Gu et al. 2022), the step ``Δ`` (``step``) and zero-order hold,
``Ā_k = exp(Δ A_k)``, ``B̄_k = (Ā_k - 1) / A_k``. The SSM kernel ``K`` of the paper is the impulse
response of this recurrence, ``K_t = c Σ_k Ā_k^t B̄_k``; online only the causal form exists, so the
model runs the recurrence (one step of it per ``dt``, as Brian2's ``run_regularly``), and the
paper's bidirectional or FFT convolution does not apply. GELU is the tanh form (PyTorch's
``approximate='tanh'``). Both samplers draw with Brian2's ``rand()``; the draws of the step are
kept (``u_in``, ``u_out_draw``), so a run can be replayed.

What the paper puts *between* channels, the SpikeMixer (``GELU(W s' + b)`` across channels) and
ClampFuse (the residual ``x + z``, clamped by the next block's sampler), acts on a whole layer:
:class:`bimsim.neurons.p_spikessm_block.PSpikeSSMBlock` (``--neuron p_spikessm_block``) adds them.

Learning uses the straight-through estimator inside (0, 1), as the paper: ``∂s/∂(a x + b) = 1``
where ``0 < a x + b < 1``, else 0; so ``ψ = a_out 1[0 < a_out v + b_out < 1]`` is the spike's
derivative with respect to ``v``. The eligibility traces are exact (no reset, and the samplers'
straight-through derivatives are known each step): per synapse ``ε_k = ∂h_k/∂w`` and ``ε_y =
∂y/∂w``::

    ∂s/∂w = w_unit x_e a_in 1[0 < a_in x + b_in < 1]
    ε_k ← Ā_k ε_k + B̄_k ∂s/∂w,    ε_y = c Σ_k ε_k + d ∂s/∂w,    e = ψ GELU'(y) ε_y

``x_e`` counts the presynaptic spikes delivered in the step before.
"""

from dataclasses import dataclass

import numpy as np

from bimsim.neurons.model import Eligibility, NeuronModel, model_of
from bimsim.quantities import require_real, require_whole

__all__ = ["GELU", "GELU_PRIME", "MAX_STATES", "PSpikeSSM", "straight_through"]

#: Most SSM states per neuron (each synapse onto the layer holds as many traces).
MAX_STATES = 16

#: GELU's tanh form of ``{y}``, and its derivative.
GELU = "0.5 * {y} * (1 + tanh(0.7978845608028654 * ({y} + 0.044715 * {y}**3)))"
GELU_PRIME = (
    "0.5 * (1 + tanh(0.7978845608028654 * ({y} + 0.044715 * {y}**3))) + 0.5 * {y}"
    " * (1 - tanh(0.7978845608028654 * ({y} + 0.044715 * {y}**3))**2)"
    " * 0.7978845608028654 * (1 + 3 * 0.044715 * {y}**2)"
)


@dataclass(frozen=True)
class PSpikeSSM(NeuronModel):
    """The P-SpikeSSM neuron (one channel, causal).

    Parameters
    ----------
    states : int
        ``N``, SSM states per neuron (1 to :data:`MAX_STATES`).
    step : float
        ``Δ``, the SSM's step (``Ā_k = exp(-Δ (k + 1))``).
    c, d : float
        The SSM's read-out of its states (the same ``c`` for each) and its skip term ``D``.
    a_in, b_in : float
        The input sampler's ``clip(a_in x + b_in, 0, 1)``.
    a_out, b_out : float
        The output sampler's ``clip(a_out v + b_out, 0, 1)``.
    """

    name = "p_spikessm"
    input_variable = "I_in"
    weight_unit = 1.0
    stochastic = True
    #: The variables holding each step's random numbers (input sampler, output sampler).
    draws = ("u_in", "u_out_draw")

    states: int = 4
    step: float = 0.1
    c: float = 0.25
    d: float = 0.5
    a_in: float = 1.0
    b_in: float = 0.0
    a_out: float = 1.0
    b_out: float = 0.0

    def __post_init__(self):
        require_whole("states", self.states, 1, MAX_STATES)
        require_real("step", self.step, above=True)
        for name in ("c", "d", "a_in", "b_in", "a_out", "b_out"):
            require_real(name, getattr(self, name), minimum=-np.inf)
        for name in ("a_in", "a_out"):
            if getattr(self, name) == 0:
                raise ValueError(f"{name} must not be 0: the sampler would ignore its input")

    def decay(self):
        """``(Ā_k, B̄_k)`` for every state ``k``."""
        a = -(np.arange(self.states) + 1.0)
        a_bar = np.exp(self.step * a)
        return a_bar, (a_bar - 1) / a

    def equations(self, learning):
        states = "\n".join(f"h{k} : 1" for k in range(self.states))
        return f"""
{states}
I_in : 1
I_ext : 1
q_in : 1
s_in : 1
y : 1
v : 1
q_out : 1
u_in : 1
u_out_draw : 1
"""

    def _step(self):
        """The neuron's step (the ``groups`` slot), a list of statements."""
        return [
            "q_in = a_in * (I_in + I_ext) + b_in",
            "u_in = rand()",
            "s_in = int(u_in < q_in)",
            *(f"h{k} = abar{k} * h{k} + bbar{k} * s_in" for k in range(self.states)),
            f"y = c_ssm * ({' + '.join(f'h{k}' for k in range(self.states))}) + d_ssm * s_in",
            f"v = {GELU.format(y='y')}",
            "q_out = a_out * v + b_out",
            "u_out_draw = rand()",
            "I_in = 0",
        ]

    def threshold(self):
        return "u_out_draw < q_out"

    def reset(self):
        return []  # no reset: the state is linear in the sampled spikes

    def namespace(self):
        a_bar, b_bar = self.decay()
        return {
            "c_ssm": float(self.c),
            "d_ssm": float(self.d),
            "a_in": float(self.a_in),
            "b_in": float(self.b_in),
            "a_out": float(self.a_out),
            "b_out": float(self.b_out),
            **{f"abar{k}": float(a_bar[k]) for k in range(self.states)},
            **{f"bbar{k}": float(b_bar[k]) for k in range(self.states)},
        }

    def initialise(self, group, learning):
        group.run_regularly("\n".join(self._step()), when="groups", name=f"{group.name}_step")
        group.I_ext = 0
        self.start(group)

    def rest(self):
        names = [f"h{k}" for k in range(self.states)]
        names += ["I_in", "q_in", "s_in", "y", "v", "q_out", "u_in", "u_out_draw"]
        return dict.fromkeys(names, 0)

    def pseudo_derivative(self):
        return "a_out * int(q_out > 0) * int(q_out < 1)", "1"

    def eligibility(self):
        k = range(self.states)
        ds = "w_unit * x_e * a_in * int(q_in_post > 0) * int(q_in_post < 1)"
        step = [
            f"ds_w = {ds}",
            *(f"eps{j} = abar{j} * eps{j} + bbar{j} * ds_w" for j in k),
            f"eps_y = c_ssm * ({' + '.join(f'eps{j}' for j in k)}) + d_ssm * ds_w",
            "x_e = 0",
        ]
        model = "\n".join(["x_e : 1", "ds_w : 1", "eps_y : 1", *(f"eps{j} : 1" for j in k)])
        return Eligibility(
            model=model,
            on_pre="x_e += 1",
            signal=f"psi_post * ({GELU_PRIME.format(y='y_post')}) * eps_y",
            variables=("x_e", "ds_w", "eps_y", *(f"eps{j}" for j in k)),
            step="\n".join(step),
        )

    def operations_per_step(self, channels=1):
        """``3 N + 6``: the input sampler (1), the state's decay and input (2 N), its read-out
        (N + 1), GELU (about 3) and the output sampler (1)."""
        return 3 * self.states + 6

    def reference(self, group, draws=None):
        return PSpikeSSMReference(group, draws)


class PSpikeSSMReference:
    """The P-SpikeSSM step in torch (see :mod:`bimsim.surrogate_bptt`), replaying a run's draws
    (``draws``: ``(steps, n, 2)``, the input and output samplers' uniform numbers)."""

    def __init__(self, group, draws):
        import torch

        if draws is None:
            raise ValueError("the p_spikessm reference replays a run: give its draws")
        self.torch = torch
        self.model = model_of(group)
        self.draws = torch.as_tensor(np.asarray(draws, dtype=float))
        a_bar, b_bar = self.model.decay()
        self.a_bar, self.b_bar = torch.tensor(a_bar)[:, None], torch.tensor(b_bar)[:, None]
        self.k = -1

    def initial(self, n, start=None):
        if start:
            raise ValueError(f"the p_spikessm reference starts at rest, not at {sorted(start)}")
        zeros = self.torch.zeros(n, dtype=self.torch.float64)
        h = self.torch.zeros((self.model.states, n), dtype=self.torch.float64)
        return {"h": h, "I_in": zeros.clone(), "y": zeros.clone(), "v": zeros.clone(),
                "q_out": zeros.clone()}  # fmt: skip

    def advance(self, s, drive):
        m, torch = self.model, self.torch
        self.k += 1
        q_in = m.a_in * (s["I_in"] + drive) + m.b_in
        s_in = straight_through(q_in, self.draws[self.k, :, 0])
        h = self.a_bar * s["h"] + self.b_bar * s_in
        y = m.c * h.sum(0) + m.d * s_in
        v = 0.5 * y * (1 + torch.tanh(0.7978845608028654 * (y + 0.044715 * y**3)))
        q_out = m.a_out * v + m.b_out
        return {"h": h, "I_in": 0 * s["I_in"], "y": y, "v": v, "q_out": q_out}

    def spike(self, s):
        return straight_through(s["q_out"], self.draws[self.k, :, 1])

    def deliver(self, s, current):
        return {**s, "I_in": s["I_in"] + current}

    def reset(self, s, z):
        return s

    def observe(self, s):
        return {"y": s["y"], "v": s["v"], **{f"h{k}": s["h"][k] for k in range(len(s["h"]))}}


def straight_through(q, u):
    """Bernoulli(clip(q, 0, 1)) with the draw ``u``; the gradient 1 with respect to ``q`` inside
    (0, 1), 0 outside (the straight-through estimator)."""
    inside = ((q > 0) & (q < 1)).to(q.dtype)
    sample = (u < q).to(q.dtype)
    return sample.detach() + inside * (q - q.detach())
