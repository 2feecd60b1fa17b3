"""The neuron-model contract (bimsim.neurons.model), checked for every model: units, the response
to step and pulse input against the model's discrete-time reference, eligibility traces against
BPTT of the reference, runtime against cpp_standalone, and the reset between sequences."""

import brian2
import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, TimedArray, ms, mV
from brian2.core.variables import ArrayVariable

from bimsim.devices import simulation_device
from bimsim.gradient_check import gradient_agreement, trace_gradients
from bimsim.network import BIMNetwork
from bimsim.neurons import (
    ELM,
    LIF,
    NEURONS,
    TCLIF,
    PSpikeSSM,
    PSpikeSSMBlock,
    make_neuron,
    model_of,
    neuron_group,
)
from bimsim.plasticity.eligibility import eligibility_synapses

DT = 1 * ms

#: Every model, and the variants whose traces differ (ALIF; TC-LIF with a detached reset). LIF
#: without a refractory period: the reference has none.
MODELS = {
    "lif": LIF(refractory=0 * ms, v_rest=0 * mV, v_reset=0 * mV, v_threshold=10 * mV),
    "alif": LIF(
        refractory=0 * ms, v_rest=0 * mV, v_reset=0 * mV, v_threshold=10 * mV, adaptation=2 * mV
    ),
    "tc_lif": TCLIF(),
    "tc_lif_detached": TCLIF(detach_reset=True),
    "p_spikessm": PSpikeSSM(),
    "p_spikessm_block": PSpikeSSMBlock(),
    "elm": ELM(),
}

#: Settings each model must refuse: (settings, exception, message).
BAD = {
    "lif": [
        ({"tau_m": 0.02}, brian2.DimensionMismatchError, "tau_m must be a time"),
        ({"v_threshold": -70 * mV}, ValueError, "v_threshold"),
        ({"refractory": -1 * ms}, ValueError, "refractory must be >= 0 ms"),
    ],
    "tc_lif": [
        ({"v_threshold": 1 * mV}, ValueError, "v_threshold must be a finite number"),
        ({"beta1": 0.5}, ValueError, r"beta1 \(β₁ = -σ\(c₁\)\) must lie in \(-1, 0\)"),
        ({"beta2": 1.0}, ValueError, r"beta2 \(β₂ = σ\(c₂\)\) must lie in \(0, 1\)"),
        ({"detach_reset": 1}, TypeError, "detach_reset must be True or False"),
    ],
    "p_spikessm": [
        ({"states": 0}, ValueError, r"states must be a whole number in \[1, 16\]"),
        ({"states": 2.0}, ValueError, "states must be a whole number"),
        ({"step": 0.0}, ValueError, "step must be a finite number above 0"),
        ({"a_out": 0.0}, ValueError, "a_out must not be 0"),
        ({"b_in": float("nan")}, ValueError, "b_in must be a finite number"),
    ],
    "p_spikessm_block": [
        ({"states": 17}, ValueError, r"states must be a whole number in \[1, 16\]"),
        ({"seed": 1.5}, ValueError, "seed must be a whole number in \\[0, 4294967295\\]"),
        ({"mixer_gain": 0.0}, ValueError, "mixer_gain must be a finite number above 0"),
        ({"a_fuse": 0.0}, ValueError, "a_fuse must not be 0"),
        ({"b_fuse": float("inf")}, ValueError, "b_fuse must be a finite number"),
    ],
    "elm": [
        ({"memory_units": 17}, ValueError, r"memory_units must be a whole number in \[1, 16\]"),
        ({"tau_synapse": 5.0}, brian2.DimensionMismatchError, "tau_synapse must be a time"),
        ({"tau_memory_min": 0 * ms}, ValueError, "tau_memory_min must be positive"),
        ({"tau_memory_max": 0.5 * ms}, ValueError, "tau_memory_max .* must not be below"),
        ({"lam": 0.0}, ValueError, "lam must be a finite number above 0"),
        ({"seed": -1}, ValueError, "seed must be a whole number in \\[0, 4294967295\\]"),
    ],
}


def test_every_model_is_registered_and_checked():
    assert set(NEURONS) == set(BAD)
    with pytest.raises(
        ValueError, match=r"'izh'; choose one of lif, tc_lif, p_spikessm, p_spikessm_block, elm"
    ):
        make_neuron("izh")
    with pytest.raises(ValueError, match=r"the tc_lif neuron has no setting 'tau_m'; its settings"):
        make_neuron("tc_lif", {"tau_m": 20 * ms})


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_settings_are_refused_naming_the_culprit(name):
    make_neuron(name)  # the defaults are valid
    for settings, error, match in BAD[name]:
        with pytest.raises(error, match=match):
            make_neuron(name, settings)


