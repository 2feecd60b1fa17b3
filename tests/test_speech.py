"""The speech task on FSDD: the filterbank front end, speaker folds, the digit error rate."""

import numpy as np
import pytest

from bimsim.data.fsdd import SAMPLE_RATE_HZ, load_fsdd, read_recording
from bimsim.io import read_dataset
from bimsim.tasks.audio import TOP_DB, fixed_length, log_mel
from bimsim.tasks.floors import mfcc_statistics
from bimsim.tasks.speech import BANDS, digit_error_rate, speaker_folds


def test_log_mel_puts_a_tone_in_its_band_and_silence_at_the_floor():
    t = np.arange(4000) / SAMPLE_RATE_HZ
    low, high = (log_mel(np.sin(2 * np.pi * f * t).astype(np.float32), SAMPLE_RATE_HZ)
                 for f in (300.0, 2500.0))  # fmt: skip
    assert low.shape == (51, BANDS) and low.min() >= 0 and low.max() == TOP_DB / 10
    # the loudest band of a low tone lies below that of a high one
    assert low[25].argmax() < high[25].argmax()
    quiet = np.zeros(4000, dtype=np.float32)
    quiet[2000:] = np.sin(2 * np.pi * 1000 * t[2000:])
    frames = log_mel(quiet, SAMPLE_RATE_HZ)
    assert frames[:15].max() < frames[30:].max() - 3  # 30 dB less where it is silent
    with pytest.raises(ValueError, match="non-empty mono"):
        log_mel(np.zeros((10, 2)), SAMPLE_RATE_HZ)


def test_fixed_length_cuts_and_pads_with_silence():
    frames = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(fixed_length(frames, 2), frames[:2])
    padded = fixed_length(frames, 6)
    np.testing.assert_array_equal(padded[:4], frames)
    assert np.all(padded[4:] == 0)


def test_speaker_folds_hold_each_speaker_out_once():
    fsdd = load_fsdd()
    speakers = fsdd.speaker.values.astype(str)
    folds = speaker_folds(speakers)
    assert [f.name for f in folds] == sorted(set(speakers)) and len(folds) == 6
    for fold in folds:
        assert set(speakers[fold.test]) == {fold.name}
        assert fold.name not in set(speakers[fold.train]) and fold.test.sum() == 500
    path = fsdd.path.values[0]
    features = mfcc_statistics(log_mel(read_recording(path), SAMPLE_RATE_HZ))
    assert features.shape == (26,) and np.all(np.isfinite(features))
    assert np.all(features[13:] >= 0)  # the s.d.s


def test_digit_error_rate_counts_wrong_most_probable_digits():
    probability = np.eye(10)[[1, 2, 3, 3]]
    assert digit_error_rate([1, 2, 3, 4], probability) == 0.25
    assert digit_error_rate([1, 2, 3, 3], probability) == 0.0


@pytest.mark.slow
def test_quick_run_writes_error_rates_per_speaker_fold(run_script, tmp_path):
    result = run_script(
        "bimsim/tasks/speech.py", "--quick", "--no-progress", "--models", "bim", "cnn", "floor",
        "--out", tmp_path / "s.nc",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "paper: LibriSpeech" in result.stdout and "error" in result.stdout
    ds = read_dataset(tmp_path / "s.nc")
    assert ds.error_rate.dims == ("seed", "fold", "model") and list(ds.fold.values) == ["george"]
    assert np.all((ds.error_rate >= 0) & (ds.error_rate <= 1))
    assert set(ds.group.values) == {"george"} and list(ds["class"].values) == list("0123456789")
    # the floor is far better than chance (0.9) even on 256 recordings
    assert ds.error_rate.sel(model="floor").item() < 0.7


def test_a_recording_of_another_rate_is_named_before_any_work(run_script, tmp_path):
    from scipy.io import wavfile

    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    tone = (np.sin(np.arange(4000) / 5) * 1e4).astype(np.int16)
    for name, rate in (("0_alice_0", 8000), ("1_alice_0", 16000)):
        wavfile.write(folder / f"{name}.wav", rate, tone)
    result = run_script("bimsim/tasks/speech.py", "--data", tmp_path / "fsdd", "--out",
                        tmp_path / "s.nc")  # fmt: skip
    assert result.returncode == 2 and not (tmp_path / "s.nc").exists()
    assert "1_alice_0.wav is sampled at 16000 Hz, not 8000 Hz" in result.stderr
