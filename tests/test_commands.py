"""Every command as a user runs it: bad input, interrupts and concurrent runs lose nothing.

Each bad input is a subprocess that must exit with status 2 and one line on stderr naming what is
wrong, before any work, leaving the previous result at ``--out`` byte for byte as it was and no
other file behind. Interrupts (Ctrl-C is SIGINT to the whole process group) must end a command
with status 130 and one line, no traceback, and the previous result intact. (The figure scripts and
benchmarks have tables of their own in ``test_figures.py`` and ``test_benchmarks.py``; the data
folders' integrity in ``test_mitdb.py``.)
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from commands import PREVIOUS, command, refusal_tests, start

from bimsim.io import read_dataset

PAIRING = "protocols/stdp_pairing.py"
FREQUENCY = "protocols/stdp_frequency.py"
WINDOW = "protocols/gradient_window.py"
ERROR = "protocols/eligibility_error.py"
ECG = ("-m", "bimsim.tasks.ecg")
EEG = ("-m", "bimsim.tasks.eeg")
SPEECH = ("-m", "bimsim.tasks.speech")
LM = ("-m", "bimsim.tasks.lm")
SUBSET = ("-m", "bimsim.data.make_mitdb_subset")

# (command, arguments, what stderr's one line must match); "--out prev.nc" is added unless the
# row gives its own --out.
BAD_INPUTS = [
    (PAIRING, ["--tau-plus", "16.8"], r"argument --tau-plus: .*has no units"),
    (PAIRING, ["--tau-plus", "0ms"], r"argument --tau-plus: must be positive"),
    (PAIRING, ["--tau-minus=-5ms"], r"argument --tau-minus: must be positive"),
    (PAIRING, ["--tau-plus", "5mV"], r"argument --tau-plus: .*must be a time"),
    (PAIRING, ["--tau-plus", "16.8parsec"], r"argument --tau-plus: unknown unit 'parsec'"),
    (PAIRING, ["--frequency", "1"], r"argument --frequency: .*has no units"),
    (PAIRING, ["--frequency", "0Hz"], r"argument --frequency: must be positive"),
    (PAIRING, ["--frequency", "1e-9Hz"], r"60 pairings at 1e-09 Hz would take 5.9e\+14 time st"),
    (PAIRING, ["--frequency", "20Hz"], r"at 20 Hz consecutive pairings overlap"),
    (PAIRING, ["--pairs", "0"], r"argument --pairs: must be at least 1, got 0"),
    (PAIRING, ["--pairs", "-3"], r"argument --pairs: must be at least 1, got -3"),
    (PAIRING, ["--pairs", "2.5"], r"argument --pairs: expected a whole number, got '2.5'"),
    (PAIRING, ["--pairs", "10000000"], r"argument --pairs: must be at most 1000000"),
    (
        PAIRING,
        ["--pairs", "1000000", "--points", "100000", "--dt-min=-1ms", "--dt-max=1ms"],
        r"100000 conditions of 1000000 pairings would need about 11.6 TiB of memory",
    ),
    (PAIRING, ["--points", "1"], r"argument --points: must be at least 2"),
    (PAIRING, ["--points", "1000000000"], r"argument --points: must be at most 100000"),
    (PAIRING, ["--points", "many"], r"argument --points: expected a whole number"),
    (PAIRING, ["--dt-min=50ms", "--dt-max=-50ms"], r"--dt-min 50. ms is greater than --dt-max"),
    (PAIRING, ["--dt-min=10ms"], r"at least 3 Δt values on each side of 0"),
    (PAIRING, ["--a-plus", "-1"], r"argument --a-plus: must be at least 0"),
    (PAIRING, ["--a-plus", "nan"], r"argument --a-plus: must be a finite number"),
    (PAIRING, ["--a-minus", "inf"], r"argument --a-minus: must be a finite number"),
    (PAIRING, ["--rule", "pair-every"], r"argument --rule: invalid choice: 'pair-every'"),
    (PAIRING, ["--rule", "triplet-all", "--preset", "cortex"], r"invalid choice: 'cortex'"),
    (
        PAIRING,
        ["--rule", "triplet-all", "--preset", "visual-nearest-full"],
        r"was fitted for 'nearest'",
    ),
    (PAIRING, ["--preset", "visual-all-full"], r"--preset selects triplet parameters"),
    (PAIRING, ["--time-step", "0.3ms"], r"is not a multiple of the time step 0.3 ms"),
    (PAIRING, ["--time-step", "0ms"], r"argument --time-step: must be positive"),
    (
        PAIRING,
        ["--time-step", "1us", "--pairs", "1000"],
        r"1000 pairings at 1 Hz would take 9.99e\+08 time steps of 1. us, more than the limit",
    ),
    (
        PAIRING,
        ["--bounds", "hard", "--w-init", "3"],
        r"--w-init = 3 lies outside the hard bounds \[0, 2\]",
    ),
    (
        PAIRING,
        ["--bounds", "soft", "--w-init", "-1"],
        r"--w-init = -1 lies outside the soft bounds \[0, 2\]",
    ),
    (
        PAIRING,
        ["--bounds", "hard", "--w-min", "2", "--w-max", "1"],
        r"--w-min/--w-max: need finite w_min < w_max",
    ),
    (PAIRING, ["--w-init", "nan"], r"argument --w-init: must be a finite number"),
    (PAIRING, ["--seed", "-1"], r"argument --seed: must be at least 0, got -1"),
    (PAIRING, ["--seed", "4294967296"], r"argument --seed: must be at most 4294967295"),
    (PAIRING, ["--seed", "x"], r"argument --seed: expected a whole number"),
    (PAIRING, ["--device", "gpu"], r"argument --device: invalid choice: 'gpu'"),
    (PAIRING, ["--out", ""], r"argument --out: the output path is empty"),
    (PAIRING, ["--out", "."], r"argument --out: \. is a folder; give a file name"),
    (PAIRING, ["--out", "prev.nc/x.nc"], r"argument --out: .*prev.nc is a file, not a folder"),
    (PAIRING, ["--out", "prev.nc/deeper/x.nc"], r"prev.nc is a file, not a folder"),
    (FREQUENCY, ["--pairs", "0"], r"argument --pairs: must be at least 1"),
    (FREQUENCY, ["--pairs", "2000000"], r"argument --pairs: must be at most 1000000"),
    (FREQUENCY, ["--time-step", "0.3ms"], r"is not a multiple of the time step 0.3 ms"),
    (
        FREQUENCY,
        ["--time-step", "1us"],
        r"60 pairings at 0.1 Hz would take 5.9e\+08 time steps",
    ),
    (FREQUENCY, ["--triplet-all", "visual-nearest-full"], r"argument --triplet-all: invalid"),
    (FREQUENCY, ["--seed", "-5"], r"argument --seed: must be at least 0"),
    (FREQUENCY, ["--out", ""], r"argument --out: the output path is empty"),
    (WINDOW, ["--points", "3"], r"--points must be at least 7, got 3"),
    (WINDOW, ["--w", "0"], r"argument --w: must be greater than 0"),
    (WINDOW, ["--w", "nan"], r"argument --w: must be a finite number"),
    (WINDOW, ["--depolarization", "20mV"], r"depolarization must lie in \[0, 15. mV\)"),
    (WINDOW, ["--depolarization", "5"], r"argument --depolarization: .*has no units"),
    (
        WINDOW,
        ["--depolarization", *[f"{k / 10}mV" for k in range(101)]],
        r"--depolarization: at most 100 values",
    ),
    (WINDOW, ["--depolarization", "1mV", "0.001V"], r"each depolarisation once, got 1. mV 1. mV"),
    (WINDOW, ["--overshoot", "0mV"], r"argument --overshoot: must be positive"),
    (WINDOW, ["--time-step", "0.3ms"], r"Δt = -100 ms, not a multiple of --time-step 300. us"),
    (WINDOW, ["--points", "7"], r"--dt-min, --dt-max and --points 7 give Δt = -66.6667 ms, not a"),
    # a flag given twice (argparse would keep the last without a word), an abbreviation
    (ERROR, ["--scales", "0", "--scales", "0.001"], r"argument --scales: given twice"),
    (PAIRING, ["--pairs", "10", "--pairs=20"], r"argument --pairs: given twice"),
    (ECG, ["--quick", "--quick"], r"argument --quick: given twice"),
    (PAIRING, ["--pair", "10"], r"unrecognized arguments: --pair 10"),
    # an output that cannot be a file
    (PAIRING, ["--out", "newdir/"], r"argument --out: newdir/ ends in /, as a folder would"),
    (PAIRING, ["--out", "b" * 300 + ".nc"], r"a file or folder name of 303 bytes, longer than"),
    (
        WINDOW,
        ["--time-step", "0.001us"],
        r"the gradient window protocol would take 5.5e\+08 time steps of 1. ns",
    ),
    (
        WINDOW,
        ["--dt-min=-200ms", "--points", "101"],
        r"t_pre \(150. ms\) must exceed -min\(delta_t\)",
    ),
    (WINDOW, ["--device", "cpp_standalone"], r"argument --device: invalid choice"),
    (ERROR, ["--scales", "-1"], r"argument --scales: must be at least 0"),
    (ERROR, ["--scales", "nan"], r"argument --scales: must be a finite number"),
    (ERROR, ["--seeds", "0"], r"argument --seeds: must be at least 1"),
    (ERROR, ["--steps", "0"], r"argument --steps: must be at least 1"),
    (ERROR, ["--steps", "1000000"], r"argument --steps: must be at most 100000 \(BPTT keeps"),
    (ERROR, ["--seed", "4294967295", "--seeds", "3"], r"--seed \+ --seeds - 1 must be at most"),
    (ERROR, ["--scales", *[str(k / 1000) for k in range(101)]], r"--scales: at most 100 values"),
    (ERROR, ["--scales", "0", "0.0"], r"argument --scales: each scale once, got 0.0 0.0"),
    (ECG, ["--eta", "inf"], r"argument --eta: must be a finite number, got 'inf'"),
    (ECG, ["--eta", "-1"], r"argument --eta: must be at least 0"),
    (ECG, ["--lam", "1.5"], r"argument --lam: must be at most 1"),
    (ECG, ["--lam", "nan"], r"argument --lam: must be a finite number"),
    (ECG, ["--readout-lr", "-0.1"], r"argument --readout-lr: must be at least 0"),
    (ECG, ["--optimizer", "lion"], r"argument --optimizer: invalid choice: 'lion'"),
    (ECG, ["--readout-scale", "0"], r"argument --readout-scale: must be greater than 0"),
    (ECG, ["--target-rate", "-5"], r"argument --target-rate: must be at least 0"),
    (ECG, ["--target-rate", "nan"], r"argument --target-rate: must be a finite number"),
    (ECG, ["--target-rate", "20", "--models", "cnn"], r"--target-rate has no effect without a"),
    (ECG, ["--tau-m", "0"], r"argument --tau-m: must be greater than 0"),
    (ECG, ["--tau-m", "5", "50", "500"], r"--tau-m takes one time or LOW HIGH, not 3"),
    (ECG, ["--tau-m", "50", "5"], r"tau_m must be \(low, high\) with low <= high"),
    (ECG, ["--tau-m", "20", "--models", "floor"], r"--tau-m has no effect without a BIM model"),
    (ECG, ["--adaptation", "-1"], r"argument --adaptation: must be at least 0"),
    (ECG, ["--tau-adaptation", "0"], r"argument --tau-adaptation: must be greater than 0"),
    (ECG, ["--tau-adaptation", "9"], r"--tau-adaptation has no effect on bim \(adaptation = 0 "),
    (ECG, ["--recurrent", "-0.1"], r"argument --recurrent: must be at least 0"),
    (ECG, ["--recurrent", "nan"], r"argument --recurrent: must be a finite number, got 'nan'"),
    (
        LM,
        ["--recurrent", "0.1", "--hidden", "1"],
        r"recurrent synapses need at least 2 hidden neurons",
    ),
    (
        ECG,
        ["--recurrent", "0.1", "--models", "probe_input"],
        r"--recurrent has no effect on probe_input \(probe_input reads the encoder, not the lay",
    ),
    (ECG, ["--weight-decay", "-1"], r"argument --weight-decay: must be at least 0"),
    (
        ECG,
        ["--weight-decay", "1e6"],
        r"--weight-decay 1e\+06 times --eta 0.0001 is 100: decoupled weight decay "
        r"multiplies every weight by 1 - rate × decay = -99 at each update, which must stay above "
        r"0; give --weight-decay below 10000",
    ),
    (
        EEG,
        ["--readout-lr", "10", "--readout-weight-decay", "0.1"],
        r"--readout-weight-decay 0.1 times --readout-lr 10 is 1: .* = 0 at each update",
    ),
    (
        LM,
        ["--eta", "2", "--weight-decay", "0.75", "--models", "bim_frozen", "bim_mixed"],
        r"--weight-decay 0.75 times --eta 2 is 1.5: .*give --weight-decay below 0.5",
    ),
    (ECG, ["--readout-weight-decay", "inf"], r"argument --readout-weight-decay: must be a finite"),
    (
        ECG,
        ["--lam", "0.3", "--models", "bim_stdp"],
        r"--lam has no effect on bim_stdp \(they fix lam\); add bim to --models",
    ),
    (ECG, ["--models", "bim_none"], r"argument --models: invalid choice: 'bim_none'"),
    (
        ECG,
        ["--hidden", "8", "--models", "probe_input"],
        r"--hidden has no effect on probe_input \(probe_input reads the encoder, not the layer\)",
    ),
    (
        ECG,
        ["--epochs", "2", "--models", "probe_frozen", "probe_input"],
        r"--epochs has no effect on probe_frozen, probe_input \(probes of an untrained stage do ",
    ),
    (ECG, ["--hidden", "8", "--models", "floor"], r"--hidden has no effect without a BIM model"),
    (
        ECG,
        ["--weight-decay", "0.1", "--models", "bim_frozen"],
        r"--weight-decay has no effect on bim_frozen \(η = 0\) ",
    ),
    (ECG, ["--baseline-epochs", "2", "--models", "bim"], r"--baseline-epochs has no effect"),
    (ECG, ["--hidden", "0"], r"argument --hidden: must be at least 1"),
    (
        ECG,
        ["--hidden", "4096"],
        r"--hidden 4096 and --copies 64 would need about 128 GiB of memory, more than the limit",
    ),
    (ECG, ["--copies", "0"], r"argument --copies: must be at least 1"),
    (ECG, ["--copies", "100000"], r"argument --copies: must be at most 4096"),
    (ECG, ["--epochs", "0"], r"argument --epochs: must be at least 1"),
    (ECG, ["--baseline-epochs", "-1"], r"argument --baseline-epochs: must be at least 1"),
    (ECG, ["--models", "cnn", "cnn"], r"--models: cnn given more than once"),
    (ECG, ["--models", "transformer"], r"argument --models: invalid choice: 'transformer'"),
    (ECG, ["--dataset", "ptbxl", "--split", "validation"], r"--split is MIT-BIH's"),
    (
        ECG,
        ["--split", "validation", "--validate", "--quick", "--models", "floor"],
        r"--validate and --split validation are the same split \(train on DS1 without records "
        r"106, 119, 208, 223, test on those\): give one of them",
    ),
    (ECG, ["--download", "--data", "somewhere"], r"--download fetches MIT-BIH"),
    (ECG, ["--data", "nowhere"], r"MIT-BIH folder nowhere does not exist"),
    (ECG, ["--dataset", "ptbxl"], r"--dataset ptbxl needs --data DIR"),
    (ECG, ["--out", "."], r"argument --out: \. is a folder"),
    (ECG, ["--out", "prev.nc/ecg.nc"], r"prev.nc is a file, not a folder"),
    (ECG, ["--seed", "-1"], r"argument --seed: must be at least 0"),
    (ECG, ["--device", "cpp_standalone"], r"argument --device: invalid choice"),
    (ECG, ["--seeds", "0"], r"argument --seeds: must be at least 1"),
    (ECG, ["--neuron", "izh"], r"argument --neuron: invalid choice: 'izh'"),
    (EEG, ["--neuron", "tc_lif", "--tau-m", "30"], r"tau_m is a setting of the lif neuron"),
    (EEG, ["--neuron", "p_spikessm", "--tau-m", "20"], r"--tau-m has no effect on bim \(they set"),
    (EEG, ["--seeds", "101"], r"argument --seeds: must be at most 100"),
    (EEG, ["--seed", "4294967295", "--seeds", "2"], r"--seed \+ --seeds - 1 must be at most"),
    (EEG, ["--windows", "0"], r"argument --windows: must be at least 1"),
    (EEG, ["--windows", "24"], r"argument --windows: must be at most 23"),
    (EEG, ["--inputs", "loud"], r"argument --inputs: invalid choice: 'loud'"),
    (EEG, ["--models", "floor", "floor"], r"--models: floor given more than once"),
    (EEG, ["--data", "nowhere"], r"Bonn EEG folder nowhere does not exist"),
    (EEG, ["--hidden", "4096", "--copies", "4096"], r"would need about .* more than the limit"),
    (EEG, ["--eta", "nan"], r"argument --eta: must be a finite number"),
    (EEG, ["--out", "."], r"argument --out: \. is a folder"),
    (SPEECH, ["--split", "random"], r"argument --split: invalid choice: 'random'"),
    (SPEECH, ["--data", "nowhere"], r"FSDD folder nowhere does not exist"),
    (SPEECH, ["--copies", "5000"], r"argument --copies: must be at most 4096"),
    (LM, ["--characters", "10"], r"argument --characters: must be at least 1000"),
    (LM, ["--length", "1"], r"argument --length: must be at least 2"),
    (LM, ["--train-split", "train"], r"no train split in .*wikitext-2"),
    (LM, ["--train-split", "test"], r"argument --train-split: invalid choice: 'test'"),
    (LM, ["--data", "nowhere"], r"WikiText folder nowhere does not exist"),
    (LM, ["--copies", "500", "--quick"], r"--copies 500 is more than the 64 training samples"),
    (SUBSET, ["--data", "nowhere"], r"MIT-BIH folder nowhere does not exist"),
    (SUBSET, ["--out", ""], r"argument --out: the output path is empty"),
]


bad_input_runs, test_bad_input_is_one_line_before_any_work = refusal_tests(BAD_INPUTS)


def test_there_are_at_least_sixty_bad_inputs():
    assert len(BAD_INPUTS) >= 60


def readonly_folder(tmp_path):
    """A folder this process cannot write in (root ignores modes: then a read-only mount)."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        try:
            (candidate / ".probe").touch()
            (candidate / ".probe").unlink()
        except OSError:
            return candidate
    pytest.skip("no folder here is read-only to this user")


