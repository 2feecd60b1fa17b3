"""Eligibility traces in Brian2 against backpropagation through time in torch."""

import brian2
import numpy as np
import pytest
from brian2 import SpikeGeneratorGroup, ms, mV, nA

from bimsim.gradient_check import (
    RECURRENT_LAYER,
    gradient_agreement,
    recurrent_trace_error,
    trace_gradients,
)
from bimsim.neurons import lif_neurons
from bimsim.plasticity.eligibility import eligibility_synapses
from bimsim.surrogate_bptt import layer_bptt

NEURON = {**RECURRENT_LAYER, "tau_readout": 8 * ms}


def random_problem(seed, n_pre=6, n_post=4, steps=2000):
    rng = np.random.default_rng(seed)
    input_spikes = (rng.random((steps, n_pre)) < 0.008).astype(float)  # ~80 Hz
    w_in = rng.uniform(0.05, 0.4, (n_post, n_pre))
    signal = rng.normal(0, 1, (steps, n_post))
    return rng, w_in, input_spikes, signal


def both_ways(w_in, input_spikes, signal, i_ext=None, v_init=None, **kwds):
    ours = trace_gradients(w_in, input_spikes, signal, i_ext=i_ext, v_init=v_init, **kwds, **NEURON)
    kwds.pop("dt", None)
    start = None if v_init is None else {"v": v_init}
    reference = layer_bptt(
        ours["layer"], w_in, input_spikes, signal, drive=i_ext, start=start, **kwds
    )
    np.testing.assert_array_equal(ours["spikes"], reference["spikes"])  # same forward pass
    return ours, reference


def test_trace_gradient_equals_bptt_for_a_feed_forward_layer():
    _, w_in, input_spikes, signal = random_problem(4)
    ours, reference = both_ways(w_in, input_spikes, signal)
    assert ours["spikes"].sum() > 20  # the layer is active, so resets and thresholds matter
    agreement = gradient_agreement(ours["grad_in"], reference["grad_in"])
    assert agreement["max_relative"] < 1e-8 and agreement["norm_relative"] < 1e-9


def test_a_layer_driven_by_current_and_starting_depolarised_is_exact_too():
    rng, w_in, input_spikes, signal = random_problem(5, steps=1500)
    i_ext = rng.uniform(0, 0.15, (1500, 4)) * nA
    ours, reference = both_ways(w_in, input_spikes, signal, i_ext=i_ext, v_init=6 * mV)
    assert ours["spikes"].sum() > 20
    assert gradient_agreement(ours["grad_in"], reference["grad_in"])["max_relative"] < 1e-8


def test_a_layer_of_unequal_membrane_time_constants_is_exact_too():
    """Each trace filters through its own neuron's membrane (``tau_m_post``): a shared tau_m in
    the traces, or in the reference, would change the gradient or the spikes."""
    _, w_in, input_spikes, signal = random_problem(6)
    neuron = {**NEURON, "tau_m": [4, 12, 30, 90] * ms}
    ours = trace_gradients(w_in, input_spikes, signal, **neuron)
    reference = layer_bptt(ours["layer"], w_in, input_spikes, signal)
    np.testing.assert_array_equal(ours["spikes"], reference["spikes"])
    assert np.all(ours["spikes"].sum(axis=0) > 5)  # every neuron, fast or slow, fires
    agreement = gradient_agreement(ours["grad_in"], reference["grad_in"])
    assert agreement["max_relative"] < 1e-8 and agreement["norm_relative"] < 1e-9


def test_an_adaptive_layer_alif_is_exact_too():
    """ALIF: the traces carry the threshold's path (ε_a); dropping it, or the adaptation in the
    reference, changes the gradient far beyond the tolerance."""
    _, w_in, input_spikes, signal = random_problem(8, steps=3000)
    neuron = {**NEURON, "adaptation": 3 * mV, "tau_adaptation": 60 * ms}
    ours = trace_gradients(w_in, input_spikes, signal, **neuron)
    reference = layer_bptt(ours["layer"], w_in, input_spikes, signal)
    np.testing.assert_array_equal(ours["spikes"], reference["spikes"])
    plain = trace_gradients(w_in, input_spikes, signal, **NEURON)
    assert ours["spikes"].sum() < 0.9 * plain["spikes"].sum()  # the adaptation acts
    assert ours["spikes"].sum() > 20
    agreement = gradient_agreement(ours["grad_in"], reference["grad_in"])
    assert agreement["max_relative"] < 1e-8 and agreement["norm_relative"] < 1e-9


def test_recurrent_traces_are_exact_at_zero_recurrent_weight_and_approximate_otherwise():
    """With recurrent weights the local traces drop the paths through other neurons' spikes.

    At zero recurrent weight those paths carry nothing and every gradient is exact (the recurrent
    weights' own gradient included); the error then grows with the recurrent weights
    (protocols/eligibility_error.py reports the sweep).
    """
    ds = recurrent_trace_error([0.0, 0.001, 0.01], [0, 1], steps=300)
    for kind in ("input", "recurrent"):
        error = ds[f"{kind}_norm_relative"]
        assert np.all(error.sel(scale=0.0) < 1e-9)
        assert np.all(error.sel(scale=0.001) > 1e-3) and np.all(error.sel(scale=0.001) < 0.3)
        assert np.all(ds[f"{kind}_cosine"].sel(scale=0.001) > 0.95)
        assert np.all(error.sel(scale=0.01) > error.sel(scale=0.001))
    assert np.all(ds.rate > 10)  # the layer is active


def test_the_bptt_reference_refuses_a_refractory_layer():
    layer = lif_neurons(2, learning=True, refractory=2 * ms)
    with pytest.raises(ValueError, match="refractory"):
        layer_bptt(layer, np.ones((2, 1)), np.zeros((5, 1)), np.zeros((5, 2)))


def test_trace_gradients_names_a_bad_input():
    _, w_in, input_spikes, signal = random_problem(7, steps=50)
    with pytest.raises(ValueError, match="signal holds NaN"):
        trace_gradients(w_in, input_spikes, np.where(signal > 1, np.nan, signal))
    with pytest.raises(ValueError, match=r"input_spikes must have shape \(50, 6\)"):
        trace_gradients(w_in, input_spikes[:, :3], signal)


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
