"""The CHB-MIT Scalp EEG Database (PhysioNet ``chbmit``): EDF recordings and their seizure times.

A case's folder ``chbNN/`` holds its recordings ``chbNN_MM.edf`` (bipolar scalp channels such as
``FP1-F7``, 256 Hz) and ``chbNN-summary.txt``, which lists every file and the start and end of each
seizure in it, in seconds from the file's start::

    File Name: chb01_03.edf
    Number of Seizures in File: 1
    Seizure Start Time: 2996 seconds
    Seizure End Time: 3036 seconds

(later cases number them: ``Seizure 1 Start Time: ...``). EDF files are read with ``pyedflib``. A
summary whose seizure count disagrees with its seizures, a seizure that ends before it starts or
outside its file, an EDF file that cannot be read, lacks an expected channel or mixes sampling
rates is an error that names the file. The database is not shipped (it is 43 GB); point the
loader at a copy.

Data: Shoeb AH (2009), PhD thesis, MIT; Goldberger AL et al. (2000), Circulation
101(23):e215-e220. Open Data Commons Attribution License v1.0.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["EEGRecording", "parse_summary", "read_edf", "seizure_mask"]

_FILE = re.compile(r"^File Name:\s*(\S+)")
_COUNT = re.compile(r"^Number of Seizures in File:\s*(\d+)")
_SEIZURE = re.compile(r"^Seizure(?:\s+\d+)?\s+(Start|End)\s+Time:\s*(\d+(?:\.\d+)?)\s*seconds")


def parse_summary(path):
    """Seizures of every file listed in a ``chbNN-summary.txt``.

    Returns
    -------
    dict of str to list of (float, float)
        File name to its seizures' (start, end) in seconds; files without seizures map to ``[]``.

    Raises
    ------
    ValueError
        Naming the summary and the line: a seizure time outside a file's entry, a start without
        an end (or the reverse), an end before its start, or a count that disagrees with the
        seizures listed.
    """
    path = Path(path)
    seizures, counts = {}, {}
    current, start = None, None
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        where = f"{path}, line {number}"
        if match := _FILE.match(line):
            _check_entry(path, current, start, seizures, counts)
            current, start = match.group(1), None
            seizures[current] = []
        elif match := _COUNT.match(line):
            if current is None:
                raise ValueError(f"{where}: a seizure count before any 'File Name:'")
            counts[current] = int(match.group(1))
        elif match := _SEIZURE.match(line):
            kind, seconds = match.group(1), float(match.group(2))
            if current is None:
                raise ValueError(f"{where}: a seizure time before any 'File Name:'")
            if (kind == "Start") != (start is None):
                raise ValueError(f"{where}: seizure {kind.lower()} time out of order")
            if kind == "Start":
                start = seconds
            elif seconds <= start:
                raise ValueError(f"{where}: the seizure ends at {seconds:g} s, not after its start")
            else:
                seizures[current].append((start, seconds))
                start = None
    _check_entry(path, current, start, seizures, counts)
    if not seizures:
        raise ValueError(f"{path} lists no files ('File Name:' lines)")
    return seizures


def _check_entry(path, name, start, seizures, counts):
    if name is None:
        return
    if start is not None:
        raise ValueError(f"{path}: {name} has a seizure start without an end")
    if name in counts and counts[name] != len(seizures[name]):
        raise ValueError(
            f"{path}: {name} says {counts[name]} seizures but lists {len(seizures[name])}"
        )


@dataclass(frozen=True)
class EEGRecording:
    """The channels of one EDF recording.

    Attributes
    ----------
    name : str
        File name, e.g. ``'chb01_03.edf'``.
    signal : numpy.ndarray
        ``(samples, channels)`` in µV.
    fs : float
        Sampling frequency in Hz.
    channels : tuple of str
        Channel labels, in the order of ``signal``'s columns.
    """

    name: str
    signal: np.ndarray
    fs: float
    channels: tuple

    @property
    def duration(self):
        """Length in seconds."""
        return len(self.signal) / self.fs


def read_edf(path, channels=None):
    """Read an EDF file's channels (all, or the named ones in that order) with ``pyedflib``.

    Raises
    ------
    FileNotFoundError
        If ``path`` is missing.
    ValueError
        Naming the file: it cannot be read as EDF, lacks a channel of ``channels``, or its
        channels have different sampling rates.
    """
    import pyedflib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"EDF file {path} is missing")
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as err:
        raise ValueError(f"{path} cannot be read as EDF: {err}") from None
    try:
        labels = [label.strip() for label in reader.getSignalLabels()]
        wanted = labels if channels is None else list(channels)
        missing = [c for c in wanted if c not in labels]
        if missing:
            raise ValueError(f"{path} has no channel {missing[0]!r}; it has {', '.join(labels)}")
        indices = [labels.index(c) for c in wanted]
        rates = {float(reader.getSampleFrequency(k)) for k in indices}
        if len(rates) != 1:
            raise ValueError(f"{path} mixes sampling rates {sorted(rates)} Hz in its channels")
        signal = np.stack([reader.readSignal(k) for k in indices], axis=1)
    finally:
        reader.close()
    return EEGRecording(path.name, signal, rates.pop(), tuple(wanted))


def seizure_mask(recording, seizures):
    """Per sample of ``recording``: whether it lies in one of ``seizures`` ((start, end) in s).

    Raises
    ------
    ValueError
        If a seizure ends after the recording does (naming the file).
    """
    mask = np.zeros(len(recording.signal), dtype=bool)
    for start, end in seizures:
        if end > recording.duration:
            raise ValueError(
                f"{recording.name}: a seizure ends at {end:g} s, after the recording's "
                f"{recording.duration:g} s"
            )
        mask[round(start * recording.fs) : round(end * recording.fs)] = True
    return mask
