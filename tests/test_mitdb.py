"""The MIT-BIH loader on the real records: counts, classes, splits, and damaged files named."""

import os
import shutil
import struct
import subprocess
import sys

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
    tmp_path.mkdir(parents=True, exist_ok=True)
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


def test_a_changed_header_is_refused_by_the_listing(mitdb, tmp_path):
    """A header is checked too: 100.hea with its gain halved would read a signal twice as big."""
    folder = copy_record(mitdb, tmp_path)
    header = folder / "100.hea"
    header.write_text(header.read_text().replace(" 200 ", " 100 "))
    with pytest.raises(ValueError, match=rf"^{folder / '100.hea'} is corrupted: its sha256 is "):
        load_record(folder, "100")
    assert load_record(folder, "100", verify=False).signal[0, 0] == pytest.approx(2 * -0.145)


def test_a_header_matches_its_listing_with_either_line_ending(mitdb, tmp_path):
    """PhysioNet's headers end their lines with CRLF, the copy in the data folder with LF."""
    folder = copy_record(mitdb, tmp_path)
    header = folder / "100.hea"
    assert b"\r\n" not in header.read_bytes()
    assert load_record(folder, "100").signal[0, 0] == pytest.approx(-0.145)
    header.write_bytes(header.read_bytes().replace(b"\n", b"\r\n"))
    assert load_record(folder, "100").signal[0, 0] == pytest.approx(-0.145)


@pytest.mark.parametrize("suffix", [".hea", ".dat", ".atr"])
def test_a_file_missing_from_the_listing_is_refused(mitdb, tmp_path, suffix):
    folder = copy_record(mitdb, tmp_path)
    listing = folder / "SHA256SUMS.txt"
    lines = listing.read_text().splitlines()
    listing.write_text("\n".join(line for line in lines if not line.endswith(f" 100{suffix}")))
    with pytest.raises(ValueError) as refused:
        load_record(folder, "100")
    path = folder / f"100{suffix}"
    assert str(refused.value) == f"{path} is not in {listing}, so nothing vouches for it"


@pytest.mark.parametrize("text", ["", "\n\n", "not a listing\n"])
def test_an_empty_listing_is_refused(mitdb, tmp_path, text):
    folder = copy_record(mitdb, tmp_path)
    (folder / "SHA256SUMS.txt").write_text(text)
    with pytest.raises(ValueError, match=r"SHA256SUMS\.txt lists no files .*checks nothing$"):
        load_record(folder, "100")


