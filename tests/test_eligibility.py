"""Eligibility traces in Brian2 against backpropagation through time in torch."""

import brian2
import numpy as np
import pytest
from brian2 import (
    Mohm,
    Network,
    SpikeGeneratorGroup,
    SpikeMonitor,
    TimedArray,
    ms,
    mV,
    nA,
    second,
)
from scipy.linalg import expm

from bimsim.neurons import lif_neurons
from bimsim.plasticity.eligibility import eligibility_synapses

torch = pytest.importorskip("torch")

DT, TAU_M, TAU_SYN, R_M, THETA, PD, TAU_R = 0.1e-3, 20e-3, 5e-3, 100e6, 10e-3, 0.3, 8e-3


def layer_with_signal(weights, pre_steps, pre_indices, signal):
    n_post, n_pre = weights.shape
    pre = SpikeGeneratorGroup(n_pre, pre_indices, pre_steps * DT * second, dt=DT * second)
    post = lif_neurons(
        n_post,
        tau_m=TAU_M * second,
        tau_syn=TAU_SYN * second,
        R_m=R_M / 1e6 * Mohm,
        v_rest=0 * mV,
        v_reset=0 * mV,
        v_threshold=THETA * 1e3 * mV,
        refractory=0 * ms,
        learning=True,
        pd_scale=PD,
        tau_readout=TAU_R * second,
        dt=DT * second,
    )
    drive = TimedArray(signal, dt=DT * second)
    post.run_regularly("L = drive(t, i)", when="start")
    syn = eligibility_synapses(pre, post, w_unit=1 * nA, dt=DT * second)
    syn.connect()
    syn.w = weights[syn.j[:], syn.i[:]] / 1e-9  # in units of w_unit
    spikes = SpikeMonitor(post)
    Network(pre, post, syn, spikes).run(len(signal) * DT * second, namespace={"drive": drive})
    grad = np.zeros_like(weights)
    grad[syn.j[:], syn.i[:]] = np.asarray(syn.grad[:]) / 1e-9  # per ampere
    return grad, spikes.num_spikes


class SurrogateSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v > THETA).double()

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        gap = THETA  # v_threshold - v_rest
        return grad * PD / gap * torch.clamp(1 - torch.abs(v - THETA) / gap, 0, 1)


def torch_bptt(weights, pre_train, signal):
    """L = Σ_t Σ_i signal[t, i] u_i(t), u the filtered spike train a readout sees (+1 per spike,
    decay TAU_R); reset as a constant jump (e-prop's convention)."""
    M = np.array(
        [[-1 / TAU_SYN, 0, 0], [np.e / TAU_SYN, -1 / TAU_SYN, 0], [0, R_M / TAU_M, -1 / TAU_M]]
    )
    P = torch.tensor(expm(M * DT))
    W = torch.tensor(weights, requires_grad=True)
    state = torch.zeros(weights.shape[0], 3, dtype=torch.float64)
    u = torch.zeros(weights.shape[0], dtype=torch.float64)
    loss = torch.zeros((), dtype=torch.float64)
    for k in range(len(signal)):
        state = state @ P.T
        u = u * np.exp(-DT / TAU_R)
        v = state[:, 2]
        z = SurrogateSpike.apply(v)
        x = state[:, 0] + W @ torch.tensor(pre_train[k])
        v = v - (z * v).detach()
        u = u + z
        loss = loss + (torch.tensor(signal[k]) * u).sum()
        state = torch.stack([x, state[:, 1], v], dim=1)
    loss.backward()
    return W.grad.numpy()


def test_trace_gradient_equals_bptt_for_a_feed_forward_layer():
    rng = np.random.default_rng(4)
    n_pre, n_post, steps = 6, 4, 2000
    pre_train = (rng.random((steps, n_pre)) < 0.008).astype(float)  # ~80 Hz
    pre_steps, pre_indices = np.nonzero(pre_train)
    weights = rng.uniform(0.05, 0.4, (n_post, n_pre)) * 1e-9  # amperes
    signal = rng.normal(0, 1, (steps, n_post))
    ours, n_spikes = layer_with_signal(weights, pre_steps, pre_indices, signal)
    assert n_spikes > 20  # the layer is active, so resets and thresholds matter
    reference = torch_bptt(weights, pre_train, signal)
    assert np.linalg.norm(reference) > 0
    np.testing.assert_allclose(ours, reference, rtol=1e-8, atol=1e-12 * np.abs(reference).max())
    assert np.linalg.norm(ours - reference) <= 1e-9 * np.linalg.norm(reference)


def test_eligibility_needs_a_learning_layer():
    plain = lif_neurons(2)
    with pytest.raises(ValueError, match=r"lacks L, psi, u_out.*learning=True"):
        eligibility_synapses(SpikeGeneratorGroup(1, [], [] * ms), plain)


def test_units_of_the_trace_gradient():
    post = lif_neurons(1, learning=True)
    syn = eligibility_synapses(SpikeGeneratorGroup(1, [0], [1 * ms]), post)
    syn.connect()
    syn.w = 0.1
    assert not isinstance(syn.grad[:], brian2.Quantity) and syn.eps[:].dim == mV.dim
