"""The FSDD loader on the real recordings, the official split, and bad files named."""

import os
import shutil

import numpy as np
import pytest
from commands import assert_refused, run_rows
from scipy.io import wavfile

from bimsim.data.fsdd import fsdd_dir, load_fsdd, parse_name, read_recording
from bimsim.io import check_dataset

SPEECH = ("-m", "bimsim.tasks.speech")


@pytest.fixture(scope="module")
def fsdd(data_root):
    return data_root / "fsdd"


def test_3000_recordings_six_speakers_and_the_official_split(fsdd):
    ds = check_dataset(load_fsdd(fsdd))
    assert ds.sizes["recording"] == 3000
    assert sorted(set(ds.speaker.values)) == [
        "george", "jackson", "lucas", "nicolas", "theo", "yweweler",
    ]  # fmt: skip
    assert all((ds.digit == d).sum() == 300 for d in range(10))
    assert (ds.split == "test").sum() == 300 and set(ds.index.values[ds.split == "test"]) == {
        0, 1, 2, 3, 4,
    }  # fmt: skip
    assert float(ds.duration.mean()) == pytest.approx(0.437, abs=0.001)  # SOURCES.md


def test_a_recording_is_read_scaled(fsdd):
    audio = read_recording(fsdd / "recordings" / "7_jackson_32.wav")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert -1 <= audio.min() < 0 < audio.max() < 1
    assert parse_name("7_jackson_32.wav") == (7, "jackson", 32)


def bad_folder(fsdd, tmp_path, name, write):
    """An FSDD folder with two good recordings and one written by ``write(path)``."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for good in ("0_theo_0.wav", "1_theo_7.wav"):
        shutil.copy(fsdd / "recordings" / good, recordings / good)
    write(recordings / name)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        (
            "2_theo_3.wav",
            lambda p: wavfile.write(p, 16000, np.zeros(800, np.int16)),
            r"2_theo_3.wav is sampled at 16000 Hz, not 8000 Hz",
        ),
        (
            "2_theo_3.wav",
            lambda p: wavfile.write(p, 8000, np.zeros((800, 2), np.int16)),
            r"2_theo_3.wav has 2 channels, not 1",
        ),
        (
            "2_theo_3.wav",
            lambda p: wavfile.write(p, 8000, np.zeros(800, np.float32)),
            r"2_theo_3.wav holds float32 samples, not 16-bit PCM",
        ),
        (
            "2_theo_3.wav",
            lambda p: wavfile.write(p, 8000, np.zeros(0, np.int16)),
            r"2_theo_3.wav holds no samples",
        ),
        (
            "2_theo_3.wav",
            lambda p: p.write_text("not audio"),
            r"2_theo_3.wav cannot be read as a WAV file",
        ),
        (
            "two_theo_3.wav",
            lambda p: wavfile.write(p, 8000, np.zeros(800, np.int16)),
            r"two_theo_3.wav: not a recording name of the form digit_speaker_index.wav",
        ),
    ],
)
def test_a_bad_recording_is_named(fsdd, tmp_path, name, write, message):
    with pytest.raises(ValueError, match=message):
        load_fsdd(bad_folder(fsdd, tmp_path, name, write))


def truncated(path, source):
    """``source`` cut to half its samples, its headers left as they were."""
    data = source.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 4 * 2])


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p, fsdd: p.mkdir(), r"2_theo_3\.wav is a folder, not a recording file$"),
        (
            lambda p, fsdd: p.symlink_to(p.parent / "gone.wav"),
            r"2_theo_3\.wav is a dangling link \(to .*gone\.wav\), not a recording file$",
        ),
        (lambda p, fsdd: os.mkfifo(p), r"2_theo_3\.wav is a FIFO, not a recording file$"),
        (
            lambda p, fsdd: truncated(p, fsdd / "recordings" / "2_theo_3.wav"),
            r"2_theo_3\.wav is truncated: its data chunk promises \d+ bytes of samples, the file "
            r"holds \d+$",
        ),
        (
            lambda p, fsdd: shutil.copy(fsdd / "recordings" / "1_theo_7.wav", p),
            r"1_theo_7\.wav and .*2_theo_3\.wav are byte-identical: the same recording under "
            r"two names, which could be both trained on and tested$",
        ),
    ],
    ids=["folder", "dangling link", "FIFO", "truncated", "duplicate"],
)
def test_a_recording_that_is_not_whole_or_not_new_is_named(fsdd, tmp_path, write, message):
    folder = bad_folder(fsdd, tmp_path, "2_theo_3.wav", lambda p: write(p, fsdd))
    with pytest.raises(ValueError, match=message):
        load_fsdd(folder)


def test_a_truncated_recording_is_refused_when_read_alone(fsdd, tmp_path):
    path = tmp_path / "2_theo_3.wav"
    truncated(path, fsdd / "recordings" / "2_theo_3.wav")
    with pytest.raises(ValueError, match=r"2_theo_3\.wav is truncated"):
        read_recording(path)
    # the data chunk whole, the RIFF header promising 100 bytes more than the file holds
    data = (fsdd / "recordings" / "2_theo_3.wav").read_bytes()
    path.write_bytes(data[:4] + (len(data) - 8 + 100).to_bytes(4, "little") + data[8:])
    size = len(data) + 100
    with pytest.raises(ValueError, match=rf"promises {size} bytes, the file holds {len(data)}$"):
        read_recording(path)


def test_two_files_of_one_recording_are_named(fsdd, tmp_path):
    """Names that differ only in the case of ``.wav`` are one recording (one coordinate)."""
    source = fsdd / "recordings" / "2_theo_3.wav"
    folder = bad_folder(fsdd, tmp_path, "1_theo_7.WAV", lambda p: shutil.copy(source, p))
    with pytest.raises(ValueError, match=r"1_theo_7\.WAV and .*1_theo_7\.wav are both recording"):
        load_fsdd(folder)


def test_the_speech_command_refuses_a_duplicate_recording(fsdd, tmp_path, tmp_path_factory):
    source = fsdd / "recordings" / "0_theo_0.wav"
    folder = bad_folder(fsdd, tmp_path, "9_theo_9.wav", lambda p: shutil.copy(source, p))
    row = (SPEECH, ["--data", folder, "--quick", "--models", "floor"], "")
    run = run_rows([row], tmp_path_factory)
    assert_refused(run[0], r"0_theo_0\.wav and .*9_theo_9\.wav are byte-identical")


def test_missing_folders_are_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"has no recordings/ folder"):
        fsdd_dir(tmp_path)
    (tmp_path / "recordings").mkdir()
    with pytest.raises(FileNotFoundError, match=r"recordings holds no recordings"):
        load_fsdd(tmp_path)
    monkeypatch.delenv("BIMSIM_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"set BIMSIM_DATA"):
        fsdd_dir()
