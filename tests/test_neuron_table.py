"""The table of neuron models on every task (protocols/neuron_table.py, bimsim.neuron_table)."""

import numpy as np
import pytest
import xarray as xr

from bimsim.io import read_dataset
from bimsim.neuron_table import check_run, task_command


def kept(**attrs):
    base = {"task": "ecg", "param_models": "['bim']", "seed": 0, "param_seeds": 3,
            "param_quick": 1, "param_neuron": "elm", "param_epochs": "None",
            "param_target_rate": "None"}  # fmt: skip
    return xr.Dataset(attrs={**base, **attrs})


def test_a_kept_run_is_taken_only_with_the_table_s_settings():
    settings = {"seed": 0, "seeds": 3, "quick": True, "epochs": None, "target_rate": None}
    assert check_run(kept(), "ecg", "elm", **settings) is None
    assert "param_neuron is lif, not elm" in check_run(
        kept(param_neuron="lif"), "ecg", "elm", **settings
    )
    assert "param_seeds is 1, not 3" in check_run(kept(param_seeds=1), "ecg", "elm", **settings)
    assert "param_quick is 0" in check_run(kept(param_quick=0), "ecg", "elm", **settings)
    assert "param_epochs is None, not 2" in check_run(
        kept(), "ecg", "elm", **{**settings, "epochs": 2}
    )
    assert "param_target_rate is None, not 30.0" in check_run(
        kept(), "ecg", "elm", **{**settings, "target_rate": 30}
    )
    assert (
        check_run(kept(param_target_rate=30.0), "ecg", "elm", **{**settings, "target_rate": 30})
        is None
    )
    assert "task is eeg" in check_run(kept(task="eeg"), "ecg", "elm", **settings)
    floor = kept(param_models="['floor']", param_neuron="None")
    assert check_run(floor, "ecg", "floor", **settings) is None  # the floor has no neuron
    assert "--neuron" not in task_command("ecg", "floor", out="x.nc", **settings)


def test_bad_input_is_refused_before_any_run(run_script, tmp_path):
    for args, message in [
        (["--tasks", "ecg", "ecg"], "--tasks: a value is given twice"),
        (["--neurons", "izh"], "invalid choice: 'izh'"),
        (["--seeds", "0"], "--seeds"),
        (["--runs", ""], "--runs: the folder is empty"),
        (["--seed", "4294967295", "--seeds", "2"], "--seed + --seeds - 1 must be at most"),
    ]:
        result = run_script("protocols/neuron_table.py", *args, "--out", tmp_path / "t.nc")
        assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not list(tmp_path.iterdir())
    (tmp_path / "file").write_text("")
    result = run_script("protocols/neuron_table.py", "--runs", tmp_path / "file" / "runs",
                        "--out", tmp_path / "t.nc")  # fmt: skip
    assert result.returncode == 2 and "--runs: " in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.slow
def test_the_table_holds_its_runs_and_goes_on_where_it_stopped(run_script, tmp_path):
    out, runs = tmp_path / "table.nc", tmp_path / "table_runs"
    args = ["--quick", "--seeds", "1", "--tasks", "ecg", "--neurons", "lif", "tc_lif",
            "--no-progress", "--out", out]  # fmt: skip
    first = run_script("protocols/neuron_table.py", *args)
    assert first.returncode == 0, first.stderr
    assert "0 of 3 runs kept" in first.stdout
    table = read_dataset(out)
    assert dict(table.sizes) == {"task": 1, "neuron": 2, "seed": 1}
    for neuron in ("lif", "tc_lif"):
        run = read_dataset(runs / f"ecg_{neuron}.nc")
        assert run.attrs["bim_neuron"] == neuron
        for name, expected in [
            ("ecg_auc_roc", run.auc_roc),
            ("energy_per_sample", run.energy_per_sample),
            ("spike_sparsity", run.spike_sparsity),
        ]:
            ours = table[name].sel(neuron=neuron).squeeze()
            np.testing.assert_array_equal(ours, expected.sel(model="bim").mean("fold").squeeze())
    floor = read_dataset(runs / "ecg_floor.nc").auc_roc.sel(model="floor").mean("fold")
    np.testing.assert_array_equal(table.ecg_auc_roc_floor, floor)
    assert table.energy_per_sample.attrs["units"] == "pJ"
    # stopped midway: only the missing run is run again, and the table is the same
    (runs / "ecg_tc_lif.nc").unlink()
    kept_lif = (runs / "ecg_lif.nc").stat().st_mtime_ns
    again = run_script("protocols/neuron_table.py", *args)
    assert again.returncode == 0, again.stderr
    assert "2 of 3 runs kept" in again.stdout
    assert (runs / "ecg_lif.nc").stat().st_mtime_ns == kept_lif
    np.testing.assert_array_equal(read_dataset(out).ecg_auc_roc, table.ecg_auc_roc)
    # other settings never take a kept run, and nothing is written
    before = out.stat().st_mtime_ns
    other = run_script("protocols/neuron_table.py", *[a if a != "1" else "2" for a in args])
    assert other.returncode == 2
    assert "was made with other settings (its param_seeds is 1, not 2)" in other.stderr
    assert out.stat().st_mtime_ns == before
    drawn = run_script("figures/neuron_table.py", "--input", out, "--out", tmp_path / "fig")
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "fig.png").stat().st_size > 0