def drive_of(model, steps, rng):
    """A step of external input from step 20, and input spikes (two pulses and noise)."""
    drive = np.zeros((steps, 2))
    drive[20:] = {"tc_lif": [0.02, 0.05], "elm": [0.2, 0.3]}.get(model.name, [0.1, 0.14])
    spikes = (rng.random((steps, 3)) < 0.05).astype(float)
    spikes[[5, 60], 0] = 1
    return drive, spikes


def reference_run(model, group, w_in, drive, spikes, draws=None):
    """The model's reference step, without gradients (a stochastic model replaying ``draws``):
    each step's observed state and spikes."""
    import torch

    from bimsim.surrogate_bptt import reference_spike

    reference = model.reference(group, draws=draws)
    state = reference.initial(len(group))
    unit = float(model.weight_unit)  # SI
    observed, fired = [], []
    with torch.no_grad():
        for k in range(len(spikes)):
            state = reference.advance(state, torch.tensor(drive[k] * unit))
            z = reference_spike(reference, state)
            current = unit * (torch.tensor(w_in) @ torch.tensor(spikes[k]))
            state = reference.reset(reference.deliver(state, current), z)
            observed.append(
                {key: value.numpy().copy() for key, value in reference.observe(state).items()}
            )
            fired.append(z.numpy())
    return observed, np.array(fired)


def observed(model):
    """The group variables the model's reference observes (read from a runtime group: a
    standalone one has no values before its run)."""
    brian2.set_device("runtime")
    draws = np.zeros((1, 2, len(model.draws))) if model.stochastic else None
    reference = model.reference(neuron_group(model, 2, learning=True, dt=DT), draws=draws)
    return list(reference.observe(reference.initial(2)))


def brian_run(model, w_in, drive, spikes, device="runtime"):
    """A learning layer of the model in Brian2 on ``device``: its variables at the end of every
    step, its spikes, its eligibility synapses' gradient for a learning signal of 1, the group,
    and a stochastic model's draws ``(steps, 2, k)``."""
    steps = len(spikes)
    name = f"contract-{model.name}"
    names = observed(model)
    with simulation_device(device, name) as sim:
        group = neuron_group(model, 2, learning=True, dt=DT, name="layer")
        unit = model.weight_unit
        group.run_regularly("I_ext = drive(t, i) * unit", when="start", name="layer_drive")
        group.run_regularly("L = 1", when="start", name="layer_signal")
        step, index = np.nonzero(spikes)
        inputs = SpikeGeneratorGroup(3, index, step * DT, dt=DT, name="inputs")
        synapses = eligibility_synapses(inputs, group, dt=DT, name="feed")
        post, pre = (index.ravel() for index in np.indices(w_in.shape))
        synapses.connect(i=pre, j=post)  # known before a standalone run
        synapses.w = w_in[post, pre]
        recorded = [*names, *model.draws]
        monitor = StateMonitor(group, recorded, record=True, when="end", order=10, name="states")
        fired = SpikeMonitor(group, name="fired")
        sim.run(
            Network(group, inputs, synapses, monitor, fired),
            steps * DT,
            namespace={"drive": TimedArray(drive, dt=DT), "unit": unit},
        )
        states = {key: np.array(getattr(monitor, f"{key}_")) for key in names}
        draws = None
        if model.stochastic:
            draws = np.stack([np.array(getattr(monitor, d)).T for d in model.draws], axis=-1)
        grad = np.zeros_like(w_in)
        grad[post, pre] = np.array(synapses.grad[:])
        z = np.zeros((steps, 2))
        z[np.round(np.asarray(fired.t / DT)).astype(int), np.asarray(fired.i)] = 1
        return states, z, grad, group, draws