def test_an_unwritable_output_folder_is_refused_first(tmp_path):
    folder = readonly_folder(tmp_path)
    result = subprocess.run(
        command(PAIRING, "--out", folder / "x.nc"), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert re.search(r"x.nc cannot be written: .*(Permission denied|Read-only)", result.stderr)


def wait_for_line(process, text, timeout=300):
    """Read the command's stdout until a line holds ``text``."""
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        if text in line:
            return
        assert time.monotonic() < deadline, f"no {text!r} in time"
    pytest.fail(f"the command ended without printing {text!r}: {process.stderr.read()}")


def assert_interrupted(process, out, signum=signal.SIGINT, group=True, name="stdp_pairing.py"):
    """Send ``signum`` (to the group, as Ctrl-C does), then check nothing was lost and the
    command said so in one line (not make's "Interrupt" nor a traceback)."""
    (os.killpg if group else os.kill)(process.pid, signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == [f"{name}: interrupted; no result was written"], stderr
    assert out.read_bytes() == PREVIOUS


@pytest.mark.slow
def test_ctrl_c_during_a_simulation_writes_nothing(tmp_path):
    """Brian2 alone would stop early, and the command would fit and save the truncated run."""
    out = tmp_path / "prev.nc"
    out.write_bytes(PREVIOUS)
    process = start(PAIRING, "--pairs", 600, "--time-step", "0.1ms", "--out", out, cwd=tmp_path)
    wait_for_line(process, "simulating")
    time.sleep(2)
    assert_interrupted(process, out)


@pytest.mark.slow
def test_sigterm_to_the_command_alone_writes_nothing(tmp_path):
    out = tmp_path / "prev.nc"
    out.write_bytes(PREVIOUS)
    process = start(PAIRING, "--pairs", 600, "--time-step", "0.1ms", "--out", out, cwd=tmp_path)
    wait_for_line(process, "simulating")
    time.sleep(2)
    assert_interrupted(process, out, signal.SIGTERM, group=False)


def compiler_running(pid):
    """Whether ``make`` or the C++ compiler runs under ``pid`` (a child that ends while it is
    being looked at is not one)."""
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if child.name() in ("make", "cc1plus"):
                return True
        except psutil.NoSuchProcess:
            continue
    return False


@pytest.mark.slow
@pytest.mark.standalone
def test_ctrl_c_during_a_standalone_compile_is_an_interrupt(tmp_path):
    """Not Brian2's "compilation failed ... report a bug": the compiler was interrupted."""
    out = tmp_path / "prev.nc"
    out.write_bytes(PREVIOUS)
    env = {**os.environ, "BIMSIM_CACHE": str(tmp_path / "cache")}  # a cold build
    process = start(PAIRING, "--device", "cpp_standalone", "--out", out, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 300
    while not compiler_running(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, "no compiler started"
        time.sleep(0.1)
    time.sleep(0.5)
    assert_interrupted(process, out)


@pytest.mark.slow
def test_ctrl_c_during_ecg_training_writes_nothing(tmp_path):
    out = tmp_path / "prev.nc"
    out.write_bytes(PREVIOUS)
    process = start(ECG, "--quick", "--models", "bim", "--no-progress", "--out", out, cwd=tmp_path)
    wait_for_line(process, "training bim")
    time.sleep(3)
    assert_interrupted(process, out, name="ecg.py")


@pytest.mark.slow
@pytest.mark.standalone
def test_concurrent_standalone_runs_keep_their_own_results(tmp_path):
    """Two cold cpp_standalone builds of one project, started together, with different Δt."""
    env = {**os.environ, "BIMSIM_CACHE": str(tmp_path / "cache")}
    ranges = {"a.nc": ("-100ms", "100ms"), "b.nc": ("-40ms", "60ms")}
    processes = {}
    for name, (low, high) in ranges.items():
        args = ("--device", "cpp_standalone", f"--dt-min={low}", f"--dt-max={high}", "--out", name)
        processes[name] = start(PAIRING, *args, cwd=tmp_path, env=env)
    for process in processes.values():
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    for name, (low, high) in ranges.items():
        ds = read_dataset(tmp_path / name)
        delta_t = ds.delta_t.values
        assert (delta_t.min(), delta_t.max()) == (float(low[:-2]), float(high[:-2]))
        window = np.where(
            delta_t >= 0, 0.005 * np.exp(-delta_t / 16.8), -0.00525 * np.exp(delta_t / 33.7)
        )
        np.testing.assert_allclose(ds.dw_per_pair.values, window, rtol=1e-9, atol=1e-15)
