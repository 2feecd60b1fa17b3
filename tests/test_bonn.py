"""The Bonn EEG loader on the real segments, and damaged copies named with their line."""

import shutil

import numpy as np
import pytest
from commands import assert_refused, run_rows

from bimsim.data.bonn import FOLDERS, SAMPLES, bonn_dir, load_bonn, read_segment
from bimsim.io import check_dataset

EEG = ("-m", "bimsim.tasks.eeg")


@pytest.fixture(scope="module")
def bonn(data_root):
    return data_root / "eeg_bonn"


def test_every_set_holds_100_segments_of_23_6_s(bonn):
    ds = check_dataset(load_bonn(bonn))
    assert ds.eeg.shape == (500, SAMPLES) and ds.eeg.dtype == np.int16
    assert {s: int((ds.set == s).sum()) for s in "ABCDE"} == dict.fromkeys("ABCDE", 100)
    assert ds.time.values[-1] == pytest.approx(23.6, abs=0.01)
    # SOURCES.md: Z001 begins 12, 22, 35, 45, 69; values from -1885 to 2047 over all files
    assert list(ds.eeg.sel(segment="Z001").values[:5]) == [12, 22, 35, 45, 69]
    assert (int(ds.eeg.min()), int(ds.eeg.max())) == (-1885, 2047)
    assert list(ds.segment.values[:2]) == ["Z001", "Z002"] and ds.segment.values[-1] == "S100"


def test_a_subset_of_sets_and_the_upper_case_files_of_set_c(bonn):
    ds = load_bonn(bonn, sets="CE")
    assert sorted(set(ds.set.values)) == ["C", "E"] and ds.sizes["segment"] == 200
    assert ds.segment.values[0] == "N001"  # read from N001.TXT


def copy_set(bonn, tmp_path, letter="A", files=2):
    """A Bonn folder in tmp_path with the first ``files`` segments of one set."""
    folder = tmp_path / FOLDERS[letter]
    folder.mkdir(parents=True)
    for path in sorted((bonn / FOLDERS[letter]).iterdir())[:files]:
        shutil.copy(path, folder / path.name)
    return folder


def test_a_line_that_is_not_a_number_is_named(bonn, tmp_path):
    folder = copy_set(bonn, tmp_path)
    path = folder / "Z002.txt"
    lines = path.read_text().splitlines()
    lines[41] = "4x2"
    path.write_text("\r\n".join(lines) + "\r\n")
    with pytest.raises(ValueError, match=r"Z002.txt, line 42: '4x2' is not a whole number"):
        load_bonn(tmp_path, sets="A")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"Z001.txt is empty"),
        ("1\r\n2\r\n3\r\n", r"Z001.txt holds 3 samples, not 4097"),
        ("1.5\r\n" * SAMPLES, r"Z001.txt, line 1: '1.5' is not a whole number"),
        ("40000\r\n" * SAMPLES, r"Z001.txt holds samples outside the 16-bit range"),
    ],
)
def test_a_damaged_segment_is_named(bonn, tmp_path, text, message):
    folder = copy_set(bonn, tmp_path, files=1)
    (folder / "Z001.txt").write_text(text)
    with pytest.raises(ValueError, match=message):
        read_segment(folder / "Z001.txt")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.mkdir(), r"A_Z/Z003\.txt is a folder, not a segment file$"),
        (
            lambda p: p.symlink_to(p.parent / "gone.txt"),
            r"A_Z/Z003\.txt is a dangling link \(to .*gone\.txt\), not a segment file$",
        ),
        (
            lambda p: p.with_suffix(".txt.bak").write_text("1\r\n"),
            r"A_Z/Z003\.txt\.bak is not a segment file \(\*\.txt\) of set folder A_Z$",
        ),
        (
            lambda p: shutil.copy(p.with_name("Z001.txt"), p.with_suffix(".TXT").with_stem("Z001")),
            r"A_Z/Z001\.TXT and .*A_Z/Z001\.txt are both segment Z001$",
        ),
    ],
    ids=["folder", "dangling link", "other file", "same name"],
)
def test_an_entry_that_is_not_a_new_segment_file_is_named(bonn, tmp_path, write, message):
    folder = copy_set(bonn, tmp_path)
    write(folder / "Z003.txt")
    with pytest.raises(ValueError, match=message):
        load_bonn(tmp_path, sets="A")


def test_a_segment_copied_into_another_set_is_named(bonn, tmp_path):
    """A copy of a healthy segment among the seizures would be one segment in two folds."""
    copy_set(bonn, tmp_path, "A")
    seizures = copy_set(bonn, tmp_path, "E")
    shutil.copy(tmp_path / "A_Z" / "Z002.txt", seizures / "S101.txt")
    with pytest.raises(ValueError) as refused:
        load_bonn(tmp_path, sets="AE")
    assert str(refused.value) == (
        f"{tmp_path / 'A_Z' / 'Z002.txt'} and {seizures / 'S101.txt'} are byte-identical: the "
        "same segment under two names, which could be both trained on and tested"
    )


def test_the_eeg_command_refuses_a_duplicate_segment(bonn, tmp_path, tmp_path_factory):
    for letter in FOLDERS:
        copy_set(bonn, tmp_path, letter, files=1)
    shutil.copy(tmp_path / "A_Z" / "Z001.txt", tmp_path / "A_Z" / "Z002.txt")
    row = (EEG, ["--data", tmp_path, "--quick", "--models", "floor"], "")
    run = run_rows([row], tmp_path_factory)
    assert_refused(run[0], r"Z001\.txt and .*Z002\.txt are byte-identical")


def test_missing_folders_and_sets_are_named(bonn, tmp_path, monkeypatch):
    copy_set(bonn, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"set E: folder .*E_S is missing"):
        load_bonn(tmp_path, sets="AE")
    (tmp_path / "B_O").mkdir()
    with pytest.raises(FileNotFoundError, match=r"set B: .*B_O holds no segment files"):
        load_bonn(tmp_path, sets="B")
    with pytest.raises(ValueError, match=r"sets are letters from ABCDE, got 'AX'"):
        load_bonn(tmp_path, sets="AX")
    with pytest.raises(FileNotFoundError, match=r"Bonn EEG folder .*nowhere does not exist"):
        bonn_dir(tmp_path / "nowhere")
    monkeypatch.delenv("BIMSIM_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"set BIMSIM_DATA"):
        bonn_dir()