def test_a_truncated_annotation_file_is_named_without_checksums(mitdb, tmp_path):
    """wfdb reads a cut annotation file without a word: here half of the beats would be lost."""
    folder = copy_record(mitdb, tmp_path, checksums=False)
    atr = folder / "100.atr"
    size = atr.stat().st_size
    atr.write_bytes(atr.read_bytes()[: size // 2 // 2 * 2])
    with pytest.raises(ValueError) as refused:
        load_record(folder, "100")
    assert str(refused.value) == (
        f"{atr} is truncated: {size // 2 // 2 * 2} bytes, not ending with the end mark of an MIT "
        "annotation file (two zero bytes)"
    )


@pytest.mark.parametrize("kind", ["folder", "dangling link"])
def test_a_record_file_that_is_not_a_file_is_named(mitdb, tmp_path, kind):
    folder = copy_record(mitdb, tmp_path)
    atr = folder / "100.atr"
    atr.unlink()
    if kind == "folder":
        atr.mkdir()
    else:
        atr.symlink_to(tmp_path / "nowhere.atr")
    with pytest.raises(ValueError, match=rf"^{atr} is a {kind}.*, not a record file$"):
        load_record(folder, "100")


def write_annotations(folder, name, sample):
    """Rewrite ``folder/name.atr`` with wfdb, its annotations moved to ``sample``."""
    import wfdb

    old = wfdb.rdann(str(folder / name), "atr")
    (folder / f"{name}.atr").unlink()
    wfdb.wrann(
        name, "atr", sample, symbol=old.symbol, subtype=old.subtype, chan=old.chan, num=old.num,
        aux_note=old.aux_note, write_dir=str(folder),
    )  # fmt: skip


def run_ecg(folder, tmp_path, data_root):
    """Run the ECG command on ``folder``; return the finished process and its ``--out`` path."""
    out = tmp_path / "ecg.nc"
    command = [sys.executable, "-m", "bimsim.tasks.ecg", "--data", str(folder)]
    command += ["--models", "cnn", "--quick", "--no-progress", "--out", str(out)]
    env = {**os.environ, "BIMSIM_DATA": str(data_root)}
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    return result, out


def assert_refused(result, out, *words):
    """The command exited with status 2, its one stderr line holds ``words``, wrote no file."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].endswith("(see --help)"), result.stderr
    assert all(word in lines[0] for word in words), result.stderr
    assert not out.exists()


@pytest.fixture
def swapped(mitdb, tmp_path):
    """Records 100 and 101 in a folder without checksums, 100.hea naming 101.dat."""
    folder = copy_record(mitdb, tmp_path / "mitdb", "100", checksums=False)
    copy_record(mitdb, folder, "101", checksums=False)
    header = folder / "100.hea"
    header.write_text(header.read_text().replace("100.dat", "101.dat"))
    return folder


def test_a_header_naming_another_record_s_signal_file_is_refused(swapped):
    with pytest.raises(ValueError) as refused:
        load_record(swapped, "100")
    assert str(refused.value) == f"{swapped / '100.hea'} names the signal file 101.dat, not 100.dat"
    assert load_record(swapped, "101").name == "101"


def test_the_ecg_command_refuses_a_header_naming_another_signal_file(swapped, tmp_path, data_root):
    result, out = run_ecg(swapped, tmp_path, data_root)
    assert_refused(result, out, str(swapped / "100.hea"), "names the signal file 101.dat")


@pytest.fixture
def overlong(mitdb, tmp_path):
    """Record 100, its last three annotations moved 10000 samples past the signal's end."""
    folder = copy_record(mitdb, tmp_path / "mitdb", checksums=False)
    sample = load_record(folder, "100").sample
    sample[-3:] += 10_000
    write_annotations(folder, "100", sample)
    return folder


def test_annotations_past_the_end_of_the_signal_are_refused(overlong):
    atr = overlong / "100.atr"
    with pytest.raises(ValueError) as refused:
        load_record(overlong, "100")
    assert str(refused.value) == (
        f"{atr} has 3 of 2274 annotations outside the signal: the first at sample 659484, but "
        "the signal has 650000 samples (0 to 649999)"
    )


def test_the_ecg_command_refuses_annotations_past_the_end(overlong, tmp_path, data_root):
    result, out = run_ecg(overlong, tmp_path, data_root)
    assert_refused(result, out, str(overlong / "100.atr"), "3 of 2274 annotations outside")


@pytest.fixture
def unordered(mitdb, tmp_path):
    """Record 100, its annotation file stepping back 60 samples before its second annotation.

    The MIT format stores each annotation's distance from the one before; a SKIP word carries a
    32-bit distance, which may be negative. ``wfdb.wrann`` refuses to write such a file, so the
    SKIP is put in by hand: after the first annotation ('+' at sample 18 and its 4-byte aux
    note "(N"), 8 bytes into 100.atr.
    """
    folder = copy_record(mitdb, tmp_path / "mitdb", checksums=False)
    atr = folder / "100.atr"
    data = atr.read_bytes()
    skip = struct.pack("<HhH", 59 << 10, -1, -60 & 0xFFFF)  # code 59, then -60 high word first
    atr.write_bytes(data[:8] + skip + data[8:])
    return folder


def test_annotations_out_of_time_order_are_refused(unordered):
    atr = unordered / "100.atr"
    with pytest.raises(ValueError) as refused:
        load_record(unordered, "100")
    assert str(refused.value) == (
        f"{atr} is out of time order: annotation 2 lies at sample 17, before annotation 1 at "
        "sample 18; 1 of 2273 steps go back"
    )


def test_the_ecg_command_refuses_annotations_out_of_time_order(unordered, tmp_path, data_root):
    result, out = run_ecg(unordered, tmp_path, data_root)
    assert_refused(result, out, str(unordered / "100.atr"), "out of time order")


def test_the_ecg_command_refuses_a_record_missing_from_the_listing(mitdb, tmp_path, data_root):
    """A header copied to a new name is a record the listing does not cover."""
    folder = copy_record(mitdb, tmp_path / "mitdb")
    shutil.copy(folder / "100.hea", folder / "099.hea")
    for suffix in (".dat", ".atr"):
        shutil.copy(folder / f"100{suffix}", folder / f"099{suffix}")
    result, out = run_ecg(folder, tmp_path, data_root)
    assert_refused(result, out, f"{folder / '099.hea'} is not in {folder / 'SHA256SUMS.txt'}")


def test_the_ecg_command_refuses_an_empty_listing(mitdb, tmp_path, data_root):
    folder = copy_record(mitdb, tmp_path / "mitdb")
    (folder / "SHA256SUMS.txt").write_text("")
    result, out = run_ecg(folder, tmp_path, data_root)
    assert_refused(result, out, str(folder / "SHA256SUMS.txt"), "lists no files")


def test_the_records_are_those_the_record_list_names(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path, checksums=False)
    assert records_in(folder) == ["100"]  # no RECORDS: every header
    listing = folder / "RECORDS"
    listing.write_text("100\n101\n")
    with pytest.raises(FileNotFoundError) as refused:
        records_in(folder)
    assert str(refused.value) == f"{listing} lists record 101, but {folder / '101.hea'} is missing"
    copy_record(mitdb, folder, "101", checksums=False)
    assert records_in(folder) == ["100", "101"]
    shutil.copy(folder / "101.hea", folder / "102.hea")
    with pytest.raises(ValueError) as refused:
        records_in(folder)
    assert (
        str(refused.value) == f"{folder / '102.hea'} is not in {listing}, so nothing vouches for it"
    )
    listing.write_text("\n")
    with pytest.raises(ValueError, match=rf"^{listing} lists no records"):
        records_in(folder)


def test_a_record_the_caller_does_not_read_may_be_absent(mitdb, tmp_path):
    """A partial copy with PhysioNet's whole RECORDS list, without the paced records the ECG
    task never reads, is not refused for them; a record it reads is still required."""
    folder = copy_record(mitdb, tmp_path, checksums=False)
    (folder / "RECORDS").write_text("100\n102\n104\n")
    assert records_in(folder, unread=("102", "104")) == ["100"]
    with pytest.raises(FileNotFoundError, match="lists record 104, but"):
        records_in(folder, unread=("102",))


def test_the_ecg_command_refuses_a_record_lost_from_the_record_list(mitdb, tmp_path, data_root):
    folder = copy_record(mitdb, tmp_path / "mitdb")
    (folder / "RECORDS").write_text("100\n101\n")
    result, out = run_ecg(folder, tmp_path, data_root)
    assert_refused(result, out, f"{folder / 'RECORDS'} lists record 101, but")


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


def test_a_header_gain_that_is_not_a_number_is_refused(mitdb, tmp_path):
    """WFDB would read a gain of "nan" as its default of 200 without a word."""
    folder = copy_record(mitdb, tmp_path, checksums=False)
    header = folder / "100.hea"
    lines = header.read_text().splitlines()
    fields = lines[1].split()
    fields[2] = "nan"
    lines[1] = " ".join(fields)
    header.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"^{header}: the ADC gain 'nan' must be a positive"):
        load_record(folder, "100")
