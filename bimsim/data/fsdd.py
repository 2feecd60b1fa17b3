"""The Free Spoken Digit Dataset (FSDD): spoken digits 0-9, 8 kHz mono 16-bit WAV files.

Recordings are ``recordings/{digit}_{speaker}_{index}.wav`` (index 0-49 per digit and speaker), read
from ``$BIMSIM_DATA/fsdd`` or a folder the user names; ``speakers.csv`` lists the speakers. The
official split puts indices 0-4 in the test set and 5-49 in the training set. A file whose name
does not follow the pattern, that is not a WAV file, or that is not 8 kHz mono 16-bit PCM is an
error that names it.

Licence: CC BY-SA 4.0 (Free Spoken Digit Dataset, github.com/Jakobovski/free-spoken-digit-dataset,
versioned on Zenodo; cite the version used).
"""

import re
from pathlib import Path

import numpy as np

from bimsim.data import data_folder

__all__ = [
    "SAMPLE_RATE_HZ",
    "TEST_INDICES",
    "fsdd_dir",
    "load_fsdd",
    "parse_name",
    "read_recording",
]

SAMPLE_RATE_HZ = 8000

#: Recording indices of the official test set (the rest train).
TEST_INDICES = range(5)

_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")


def fsdd_dir(data=None):
    """The folder to read: ``data``, else ``$BIMSIM_DATA/fsdd``; errors say what is missing."""
    data = data_folder(data, "fsdd", "FSDD")
    if not (data / "recordings").is_dir():
        raise FileNotFoundError(f"FSDD folder {data} has no recordings/ folder")
    return data


def parse_name(path):
    """``(digit, speaker, index)`` from a recording's file name, e.g. ``3_theo_12.wav``.

    Raises
    ------
    ValueError
        Naming the file, if its name does not follow ``{digit}_{speaker}_{index}.wav``.
    """
    match = _NAME.match(Path(path).stem)
    if match is None or Path(path).suffix.lower() != ".wav":
        raise ValueError(f"{path}: not a recording name of the form digit_speaker_index.wav")
    digit, speaker, index = match.groups()
    return int(digit), speaker, int(index)


def read_recording(path, rate=SAMPLE_RATE_HZ):
    """The samples of one recording, scaled to [-1, 1) (float32).

    Raises
    ------
    ValueError
        Naming the file: not a WAV file, or not ``rate`` Hz, mono, 16-bit PCM, or empty.
    """
    from scipy.io import wavfile

    try:
        file_rate, samples = wavfile.read(path)
    except (ValueError, EOFError) as err:
        raise ValueError(f"{path} cannot be read as a WAV file: {err}") from None
    if file_rate != rate:
        raise ValueError(f"{path} is sampled at {file_rate} Hz, not {rate} Hz")
    if samples.ndim != 1:
        raise ValueError(f"{path} has {samples.shape[1]} channels, not 1 (mono)")
    if samples.dtype != np.int16:
        raise ValueError(f"{path} holds {samples.dtype} samples, not 16-bit PCM")
    if len(samples) == 0:
        raise ValueError(f"{path} holds no samples")
    return samples.astype(np.float32) / 2**15


def load_fsdd(data=None):
    """Every recording's labels and length, and the official split, as one Dataset.

    The audio itself is read on demand with :func:`read_recording` (the ``path`` of each
    recording is in the Dataset); every file is checked here, before any work.

    Returns
    -------
    xarray.Dataset
        Over ``recording`` (the file name without ``.wav``): ``digit``, ``speaker``, ``index``,
        ``split`` ('train' or 'test'), ``duration`` (s) and ``path``.

    Raises
    ------
    FileNotFoundError
        If the folder or its recordings are missing.
    ValueError
        For a badly named or damaged recording (named).
    """
    import xarray as xr

    directory = fsdd_dir(data)
    paths = sorted(p for p in (directory / "recordings").iterdir() if p.is_file())
    if not paths:
        raise FileNotFoundError(f"{directory / 'recordings'} holds no recordings")
    labels = [parse_name(path) for path in paths]
    durations = [len(read_recording(path)) / SAMPLE_RATE_HZ for path in paths]
    digit, speaker, index = (np.array(column) for column in zip(*labels, strict=True))

    def text(values):
        return np.asarray(values, dtype=str).astype(object)

    per_recording = {
        "digit": (digit, "1", "spoken digit"),
        "speaker": (text(speaker), "1", "speaker"),
        "index": (index, "1", "recording index of the speaker and digit"),
        "split": (
            text(np.where(np.isin(index, TEST_INDICES), "test", "train")),
            "1",
            "official split (indices 0-4 test)",
        ),
        "duration": (np.asarray(durations), "s", "length of the recording"),
        "path": (text([str(p) for p in paths]), "1", "WAV file"),
    }
    return xr.Dataset(
        {
            name: ("recording", values, {"units": units, "long_name": long_name})
            for name, (values, units, long_name) in per_recording.items()
        },
        coords={
            "recording": (
                "recording",
                text([p.stem for p in paths]),
                {"units": "1", "long_name": "recording (its file name)"},
            )
        },
        attrs={
            "title": "Free Spoken Digit Dataset",
            "source": str(directory),
            "sample_rate_hz": SAMPLE_RATE_HZ,
            "license": "CC BY-SA 4.0",
        },
    )
