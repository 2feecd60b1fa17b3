"""The MIT-BIH Arrhythmia Database: records, checksums, AAMI beat classes, beats, patient splits.

Records are read with the ``wfdb`` library from a folder in PhysioNet's layout (``100.hea``,
``100.dat``, ``100.atr``, ... and, if present, ``SHA256SUMS.txt``), by default
``$BIMSIM_DATA/mitdb``. Where the folder holds PhysioNet's checksum list, every ``.dat`` and
``.atr`` file is checked against it before it is read (``.hea`` files are text whose line endings
copies change, so they are checked by parsing instead).

Beat annotations map to the five AAMI EC57 classes::

    N  normal and bundle-branch-block beats, escape beats   N L R e j
    S  supraventricular ectopic beats                        A a J S
    V  ventricular ectopic beats                             V E
    F  fusion of ventricular and normal beats                F
    Q  paced, fusion of paced and normal, unclassifiable     / f Q

The paced records (102, 104, 107, 217) are excluded from AAMI evaluations. The inter-patient split
of de Chazal, O'Dwyer & Reilly (2004) puts 22 records in DS1 (training) and 22 in DS2 (testing), no
patient in both. Data: Moody & Mark (2001), PhysioNet (Goldberger et al. 2000), ODC-By 1.0.
"""

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "AAMI_CLASSES",
    "BEAT_TO_AAMI",
    "DS1",
    "DS2",
    "PACED_RECORDS",
    "Record",
    "beat_counts",
    "load_record",
    "mitdb_dir",
    "record_beats",
    "records_in",
]

AAMI_CLASSES = ("N", "S", "V", "F", "Q")

BEAT_TO_AAMI = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}

PACED_RECORDS = ("102", "104", "107", "217")

#: de Chazal et al. (2004), training set.
DS1 = tuple(
    "101 106 108 109 112 114 115 116 118 119 122 "
    "124 201 203 205 207 208 209 215 220 223 230".split()
)
#: de Chazal et al. (2004), test set.
DS2 = tuple(
    "100 103 105 111 113 117 121 123 200 202 210 "
    "212 213 214 219 221 222 228 231 232 233 234".split()
)


def mitdb_dir(data=None):
    """The folder to read: ``data``, else ``$BIMSIM_DATA/mitdb``; an error says what is missing."""
    if data is None:
        root = os.environ.get("BIMSIM_DATA")
        if not root:
            raise FileNotFoundError(
                "no MIT-BIH folder given: pass --data DIR or set BIMSIM_DATA to a folder that "
                "holds mitdb/"
            )
        data = Path(root) / "mitdb"
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"MIT-BIH folder {data} does not exist")
    return data


def records_in(directory):
    """Record names with a header in ``directory`` (sorted), e.g. ``['100', '101', ...]``."""
    return sorted(path.stem for path in Path(directory).glob("*.hea"))


def _checksums(directory):
    listing = Path(directory) / "SHA256SUMS.txt"
    if not listing.exists():
        return {}
    sums = {}
    for line in listing.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _verify(path, expected):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ValueError(
            f"{path} is corrupted: its sha256 is {digest}, PhysioNet's SHA256SUMS.txt says "
            f"{expected}"
        )


@dataclass(frozen=True)
class Record:
    """One MIT-BIH record.

    Attributes
    ----------
    name : str
    signal : numpy.ndarray
        ``(samples, leads)`` in mV.
    fs : float
        Sampling frequency in Hz.
    leads : tuple of str
        Lead names, e.g. ``('MLII', 'V5')``.
    sample : numpy.ndarray
        Sample index of every annotation.
    symbol : numpy.ndarray
        Annotation code of every annotation (beats and non-beats).
    comments : tuple of str
        The header's comment lines (age, sex, medication).
    """

    name: str
    signal: np.ndarray
    fs: float
    leads: tuple
    sample: np.ndarray
    symbol: np.ndarray
    comments: tuple

    def beats(self):
        """Mask of the annotations that are beats with an AAMI class."""
        return np.isin(self.symbol, list(BEAT_TO_AAMI))


