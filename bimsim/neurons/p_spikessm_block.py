"""A whole P-SpikeSSM block (Bal & Sengupta, ICLR 2025) as a layer: the probabilistic SSM neurons
of :mod:`bimsim.neurons.p_spikessm`, the SpikeMixer between them and ClampFuse, online (the causal
kernel only).

Each step, per neuron ``i`` of a layer of ``C`` neurons (each copy of a layer mixes only its own)::

    x_i   = I_in + I_ext                                       the block's input
    s'_i  ~ the P-SpikeSSM neuron on x_i (input sampler, SSM, output sampler)
    m_i   = Σ_j W_ij s'_j                                     the SpikeMixer, across channels
    z_i   = GELU(m_i + b)
    q_i   = a_f (x_i + z_i) + b_f                             ClampFuse: the residual x + z ...
    o_i   ~ Bernoulli(clip(q_i, 0, 1))                        ... clamped by the next sampler

and ``o`` is the layer's spike, the one a readout reads. The paper's clamp is the next block's
input sampler; here the next stage is the readout, so the block ends in that sampler. The mixer's
``W`` (``C x C``, normal with s.d. ``mixer_gain / sqrt(C)``) and ``b`` are fixed from the model's
``seed`` (the paper learns them; so are the neuron's ``Δ``, ``a``, ``b`` here). In Brian2 the mixer
is a summed variable of synapses from the layer onto itself, run within the step: the neurons'
step, the mixer's sum, then the fuse (the ``groups`` slot, orders -3, -2, -1).

Learning (straight-through estimators inside (0, 1), as the paper). A weight ``w_ik`` onto neuron
``i`` reaches the loss by two paths: directly, as part of ``x_i`` in the residual, and through
``s'_i``, which the mixer hands to every neuron ``l`` of the layer::

    ∂o_l/∂w_ik = ψ_l (δ_li ∂x_i/∂w_ik + GELU'(m_l + b) W_li ∂s'_i/∂w_ik),   ψ_l = a_f 1[0 < q_l < 1]

``∂s'_i/∂w_ik`` is the neuron's own exact eligibility (:mod:`bimsim.neurons.p_spikessm`). The direct
path is exact (its trace ``ebar``, learning signal ``L``). The mixer's path would need, per
synapse, a trace for every neuron ``l`` of the layer, since a readout filters each ``o_l`` in time
(``tau_readout``) and the factor ``a_l = ψ_l GELU'(m_l + b)`` varies from step to step.
Instead each synapse filters ``∂s'_i/∂w_ik`` once (``ebar_inner``), each neuron filters its
``a_l`` with the same filter, normalised to a weighted mean ``ā_l`` (``abar_mix / nbar_mix``),
and at each readout step the mixer carries the learning signal back, ``L'_i = Σ_l W_li L_l
ā_l``: the filtered product is taken as the product of the filtered mean and the filtered
trace. That is exact where the readout's filter is shorter than a step, and an approximation
otherwise; against BPTT of the block's reference (the contract test, four seeds, ``tau_readout``
10 ms) it is 0.07 to 0.11 of the gradient's norm off, where the same traces without the mixer's
path are 0.16 to 0.23 off (and the factor taken at the readout step alone, about as far).
"""

from dataclasses import dataclass

import numpy as np
from brian2 import Synapses

from bimsim.neurons.model import Eligibility, copies_of
from bimsim.neurons.p_spikessm import (
    GELU,
    GELU_PRIME,
    PSpikeSSM,
    PSpikeSSMReference,
    straight_through,
)
from bimsim.quantities import require_real, require_seed

__all__ = ["PSpikeSSMBlock"]


