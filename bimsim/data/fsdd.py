"""The Free Spoken Digit Dataset (FSDD): spoken digits 0-9, 8 kHz mono 16-bit WAV files.

Recordings are ``recordings/{digit}_{speaker}_{index}.wav`` (index 0-49 per digit and speaker), read
from ``$BIMSIM_DATA/fsdd`` or a folder the user names; ``speakers.csv`` lists the speakers. The
official split puts indices 0-4 in the test set and 5-49 in the training set. Every entry of
``recordings/`` must be a recording: a file whose name does not follow the pattern, that is not a
WAV file, is cut short (its header promises more samples than it holds), or that is not 8 kHz mono
16-bit PCM, an entry that is not a regular file (a folder, a dangling link, a FIFO), and two
files with the same bytes (one recording under two names) are errors that name them.

Licence: CC BY-SA 4.0 (Free Spoken Digit Dataset, github.com/Jakobovski/free-spoken-digit-dataset,
versioned on Zenodo; cite the version used).
"""

import io
import re
import struct
from pathlib import Path

import numpy as np

from bimsim.data import data_folder
from bimsim.data.checks import Duplicates, check_regular_file

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
        Naming the file: not a WAV file, cut short, not ``rate`` Hz, mono, 16-bit PCM, or empty.
    """
    return _decode(path, Path(path).read_bytes(), rate)


def _check_whole(path, data):
    """Refuse a WAV file whose headers promise more bytes than it holds (scipy only warns).

    Raises
    ------
    ValueError
        Naming ``path``, the bytes its data chunk (or its RIFF header) promises and the bytes
        the file holds.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return  # not a WAV file: scipy says so
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = struct.unpack("<4sI", data[offset : offset + 8])
        held = len(data) - offset - 8
        if chunk == b"data" and size > held:
            raise ValueError(
                f"{path} is truncated: its data chunk promises {size} bytes of samples, the "
                f"file holds {held}"
            )
        offset += 8 + size + size % 2  # chunks are padded to an even size
    promised = struct.unpack("<I", data[4:8])[0] + 8
    if promised > len(data):
        raise ValueError(
            f"{path} is truncated: its RIFF header promises {promised} bytes, the file holds "
            f"{len(data)}"
        )


def _decode(path, data, rate=SAMPLE_RATE_HZ):
    """The samples of recording ``path`` from its bytes ``data``, checked (see
    :func:`read_recording`)."""
    from scipy.io import wavfile

    _check_whole(path, data)
    try:
        file_rate, samples = wavfile.read(io.BytesIO(data))
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
    recording is in the Dataset); every file is checked here, before any work, each read once.

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
        For a badly named or damaged recording, an entry that is not a file, or two recordings
        with the same bytes (named).
    """
    import xarray as xr

    directory = fsdd_dir(data)
    paths = sorted((directory / "recordings").iterdir())
    if not paths:
        raise FileNotFoundError(f"{directory / 'recordings'} holds no recordings")
    labels = [parse_name(check_regular_file(path, "recording")) for path in paths]
    seen, durations = Duplicates(), []
    for path in paths:
        audio = path.read_bytes()
        seen.add(path, audio, path.stem)
        durations.append(len(_decode(path, audio)) / SAMPLE_RATE_HZ)
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
