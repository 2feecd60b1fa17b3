"""Delta modulation in Brian2 against a step-by-step numpy reading of its definition."""

import numpy as np
import pytest
from brian2 import Network, SpikeMonitor, ms, mV, second

from bimsim.encoding import DeltaModulator


def reference(signal, delta, steps, dt, sample_dt):
    """Up and down spike steps of one channel, straight from the module's definition."""
    ref = signal[0]
    up, down = [], []
    for k in range(steps):
        x = signal[min(int(k * dt / sample_dt + 1e-9), len(signal) - 1)]
        if x - ref > delta:
            up.append(k)
            ref += delta
        elif ref - x > delta:
            down.append(k)
            ref -= delta
    return up, down


def test_spikes_follow_the_definition_and_reconstruct_the_signal():
    rng = np.random.default_rng(0)
    samples, copies = 360, 3
    sample_dt = 1 / 360  # s
    t = np.arange(samples) * sample_dt
    signal = np.stack(
        [np.sin(2 * np.pi * (1 + c) * t) + 0.1 * rng.normal(size=samples) for c in range(copies)],
        axis=1,
    )[:, :, None]  # mV, one channel
    delta, dt = 0.05, 0.5e-3
    encoder = DeltaModulator(1, delta * mV, copies=copies, dt=dt * second)
    namespace = encoder.set_signal(signal * mV, sample_dt * second)
    monitor = SpikeMonitor(encoder.group)
    steps = round(samples * sample_dt / dt)
    Network(encoder.group, monitor).run(steps * dt * second, namespace=namespace)
    trains = monitor.spike_trains()
    for c in range(copies):
        up, down = reference(signal[:, c, 0], delta, steps, dt, sample_dt)
        got_up = np.round(trains[2 * c] / (dt * second)).astype(int)
        got_down = np.round(trains[2 * c + 1] / (dt * second)).astype(int)
        assert list(got_up) == up and list(got_down) == down
        assert len(up) > 20 and len(down) > 20
        # the running sum of +delta/-delta (the reference) follows the signal
        level = np.zeros(steps)
        np.add.at(level, up, delta)
        np.add.at(level, down, -delta)
        rebuilt = signal[0, c, 0] + np.cumsum(level)
        x = signal[np.minimum((np.arange(steps) * dt / sample_dt).astype(int), samples - 1), c, 0]
        assert np.median(np.abs(rebuilt - x)) <= delta
        assert np.mean(np.abs(rebuilt - x) <= 3 * delta) > 0.9


def test_a_constant_from_a_zero_start_is_a_count_code():
    encoder = DeltaModulator(2, 0.1 * mV, copies=1, dt=1 * ms)
    values = np.tile([0.55, 0.25], (20, 1, 1)) * mV
    namespace = encoder.set_signal(values, 1 * ms, start=np.zeros((1, 2)) * mV)
    monitor = SpikeMonitor(encoder.group)
    Network(encoder.group, monitor).run(20 * ms, namespace=namespace)
    assert list(monitor.count) == [5, 0, 2, 0]  # floor-ish(value / delta), up neurons only


def test_every_run_encodes_its_own_signal_from_its_first_sample():
    # the network's clock goes on from run to run; each run after a set_signal must still read
    # its signal from the start (a signal read at the absolute time would, from the second run
    # on, hold its last sample: one burst at the start and nothing of its shape)
    rng = np.random.default_rng(1)
    samples, sample_dt, delta, dt = 200, 1e-3, 0.05, 1e-3
    encoder = DeltaModulator(1, delta * mV, copies=1, dt=dt * second)
    monitor = SpikeMonitor(encoder.group)
    net = Network(encoder.group, monitor)
    for run in range(3):
        signal = np.cumsum(rng.normal(0, 0.1, samples))[:, None, None]
        namespace = encoder.set_signal(signal * mV, sample_dt * second)
        start, before = net.t, monitor.num_spikes
        net.run(samples * sample_dt * second, namespace=namespace)
        steps = np.round((monitor.t[before:] - start) / (dt * second)).astype(int)
        neurons = np.asarray(monitor.i[before:])
        up, down = reference(signal[:, 0, 0], delta, samples, dt, sample_dt)
        assert list(steps[neurons == 0]) == up, run
        assert list(steps[neurons == 1]) == down, run
        assert len(up) > 10 and len(down) > 10


def test_bad_signals_are_refused():
    encoder = DeltaModulator(2, 0.1 * mV, copies=2)
    with pytest.raises(ValueError, match=r"shape \(samples, 2, 2\)"):
        encoder.set_signal(np.zeros((10, 2)) * mV, 1 * ms)
    with pytest.raises(Exception, match="values must be a voltage"):
        encoder.set_signal(np.zeros((10, 2, 2)), 1 * ms)
    with pytest.raises(ValueError, match="values must be finite"):
        encoder.set_signal(np.full((10, 2, 2), np.nan) * mV, 1 * ms)
    with pytest.raises(ValueError, match="delta must be positive"):
        DeltaModulator(1, -0.1 * mV)
