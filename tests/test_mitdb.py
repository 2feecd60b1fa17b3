"""The MIT-BIH loader on the real records: counts, classes, splits, and damaged files named."""

import shutil

import numpy as np
import pytest

from bimsim.data.mitdb import (
    AAMI_CLASSES,
    BEAT_TO_AAMI,
    DS1,
    DS2,
    EMBEDDED,
    PACED_RECORDS,
    beat_counts,
    embedded_beats,
    load_record,
    mitdb_dir,
    record_beats,
    records_in,
)


@pytest.fixture(scope="module")
def mitdb(data_root):
    return data_root / "mitdb"


def test_record_100_and_208_have_physionet_s_beat_counts(mitdb):
    assert beat_counts(load_record(mitdb, "100")) == {"N": 2239, "A": 33, "V": 1}
    assert beat_counts(load_record(mitdb, 208)) == {"N": 1586, "V": 992, "F": 373, "S": 2, "Q": 2}


def test_the_inter_patient_split_is_patient_disjoint_and_unpaced():
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not set(PACED_RECORDS) & (set(DS1) | set(DS2))
    assert set(BEAT_TO_AAMI.values()) == set(AAMI_CLASSES)


def test_the_shipped_folder_holds_all_of_ds2_and_18_records_of_ds1(mitdb):
    present = set(records_in(mitdb))
    assert set(DS2) <= present
    assert len(set(DS1) & present) == 18


def test_beats_are_cut_around_r_peaks_with_their_aami_class(mitdb):
    record = load_record(mitdb, "114")  # MLII is this record's second lead
    assert record.leads == ("V5", "MLII")
    beats = record_beats(record, before=0.25, after=0.4)
    assert beats["waveform"].shape[1] == round(0.65 * 360)
    mlii = record.signal[:, 1]
    k = 10
    np.testing.assert_array_equal(
        beats["waveform"][k], mlii[beats["r_peak"][k] - 90 : beats["r_peak"][k] + 144]
    )
    assert np.all(beats["rr_pre"] > 0.2) and np.all(beats["rr_post"] > 0.2)
    counts = beat_counts(record)
    assert len(beats["aami"]) >= sum(counts.values()) - 2  # first and last beat dropped
    with pytest.raises(ValueError, match="not 'V2'"):
        record_beats(record, lead="V2")


def copy_record(mitdb, tmp_path, name="100", checksums=True):
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(mitdb / f"{name}{suffix}", tmp_path)
    if checksums:
        shutil.copy(mitdb / "SHA256SUMS.txt", tmp_path)
    return tmp_path


def test_a_corrupted_signal_file_is_named(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path)
    dat = folder / "100.dat"
    data = bytearray(dat.read_bytes())
    data[5000] ^= 0xFF
    dat.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"100\.dat is corrupted"):
        load_record(folder, "100")


def test_a_truncated_signal_file_is_named_without_checksums(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path, checksums=False)
    dat = folder / "100.dat"
    dat.write_bytes(dat.read_bytes()[:100_000])
    with pytest.raises(ValueError, match=r"100\.dat is truncated"):
        load_record(folder, "100")


def test_a_missing_annotation_file_is_named(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path)
    (folder / "100.atr").unlink()
    with pytest.raises(FileNotFoundError, match=r"100\.atr is missing"):
        load_record(folder, "100")


def test_a_truncated_header_is_named(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path)
    header = folder / "100.hea"
    header.write_text(header.read_text().splitlines()[0][:12] + "\n")
    with pytest.raises(ValueError, match=r"100\.hea"):
        load_record(folder, "100")


def test_the_data_folder_is_required(monkeypatch, tmp_path):
    monkeypatch.delenv("BIMSIM_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="pass --data DIR or set BIMSIM_DATA"):
        mitdb_dir()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mitdb_dir(tmp_path / "nowhere")


def test_the_shipped_subset_is_exactly_what_its_script_writes(mitdb):
    from bimsim.data import make_mitdb_subset

    shipped = embedded_beats()
    assert EMBEDDED.stat().st_size <= 5_000_000
    rebuilt = make_mitdb_subset.subset(mitdb)
    np.testing.assert_allclose(shipped.waveform, rebuilt.waveform, rtol=0, atol=1e-12)
    for key in ("record", "symbol", "aami"):
        assert list(shipped[key].values) == list(rebuilt[key].values)
    counts = shipped.aami.to_series().value_counts()
    assert counts["N"] == 4000 and counts["S"] > 900 and counts["V"] > 1900
    assert set(shipped.record.values) == set(records_in(mitdb))
    assert "ODC-By" in shipped.attrs["license"] and shipped.waveform.attrs["units"] == "mV"


def test_a_damaged_shipped_subset_is_refused(monkeypatch, tmp_path):
    from bimsim.data import mitdb as module

    copy = tmp_path / "mitdb_beats.nc"
    data = bytearray(EMBEDDED.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(module, "EMBEDDED", copy)
    with pytest.raises(ValueError, match=r"mitdb_beats\.nc is corrupted"):
        module.embedded_beats()
