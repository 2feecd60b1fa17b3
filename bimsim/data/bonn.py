"""The Bonn University epilepsy EEG (Andrzejak et al. 2001): five sets of single-channel segments.

Each of the sets A to E holds 100 segments of 23.6 s (4097 samples at 173.61 Hz, 12-bit), one text
file each with one integer sample per line, in a folder named after the set and its file prefix::

    A_Z/Z001.txt ... Z100.txt   healthy volunteers, surface EEG, eyes open
    B_O/O001.txt ...            healthy volunteers, eyes closed
    C_N/N001.TXT ...            patients, seizure-free interval, opposite hippocampal formation
    D_F/F001.txt ...            patients, seizure-free interval, epileptogenic zone
    E_S/S001.txt ...            patients, seizure (ictal) activity

(set C's files end in upper-case ``.TXT``, as in the original). The usual binary task is seizure
(E) against the rest. Segments are read from ``$BIMSIM_DATA/eeg_bonn`` or a folder the user names;
every entry of a set's folder must be a segment file: a file that is empty, holds a line that is
not a whole number or another number of samples, an entry that is not a ``.txt`` file (another
file, a folder, a dangling link), and two files with the same bytes (one segment under two
names, in one set or two) are errors that name the file (and the line).

Data: Andrzejak RG, Lehnertz K, Mormann F, Rieke C, David P, Elger CE (2001), Phys Rev E 64:061907;
distributed free for research by the University of Bonn on condition that this paper is cited.
"""

from pathlib import Path

import numpy as np

from bimsim.data import data_folder
from bimsim.data.checks import Duplicates, check_regular_file

__all__ = ["FOLDERS", "SAMPLES", "SAMPLING_FREQUENCY_HZ", "bonn_dir", "load_bonn", "read_segment"]

#: Set letter to folder (``<set>_<file prefix>``).
FOLDERS = {"A": "A_Z", "B": "B_O", "C": "C_N", "D": "D_F", "E": "E_S"}

#: Samples per segment, and their rate (4097 samples span 23.6 s).
SAMPLES = 4097
SAMPLING_FREQUENCY_HZ = 173.61

CITATION = (
    "Andrzejak RG, Lehnertz K, Mormann F, Rieke C, David P, Elger CE. Indications of nonlinear "
    "deterministic and finite-dimensional structures in time series of brain electrical "
    "activity: dependence on recording region and brain state. Phys Rev E 64:061907 (2001)"
)


def bonn_dir(data=None):
    """The folder to read: ``data``, else ``$BIMSIM_DATA/eeg_bonn``; errors say what is missing."""
    return data_folder(data, "eeg_bonn", "Bonn EEG")


def read_segment(path, samples=SAMPLES):
    """The samples of one segment file (one whole number per line), as int16.

    Raises
    ------
    ValueError
        Naming ``path``: an empty file, a line that is not a whole number (with its line number),
        or a number of samples other than ``samples``.
    """
    return _parse_segment(Path(path), Path(path).read_bytes(), samples)


def _parse_segment(path, data, samples=SAMPLES):
    """The samples of segment file ``path`` from its bytes ``data`` (see :func:`read_segment`)."""
    lines = data.decode("ascii", errors="replace").splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    try:
        values = np.array(lines, dtype=np.int64)
    except ValueError:
        number, line = next((k, s) for k, s in enumerate(lines, 1) if not _is_integer(s))
        raise ValueError(f"{path}, line {number}: {line.strip()!r} is not a whole number") from None
    if len(values) != samples:
        raise ValueError(f"{path} holds {len(values)} samples, not {samples}")
    if np.any(np.abs(values) > 2**15 - 1):
        raise ValueError(f"{path} holds samples outside the 16-bit range")
    return values.astype(np.int16)


def _is_integer(text):
    try:
        int(text)
    except ValueError:
        return False
    return True


def _segment_files(folder):
    """The segment files of one set's folder, sorted (``.txt`` in any case).

    Raises
    ------
    ValueError
        Naming the first entry that is not a segment file (so none is left out unseen).
    """
    paths = sorted(folder.iterdir())
    for path in paths:
        check_regular_file(path, "segment")
        if path.suffix.lower() != ".txt":
            raise ValueError(f"{path} is not a segment file (*.txt) of set folder {folder.name}")
    return paths


def _read_new_segment(path, seen):
    """Read segment ``path``, refusing a name or bytes that an earlier file of the load had
    (``seen``, a :class:`bimsim.data.checks.Duplicates`)."""
    data = path.read_bytes()
    seen.add(path, data, path.stem)
    return _parse_segment(path, data)


def load_bonn(data=None, sets="ABCDE"):
    """Every segment of the given sets as one labelled Dataset.

    Parameters
    ----------
    data : path, optional
        The Bonn folder (default: ``$BIMSIM_DATA/eeg_bonn``).
    sets : str
        Set letters to read, e.g. ``"AE"``.

    Returns
    -------
    xarray.Dataset
        ``eeg`` (``segment``, ``time``) in ADC units and each segment's ``set``; segments are
        named by their files (``Z001`` ...); the sampling frequency and the citation in the
        attributes.

    Raises
    ------
    FileNotFoundError
        If the folder, or a set's folder, is missing, or a set's folder holds no segment.
    ValueError
        For an unknown set, a damaged segment file, an entry of a set's folder that is not a
        segment file, or two segments with the same bytes (named).
    """
    import xarray as xr

    unknown = sorted(set(sets) - set(FOLDERS))
    if unknown or not sets:
        raise ValueError(f"sets are letters from {''.join(FOLDERS)}, got {sets!r}")
    directory = bonn_dir(data)
    eeg, labels, names, seen = [], [], [], Duplicates("segment")
    for letter in sorted(set(sets)):
        folder = directory / FOLDERS[letter]
        if not folder.is_dir():
            raise FileNotFoundError(f"set {letter}: folder {folder} is missing")
        paths = _segment_files(folder)
        if not paths:
            raise FileNotFoundError(f"set {letter}: {folder} holds no segment files (*.txt)")
        eeg.extend(_read_new_segment(path, seen) for path in paths)
        labels.extend(letter for _ in paths)
        names.extend(path.stem for path in paths)
    time = np.arange(SAMPLES) / SAMPLING_FREQUENCY_HZ
    return xr.Dataset(
        {
            "eeg": (
                ("segment", "time"),
                np.stack(eeg),
                {"units": "1", "long_name": "EEG, 12-bit ADC value"},
            ),
            "set": (
                "segment",
                np.array(labels, dtype=object),
                {"units": "1", "long_name": "Bonn set (E: seizure)"},
            ),
        },
        coords={
            "segment": (
                "segment",
                np.array(names, dtype=object),
                {"units": "1", "long_name": "segment (its file name)"},
            ),
            "time": ("time", time, {"units": "s", "long_name": "time in the segment"}),
        },
        attrs={
            "title": "Bonn University epilepsy EEG",
            "source": str(directory),
            "sampling_frequency_hz": SAMPLING_FREQUENCY_HZ,
            "citation": CITATION,
        },
    )
