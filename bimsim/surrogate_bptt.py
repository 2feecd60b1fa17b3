"""Backpropagation through time for a learning LIF layer: the reference the online traces answer to.

The layer of :func:`bimsim.neurons.lif_neurons` (``learning=True``, no refractory period) is
rewritten as the discrete-time model that Brian2's exact integrator computes, step by step, and
torch autograd differentiates it through the whole sequence. Per time step ``k``, in Brian2's order:

1. ``groups``: the linear state ``(x_syn, I_syn, v - v_rest)`` advances exactly over ``dt`` with
   ``I_ext`` held at its value for the step; ``u_out`` decays by ``exp(-dt / tau_readout)``, an
   adaptive neuron's ``a`` by ``exp(-dt / tau_adaptation)``;
2. ``thresholds``: ``z = H(v - v_threshold - β a)`` (β = ``adaptation``, 0 for plain LIF), whose
   derivative is replaced by the neuron's pseudo-derivative ``psi`` (a triangle of height
   ``pd_scale / v_gap``);
3. ``synapses``: ``x_syn += W_in s_k + W_rec z_k`` (input spikes of step ``k``, and the layer's own
   spikes of step ``k`` through recurrent synapses without delay), each weight times ``w_unit``;
4. ``resets``: ``v -> v_reset`` where ``z = 1`` (a constant jump: no gradient flows through the
   reset, as in e-prop), ``u_out += z``, ``a += z`` (with its gradient, as in e-prop's ALIF);
5. ``end``: the loss gains ``signal_k · u_out``, i.e. ``signal_k = ∂ℓ/∂u_out(t_k)`` is the learning
   signal a readout writes at step ``k`` (zero at steps without a readout).

For one feed-forward layer the eligibility traces of :mod:`bimsim.plasticity.eligibility` give
exactly this gradient; with recurrent synapses they drop the paths through other neurons' spikes,
and this module measures what that costs. It imports torch, so only code that needs the reference
imports it.
"""

import numpy as np
import torch
from brian2 import Quantity, amp, second, volt
from scipy.linalg import expm

from bimsim.neurons.lif import require_learning_layer

__all__ = ["lif_layer_bptt"]


class _SurrogateSpike(torch.autograd.Function):
    """Heaviside step forward, the triangular pseudo-derivative backward."""

    @staticmethod
    def forward(ctx, v, threshold, height, gap):
        ctx.save_for_backward(v)
        ctx.constants = threshold, height, gap
        return (v > threshold).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        threshold, height, gap = ctx.constants
        psi = height * torch.clamp(1 - torch.abs(v - threshold) / gap, 0, 1)
        return grad * psi, None, None, None


def _constants(group):
    """The layer's constants in SI units (plain floats; ``tau_m`` an array, one per neuron),
    checking what the model assumes."""
    require_learning_layer(group)
    ns = group.namespace
    refractory = group._refractory
    if not isinstance(refractory, Quantity) or float(refractory) != 0:
        raise ValueError(
            f"the BPTT reference has no refractory period: build {group.name!r} with "
            "refractory=0*ms"
        )
    names = ("tau_syn", "R_m", "v_rest", "v_threshold", "v_reset", "v_gap", "tau_readout")
    constants = {name: float(np.asarray(ns[name])) for name in names}
    constants["tau_m"] = np.asarray(group.tau_m[:] / second, dtype=float)  # one per neuron
    constants["pd_scale"] = float(ns["pd_scale"])
    # an adaptive threshold (ALIF): β and its decay; β = 0 for plain LIF
    constants["adaptation"] = float(np.asarray(ns.get("adaptation", 0 * volt)))
    constants["tau_adaptation"] = float(np.asarray(ns.get("tau_adaptation", 1 * second)))
    constants["dt"] = float(group.dt / second)
    return constants


def _propagator(c, tau_m):
    """Exact one-step map of ``(x_syn, I_syn, v - v_rest, I_ext)`` with ``I_ext`` constant, for a
    neuron of membrane time constant ``tau_m``."""
    m = np.zeros((4, 4))
    m[0, 0] = -1 / c["tau_syn"]
    m[1, 0], m[1, 1] = np.e / c["tau_syn"], -1 / c["tau_syn"]
    m[2, 1], m[2, 2], m[2, 3] = c["R_m"] / tau_m, -1 / tau_m, c["R_m"] / tau_m
    return expm(m * c["dt"])


