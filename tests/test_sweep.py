"""Sweeps on dask.distributed (bimsim.sweep): resuming, failures recorded, equal to a serial run,
bad sweeps refused before any work, standalone builds apart."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import xarray as xr
from conftest import ROOT

from bimsim.io import read_dataset
from bimsim.sweep import MAX_POINTS, Sweep, run_sweep

PAIRING = str(ROOT / "protocols" / "stdp_pairing.py")
ELIGIBILITY = str(ROOT / "protocols" / "eligibility_error.py")

#: A small pairing protocol (9 Δt, 10 pairings: about 2 s a point).
ARGS = ("--points", "9", "--pairs", "10")


def pairing_sweep(**grid):
    return Sweep(PAIRING, grid or {"tau-plus": ["10ms", "20ms"], "a-plus": [0.005, 0.01]}, ARGS)


def write_toml(path, sweep):
    grid = "\n".join(f"{k} = {list(v)!r}".replace("'", '"') for k, v in sweep.grid.items())
    args = str(list(sweep.args)).replace("'", '"')
    path.write_text(f'command = "{sweep.command}"\nargs = {args}\n\n[grid]\n{grid}\n')
    return path


def sweep_command(*args):
    return [sys.executable, "-m", "bimsim.sweep", *map(str, args), "--no-progress"]


@pytest.mark.slow
def test_a_sweep_stopped_midway_runs_only_the_missing_points_and_equals_a_serial_run(tmp_path):
    """A sweep on two dask workers, interrupted (SIGINT) once its first point is written: no
    merged file, the written points kept; the re-run runs only the others, keeps the written
    files untouched, and its result equals a serial run's (same seeds) in another folder."""
    sweep = pairing_sweep()
    config = write_toml(tmp_path / "pair.toml", sweep)
    out, runs = tmp_path / "pair.nc", tmp_path / "pair_runs"
    command = sweep_command(config, "--out", out, "--workers", 2)
    started = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(runs.glob("*.nc")) and time.monotonic() < deadline:
        assert started.poll() is None, started.communicate()
        time.sleep(0.05)
    started.send_signal(signal.SIGINT)
    _, stderr = started.communicate(timeout=120)
    assert started.returncode == 130, stderr
    assert "interrupted; no result was written" in stderr
    assert not out.exists()
    written = sorted(runs.glob("*.nc"))
    assert 1 <= len(written) < 4  # stopped midway
    stamps = {path: path.stat().st_mtime_ns for path in written}
    for path in written:
        read_dataset(path)  # whole files, nothing half-written

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{len(written)} of 4 points kept in {runs}; {4 - len(written)} to run" in again.stdout
    assert {path: path.stat().st_mtime_ns for path in written} == stamps
    merged = read_dataset(out)
    assert (merged.error == "").all()
    assert merged.fit_tau_plus.dims == ("tau_plus", "a_plus")

    serial, errors = run_sweep(sweep, tmp_path / "serial_runs", serial=True, progress=False)
    assert not errors
    xr.testing.assert_equal(merged, serial)  # the values (provenance, in the attributes, aside)
    # the points differ as their settings say: the fitted window follows --tau-plus and --a-plus
    fit = merged.fit_tau_plus.mean("a_plus").values
    assert fit[1] > 1.5 * fit[0]
    amplitude = merged.fit_a_plus.mean("tau_plus").values
    assert amplitude[1] == pytest.approx(2 * amplitude[0], rel=0.01)


@pytest.mark.slow
def test_a_failing_point_is_recorded_while_the_others_go_on(tmp_path):
    """A point whose run fails (3 steps of 1 ms: the layer does not spike, so there is no
    gradient to compare, which only the run finds) leaves its output in a log and its error in
    the merged dataset, NaN where its values would be, while the other point runs; the command
    says so and exits 1, and a re-run tries it again."""
    sweep = Sweep(ELIGIBILITY, {"steps": [3, 100]}, ("--scales", "0", "--seeds", "1"))
    config = write_toml(tmp_path / "fail.toml", sweep)
    out = tmp_path / "fail.nc"
    command = sweep_command(config, "--out", out, "--serial")
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "1 of 2 points failed" in done.stderr
    ds = read_dataset(out)
    assert "the reference gradient is zero" in ds.error.sel(steps=3).item()
    assert ds.error.sel(steps=100).item() == ""
    assert np.isnan(ds.rate.sel(steps=3)).all() and np.isfinite(ds.rate.sel(steps=100)).all()
    assert "did not run" in ds.rate.attrs["nan_means"]
    log = tmp_path / "fail_runs" / "steps=3.log"
    assert "the reference gradient is zero" in log.read_text()
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "1 of 2 points kept" in again.stdout and again.returncode == 1


