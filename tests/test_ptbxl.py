"""The PTB-XL loader on a tiny fixture written in the database's published layout."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from bimsim.data.ptbxl import SUPERCLASSES, load_ptbxl

LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
ROWS = [  # ecg_id, patient_id, scp_codes, strat_fold
    (1, 11, "{'NORM': 100.0, 'SR': 0.0}", 1),
    (2, 11, "{'IMI': 50.0, 'NDT': 100.0}", 1),
    (3, 12, "{'LVH': 100.0}", 9),
    (4, 13, "{'CLBBB': 100.0, 'SR': 0.0}", 10),
    (5, 13, "{'NORM': 80.0}", 10),
    (6, 14, "{'SR': 0.0}", 2),
]


@pytest.fixture
def ptbxl(tmp_path):
    """A PTB-XL folder of six records (in ``tmp_path/ptbxl``: results go beside it)."""
    import wfdb

    root = tmp_path / "ptbxl"

    rng = np.random.default_rng(0)
    lines = ["ecg_id,patient_id,scp_codes,strat_fold,filename_lr,filename_hr"]
    for ecg_id, patient, codes, fold in ROWS:
        name = f"records100/00000/{ecg_id:05d}_lr"
        lines.append(f'{ecg_id},{patient},"{codes}",{fold},{name},records500/00000/{ecg_id:05d}_hr')
        folder = root / "records100" / "00000"
        folder.mkdir(parents=True, exist_ok=True)
        signal = np.round(rng.normal(0, 0.3, (1000, 12)), 3)
        wfdb.wrsamp(
            f"{ecg_id:05d}_lr", fs=100, units=["mV"] * 12, sig_name=LEADS, p_signal=signal,
            fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder),
        )  # fmt: skip
    (root / "ptbxl_database.csv").write_text("\n".join(lines) + "\n")
    (root / "scp_statements.csv").write_text(
        ",diagnostic,diagnostic_class\nNORM,1,NORM\nIMI,1,MI\nNDT,1,STTC\nLVH,1,HYP\n"
        "CLBBB,1,CD\nSR,,\n"
    )
    return root


def test_ecgs_superclasses_and_folds(ptbxl):
    data = load_ptbxl(ptbxl)
    assert data["signal"].shape == (6, 1000, 12) and data["leads"] == tuple(LEADS)
    expected = {1: {"NORM"}, 2: {"MI", "STTC"}, 3: {"HYP"}, 4: {"CD"}, 5: {"NORM"}, 6: set()}
    for row, ecg_id in zip(data["labels"], data["ecg_id"], strict=True):
        assert {SUPERCLASSES[k] for k in np.flatnonzero(row)} == expected[ecg_id]
    assert list(data["fold"]) == [1, 1, 9, 10, 10, 2]
    test = load_ptbxl(ptbxl, folds=[10])
    train = load_ptbxl(ptbxl, folds=range(1, 9))
    assert list(test["ecg_id"]) == [4, 5] and not set(test["patient"]) & set(train["patient"])
    assert np.abs(data["signal"]).max() < 3


def test_a_missing_record_file_and_a_missing_table_are_named(ptbxl):
    (ptbxl / "records100" / "00000" / "00003_lr.dat").unlink()
    with pytest.raises(FileNotFoundError, match=r"00003_lr\.dat is missing"):
        load_ptbxl(ptbxl)
    (ptbxl / "scp_statements.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"scp_statements\.csv is missing"):
        load_ptbxl(ptbxl)


@pytest.fixture
def listed(ptbxl):
    """The fixture with PhysioNet's checksum listing of every file in it."""
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.relative_to(ptbxl).as_posix()}"
        for path in sorted(ptbxl.rglob("*"))
        if path.is_file()
    ]
    (ptbxl / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    return ptbxl


def test_every_file_read_is_checked_against_the_listing(listed):
    assert load_ptbxl(listed)["signal"].shape == (6, 1000, 12)
    header = listed / "records100" / "00000" / "00005_lr.hea"
    header.write_text(header.read_text().replace(" 1000.0(0)/mV", " 500.0(0)/mV"))  # twice the mV
    with pytest.raises(ValueError, match=rf"^PTB-XL: {header} is corrupted: its sha256 is "):
        load_ptbxl(listed)
    with pytest.raises(ValueError, match=rf"^PTB-XL: {header} is corrupted"):
        load_ptbxl(listed, folds=[10])
    assert load_ptbxl(listed, folds=[1])["signal"].shape == (2, 1000, 12)  # 00005 is not read


@pytest.mark.parametrize("name", ["scp_statements.csv", "records100/00000/00002_lr.dat"])
def test_a_file_missing_from_the_listing_is_refused(listed, name):
    listing = listed / "SHA256SUMS.txt"
    lines = listing.read_text().splitlines()
    listing.write_text("\n".join(line for line in lines if not line.endswith(f" {name}")))
    with pytest.raises(ValueError) as refused:
        load_ptbxl(listed)
    assert str(refused.value) == (
        f"PTB-XL: {listed / name} is not in {listing}, so nothing vouches for it"
    )


def test_an_empty_listing_is_refused(listed):
    (listed / "SHA256SUMS.txt").write_text("")
    with pytest.raises(ValueError, match=r"^PTB-XL: .*SHA256SUMS\.txt lists no files"):
        load_ptbxl(listed)


def test_a_record_file_that_is_a_folder_is_named(ptbxl):
    dat = ptbxl / "records100" / "00000" / "00003_lr.dat"
    dat.unlink()
    dat.mkdir()
    with pytest.raises(ValueError, match=rf"^PTB-XL: {dat} is a folder, not a PTB-XL file$"):
        load_ptbxl(ptbxl)


@pytest.fixture
def swapped(ptbxl):
    """The fixture with 00004_lr.hea (fold 10) naming 00001_lr.dat, the ECG of another patient."""
    header = ptbxl / "records100" / "00000" / "00004_lr.hea"
    header.write_text(header.read_text().replace("00004_lr.dat", "00001_lr.dat"))
    return ptbxl


def test_a_header_naming_another_record_s_signal_file_is_refused(swapped):
    header = swapped / "records100" / "00000" / "00004_lr.hea"
    with pytest.raises(ValueError) as refused:
        load_ptbxl(swapped)
    assert str(refused.value) == (
        f"PTB-XL: {header} names the signal file 00001_lr.dat, not 00004_lr.dat"
    )


def test_the_ecg_command_refuses_a_header_naming_another_signal_file(swapped, tmp_path):
    out = tmp_path / "results" / "ecg.nc"  # not in the data folder, which the command reads
    command = [sys.executable, "-m", "bimsim.tasks.ecg", "--dataset", "ptbxl"]
    command += ["--data", str(swapped), "--models", "cnn", "--quick", "--out", str(out)]
    env = {**os.environ, "BIMSIM_DATA": str(tmp_path)}
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2, result.stderr
    assert "00004_lr.hea names the signal file 00001_lr.dat" in last, result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_the_ecg_task_runs_on_ptbxl(ptbxl, run_script, tmp_path):
    out = tmp_path / "results" / "ptbxl.nc"  # not in the data folder, which the command reads
    result = run_script(
        "bimsim/tasks/ecg.py", "--dataset", "ptbxl", "--data", ptbxl, "--models", "bim", "cnn",
        "floor",
        "--epochs", 1, "--baseline-epochs", 1, "--copies", 2, "--hidden", 4, "--no-progress",
        "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "train: 2 samples of patients 11" in result.stdout
    from bimsim.io import read_dataset

    ds = read_dataset(out)
    assert list(ds["class"].values) == ["NORM", "abnormal"]
    assert list(ds.label.values) == ["abnormal", "NORM"] and set(ds.group.values) == {"13"}
    assert ds.train_groups.item() == "11" and ds.attrs["split"] == "strat_fold 1-8 / 10"
    assert ds.probability.shape == (1, 3, 2, 2) and "PTB-XL" in ds.attrs["data_citation"]


def test_mitdb_splits_are_refused_for_ptbxl(ptbxl, capsys):
    from bimsim.tasks.ecg import main

    with pytest.raises(SystemExit):
        main(["--dataset", "ptbxl", "--data", str(ptbxl), "--split", "intra"])
    assert "strat_fold" in capsys.readouterr().err
