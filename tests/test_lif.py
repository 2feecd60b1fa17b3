"""The LIF neuron of SPEC eq. 2 against closed-form and quadrature solutions."""

import brian2
import numpy as np
import pytest
from brian2 import (
    Mohm,
    Network,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    ms,
    mV,
    nA,
    second,
)
from scipy.integrate import quad

from bimsim.neurons import lif_neurons


def test_psp_is_the_alpha_kernel_filtered_by_the_membrane():
    tau_m, tau_syn, R_m, w = 20.0, 5.0, 100.0, 0.05  # ms, ms, Mohm, nA
    dt = 0.05 * ms
    source = SpikeGeneratorGroup(1, [0], [1 * ms], dt=dt)
    neuron = lif_neurons(1, tau_m=tau_m * ms, tau_syn=tau_syn * ms, R_m=R_m * Mohm, dt=dt)
    synapse = Synapses(source, neuron, "w : amp", on_pre="x_syn_post += w", dt=dt)
    synapse.connect()
    synapse.w = w * nA
    monitor = StateMonitor(neuron, "v", record=0, dt=dt)
    Network(source, neuron, synapse, monitor).run(60 * ms)

    def alpha_current(s):  # nA
        return w * s / tau_syn * np.exp(1 - s / tau_syn)

    def psp(t):  # mV above rest: (R_m / tau_m) ∫ exp(-(t - s) / tau_m) I(s) ds
        return R_m / tau_m * quad(lambda s: np.exp(-(t - s) / tau_m) * alpha_current(s), 0, t)[0]

    t = np.asarray(monitor.t / ms)
    v = np.asarray((monitor.v[0] - (-65 * mV)) / mV)
    after = t > 1.5
    expected = np.array([psp(ti - 1.0 - dt / ms) for ti in t[after]])
    assert expected.max() > 1.0  # a PSP of a few mV, not a vanishing one
    np.testing.assert_allclose(v[after], expected, atol=1e-3 * expected.max())


def test_firing_rate_matches_lif_theory():
    """Constant current: interspike interval t_ref + tau_m ln(R I / (R I - (θ - v_reset)))."""
    currents = np.array([0.16, 0.2, 0.3, 0.5]) * nA
    neurons = lif_neurons(len(currents), refractory=2 * ms, dt=0.01 * ms)
    neurons.I_ext = currents
    spikes = SpikeMonitor(neurons)
    Network(neurons, spikes).run(1 * second)
    drive = np.asarray(currents * 100 * Mohm / mV)
    isi = 2.0 + 20.0 * np.log(drive / (drive - 15.0))
    measured = np.array([np.diff(spikes.spike_trains()[k] / ms).mean() for k in range(4)])
    np.testing.assert_allclose(measured, isi, atol=0.02)  # within two time steps


def test_each_neuron_integrates_with_its_own_membrane_time_constant():
    """The same current into neurons of τ_m = 10, 20 and 40 ms: each fires at its own LIF rate."""
    taus = np.array([10.0, 20.0, 40.0])
    neurons = lif_neurons(3, tau_m=taus * ms, refractory=2 * ms, dt=0.01 * ms)
    neurons.I_ext = 0.3 * nA
    spikes = SpikeMonitor(neurons)
    Network(neurons, spikes).run(1 * second)
    isi = 2.0 + taus * np.log(30.0 / (30.0 - 15.0))
    measured = np.array([np.diff(spikes.spike_trains()[k] / ms).mean() for k in range(3)])
    np.testing.assert_allclose(measured, isi, atol=0.02)


def test_an_adaptive_threshold_lengthens_each_interval_until_it_settles():
    """ALIF under constant current: the first interval is plain LIF's, each spike raises the
    threshold by β (decaying with τ_a), so intervals lengthen; with β = 0 nothing changes."""
    neurons = lif_neurons(
        1, adaptation=2 * mV, tau_adaptation=100 * ms, refractory=2 * ms, dt=0.01 * ms
    )
    plain = lif_neurons(1, refractory=2 * ms, dt=0.01 * ms)
    for group in (neurons, plain):
        group.I_ext = 0.3 * nA
    fired, fired_plain = SpikeMonitor(neurons), SpikeMonitor(plain)
    Network(neurons, plain, fired, fired_plain).run(1 * second)
    isi = np.diff(fired.spike_trains()[0] / ms)
    isi_plain = np.diff(fired_plain.spike_trains()[0] / ms)
    first_plain = np.asarray(fired_plain.spike_trains()[0] / ms)[0]
    assert np.asarray(fired.spike_trains()[0] / ms)[0] == pytest.approx(first_plain)
    assert np.all(np.diff(isi[:5]) > 0) and isi[-1] > 1.5 * isi_plain[-1]
    np.testing.assert_allclose(isi_plain, isi_plain[0], atol=0.02)
    assert float(neurons.a[0]) > 0 and "a" not in plain.variables


def test_lif_parameters_need_units():
    with pytest.raises(brian2.DimensionMismatchError):
        lif_neurons(1, tau_m=0.02)
    with pytest.raises(ValueError, match="v_threshold"):
        lif_neurons(1, v_threshold=-70 * mV)
    with pytest.raises(ValueError, match=r"tau_m must be one value or 2 values"):
        lif_neurons(2, tau_m=[10, 20, 30] * ms)
    with pytest.raises(ValueError, match="tau_m must be positive"):
        lif_neurons(2, tau_m=[10, 0] * ms)
    # the exact solution divides by tau_m - tau_syn: equal (or nearly) time constants are refused
    # before Brian2 divides by zero or loses the response to rounding
    with pytest.raises(ValueError, match=r"tau_m \(5.02 ms\) must differ from tau_syn \(5. ms\)"):
        lif_neurons(2, tau_m=[20, 5.02] * ms, tau_syn=5 * ms)
    lif_neurons(1, tau_m=5.06 * ms, tau_syn=5 * ms)  # 1.2 % apart: accepted
    with pytest.raises(brian2.DimensionMismatchError):
        lif_neurons(1, adaptation=2.0)
    with pytest.raises(ValueError, match="adaptation must be a finite voltage >= 0"):
        lif_neurons(1, adaptation=-1 * mV)
