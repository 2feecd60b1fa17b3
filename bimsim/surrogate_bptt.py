"""Backpropagation through time for a learning layer: the reference the online traces answer to.

A layer of any neuron model (:mod:`bimsim.neurons`, ``learning=True``) is rewritten as the
discrete-time model that Brian2 computes, by the model's torch reference step
(:meth:`bimsim.neurons.NeuronModel.reference`), and torch autograd differentiates it through the
whole sequence. Per time step ``k``, in Brian2's order:

1. ``groups``: the model's state advances over ``dt`` (``advance``, with the external drive held
   for the step); ``u_out`` decays by ``exp(-dt / tau_readout)``;
2. ``thresholds``: ``z = H(x - θ)`` on what the model's threshold compares (``membrane``), whose
   derivative is replaced by the triangular pseudo-derivative ``ψ`` of the model's height and
   half-width;
3. ``synapses``: the input variable gains ``W_in s_k + W_rec z_k`` (input spikes of step ``k``,
   and the layer's own spikes of step ``k`` through recurrent synapses without delay), each
   weight times ``w_unit`` (``deliver``);
4. ``resets``: the model's reset (``reset``; LIF's membrane jump carries no gradient, as in
   e-prop, its adaptation and TC-LIF's soft reset do), ``u_out += z``;
5. ``end``: the loss gains ``signal_k · u_out``, i.e. ``signal_k = ∂ℓ/∂u_out(t_k)`` is the learning
   signal a readout writes at step ``k`` (zero at steps without a readout).

For one feed-forward layer the eligibility traces of :mod:`bimsim.plasticity.eligibility` give
exactly this gradient (LIF, ALIF, TC-LIF); with recurrent synapses they drop the paths through
other neurons' spikes, and this module measures what that costs. It imports torch, so only code
that needs the reference imports it.
"""

import numpy as np
import torch

from bimsim.neurons.model import model_of, require_learning_layer

__all__ = ["layer_bptt", "reference_spike"]


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


def reference_spike(reference, state):
    """The spike of a model's reference step: the model's own (``spike``, with its own surrogate
    gradient), or a Heaviside step on ``membrane`` with the triangular pseudo-derivative."""
    if hasattr(reference, "spike"):
        return reference.spike(state)
    return _SurrogateSpike.apply(*reference.membrane(state))


def layer_bptt(
    group,
    w_in,
    input_spikes,
    signal,
    *,
    w_rec=None,
    drive=None,
    start=None,
    w_unit=None,
    draws=None,
):
    """Gradient of ``ℓ = Σ_k signal_k · u_out(t_k)`` with respect to the weights, by BPTT.

    Parameters
    ----------
    group : NeuronGroup
        The layer, built with ``learning=True`` (an LIF layer with ``refractory=0*ms``); its
        model, constants and ``dt`` are read from it (nothing is simulated in Brian2).
    w_in : array_like, shape (n, n_in)
        Input weights (dimensionless, times ``w_unit``), ``w_in[i, j]`` from input ``j`` to ``i``.
    input_spikes : array_like, shape (steps, n_in)
        Input spike counts per time step.
    signal : array_like, shape (steps, n)
        ``∂ℓ/∂u_out`` at each step (zero where no readout acts).
    w_rec : array_like, shape (n, n), optional
        Recurrent weights, ``w_rec[i, j]`` from neuron ``j`` to ``i``.
    drive : Quantity, shape (steps, n), optional
        The model's external input (``I_ext``) per step and neuron.
    start : dict, optional
        Initial values of the model's state (LIF: ``{"v": ...}``; default its rest).
    w_unit : Quantity, optional
        What a weight of 1 adds to the input variable (default: the model's).
    draws : array_like, optional
        A stochastic model's random numbers of the run to replay (see its reference).

    Returns
    -------
    dict
        ``loss`` (float), ``grad_in`` (n, n_in), ``grad_rec`` ((n, n) or None) and ``spikes``
        ((steps, n) array of the layer's spikes).
    """
    require_learning_layer(group)
    model = model_of(group)
    if draws is not None:
        expected = (len(signal), len(group), len(model.draws))
        if np.shape(draws) != expected:
            raise ValueError(f"draws must have shape {expected}, got {np.shape(draws)}")
    reference = model.reference(group, draws=draws)
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
    unit = float(model.weight_unit if w_unit is None else w_unit)
    external = np.zeros((steps, n)) if drive is None else np.asarray(drive, dtype=float)
    if external.shape != (steps, n):
        raise ValueError(f"drive must have shape ({steps}, {n}), got {external.shape}")
    w = torch.tensor(w_in, requires_grad=True)
    rec = (
        None if w_rec is None else torch.tensor(np.asarray(w_rec, dtype=float), requires_grad=True)
    )
    state = reference.initial(n, start)
    u = torch.zeros(n, dtype=torch.float64)
    decay = np.exp(-float(group.dt / group.namespace["tau_readout"]))
    inputs, drives, weights = (
        torch.tensor(input_spikes), torch.tensor(external), torch.tensor(signal)
    )  # fmt: skip
    loss, spikes = torch.zeros((), dtype=torch.float64), []
    for k in range(steps):
        state = reference.advance(state, drives[k])
        u = u * decay
        z = reference_spike(reference, state)
        current = unit * (w @ inputs[k])
        if rec is not None:
            current = current + unit * (rec @ z)
        state = reference.reset(reference.deliver(state, current), z)
        u = u + z
        loss = loss + (weights[k] * u).sum()
        spikes.append(z.detach())
    loss.backward()
    return {
        "loss": float(loss.detach()),
        "grad_in": w.grad.numpy(),
        "grad_rec": None if rec is None else rec.grad.numpy(),
        "spikes": torch.stack(spikes).numpy(),
    }
