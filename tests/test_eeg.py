"""The EEG task on the Bonn data: windows, folds that keep segments whole, both input variants."""

import numpy as np
import pytest

from bimsim.data.bonn import load_bonn
from bimsim.io import read_dataset
from bimsim.tasks.eeg import WINDOW, bonn_task, fold_masks, normalise, windows


@pytest.fixture(scope="module")
def bonn():
    return load_bonn()


def test_windows_are_spread_over_the_segment_and_cut_in_order():
    eeg = np.arange(2 * 4097).reshape(2, 4097)
    cut = windows(eeg, 3)
    assert cut.shape == (6, WINDOW)
    # windows 0, 11 and 22 of the 23 in each segment, segment-major
    np.testing.assert_array_equal(cut[:, 0], [0, 11 * WINDOW, 22 * WINDOW, 4097,
                                              4097 + 11 * WINDOW, 4097 + 22 * WINDOW])  # fmt: skip
    assert np.all(np.diff(cut, axis=1) == 1)
    np.testing.assert_array_equal(windows(eeg, 23).reshape(2, -1), eeg[:, : 23 * WINDOW])
    with pytest.raises(ValueError, match=r"windows per segment must lie in \[1, 23\]"):
        windows(eeg, 24)


def test_normalised_windows_have_zero_mean_and_unit_sd_and_flat_ones_are_refused():
    rng = np.random.default_rng(0)
    x = normalise(rng.normal(5.0, 30.0, (4, WINDOW)))
    np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=1), 1)
    with pytest.raises(ValueError, match="1 windows are flat"):
        normalise(np.vstack([x, np.full(WINDOW, 3.0)]))


def test_folds_keep_segments_whole_and_are_stratified(bonn):
    seizure = (bonn.set.values == "E").astype(int)
    fold = fold_masks(seizure)
    assert np.all(np.bincount(fold) == 100)
    assert np.all(np.bincount(fold[seizure == 1]) == 20)
    task = bonn_task(bonn, "raw", 3)
    assert task.signals.shape == (1500, WINDOW, 1) and task.labels.sum() == 300
    for f in task.folds:
        assert not set(task.groups[f.train]) & set(task.groups[f.test])
        assert f.test.sum() == 300
    assert np.all(sum(f.test.astype(int) for f in task.folds) == 1)
    # the raw variant keeps the amplitude: set E is louder; the normalised one does not
    loud = task.signals[task.labels == 1].std() / task.signals[task.labels == 0].std()
    assert loud > 3
    flat = bonn_task(bonn, "normalised", 3)
    np.testing.assert_allclose(flat.signals.std(axis=1), 1)
    assert flat.floor_features.shape == (1500, 5)


def test_the_band_power_floor_separates_seizures_far_above_chance(bonn):
    """The floor of the default run, fold by fold (the numbers in the README)."""
    from bimsim.metrics import binary_scores
    from bimsim.tasks.floors import logistic_regression

    # measured: raw 0.967-0.994 per fold, normalised 0.667-0.879 (mean 0.795)
    for variant, lowest, mean in (("raw", 0.95, 0.97), ("normalised", 0.6, 0.75)):
        task = bonn_task(bonn, variant, 3)
        auc = []
        for f in task.folds:
            p = logistic_regression(task.floor_features[f.train], task.labels[f.train],
                                    task.floor_features[f.test])  # fmt: skip
            auc.append(binary_scores(task.labels[f.test], p[:, 1])["auc_roc"])
        assert min(auc) > lowest and np.mean(auc) > mean


@pytest.mark.slow
def test_quick_run_writes_both_variants_and_the_figure(run_script, tmp_path):
    result = run_script(
        "bimsim/tasks/eeg.py", "--quick", "--no-progress", "--out", tmp_path / "e.nc"
    )
    assert result.returncode == 0, result.stderr
    assert "inputs: raw" in result.stdout and "inputs: normalised" in result.stdout
    assert "paper: CHB-MIT" in result.stdout
    ds = read_dataset(tmp_path / "e.nc")
    assert list(ds.variant.values) == ["raw", "normalised"]
    assert ds.auc_roc.dims == ("variant", "seed", "fold", "model")
    assert list(ds.model.values) == ["bim", "cnn", "gru", "snn", "ssm", "floor"]
    assert list(ds.fold.values) == ["1"] and ds.sizes["sample"] == 256
    assert set(ds.group.values) <= set(load_bonn().segment.values)
    assert ds.attrs["bim_dt"] == "2. ms" and ds.attrs["windows_per_segment"] == 3
    # EEG's input scaling (chosen on validation): each variant's layer brought to 50 Hz
    assert ds.attrs["bim_target_rate"] == "50. Hz" and ds.attrs["bim_readout_scale"] == 0.4
    assert ds.attrs["bim_lam"] == 0.5
    rates = ds.calibrated_rate.sel(model="bim").values
    np.testing.assert_allclose(rates, 50.0, rtol=0.2)
    figure = run_script("figures/eeg_roc.py", "--input", tmp_path / "e.nc", "--out", tmp_path / "f")
    assert figure.returncode == 0, figure.stderr
    assert (tmp_path / "f.png").stat().st_size > 0