@pytest.mark.slow
def test_ctrl_c_to_a_dask_sweep_is_one_line_and_leaves_nothing(tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while two long points run on
    dask workers: one line, exit 130, every point's process ended, no merged file, and nothing
    left in the temporary folder (no dask scratch space, no Brian2 debug files)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    sweep = Sweep(PAIRING, {"frequency": ["1Hz", "2Hz"]}, ("--pairs", "3000", "--time-step",
                                                           "0.1ms"))  # fmt: skip
    config = write_toml(tmp_path / "long.toml", sweep)
    started = subprocess.Popen(
        sweep_command(config, "--out", tmp_path / "long.nc"), cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, "TMPDIR": str(temporary)},
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while len(points_running(started.pid)) < 2:
        assert started.poll() is None and time.monotonic() < deadline, started.communicate()
        time.sleep(0.2)
    points = points_running(started.pid)
    os.killpg(started.pid, signal.SIGINT)
    _, stderr = started.communicate(timeout=120)
    assert started.returncode == 130, stderr
    assert stderr.splitlines() == ["sweep.py: interrupted; no result was written"]
    assert not (tmp_path / "long.nc").exists()
    time.sleep(2)
    assert not [p for p in points if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert list(temporary.iterdir()) == []


def points_running(pid):
    """The pairing processes (the sweep's points) under ``pid``."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if any("stdp_pairing.py" in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_kept_point_made_by_another_command_line_is_refused(tmp_path):
    """A point's file in the folder that another command line wrote (here: other shared
    arguments) is an error before any work, never taken for the point."""
    sweep = Sweep(PAIRING, {"pairs": [10]}, ("--points", "9"))
    runs = tmp_path / "runs"
    _, errors = run_sweep(sweep, runs, serial=True, progress=False, log=lambda *_: None)
    assert not errors
    other = Sweep(PAIRING, {"pairs": [10]}, ("--points", "9", "--a-plus", "0.01"))
    with pytest.raises(ValueError, match=r"pairs=10.nc was made by another command line"):
        run_sweep(other, runs, serial=True, progress=False)
    # the same arguments to another program
    from bimsim.io import write_dataset

    path = runs / "pairs=10.nc"
    ds = read_dataset(path)
    ds.attrs["command_line"] = ds.attrs["command_line"].replace("stdp_pairing", "stdp_frequency")
    write_dataset(ds, path)
    with pytest.raises(ValueError, match=r"was made by another command line .*stdp_frequency"):
        run_sweep(sweep, runs, serial=True, progress=False)


BAD = [
    ({"command": PAIRING, "grid": {}}, "at least one option"),
    ({"command": PAIRING, "grid": {"--pairs": [10]}}, "without its dashes"),
    ({"command": PAIRING, "grid": {"out": ["a.nc"]}}, "--out is the sweep's to set"),
    ({"command": PAIRING, "grid": {"pairs": []}}, "a list of one or more values"),
    ({"command": PAIRING, "grid": {"pairs": 10}}, "a list of one or more values"),
    ({"command": PAIRING, "grid": {"pairs": [10, "20"]}}, "all numbers or all non-empty"),
    ({"command": PAIRING, "grid": {"pairs": [10, 10]}}, "given twice"),
    ({"command": PAIRING, "grid": {"a-plus": [float("nan")]}}, "must be finite"),
    ({"command": PAIRING, "grid": {"pairs": [10]}, "args": ("--out", "x.nc")}, "must not set"),
    ({"command": PAIRING, "grid": {"pairs": [10]}, "args": ("--pairs=3",)}, "must not set"),
    ({"command": PAIRING, "grid": {"pairs": list(range(1, 102)), "points": list(range(1, 101))}},
     f"more than {MAX_POINTS}"),
    ({"command": PAIRING, "grid": {"tau-plus": ["1/2ms", "1:2ms"]}}, "the same file name"),
    ({"command": PAIRING, "grid": {"pairs": [1, 1.0]}}, "given twice"),
    ({"command": PAIRING, "grid": {"error": [1]}}, "keeps for itself"),
    ({"command": PAIRING, "grid": {"tau-plus": ["1" * 250 + "ms"]}}, "longer than 200 bytes"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "match"), BAD)
def test_a_bad_sweep_is_refused_naming_the_culprit(settings, match):
    with pytest.raises(ValueError, match=match):
        Sweep(**settings)


#: A task's point that runs in seconds, were it not refused.
SMALL_TASK = ("--quick", "--models", "bim", "--hidden", "4", "--no-progress")


@pytest.mark.parametrize(
    ("command", "grid", "args", "match"),
    [
        (PAIRING, {"no-such-option": [1]}, (), r"has no option --no-such-option"),
        (PAIRING, {"pairs": [10, 0]}, (), r"refuses the point --pairs=0: .*--pairs"),
        ("bimsim.tasks.no_such_task", {"lam": [0.5]}, (), "cannot be imported"),
        ("protocols/no_such_protocol.py", {"lam": [0.5]}, (), "does not exist"),
        ("bimsim.io", {"lam": [0.5]}, (), r"has no parser\(\)"),
        ("bimsim.tasks.ecg", {"lam": [0.5, 2.0]}, (), r"refuses the point --lam=2.0: .*--lam"),
        ("bimsim.tasks.ecg", {"prune-target": [0.5, 1.0]}, (), r"target=1.0: .*less than 1"),
        (PAIRING, {"pair": [10]}, (), r"has no option --pair$"),  # argparse takes it for --pairs
        # the task's own checks after parsing, not only argparse's
        (
            "bimsim.tasks.ecg",
            {"weight-decay": [1e6]},
            SMALL_TASK,
            r"refuses the point --weight-decay=1000000.0: .*--weight-decay 1e\+06 times --eta",
        ),
        (
            "bimsim.tasks.eeg",
            {"tau-adaptation": [9]},
            SMALL_TASK,
            r"refuses the point --tau-adaptation=9: .*--tau-adaptation has no effect on bim",
        ),
        # a protocol's checks after parsing: the schedule's grid, the fit's Δt on both sides
        (PAIRING, {"points": [7, 9]}, (), r"--points=7: delta_t value .* not a mul"),
        (PAIRING, {"dt-min": ["-100ms", "10ms"]}, (), r"--dt-min=10ms: fitting the window needs"),
        (ELIGIBILITY, {"seed": [0, 4294967295]}, ("--seeds", "2"), r"--seed \+ --seeds - 1"),
        # two spellings of one setting are one run
        (PAIRING, {"tau-plus": ["10ms", "0.01s"]}, (), r"--tau-plus=10ms and --tau-plus=0.01s are"),
        (PAIRING, {"a-plus": ["0.005", "5e-3"]}, (), r"are the same run"),
        # a sweep of sweeps, by the module or its file
        ("bimsim.sweep", {"workers": [1, 2]}, (), r"is a sweep itself: a sweep of sweeps would"),
        (str(ROOT / "bimsim" / "sweep.py"), {"workers": [1]}, (), r"a sweep of sweeps would st"),
    ],
)  # fmt: skip
def test_what_a_command_refuses_is_refused_before_any_point_runs(
    tmp_path, command, grid, args, match
):
    """The command's own parser and checks take every point first: nothing runs, no folder is
    made."""
    with pytest.raises(ValueError, match=match):
        run_sweep(Sweep(command, grid, args), tmp_path / "runs", serial=True, progress=False)
    assert not (tmp_path / "runs").exists()


def test_the_command_line_refuses_a_bad_config_before_any_work(tmp_path):
    cases = {
        "broken.toml": ("command = \n", "cannot be read as a sweep"),
        "unknown.toml": (f'command = "{PAIRING}"\nseeds = 3\n[grid]\npairs = [10]\n',
                         "unknown key"),
        "nogrid.toml": (f'command = "{PAIRING}"\n', "must give command and"),
        "args.toml": (f'command = "{PAIRING}"\nargs = "--pairs"\n[grid]\npoints = [9]\n',
                      "args must be a list of strings"),
        "option.toml": (f'command = "{PAIRING}"\n[grid]\nwrong = [1]\n', "has no option --wrong"),
        # the inner config does not exist: were a sweep of sweeps run, it would stop at once
        "sweeps.toml": ('command = "bimsim.sweep"\nargs = ["missing.toml"]\n'
                        "[grid]\nworkers = [1]\n", "a sweep of sweeps"),
    }  # fmt: skip
    for name, (text, match) in cases.items():
        (tmp_path / name).write_text(text)
        done = subprocess.run(sweep_command(tmp_path / name, "--out", tmp_path / "x.nc"),
                              cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 2 and match in done.stderr, (name, done.stderr)
        assert not (tmp_path / "x_runs").exists() and not (tmp_path / "x.nc").exists()
    done = subprocess.run(sweep_command(tmp_path / "missing.toml"), cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "cannot be read as a sweep" in done.stderr
    # flags that act on nothing together
    (tmp_path / "ok.toml").write_text(f'command = "{PAIRING}"\n[grid]\npairs = [10]\n')
    for flags, match in (
        (("--serial", "--workers", "3"), "--serial runs without dask: it takes no --workers"),
        (("--scheduler", "tcp://127.0.0.1:1", "--workers", "3"), "--workers sets the local"),
    ):
        done = subprocess.run(sweep_command(tmp_path / "ok.toml", *flags), cwd=tmp_path,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 2 and match in done.stderr, (flags, done.stderr)


@pytest.mark.slow
@pytest.mark.standalone
def test_standalone_points_on_two_workers_build_apart(tmp_path):
    """Two cpp_standalone points on two workers: each worker builds in a folder of its own (no
    wait on another's lock, nothing mixed), and both points equal their runtime runs."""
    cache = tmp_path / "cache"
    env = {**os.environ, "BIMSIM_CACHE": str(cache)}
    grid = {"tau-plus": ["10ms", "20ms"]}
    results = {}
    for device in ("cpp_standalone", "runtime"):
        sweep = Sweep(PAIRING, grid, (*ARGS, "--device", device))
        config = write_toml(tmp_path / f"{device}.toml", sweep)
        out = tmp_path / f"{device}.nc"
        done = subprocess.run(sweep_command(config, "--out", out, "--workers", 2),
                              cwd=tmp_path, capture_output=True, text=True, env=env,
                              timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr
        results[device] = read_dataset(out)
    builds = sorted(p.parent.name for p in cache.glob("sweep-*/cpp_standalone"))
    assert len(builds) == 2, builds  # one folder per worker
    a, b = (results[d].drop_vars("error") for d in ("cpp_standalone", "runtime"))
    np.testing.assert_allclose(a.dw.values, b.dw.values, rtol=1e-9)


def test_the_merge_leaves_a_point_that_did_not_run_empty_and_says_why(tmp_path):
    """Merging runs of three points of four: numbers NaN with a ``nan_means``, text empty, the
    error recorded, and the result writes as a bimsim dataset; a sweep dimension that a run
    already names is refused."""
    from bimsim.io import write_dataset
    from bimsim.sweep import merge_runs

    def run(value):
        return xr.Dataset(
            {
                "auc": ("fold", [value], {"units": "1", "long_name": "score"}),
                "label": ("sample", np.array(["N", "V"]), {"units": "1", "long_name": "class"}),
            },
            coords={"fold": ("fold", ["DS2"], {"units": "1", "long_name": "fold"})},
        )

    sweep = Sweep("bimsim.tasks.ecg", {"lam": [0.0, 1.0], "eta": [0.1, 0.2]})
    merged = merge_runs(sweep, {0: run(0.5), 1: run(0.6), 3: run(0.7)}, {2: "exit 1: boom"})
    assert merged.auc.dims == ("lam", "eta", "fold")
    np.testing.assert_array_equal(merged.auc.values.ravel(), [0.5, 0.6, np.nan, 0.7])
    assert "did not run" in merged.auc.attrs["nan_means"]
    assert merged.label.sel(lam=1.0, eta=0.1).values.tolist() == ["", ""]
    assert merged.error.sel(lam=1.0, eta=0.1).item() == "exit 1: boom"
    back = read_dataset(write_dataset(merged, tmp_path / "merged.nc"))
    assert back.label.sel(lam=0.0, eta=0.2).values.tolist() == ["N", "V"]
    # a variable that only a later run holds (a state kept for some settings only)
    later = run(0.6).assign(extra=("fold", [1.0], {"units": "1", "long_name": "extra"}))
    merged = merge_runs(sweep, {0: run(0.5), 1: later, 3: run(0.7)}, {2: "exit 1: boom"})
    assert merged.extra.attrs["long_name"] == "extra" and np.isnan(merged.extra.values).sum() == 3
    assert merged.extra.attrs["nan_means"] == (
        "the sweep point did not run (see error); or the point's run holds no such entry "
        "(another point's run does)"
    )
    assert merged.auc.attrs["nan_means"] == "the sweep point did not run (see error)"


def test_the_merge_keeps_nan_as_nan_for_every_dtype(tmp_path):
    """Runs read from their files (as a sweep reads them) keep their integer and boolean types
    in their encodings; where a point did not run, the merged file holds NaN for them, not
    -9223372036854775808 and True, and empty text."""
    from bimsim.io import write_dataset
    from bimsim.sweep import merge_runs

    def run(k):
        ds = xr.Dataset(
            {
                "count": (
                    "fold",
                    np.array([k + 3], dtype=np.int64),
                    {"units": "1", "long_name": "n"},
                ),
                "kept": ("fold", np.array([True]), {"units": "1", "long_name": "flag"}),
                "auc": ("fold", [0.5], {"units": "1", "long_name": "score"}),
                "group": (
                    "fold",
                    np.array(["rec"], dtype=object),
                    {"units": "1", "long_name": "g"},
                ),
            },
            coords={"fold": ("fold", ["DS2"], {"units": "1", "long_name": "fold"})},
        )
        return read_dataset(write_dataset(ds, tmp_path / f"run{k}.nc"))

    sweep = Sweep("bimsim.tasks.ecg", {"lam": [0.0, 0.5, 1.0]})
    merged = merge_runs(sweep, {0: run(0), 2: run(2)}, {1: "exit 1: boom"})
    back = read_dataset(write_dataset(merged, tmp_path / "merged.nc"))
    np.testing.assert_array_equal(back["count"].values.ravel(), [3, np.nan, 5])
    np.testing.assert_array_equal(back["kept"].values.ravel(), [1, np.nan, 1])
    assert back["group"].values.ravel().tolist() == ["rec", "", "rec"]
    for name in ("count", "kept", "auc"):
        assert back[name].attrs["nan_means"] == "the sweep point did not run (see error)"
    complete = merge_runs(sweep, {0: run(0), 1: run(1), 2: run(2)})
    assert complete["count"].dtype == np.int64 and "nan_means" not in complete["count"].attrs


def runner_result(folder, seed, variants=None):
    """What a task command writes for one seed, read back from its file as a sweep reads it: a
    toy task run by the shared runner (the floor and a model that keeps a state named ``eta``,
    as BIM's per-epoch η), with a variant dimension where ``variants`` are given."""
    from test_runner import Diverged, synthetic_task

    from bimsim.io import write_dataset
    from bimsim.tasks import models
    from bimsim.tasks.command import stack_variants
    from bimsim.tasks.models import ModelSpec
    from bimsim.tasks.runner import run_task

    class KeepsEta(Diverged):
        BAD = ("none", 0.0)

        def state(self):
            return {"eta": ("epoch", np.array([0.1, 0.05]), "1", "η in the epoch")}

    def one(variant):
        task = synthetic_task(seed=len(variant or ""))
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(models.MODELS, "keeps_eta", ModelSpec(type(None), KeepsEta))
            return run_task(task, {"floor": None, "keeps_eta": None}, [seed], quick=40,
                            first_folds=1, progress=False, log=lambda *a, **k: None)  # fmt: skip

    ds = one(None) if variants is None else stack_variants({v: one(v) for v in variants})
    name = f"seed{seed}_{'_'.join(variants or [])}.nc"
    return read_dataset(write_dataset(ds, folder / name))


def test_a_sweep_over_a_name_its_runs_hold_merges(tmp_path):
    """A sweep over ``seed`` (its runs hold a seed dimension, one seed each) merges along it; a
    sweep over one input variant each (EEG's --inputs) merges their variants, NaN only where a
    point's run has no such variant and saying so; a grid option that names a variable of the
    runs (BIM's per-epoch ``eta``) keeps the runs' variable as ``run_eta``; each merge writes
    as a bimsim dataset. (Each failed after every point had run.)"""
    from bimsim.io import write_dataset
    from bimsim.sweep import merge_runs

    three, four = runner_result(tmp_path, 3), runner_result(tmp_path, 4)
    seeds = merge_runs(Sweep("bimsim.tasks.eeg", {"seed": [3, 4]}), {0: three, 1: four})
    assert seeds.auc_roc.dims == ("seed", "fold", "model")
    assert seeds.seed.values.tolist() == [3, 4]
    np.testing.assert_array_equal(seeds.auc_roc.sel(seed=4).values, four.auc_roc.values[0])
    write_dataset(seeds, tmp_path / "seeds.nc")

    raw, normalised = (runner_result(tmp_path, 0, [v]) for v in ("raw", "normalised"))
    inputs = Sweep("bimsim.tasks.eeg", {"inputs": ["raw", "normalised"]})
    merged = merge_runs(inputs, {0: raw, 1: normalised})
    auc = merged.auc_roc.sel(fold="0", model="floor", seed=0)
    assert np.isfinite(auc.sel(inputs="raw", variant="raw"))
    assert np.isnan(auc.sel(inputs="raw", variant="normalised"))
    assert merged.auc_roc.attrs["nan_means"] == (
        "the point's run holds no such entry (another point's run does)"
    )
    write_dataset(merged, tmp_path / "inputs.nc")

    zero = runner_result(tmp_path, 0)
    eta = merge_runs(Sweep("bimsim.tasks.eeg", {"eta": [0.1, 0.2]}), {0: zero, 1: zero})
    assert eta.eta.values.tolist() == [0.1, 0.2] and eta.run_eta.dims[0] == "eta"
    assert eta.attrs["sweep_renamed"] == "eta -> run_eta"
    write_dataset(eta, tmp_path / "eta.nc")


def test_names_the_merge_keeps_for_itself_are_renamed_not_refused():
    """A run's dimension named as the sweep's, not holding the point's value, and a run's
    ``error``, are kept as ``run_fold`` and ``run_error``."""
    from bimsim.sweep import merge_runs

    run = xr.Dataset(
        {
            "auc": ("fold", [0.5], {"units": "1", "long_name": "score"}),
            "error": ((), 1.0, {"units": "1", "long_name": "the run's own error"}),
        },
        coords={"fold": ("fold", ["DS2"], {"units": "1", "long_name": "fold"})},
    )
    merged = merge_runs(Sweep("bimsim.tasks.ecg", {"fold": ["a"]}), {0: run})
    assert merged.auc.dims == ("fold", "run_fold") and merged.run_error.item() == 1.0
    assert merged.error.item() == ""
    assert merged.attrs["sweep_renamed"] == "error -> run_error, fold -> run_fold"


def test_an_output_that_is_the_config_or_the_command_is_refused_before_any_work(tmp_path):
    """--out, --runs or a point's run that is the config (by its path, a symbolic link, ``..``
    or a hard link) or the command's script: one line, exit 2, every file as it was."""
    config = write_toml(tmp_path / "s.toml", Sweep(PAIRING, {"points": [9, 11]}, ("--pairs", "10")))
    (tmp_path / "link.toml").symlink_to("s.toml")
    os.link(config, tmp_path / "hard.toml")
    (tmp_path / "sub").mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "points=11.nc").symlink_to(config)
    cases = [
        (["--out", config], "--out .*s.toml is the sweep's config"),
        (["--out", tmp_path / "link.toml"], "--out .*link.toml is the sweep's config"),
        (["--out", tmp_path / "hard.toml"], "--out .*hard.toml is the sweep's config"),
        (["--out", tmp_path / "sub" / ".." / "s.toml"], "--out .*sub/../s.toml is the sweep's"),
        (["--out", tmp_path / "o.nc", "--runs", tmp_path / "runs"],
         r"the point --points=11's run .*points=11.nc is the sweep's config"),
        (["--out", PAIRING], "--out .*stdp_pairing.py is the command's file"),
    ]  # fmt: skip
    before = {path: path.read_bytes() for path in (config, ROOT / PAIRING)}
    for args, match in cases:
        done = subprocess.run(sweep_command(config, *args, "--serial"), cwd=tmp_path,
                              capture_output=True, text=True)  # fmt: skip
        lines = done.stderr.splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert re.search(match, lines[0]) and lines[0].endswith("(see --help)"), lines[0]
        assert {path: path.read_bytes() for path in before} == before
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "hard.toml",
            "link.toml",
            "runs",
            "s.toml",
            "sub",
        ]
        assert [p.name for p in (tmp_path / "runs").iterdir()] == ["points=11.nc"]