@dataclass(frozen=True)
class PSpikeSSMBlock(PSpikeSSM):
    """P-SpikeSSM neurons with the SpikeMixer and ClampFuse between them (see module docstring).

    Parameters
    ----------
    states, step, c, d, a_in, b_in, a_out, b_out
        The neurons' settings (:class:`~bimsim.neurons.PSpikeSSM`).
    seed : int
        Draws the mixer's fixed weights (the same for every run seed).
    mixer_gain : float
        The mixer's weights are normal with s.d. ``mixer_gain / sqrt(C)`` in a layer of ``C``.
    mixer_bias : float
        ``b``, the mixer's bias, the same for every neuron.
    a_fuse, b_fuse : float
        The fuse sampler's ``clip(a_fuse (x + z) + b_fuse, 0, 1)``.
    """

    name = "p_spikessm_block"
    draws = ("u_in", "u_out_draw", "u_fuse")

    seed: int = 0
    mixer_gain: float = 1.0
    mixer_bias: float = 0.0
    a_fuse: float = 1.0
    b_fuse: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        require_seed("seed", self.seed)
        require_real("mixer_gain", self.mixer_gain, above=True)
        for name in ("mixer_bias", "a_fuse", "b_fuse"):
            require_real(name, getattr(self, name), minimum=-np.inf)
        if self.a_fuse == 0:
            raise ValueError("a_fuse must not be 0: the fuse sampler would ignore its input")

    def mixer_weights(self, channels):
        """The mixer's ``W`` for a layer of ``channels`` neurons, ``W[l, i]`` from ``i`` to
        ``l``."""
        rng = np.random.default_rng(self.seed)
        return rng.normal(0, self.mixer_gain / np.sqrt(channels), (channels, channels))

    def equations(self, learning):
        block = """
x_in : 1
s_out : 1
mix : 1
z_mix : 1
q_fuse : 1
u_fuse : 1
"""
        if learning:
            block += f"""
L_inner : 1
abar_mix : 1
nbar_mix : 1
psi_inner = a_out * int(q_out > 0) * int(q_out < 1) : 1
gmix = {GELU_PRIME.format(y="(mix + b_mix)")} : 1
"""
        return super().equations(learning) + block

    def _step(self):
        lines = super()._step()
        if lines[-1] != "I_in = 0":
            raise RuntimeError("the P-SpikeSSM step must end by clearing its input")
        return ["x_in = I_in + I_ext", *lines[:-1], "s_out = int(u_out_draw < q_out)", lines[-1]]

    def threshold(self):
        return "u_fuse < q_fuse"

    def namespace(self):
        return {
            **super().namespace(),
            "b_mix": float(self.mixer_bias),
            "a_fuse": float(self.a_fuse),
            "b_fuse": float(self.b_fuse),
        }

    def initialise(self, group, learning):
        group.run_regularly(
            "\n".join(self._step()), when="groups", order=-3, name=f"{group.name}_step"
        )
        channels = len(group) // copies_of(group)
        model = "w_mix : 1 (constant)\nmix_post = w_mix * s_out_pre : 1 (summed)"
        if learning:
            model += "\nL_inner_pre = w_mix * L_post * abar_mix_post / nbar_mix_post : 1 (summed)"
        mixer = Synapses(
            group, group, model, namespace=group.namespace, clock=group.clock,
            name=f"{group.name}_mixer",
        )  # fmt: skip
        # every neuron of a copy onto every one of it, itself included (a dense layer)
        post, pre = np.indices((channels, channels)).reshape(2, -1)
        offsets = channels * np.arange(copies_of(group))[:, None]
        mixer.connect(i=(offsets + pre).ravel(), j=(offsets + post).ravel())
        weights = self.mixer_weights(channels)
        mixer.w_mix = weights[np.asarray(mixer.j) % channels, np.asarray(mixer.i) % channels]
        # the sum after the neurons' step and before the fuse
        mixer.summed_updaters["mix_post"].order = -2
        if learning:
            # back through the mixer after the readout writes L (end, order 0) and before the
            # synapses add to their gradient (end, order 1)
            backward = mixer.summed_updaters["L_inner_pre"]
            backward.when, backward.order = "end", 0.5
        group.contained_objects.append(mixer)
        fuse = [
            f"z_mix = {GELU.format(y='(mix + b_mix)')}",
            "q_fuse = a_fuse * (x_in + z_mix) + b_fuse",
            "u_fuse = rand()",
        ]
        if learning:  # the weighted mean of ψ GELU' under the readout's filter
            fuse += [
                "abar_mix = abar_mix * exp(-dt / tau_readout)"
                " + a_fuse * int(q_fuse > 0) * int(q_fuse < 1) * gmix",
                "nbar_mix = nbar_mix * exp(-dt / tau_readout) + 1",
            ]
        group.run_regularly("\n".join(fuse), when="groups", order=-1, name=f"{group.name}_fuse")
        group.I_ext = 0
        self.start(group)

    def rest(self):
        names = ["x_in", "s_out", "mix", "z_mix", "q_fuse", "u_fuse"]
        names += ["L_inner", "abar_mix", "nbar_mix"]
        return {**super().rest(), **dict.fromkeys(names, 0)}

    def pseudo_derivative(self):
        return "a_fuse * int(q_fuse > 0) * int(q_fuse < 1)", "1"

    def eligibility(self):
        neuron = super().eligibility()
        inner = f"psi_inner_post * ({GELU_PRIME.format(y='y_post')}) * eps_y"
        return Eligibility(
            model=f"{neuron.model}\ndx_w : 1\nebar_inner : 1",
            on_pre=neuron.on_pre,
            signal="psi_post * dx_w",  # the direct path, x_i in the residual
            after=f"ebar_inner = ebar_inner * exp(-dt / tau_readout) + {inner}",
            step=f"dx_w = w_unit * x_e\n{neuron.step}",
            variables=(*neuron.variables, "dx_w", "ebar_inner"),
            gradient="L_post * ebar + L_inner_post * ebar_inner",
        )

    def operations_per_step(self, channels=1):
        """``3 N + 11 + C``: the neuron's ``3 N + 6``, the mixer's sum over the ``C`` neurons of
        the layer, its GELU (about 3) and the fuse (2)."""
        return super().operations_per_step() + 5 + channels

    def reference(self, group, draws=None):
        return PSpikeSSMBlockReference(group, draws)