@pytest.mark.parametrize("name", sorted(MODELS))
def test_response_to_step_and_pulse_input_equals_the_reference(name):
    """Brian2's group and the model's discrete-time reference, step by step: every state
    variable to 1e-9 of its range, and the same spikes."""
    model = MODELS[name]
    rng = np.random.default_rng(1)
    drive, spikes = drive_of(model, 300, rng)
    w_in = rng.uniform(0.1, 0.6, (2, 3))
    states, fired, _, group, draws = brian_run(model, w_in, drive, spikes)
    observed, fired_ref = reference_run(model, group, w_in, drive, spikes, draws)
    assert fired.sum() > 3 and 0 < fired[:, 0].sum()  # a response with spikes, not silence
    np.testing.assert_array_equal(fired, fired_ref)
    for key, values in states.items():
        expected = np.array([o[key] for o in observed]).T
        scale = np.abs(expected).max()
        assert scale > 0, key
        np.testing.assert_allclose(values, expected, atol=1e-9 * scale, rtol=0, err_msg=key)


def trace_error(model, seed=2, tau_readout=10 * ms):
    """One feed-forward layer of ``model``: how far its online traces' gradient is from BPTT of
    the model's reference (:func:`bimsim.gradient_check.gradient_agreement`)."""
    from bimsim.surrogate_bptt import layer_bptt

    rng = np.random.default_rng(seed)
    steps = 600
    spikes = (rng.random((steps, 5)) < 0.08).astype(float)
    w_in = rng.uniform(0.05, 0.6, (4, 5))
    signal = rng.normal(0, 1, (steps, 4))
    brian2.seed(seed)  # a stochastic model's draws
    ours = trace_gradients(w_in, spikes, signal, model=model, dt=DT, tau_readout=tau_readout)
    reference = layer_bptt(ours["layer"], w_in, spikes, signal, draws=ours["draws"])
    np.testing.assert_array_equal(ours["spikes"], reference["spikes"])
    assert ours["spikes"].sum(axis=0).min() > 3
    return gradient_agreement(ours["grad_in"], reference["grad_in"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_eligibility_traces_equal_bptt_of_the_reference(name):
    """One feed-forward layer: the online traces give the gradient that torch autograd gives
    through the model's reference, exactly; P-SpikeSSM's block where the readout's filter is
    shorter than a step (its mixer's path is approximate otherwise: see below)."""
    tau_readout = 1 * brian2.us if name == "p_spikessm_block" else 10 * ms
    assert trace_error(MODELS[name], tau_readout=tau_readout)["max_relative"] < 1e-9


def test_the_block_s_mixer_path_is_approximate_and_worth_its_traces():
    """At the readout's filter of 10 ms, the block's traces (the mixer's factor as a filtered
    mean) against BPTT, over four seeds: within 0.15 of the gradient's norm each, and clearly
    closer than the same traces without the mixer's path (measured: 0.07 to 0.11 against 0.16 to
    0.23), which the exact test above would also fail."""
    from dataclasses import dataclass, replace

    @dataclass(frozen=True)
    class WithoutMixerPath(PSpikeSSMBlock):
        def eligibility(self):
            return replace(super().eligibility(), gradient="L_post * ebar")

    block = [trace_error(PSpikeSSMBlock(), seed)["norm_relative"] for seed in range(4)]
    without = [trace_error(WithoutMixerPath(), seed)["norm_relative"] for seed in range(4)]
    exact = trace_error(WithoutMixerPath(), tau_readout=1 * brian2.us)["norm_relative"]
    print(f"block {np.round(block, 3)}, without the mixer's path {np.round(without, 3)}")
    assert max(block) < 0.15 and np.mean(block) < 0.7 * np.mean(without)
    assert exact > 0.05


def test_tc_lif_traces_through_the_reset_differ_from_detached_ones():
    """The reset's gradient path acts: both variants are exact for their own reference, and they
    differ from each other (so the test above could fail for a trace that dropped it)."""
    rng = np.random.default_rng(2)
    spikes = (rng.random((600, 5)) < 0.08).astype(float)
    w_in = rng.uniform(0.05, 0.6, (4, 5))
    signal = rng.normal(0, 1, (600, 4))
    through = trace_gradients(w_in, spikes, signal, model=MODELS["tc_lif"], dt=DT)["grad_in"]
    detached = trace_gradients(w_in, spikes, signal, model=MODELS["tc_lif_detached"], dt=DT)
    assert gradient_agreement(detached["grad_in"], through)["norm_relative"] > 0.05


def test_below_threshold_tc_lif_holds_a_pulse_in_an_undamped_rotation():
    """One pulse and no spike: the (U_D, U_S) map has determinant 1, so the oscillation it starts
    keeps its amplitude for 2000 steps (LIF's response decays with tau_m)."""
    model = TCLIF()
    spikes = np.zeros((2000, 3))
    spikes[3, 0] = 1
    w_in = np.full((2, 3), 0.5)
    states, fired, *_ = brian_run(model, w_in, np.zeros((2000, 2)), spikes)
    assert fired.sum() == 0
    u_s = states["U_S"][0]
    first, last = np.abs(u_s[5:105]).max(), np.abs(u_s[-100:]).max()
    assert first > 0.2 and last == pytest.approx(first, rel=1e-3)


def test_an_elm_neuron_forgets_once_its_input_stops():
    """The fixed dendrites make the memory's loop a contraction: 5 s after a 1 s input, every
    memory unit is back near rest, for each of ten seeds (drawn as they come, half of them hold a
    unit at 5 or more for ever)."""
    import torch

    for seed in range(10):
        model = ELM(seed=seed)
        reference = model.reference(neuron_group(model, 1, dt=DT))
        state = reference.initial(1)
        with torch.no_grad():
            for k in range(6000):
                state = reference.advance(state, torch.tensor([0.2 if k < 1000 else 0.0]))
                if k == 999:
                    assert state["m"].abs().max() > 0.05  # the input moved the memory
        assert state["m"].abs().max() < 2e-3, seed


@pytest.mark.standalone
@pytest.mark.slow
@pytest.mark.parametrize("name", ["alif", "tc_lif", "p_spikessm", "p_spikessm_block", "elm"])
def test_runtime_equals_cpp_standalone(name):
    """The learning layer with its eligibility synapses (no network operation) on both devices:
    the same states, spikes and gradients. A stochastic model draws other random numbers on
    each device: there, each device's run equals the reference replaying its own draws."""
    model = MODELS[name]
    rng = np.random.default_rng(3)
    drive, spikes = drive_of(model, 200, rng)
    w_in = rng.uniform(0.1, 0.6, (2, 3))
    runs = [
        brian_run(model, w_in, drive, spikes, device=device)
        for device in ("runtime", "cpp_standalone")
    ]
    if model.stochastic:
        for states, fired, _, group, draws in runs:
            observed, fired_ref = reference_run(model, group, w_in, drive, spikes, draws)
            assert fired.sum() > 10
            np.testing.assert_array_equal(fired, fired_ref)
            for key, values in states.items():
                expected = np.array([o[key] for o in observed]).T
                np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-12)
        assert not np.array_equal(runs[0][4], runs[1][4])  # the draws are each device's own
        return
    (states, fired, grad, *_), (states_sa, fired_sa, grad_sa, *_) = runs
    np.testing.assert_array_equal(fired, fired_sa)
    assert np.abs(grad).max() > 0
    np.testing.assert_allclose(grad_sa, grad, rtol=1e-9, atol=1e-12)
    for key in states:
        np.testing.assert_allclose(states_sa[key], states[key], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_every_sequence_starts_at_the_model_s_rest(name):
    """A BIM network of the model: the same sequence after another gives the same loss and
    spikes as on its own, and the reset puts every variable back at the model's rest."""
    rng = np.random.default_rng(4)

    def sequence():
        indices = np.repeat(np.arange(4), 15)
        times = np.concatenate([rng.choice(300, 15, replace=False) for _ in range(4)]) * ms
        return indices, times

    first, other = sequence(), sequence()
    targets = [0] * 30
    settings = {"w_init": (0.3, 0.9)} if name != "lif" else {}
    net = BIMNetwork(4, 3, 2, neuron=name, dt=DT, readout_dt=10 * DT, seed=0, **settings)
    brian2.seed(7)  # a stochastic model's draws, the same for both runs of the sequence
    alone = net.run_sequence(*first, 300 * ms, targets, learn=False)
    spikes_alone = net.dataset().spikes.values[-1]
    net.run_sequence(*other, 300 * ms, targets, learn=False)
    brian2.seed(7)
    again = net.run_sequence(*first, 300 * ms, targets, learn=False)
    assert spikes_alone > 0
    assert again == alone and net.dataset().spikes.values[-1] == spikes_alone
    # every state variable of the layer and every trace of its synapses is one the reset sets
    # (a variable a model forgot in its rest would carry over from sequence to sequence) ...
    model = model_of(net.layer)
    kept = {"I_ext", "L", "u_out", "lastspike", "not_refractory"}  # set elsewhere
    state = {
        key for key, var in net.layer.variables.items()
        if isinstance(var, ArrayVariable) and var.owner.name == net.layer.name
        and not var.constant and not key.startswith("_") and key not in ("i", "N")
    }  # fmt: skip
    assert state - kept <= set(model.rest()), state - kept - set(model.rest())
    traces = {*model.eligibility().variables, *network_traces()}
    learned = {"w", "lastupdate", "opt_m", "opt_v", "opt_n"}
    synaptic = {
        key for key, var in net.synapses.variables.items()
        if isinstance(var, ArrayVariable) and var.owner.name == net.synapses.name
        and not var.constant and not key.startswith(("_", "N_"))
        and key not in ("i", "j", "N", "delay")
    }  # fmt: skip
    assert synaptic - learned <= traces, synaptic - learned - traces
    # ... and after a learning sequence, which leaves them away from rest, it does
    net.run_sequence(*first, 300 * ms, targets, learn=True)
    moved = [key for key in synaptic - learned if np.any(net.synapses.variables[key].get_value())]
    assert moved  # the traces did move
    net._reset_state()
    for key in synaptic - learned:
        np.testing.assert_array_equal(net.synapses.variables[key].get_value(), 0, err_msg=key)
    for key, value in model.rest().items():
        if key in net.layer.variables:
            np.testing.assert_array_equal(net.layer.variables[key].get_value(), float(value))


def network_traces():
    from bimsim.network import _TRACES

    return _TRACES


def test_a_model_constant_that_the_synapses_also_name_is_refused():
    """A model's constants and the synapses' (an optimiser's beta1, STDP's tau_plus) share one
    namespace: a clash would silently change the traces, so it is an error."""
    from dataclasses import dataclass

    from bimsim.plasticity.hybrid import hybrid_synapses
    from bimsim.plasticity.optimizers import Optimizer
    from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule

    @dataclass(frozen=True)
    class Clashing(TCLIF):
        def namespace(self):
            return {**super().namespace(), "beta1": self.beta1}

    layer = neuron_group(Clashing(), 2, learning=True, dt=DT)
    with pytest.raises(ValueError, match=r"names constants beta1 that the hybrid rule"):
        hybrid_synapses(
            layer, layer, pair_rule(**PAIR_DEFAULTS), lam=1.0, eta=0.1,
            optimizer=Optimizer("adam"),
        )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("neuron", ["tc_lif", "p_spikessm", "p_spikessm_block", "elm"])
@pytest.mark.parametrize("task", ["ecg", "eeg", "speech", "lm"])
def test_every_task_runs_bim_with_another_neuron(run_script, tmp_path, task, neuron):
    """``--neuron`` on every task: it trains, predicts and saves which neuron it used."""
    from bimsim.io import read_dataset

    out = tmp_path / f"{task}.nc"
    result = run_script(f"bimsim/tasks/{task}.py", "--quick", "--models", "bim", "--neuron",
                        neuron, "--no-progress", "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    ds = read_dataset(out)
    assert ds.attrs["bim_neuron"] == neuron
    assert np.all(ds.macs_per_sample > 0)  # and no NaN: a dataset with one is never written


def sampler_run(q, steps=2000, n=100, seed=3, model=None):
    """A P-SpikeSSM layer (or ``model``, a block) whose input sampler sees ``q`` every step
    (``I_ext``), and whose output sampler (the block's: its fuse) sees a probability that its
    state makes vary: the input sampler's spikes, the layer's, and their probabilities."""
    brian2.seed(seed)
    model = model or PSpikeSSM()
    output = "q_fuse" if isinstance(model, PSpikeSSMBlock) else "q_out"
    group = neuron_group(model, n, copies=n // 10, dt=DT)
    group.I_ext = q
    monitor = StateMonitor(group, ["s_in", output], record=True, when="end")
    fired = SpikeMonitor(group)
    Network(group, monitor, fired).run(steps * DT)
    z = np.zeros((steps, n))
    z[np.round(np.asarray(fired.t / DT)).astype(int), np.asarray(fired.i)] = 1
    return np.array(monitor.s_in).T, z, np.clip(getattr(monitor, output).T, 0, 1)


def test_the_input_sampler_fires_at_its_probability():
    """200 000 Bernoulli draws at p = 0.3: a binomial test accepts p and rejects p ± 0.01 (the
    test has the power to fail), for a wrong sampler as for a wrong rate."""
    from scipy.stats import binomtest

    spikes, _, _ = sampler_run(0.3)
    k, n = int(spikes.sum()), spikes.size
    assert binomtest(k, n, 0.3).pvalue > 1e-3
    assert binomtest(k, n, 0.31).pvalue < 1e-6 and binomtest(k, n, 0.29).pvalue < 1e-6


@pytest.mark.parametrize("name", ["p_spikessm", "p_spikessm_block"])
def test_the_output_spikes_follow_their_varying_probability(name):
    """The output sampler's spikes (the block's: its fuse sampler's) against their own
    step-by-step probability: the sum of z_t - p_t over 200 000 draws, divided by its standard
    deviation sqrt(Σ p_t (1 - p_t)), is a standard normal for a faithful sampler (|score| < 4);
    probabilities off by 0.01 give a score far outside."""
    _, z, p = sampler_run(0.4 if name == "p_spikessm" else 0.2, model=MODELS[name])
    assert 0.05 < p.mean() < 0.95 and p.std() > 0.05  # a probability that varies
    sd = np.sqrt((p * (1 - p)).sum())
    assert abs((z - p).sum() / sd) < 4
    assert abs((z - np.clip(p + 0.01, 0, 1)).sum() / sd) > 8


def test_the_block_mixes_within_each_copy_of_a_layer():
    """A block of 3 copies of 4 neurons: the mixer joins every neuron of a copy to every one of
    it (itself included) with the same weights in each copy, and none across copies; a layer that
    does not split into its copies is refused."""
    model = PSpikeSSMBlock()
    group = neuron_group(model, 12, copies=3, dt=DT)
    (mixer,) = [o for o in group.contained_objects if o.name.endswith("_mixer")]
    i, j, w = np.asarray(mixer.i), np.asarray(mixer.j), np.asarray(mixer.w_mix)
    assert len(i) == 3 * 16 and np.array_equal(i // 4, j // 4)
    weights = np.zeros((3, 4, 4))
    weights[i // 4, j % 4, i % 4] = w
    for copy in weights:
        np.testing.assert_array_equal(copy, model.mixer_weights(4))
    with pytest.raises(ValueError, match="10 neurons do not split into 3 copies"):
        neuron_group(model, 10, copies=3, dt=DT)
    with pytest.raises(ValueError, match="copies must be a whole number >= 1"):
        neuron_group(model, 10, copies=0, dt=DT)


def test_a_stochastic_layer_repeats_under_its_seed():
    """BIMNetwork seeds Brian2's generator from its seed: the same network twice gives the same
    loss and spikes; another seed, other draws."""

    def run(seed):
        rng = np.random.default_rng(0)
        net = BIMNetwork(4, 3, 2, neuron="p_spikessm", dt=DT, readout_dt=10 * DT, seed=seed,
                         w_init=(0.3, 0.9))  # fmt: skip
        indices = np.repeat(np.arange(4), 15)
        times = np.concatenate([rng.choice(300, 15, replace=False) for _ in range(4)]) * ms
        loss = net.run_sequence(indices, times, 300 * ms, [0] * 30, learn=False)
        return loss, int(net.dataset().spikes.values[-1])

    assert run(0) == run(0) and run(0) != run(1)


def test_what_a_model_cannot_take_is_refused_before_any_run():
    from brian2 import nA

    from bimsim.surrogate_bptt import layer_bptt

    one = (np.ones((2, 1)), np.zeros((5, 1)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="v_init is the membrane of an LIF layer"):
        trace_gradients(*one, model=PSpikeSSM(), v_init=1 * mV)
    with pytest.raises(brian2.DimensionMismatchError, match="w_unit must have the unit of the tc"):
        BIMNetwork(4, 3, 2, neuron="tc_lif", w_unit=1 * nA)
    ours = trace_gradients(*one, model=PSpikeSSM(), dt=DT)
    with pytest.raises(ValueError, match=r"draws must have shape \(5, 2, 2\), got \(5, 1, 2\)"):
        layer_bptt(ours["layer"], *one, draws=ours["draws"][:, :1])
    with pytest.raises(ValueError, match="replays a run: give its draws"):
        layer_bptt(ours["layer"], *one)
    lif = trace_gradients(*one, model=MODELS["lif"], dt=DT)
    with pytest.raises(ValueError, match=r"can start from v only, not \['V'\]"):
        layer_bptt(lif["layer"], *one, start={"V": 1 * mV})
    with pytest.raises(ValueError, match="draws no random numbers to replay"):
        layer_bptt(lif["layer"], *one, draws=np.zeros((5, 2, 0)))