def load_record(directory, name, *, verify=True):
    """Read record ``name`` (signal and reference ``.atr`` annotations) from ``directory``.

    Parameters
    ----------
    directory : path
        A folder in PhysioNet's layout.
    name : str
        Record name, e.g. ``'100'``.
    verify : bool
        Check the ``.dat`` and ``.atr`` files against ``SHA256SUMS.txt`` where the folder has it.

    Raises
    ------
    FileNotFoundError
        If the header, the signal file or the annotation file is missing (named).
    ValueError
        If a file is corrupted or truncated (named).
    """
    import wfdb

    directory = Path(directory)
    name = str(name)
    base = directory / name
    for suffix in (".hea", ".dat", ".atr"):
        if not base.with_suffix(suffix).exists():
            raise FileNotFoundError(f"record {name}: {base.with_suffix(suffix)} is missing")
    if verify:
        sums = _checksums(directory)
        for suffix in (".dat", ".atr"):
            expected = sums.get(f"{name}{suffix}")
            if expected:
                _verify(base.with_suffix(suffix), expected)
    header = base.with_suffix(".hea")
    try:
        meta = wfdb.rdheader(str(base))
    except Exception as err:  # wfdb raises many kinds on a damaged header
        raise ValueError(f"{header} cannot be read as a WFDB header: {err}") from err
    if not meta.sig_len or not meta.file_name:
        raise ValueError(f"{header} is incomplete: no signal length or signal file")
    dat = base.with_suffix(".dat")
    expected_bytes = _signal_bytes(meta)
    if expected_bytes is not None and dat.stat().st_size < expected_bytes:
        raise ValueError(
            f"{dat} is truncated: {dat.stat().st_size} bytes, the header needs {expected_bytes}"
        )
    try:
        record = wfdb.rdrecord(str(base))
        annotation = wfdb.rdann(str(base), "atr")
    except Exception as err:
        raise ValueError(f"record {name} in {directory} cannot be read: {err}") from err
    signal = np.asarray(record.p_signal, dtype=float)
    if not np.all(np.isfinite(signal)):
        raise ValueError(f"{dat} holds invalid samples (NaN after decoding)")
    return Record(
        name=name,
        signal=signal,
        fs=float(record.fs),
        leads=tuple(record.sig_name),
        sample=np.asarray(annotation.sample, dtype=np.int64),
        symbol=np.asarray(annotation.symbol),
        comments=tuple(record.comments),
    )


def _signal_bytes(meta):
    """Bytes the header's signal file needs (formats 212 and 16), or None for other formats."""
    formats = set(meta.fmt)
    samples = meta.sig_len * meta.n_sig
    if formats == {"212"}:
        return (samples * 3 + 1) // 2
    if formats == {"16"}:
        return samples * 2
    return None


def beat_counts(record):
    """Counts of every beat annotation code in ``record`` (non-beat annotations left out)."""
    return Counter(str(s) for s in record.symbol[record.beats()])


def record_beats(record, *, lead="MLII", before=0.25, after=0.40):
    """Cut one window of ``lead`` around every AAMI-classed beat of ``record``.

    Parameters
    ----------
    record : Record
    lead : str
        Lead to cut (MLII is in every MIT-BIH record, though not always first).
    before, after : float
        Window in seconds before and after the annotated R peak.

    Returns
    -------
    dict
        ``waveform`` ``(beats, samples)`` in mV, ``symbol`` and ``aami`` per beat, ``r_peak``
        (sample index), ``rr_pre`` and ``rr_post`` (s, the intervals to the neighbouring beats of
        any kind). Beats whose window leaves the record, or that are first or last, are dropped.
    """
    if lead not in record.leads:
        raise ValueError(f"record {record.name} has leads {record.leads}, not {lead!r}")
    if not (before > 0 and after > 0):
        raise ValueError(f"before and after must be positive seconds, got {before}, {after}")
    signal = record.signal[:, record.leads.index(lead)]
    n_before, n_after = round(before * record.fs), round(after * record.fs)
    all_beats = np.flatnonzero(record.beats() | np.isin(record.symbol, ["/", "f"]))
    peaks = record.sample[all_beats]
    keep = []
    for k in range(1, len(all_beats) - 1):
        peak = peaks[k]
        classed = record.symbol[all_beats[k]] in BEAT_TO_AAMI
        if classed and peak - n_before >= 0 and peak + n_after <= len(signal):
            keep.append(k)
    keep = np.asarray(keep, dtype=np.int64)
    offsets = np.arange(-n_before, n_after)
    waveform = signal[peaks[keep][:, None] + offsets[None, :]] if len(keep) else np.zeros((0, 0))
    symbols = record.symbol[all_beats[keep]]
    return {
        "waveform": waveform,
        "symbol": symbols,
        "aami": np.array([BEAT_TO_AAMI[s] for s in symbols]),
        "r_peak": peaks[keep],
        "rr_pre": (peaks[keep] - peaks[keep - 1]) / record.fs,
        "rr_post": (peaks[keep + 1] - peaks[keep]) / record.fs,
    }