class PSpikeSSMBlockReference(PSpikeSSMReference):
    """The block's step in torch (see :mod:`bimsim.surrogate_bptt`), replaying a run's draws
    (``draws``: ``(steps, n, 3)``, the input, output and fuse samplers' uniform numbers)."""

    def __init__(self, group, draws):
        super().__init__(group, draws)
        copies = copies_of(group)
        self.shape = (copies, len(group) // copies)
        self.w = self.torch.tensor(self.model.mixer_weights(self.shape[1]))

    def initial(self, n, start=None):
        zeros = self.torch.zeros(n, dtype=self.torch.float64)
        names = ("x_in", "s_out", "mix", "q_fuse")
        return {**super().initial(n, start), **{name: zeros.clone() for name in names}}

    def advance(self, s, drive):
        m, torch = self.model, self.torch
        x = s["I_in"] + drive
        state = super().advance(s, drive)
        s_out = straight_through(state["q_out"], self.draws[self.k, :, 1])
        mix = (s_out.reshape(self.shape) @ self.w.T).reshape(-1)
        y = mix + m.mixer_bias
        z = 0.5 * y * (1 + torch.tanh(0.7978845608028654 * (y + 0.044715 * y**3)))
        q_fuse = m.a_fuse * (x + z) + m.b_fuse
        return {**state, "x_in": x, "s_out": s_out, "mix": mix, "q_fuse": q_fuse}

    def spike(self, s):
        return straight_through(s["q_fuse"], self.draws[self.k, :, 2])

    def observe(self, s):
        names = ("x_in", "s_out", "mix", "q_fuse")
        return {**super().observe(s), **{name: s[name] for name in names}}
