"""The ECG task as users run it, and the scores it reports."""

from pathlib import Path

import numpy as np
import pytest
from brian2 import Hz

from bimsim.data.mitdb import DS1, DS2, embedded_beats
from bimsim.io import read_dataset
from bimsim.metrics import binary_scores, class_scores, energy_pj
from bimsim.tasks.ecg import BIM, VALIDATION_RECORDS, prepare, split


def test_a_constant_predictor_scores_auc_half():
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    assert binary_scores(labels, np.full(8, 0.3))["auc_roc"] == 0.5
    assert binary_scores(labels, labels * 2.0)["auc_roc"] == 1.0
    with pytest.raises(ValueError, match="both classes"):
        binary_scores(np.ones(4), np.arange(4.0))
    with pytest.raises(ValueError, match="NaN"):
        binary_scores(labels, np.full(8, np.nan))


def test_class_scores_and_energy():
    scores = class_scores([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], range(4))
    np.testing.assert_allclose(scores["sensitivity"], [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(scores["ppv"], [0.5, 0.5, 1.0, 0.0])
    assert list(scores["support"]) == [2, 1, 2, 0]
    assert energy_pj(10, 2) == pytest.approx(10 * 0.9 + 2 * 4.6)


def test_the_inter_patient_split_shares_no_patient():
    beats = embedded_beats()
    train, test = split(beats, "inter", seed=0)
    train_records, test_records = set(beats.record.values[train]), set(beats.record.values[test])
    assert not train_records & test_records
    assert train_records <= set(DS1) and test_records == set(DS2)
    signals, features, labels = prepare(beats)
    assert signals.shape == (len(labels), 234, 1) and np.all(features > 0)
    assert np.all(np.abs(np.median(signals, axis=1)) < 1e-12)
    val_train, val_test = split(beats, "validation", seed=0)
    assert set(beats.record.values[val_test]) == set(VALIDATION_RECORDS)
    assert set(beats.record.values[val_train]) == train_records - set(VALIDATION_RECORDS)
    intra_train, intra_test = split(beats, "intra", seed=0)
    assert not np.any(intra_train & intra_test) and np.all(intra_train | intra_test)


#: The quick run at seed 3 written by the ECG command before the shared runner (commit 2de4d56).
#: Its BIM row is not compared: BIM's encoder then read every beat after a network's first run at
#: the wrong time (the beat's last sample held; fixed since), and BIM's settings have changed.
BEFORE_THE_RUNNER = Path(__file__).with_name("data") / "ecg_quick_seed3_2de4d56.npz"


@pytest.mark.slow
def test_quick_run_writes_dataset_table_and_figure_and_repeats_exactly(run_script, tmp_path):
    outputs = []
    for name in ("a.nc", "b.nc"):
        result = run_script("bimsim/tasks/ecg.py", "--quick", "--no-progress", "--seed", 3,
                            "--out", tmp_path / name)  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs.append(read_dataset(tmp_path / name))
    assert "AUC-ROC" in result.stdout and "train: 3614 samples of records" in result.stdout
    assert "--quick: at most 256 training and test samples" in result.stdout
    ds = outputs[0]
    assert set(ds.probability.dims) == {"seed", "model", "sample", "class"}
    assert list(ds.model.values) == ["bim", "cnn", "gru", "snn", "ssm", "floor"]
    assert np.all(ds.parameters > 0) and np.all(ds.train_time > 0)
    assert list(ds["class"].values) == ["N", "S", "V", "F", "Q"]
    assert np.all((ds.auc_roc >= 0) & (ds.auc_roc <= 1)) and ds.sizes["sample"] == 256
    assert ds.energy_per_sample.attrs["units"] == "pJ" and np.all(ds.energy_per_sample > 0)
    assert ds.attrs["energy_per_mac_pj"] == 4.6 and ds.attrs["split"] == "inter"
    assert ds.attrs["bim_eta"] == BIM.eta and ds.attrs["baseline_epochs"] == 1
    assert ds.attrs["bim_optimizer_kind"] == BIM.optimizer.kind
    assert ds.attrs["bim_readout_learning_rate"] == BIM.readout_learning_rate
    assert np.all(ds.test_samples == 256) and np.all(ds.train_samples == 256)
    # BIM's input scaling, before training, to ECG's layer rate; the other models keep none
    assert ds.attrs["bim_target_rate"] == str(BIM.target_rate)
    assert ds.attrs["bim_readout_scale"] == BIM.readout_scale == 0.4
    scaled = ds.sel(seed=3, model="bim").isel(fold=0)
    assert float(scaled.calibrated_rate) == pytest.approx(float(BIM.target_rate / Hz), rel=0.2)
    assert float(scaled.input_weight_scale) > 0
    assert ds.input_weight_scale.sel(model="cnn").isnull().all()
    np.testing.assert_array_equal(outputs[0].probability, outputs[1].probability)
    # the shared runner changed no baseline's number of the command before it (same seed,
    # data, settings)
    before = np.load(BEFORE_THE_RUNNER)
    kept = [k for k, name in enumerate(before["model"]) if name != "bim"]
    before = {key: before[key] if key == "label" else before[key][kept] for key in before.files}
    models = list(before["model"])
    assert models == ["cnn", "gru", "snn", "ssm"]
    now = ds.sel(seed=3, fold="DS2", model=models)
    np.testing.assert_array_equal(ds.label.values.astype(str), before["label"])
    np.testing.assert_allclose(now.probability.values, before["probability"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(now.auc_roc.values, before["auc_roc"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(now.auc_pr.values, before["auc_pr"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(now.train_loss.values[:, :1], before["train_loss"], rtol=1e-6)
    np.testing.assert_array_equal(now.parameters.values, before["parameters"])
    np.testing.assert_allclose(now.macs_per_sample.values, before["macs"], rtol=1e-9)
    np.testing.assert_allclose(now.accumulates_per_sample.values, before["accumulates"], rtol=1e-6)
    figure = run_script("figures/ecg_roc.py", "--input", tmp_path / "a.nc", "--out", tmp_path / "f")
    assert figure.returncode == 0, figure.stderr
    assert (tmp_path / "f.png").stat().st_size > 0


def test_a_missing_data_folder_is_named(run_script, tmp_path):
    result = run_script("bimsim/tasks/ecg.py", "--data", tmp_path / "nowhere", "--quick")
    assert result.returncode == 2 and "nowhere does not exist" in result.stderr


@pytest.mark.slow
def test_pruning_on_the_command_line_prunes_and_saves_energy(run_script, tmp_path):
    """``--prune-target 0.5``: the run records the fraction it pruned, and its synaptic
    accumulates (each input spike reaches only its neuron's active synapses) fall below those of
    the same run without pruning, whose input spikes are the same (the encoder does not learn)."""
    runs = {}
    for rho in (0.0, 0.5):
        out = tmp_path / f"rho{rho}.nc"
        result = run_script("bimsim/tasks/ecg.py", "--quick", "--models", "bim", "--no-progress",
                            "--prune-target", rho, "--out", out)  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[rho] = read_dataset(out).sel(model="bim").isel(seed=0, fold=0)
    assert float(runs[0.0].pruned_fraction) == 0
    pruned = float(runs[0.5].pruned_fraction)
    assert 0.1 < pruned < 1
    assert runs[0.5].attrs["bim_prune_target"] == 0.5
    ratio = float(runs[0.5].accumulates_per_sample / runs[0.0].accumulates_per_sample)
    assert ratio < 1 - 0.5 * pruned