def lif_layer_bptt(
    group, w_in, input_spikes, signal, *, w_rec=None, i_ext=None, v_init=None, w_unit=1e-9 * amp
):
    """Gradient of ``ℓ = Σ_k signal_k · u_out(t_k)`` with respect to the weights, by BPTT.

    Parameters
    ----------
    group : NeuronGroup
        The layer, ``lif_neurons(n, learning=True, refractory=0*ms)``; its constants and ``dt`` are
        read from it (nothing is simulated in Brian2).
    w_in : array_like, shape (n, n_in)
        Input weights (dimensionless, times ``w_unit``), ``w_in[i, j]`` from input ``j`` to ``i``.
    input_spikes : array_like, shape (steps, n_in)
        Input spike counts per time step.
    signal : array_like, shape (steps, n)
        ``∂ℓ/∂u_out`` at each step (zero where no readout acts).
    w_rec : array_like, shape (n, n), optional
        Recurrent weights, ``w_rec[i, j]`` from neuron ``j`` to ``i``.
    i_ext : Quantity, shape (steps, n), optional
        External current per step and neuron.
    v_init : Quantity, shape (n,), optional
        Initial membrane potential (default ``v_rest``).
    w_unit : Quantity
        Current of a weight of 1.

    Returns
    -------
    dict
        ``loss`` (float), ``grad_in`` (n, n_in), ``grad_rec`` ((n, n) or None) and ``spikes``
        ((steps, n) array of the layer's spikes).
    """
    c = _constants(group)
    n = len(group)
    w_in = np.asarray(w_in, dtype=float)
    input_spikes = np.asarray(input_spikes, dtype=float)
    signal = np.asarray(signal, dtype=float)
    steps = len(signal)
    if w_in.shape[0] != n or input_spikes.shape != (steps, w_in.shape[1]):
        raise ValueError(
            f"w_in {w_in.shape} and input_spikes {input_spikes.shape} do not fit a layer of {n} "
            f"neurons over {steps} steps"
        )
    if signal.shape != (steps, n):
        raise ValueError(f"signal must have shape ({steps}, {n}), got {signal.shape}")
    unit = float(w_unit / amp)
    current = np.zeros((steps, n)) if i_ext is None else np.asarray(i_ext / amp, dtype=float)
    if current.shape != (steps, n):
        raise ValueError(f"i_ext must have shape ({steps}, {n}), got {current.shape}")
    v0 = np.zeros(n) if v_init is None else np.asarray((v_init - c["v_rest"] * volt) / volt)
    # (3, 4, n): row r of neuron i's propagator, as columns over neurons
    p = torch.tensor(np.stack([_propagator(c, tau)[:3] for tau in c["tau_m"]], axis=-1))
    w = torch.tensor(w_in, requires_grad=True)
    rec = (
        None if w_rec is None else torch.tensor(np.asarray(w_rec, dtype=float), requires_grad=True)
    )
    x, i_syn = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    v = torch.tensor(np.broadcast_to(v0, (n,)).astype(float))
    u = torch.zeros(n, dtype=torch.float64)
    a = torch.zeros(n, dtype=torch.float64)  # the threshold's adaptation (ALIF)
    beta, adapt_decay = c["adaptation"], np.exp(-c["dt"] / c["tau_adaptation"])
    theta, reset = c["v_threshold"] - c["v_rest"], c["v_reset"] - c["v_rest"]
    height, decay = c["pd_scale"] / c["v_gap"], np.exp(-c["dt"] / c["tau_readout"])
    inputs, drive, weights = torch.tensor(input_spikes), torch.tensor(current), torch.tensor(signal)
    loss, spikes = torch.zeros((), dtype=torch.float64), []
    for k in range(steps):
        state = torch.stack([x, i_syn, v, drive[k]])
        x, i_syn, v = (p * state).sum(1).unbind(0)
        u = u * decay
        a = a * adapt_decay
        z = _SurrogateSpike.apply(v - beta * a, theta, height, c["v_gap"])
        x = x + unit * (w @ inputs[k])
        if rec is not None:
            x = x + unit * (rec @ z)
        v = v + z.detach() * (reset - v.detach())
        u = u + z
        a = a + z  # the spike raises the threshold: gradient flows here, unlike the reset
        loss = loss + (weights[k] * u).sum()
        spikes.append(z.detach())
    loss.backward()
    return {
        "loss": float(loss.detach()),
        "grad_in": w.grad.numpy(),
        "grad_rec": None if rec is None else rec.grad.numpy(),
        "spikes": torch.stack(spikes).numpy(),
    }
