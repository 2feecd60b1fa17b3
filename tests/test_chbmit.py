"""The CHB-MIT loader on a small case the test writes: EDF channels, summary, seizure samples."""

import numpy as np
import pyedflib
import pytest

from bimsim.data.chbmit import parse_summary, read_edf, seizure_mask

FS = 256
CHANNELS = ("FP1-F7", "F7-T7", "T7-P7")

SUMMARY = """Data Sampling Rate: 256 Hz
*************************

Channels in EDF Files:
**********************
Channel 1: FP1-F7
Channel 2: F7-T7
Channel 3: T7-P7

File Name: chb99_01.edf
File Start Time: 11:42:54
File End Time: 11:43:14
Number of Seizures in File: 0

File Name: chb99_02.edf
File Start Time: 11:43:20
File End Time: 11:43:40
Number of Seizures in File: 2
Seizure 1 Start Time: 5 seconds
Seizure 1 End Time: 8 seconds
Seizure 2 Start Time: 12 seconds
Seizure 2 End Time: 13 seconds
"""


def write_edf(path, seconds=20, channels=CHANNELS, rates=None):
    """An EDF file whose channel k holds k + a 1 Hz sine, in µV."""
    rates = rates or [FS] * len(channels)
    headers = [
        {
            "label": label,
            "dimension": "uV",
            "sample_frequency": rate,
            "physical_min": -500.0,
            "physical_max": 500.0,
            "digital_min": -32768,
            "digital_max": 32767,
        }
        for label, rate in zip(channels, rates, strict=True)
    ]
    signals = [
        k + 100 * np.sin(2 * np.pi * np.arange(seconds * rate) / rate)
        for k, rate in enumerate(rates)
    ]
    with pyedflib.EdfWriter(str(path), len(channels), file_type=pyedflib.FILETYPE_EDFPLUS) as edf:
        edf.setSignalHeaders(headers)
        edf.writeSamples(signals)
    return path


@pytest.fixture
def case(tmp_path):
    folder = tmp_path / "chb99"
    folder.mkdir()
    (folder / "chb99-summary.txt").write_text(SUMMARY)
    for name in ("chb99_01.edf", "chb99_02.edf"):
        write_edf(folder / name)
    return folder


def test_channels_and_seizure_samples_of_a_case(case):
    seizures = parse_summary(case / "chb99-summary.txt")
    assert seizures == {"chb99_01.edf": [], "chb99_02.edf": [(5.0, 8.0), (12.0, 13.0)]}
    recording = read_edf(case / "chb99_02.edf", channels=["F7-T7", "FP1-F7"])
    assert recording.channels == ("F7-T7", "FP1-F7") and recording.fs == FS
    assert recording.signal.shape == (20 * FS, 2) and recording.duration == 20
    expected = 1 + 100 * np.sin(2 * np.pi * np.arange(20 * FS) / FS)
    np.testing.assert_allclose(recording.signal[:, 0], expected, atol=0.05)  # 16-bit resolution
    mask = seizure_mask(recording, seizures["chb99_02.edf"])
    assert mask.sum() == 4 * FS and mask[5 * FS] and not mask[5 * FS - 1] and not mask[8 * FS]
    assert read_edf(case / "chb99_01.edf").channels == CHANNELS


def test_the_unnumbered_seizure_lines_of_early_cases(tmp_path):
    summary = tmp_path / "chb01-summary.txt"
    summary.write_text(
        "File Name: chb01_03.edf\nNumber of Seizures in File: 1\n"
        "Seizure Start Time: 2996 seconds\nSeizure End Time: 3036 seconds\n"
    )
    assert parse_summary(summary) == {"chb01_03.edf": [(2996.0, 3036.0)]}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("Number of Seizures in File: 2", "Number of Seizures in File: 3"), "says 3 seizures but"),
        (
            ("Seizure 2 End Time: 13", "Seizure 2 End Time: 11"),
            r"line 22: the seizure ends at 11 s",
        ),
        (("Seizure 1 End Time: 8 seconds\n", ""), r"line 20: seizure start time out of order"),
        (("File Name: chb99_01.edf", "Name: chb99_01.edf"), r"line 13: a seizure count before any"),
    ],
)
def test_an_inconsistent_summary_is_named_with_its_line(case, edit, message):
    summary = case / "chb99-summary.txt"
    summary.write_text(SUMMARY.replace(*edit))
    with pytest.raises(ValueError, match=rf"chb99-summary.txt.*{message}"):
        parse_summary(summary)


def test_bad_edf_files_are_named(case):
    with pytest.raises(ValueError, match=r"chb99_01.edf has no channel 'CZ-PZ'; it has FP1-F7"):
        read_edf(case / "chb99_01.edf", channels=["FP1-F7", "CZ-PZ"])
    (case / "broken.edf").write_bytes(b"0       not an EDF header")
    with pytest.raises(ValueError, match=r"broken.edf cannot be read as EDF"):
        read_edf(case / "broken.edf")
    with pytest.raises(FileNotFoundError, match=r"EDF file .*chb99_09.edf is missing"):
        read_edf(case / "chb99_09.edf")
    mixed = write_edf(case / "mixed.edf", channels=CHANNELS[:2], rates=[256, 128])
    with pytest.raises(ValueError, match=r"mixed.edf mixes sampling rates \[128.0, 256.0\] Hz"):
        read_edf(mixed)
    recording = read_edf(case / "chb99_01.edf")
    with pytest.raises(ValueError, match=r"chb99_01.edf: a seizure ends at 30 s, after the"):
        seizure_mask(recording, [(25.0, 30.0)])
