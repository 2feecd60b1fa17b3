"""Delayed recall (bimsim.delayed_recall): TC-LIF holds the class over delays LIF forgets."""

import numpy as np
import pytest
from brian2 import Hz, ms
from commands import refusal_tests

from bimsim.delayed_recall import RecallTask, decode, delayed_recall
from bimsim.io import read_dataset

RECALL = "protocols/delayed_recall.py"


def test_the_trials_inputs_are_the_class_the_cue_and_noise():
    task = RecallTask(group=4, noise=3, noise_rate=50 * Hz, burst=1 * ms, window=5 * ms)
    rng = np.random.default_rng(0)
    indices, steps, cue, total = task.spikes([1, 0], 30 * ms, rng)
    assert (cue, total) == (31, 36) and task.inputs == 15
    first = indices < task.inputs
    # trial 0 is class 1: inputs 4..7 at step 0, the cue 8..11 at its step, noise on 12..14
    assert set(indices[first & (steps == 0) & (indices < 8)]) == {4, 5, 6, 7}
    assert set(indices[first & (indices >= 8) & (indices < 12)]) == {8, 9, 10, 11}
    assert set(steps[first & (indices >= 8) & (indices < 12)]) == {cue}
    assert set(indices[~first & (steps == 0) & (indices < 23)]) == {15, 16, 17, 18}
    assert np.all(indices[first & (indices >= 12)] >= 12) and steps.max() < total


def test_a_decoder_reads_chance_where_nothing_differs_and_the_class_where_it_does():
    labels = np.repeat([0, 1], 20)
    assert decode(np.zeros((40, 3)), labels, 0) == 0.5
    counts = np.random.default_rng(0).poisson(2, (40, 3))
    counts[:, 0] += 20 * labels
    assert decode(counts, labels, 0) == 1.0


@pytest.mark.slow
def test_tc_lif_recalls_after_a_delay_that_lif_forgets():
    """Little noise: after 200 ms (10 tau_m) LIF is at chance, TC-LIF still reads the class; both
    read it after 20 ms, and the cue makes both layers fire (not a silent layer at chance)."""
    ds = delayed_recall(["lif", "tc_lif"], [20, 200] * ms, [0], noise_rates=[0.1] * Hz,
                        trials=100)  # fmt: skip
    accuracy = ds.accuracy.isel(noise_rate=0, seed=0)
    assert np.all(accuracy.sel(delay=20) > 0.9)
    assert accuracy.sel(neuron="lif", delay=200) < 0.65
    assert accuracy.sel(neuron="tc_lif", delay=200) > 0.9
    assert np.all(ds.rate > 5)


@pytest.mark.slow
def test_the_protocol_writes_a_dataset_and_the_figure_draws_it(run_script, tmp_path):
    out = tmp_path / "recall.nc"
    result = run_script(RECALL, "--quick", "--no-progress", "--noise-rate", "1Hz", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "decoding accuracy (chance 0.5)" in result.stdout
    ds = read_dataset(out)
    assert ds.accuracy.dims == ("neuron", "noise_rate", "delay", "seed")
    assert list(ds.delay.values) == [20, 200] and ds.attrs["weight_max_lif"] == 0.1
    figure = run_script("figures/delayed_recall.py", "--input", out, "--out", tmp_path / "f")
    assert figure.returncode == 0, figure.stderr
    assert (tmp_path / "f.png").stat().st_size > 0


BAD_INPUTS = [
    (RECALL, ["--delays=-5ms"], r"--delays: a delay must be >= 0"),
    (RECALL, ["--delays", "20ms", "20ms"], r"--delays: a value is given twice"),
    (RECALL, ["--noise-rate", "0Hz"], r"argument --noise-rate: must be positive"),
    (RECALL, ["--trials", "101"], r"--trials must be even"),
    # --quick shortens only what the user did not give: their 11 trials are not replaced by 100
    (
        RECALL,
        ["--quick", "--trials", "11"],
        r"--trials must be even \(half of each class\), got 11",
    ),
    (RECALL, ["--trials", "3000"], r"argument --trials: must be at most 2000"),
    (RECALL, ["--neurons", "lif", "--weight-tc-lif", "0.2"], r"--weight-tc-lif has no effect"),
    (RECALL, ["--neurons", "izh"], r"argument --neurons: invalid choice: 'izh'"),
]

bad_input_runs, test_bad_input_is_one_line_before_any_work = refusal_tests(BAD_INPUTS)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"noise": 2.5}, r"noise must be a whole number >= 0, got 2.5"),
        ({"window": 30.5 * ms}, r"window \(30.5 ms\) must be a whole multiple of dt"),
        ({"delays": [20.5] * ms}, r"a delay \(20.5 ms\) must be a whole multiple of dt"),
        ({"delays": [20, 20] * ms}, "delays: a value is given twice"),
        ({"seeds": [1, 1]}, "seeds: a value is given twice"),
        ({"weights": {"tc_lif": 0.2}}, "weights of tc_lif, which is not among the neurons"),
        ({"trials": 11}, r"trials must be an even number in \[10, 2000\]"),
    ],
)
def test_bad_settings_are_refused_before_any_simulation(arguments, match):
    settings = {"delays": [20] * ms, "seeds": [0], **arguments}
    with pytest.raises(ValueError, match=match):
        delayed_recall(["lif"], settings.pop("delays"), settings.pop("seeds"), **settings)
