"""The MIT-BIH Arrhythmia Database: records, checksums, AAMI beat classes, beats, patient splits.

Records are read with the ``wfdb`` library from a folder in PhysioNet's layout (``100.hea``,
``100.dat``, ``100.atr``, ... and, if present, ``SHA256SUMS.txt``), by default
``$BIMSIM_DATA/mitdb``. Where the folder holds PhysioNet's checksum list, every file of a record
(``.hea``, ``.dat`` and ``.atr``) is checked against it before it is read; a file the list does not
name, or a list that names none, is refused (:class:`bimsim.data.checks.Listing`; a header matches
with CRLF or LF line endings, which copies change). Without the list, a signal file shorter than
its header says and an annotation file without its end mark are still refused. Where the folder
holds PhysioNet's ``RECORDS`` list, the records read are those it lists (:func:`records_in`).

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
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bimsim.data import data_folder
from bimsim.data.checks import Listing, check_regular_file, parse_sha256sums

__all__ = [
    "AAMI_CLASSES",
    "BEAT_TO_AAMI",
    "DS1",
    "DS2",
    "EMBEDDED",
    "PACED_RECORDS",
    "Record",
    "beat_counts",
    "beat_dataset",
    "embedded_beats",
    "load_record",
    "mitdb_dir",
    "parse_sha256sums",
    "read_header",
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

#: The beat subset that ships with bimsim (see :mod:`bimsim.data.make_mitdb_subset`).
EMBEDDED = Path(__file__).with_name("mitdb_beats.nc")
EMBEDDED_SHA256 = "cc43a337a78492e8a3b5b7afe6ef222faae5621de72c0ef985964143bc65cd12"

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
    return data_folder(data, "mitdb", "MIT-BIH")


def records_in(directory, unread=()):
    """Record names with a header in ``directory`` (sorted), e.g. ``['100', '101', ...]``, but
    those in ``unread`` (records the caller will not read, e.g. :data:`PACED_RECORDS`).

    Where the folder holds PhysioNet's ``RECORDS`` list, the headers must be the records it
    lists: none lost (but those in ``unread``, which a partial copy may lack), none added.

    Raises
    ------
    FileNotFoundError
        If ``RECORDS`` lists a record whose header is missing (named).
    ValueError
        If ``RECORDS`` lists no record, or a header's record is not in it (named).
    """
    directory = Path(directory)
    found = sorted(path.stem for path in directory.glob("*.hea") if path.stem not in unread)
    listing = directory / "RECORDS"
    if not os.path.lexists(listing):
        return found
    listed = check_regular_file(listing, "record list").read_text(errors="replace").split()
    if not listed:
        raise ValueError(f"{listing} lists no records: an empty listing checks nothing")
    listed = [record for record in listed if record not in unread]
    missing = sorted(set(listed) - set(found))
    if missing:
        raise FileNotFoundError(
            f"{listing} lists record {missing[0]}, but {directory / missing[0]}.hea is missing"
        )
    unlisted = sorted(set(found) - set(listed))
    if unlisted:
        raise ValueError(
            f"{directory / unlisted[0]}.hea is not in {listing}, so nothing vouches for it"
        )
    return found


#: The last word of an MIT annotation file: annotation code 0 at interval 0.
ANNOTATION_END = b"\x00\x00"


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
        Check the ``.hea``, ``.dat`` and ``.atr`` files against ``SHA256SUMS.txt`` where the
        folder has it.

    Raises
    ------
    FileNotFoundError
        If the header, the signal file or the annotation file is missing (named).
    ValueError
        If a file is not a regular file, is corrupted, truncated or not in a checksum listing
        that the folder holds, if that listing is empty, if the header names another record's
        signal file, or if the annotations lie outside the signal or out of time order (the file
        named).
    """
    import wfdb

    directory = Path(directory)
    name = str(name)
    base = directory / name
    files = [base.with_suffix(suffix) for suffix in (".hea", ".dat", ".atr")]
    for path in files:
        if not os.path.lexists(path):
            raise FileNotFoundError(f"record {name}: {path} is missing")
        check_regular_file(path, "record")
    if verify:
        listing = Listing(directory)
        for path in files:
            listing.check(path)
    header = base.with_suffix(".hea")
    meta = read_header(base)
    if not meta.sig_len or not getattr(meta, "file_name", None):
        raise ValueError(f"{header} is incomplete: no signal length or signal file")
    _check_header_numbers(header, meta)
    dat = base.with_suffix(".dat")
    expected_bytes = _signal_bytes(meta)
    if expected_bytes is not None and dat.stat().st_size < expected_bytes:
        raise ValueError(
            f"{dat} is truncated: {dat.stat().st_size} bytes, the header needs {expected_bytes}"
        )
    atr = base.with_suffix(".atr")
    _check_annotation_end(atr)
    try:
        annotation = wfdb.rdann(str(base), "atr")
    except Exception as err:
        raise ValueError(f"{atr} cannot be read as WFDB annotations: {err}") from err
    sample = np.asarray(annotation.sample, dtype=np.int64)
    _check_annotation_samples(atr, sample, meta.sig_len)
    try:
        record = wfdb.rdrecord(str(base))
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
        sample=sample,
        symbol=np.asarray(annotation.symbol),
        comments=tuple(record.comments),
    )


def _check_header_numbers(header, meta):
    """Refuse a header whose gains or sampling rate are not positive finite numbers, as written:
    WFDB reads a gain it cannot parse ("nan") as its default of 200 without a word, and scales
    the signal by it."""
    lines = [line for line in header.read_text(errors="replace").splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    for line in lines[1 : 1 + int(getattr(meta, "n_sig", 0) or 0)]:
        fields = line.split()
        written = fields[2] if len(fields) > 2 else ""
        gain = re.match(r"[0-9.eE+-]+", written)
        try:
            value = float(gain.group()) if gain else math.nan
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{header}: the ADC gain {written!r} must be a positive number")
    fs = float(getattr(meta, "fs", 0) or 0)
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"{header}: its sampling frequency {fs} must be a positive number")


def read_header(base):
    """Read the WFDB header ``<base>.hea``, checked to name the record's own signal file.

    Parameters
    ----------
    base : path
        The record without suffix, e.g. ``mitdb/100`` (signal file ``100.dat``).

    Returns
    -------
    wfdb.Record
        The header's fields (no samples).

    Raises
    ------
    ValueError
        Naming the header: it cannot be read, or it names a signal file other than the record's
        own (``wfdb`` would read that file without a word, e.g. another record's signal).
    """
    import wfdb

    header = Path(f"{base}.hea")
    try:
        meta = wfdb.rdheader(str(base))
    except Exception as err:  # wfdb raises many kinds on a damaged header
        raise ValueError(f"{header} cannot be read as a WFDB header: {err}") from err
    own = f"{Path(base).name}.dat"
    foreign = [f for f in getattr(meta, "file_name", None) or [] if f != own]
    if foreign:
        raise ValueError(f"{header} names the signal file {foreign[0]}, not {own}")
    return meta


def _check_annotation_end(atr):
    """Refuse an annotation file cut short: ``wfdb`` reads what is there without a word.

    An MIT annotation file is a sequence of 16-bit words ending with :data:`ANNOTATION_END`.

    Raises
    ------
    ValueError
        Naming ``atr``, if it does not end with that word.
    """
    with open(atr, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(size - len(ANNOTATION_END), 0))
        end = file.read()
    if size % 2 or end != ANNOTATION_END:
        raise ValueError(
            f"{atr} is truncated: {size} bytes, not ending with the end mark of an MIT "
            "annotation file (two zero bytes)"
        )


def _check_annotation_samples(atr, sample, sig_len):
    """Refuse annotations that lie outside the signal or out of time order.

    Parameters
    ----------
    atr : pathlib.Path
        The annotation file, for the message.
    sample : numpy.ndarray
        Sample index of every annotation, in file order.
    sig_len : int
        Samples per signal, as the header gives it.

    Raises
    ------
    ValueError
        Naming ``atr``, how many annotations are wrong and the first of them.
    """
    outside = (sample < 0) | (sample >= sig_len)
    if outside.any():
        raise ValueError(
            f"{atr} has {outside.sum()} of {len(sample)} annotations outside the signal: the "
            f"first at sample {sample[outside][0]}, but the signal has {sig_len} samples "
            f"(0 to {sig_len - 1})"
        )
    back = np.flatnonzero(np.diff(sample) < 0)
    if len(back):
        k = back[0] + 1
        raise ValueError(
            f"{atr} is out of time order: annotation {k + 1} lies at sample {sample[k]}, before "
            f"annotation {k} at sample {sample[k - 1]}; {len(back)} of {len(sample) - 1} steps "
            "go back"
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
        any kind) and ``rr_local`` (s, the mean of up to 10 intervals before the beat, the
        patient's recent rhythm). Beats whose window leaves the record, or that are first or
        last, are dropped.
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
    intervals = np.diff(peaks) / record.fs  # intervals[k - 1] ends at beat k
    cumulative = np.concatenate([[0.0], np.cumsum(intervals)])
    first = np.maximum(keep - 10, 0)
    rr_local = (cumulative[keep] - cumulative[first]) / (keep - first)
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
        "rr_local": rr_local,
    }


def beat_dataset(directory, records, *, cap=None, seed=0, lead="MLII", before=0.25, after=0.40):
    """Beats of several records as one labelled Dataset.

    Parameters
    ----------
    directory : path
        The MIT-BIH folder.
    records : sequence of str
        Records to read (paced records are refused).
    cap : int, optional
        At most this many beats per AAMI class and record, drawn at random (all if fewer).
    seed : int
        Seed of that draw.
    lead, before, after
        As in :func:`record_beats`.

    Returns
    -------
    xarray.Dataset
        ``waveform`` (``beat``, ``time``) in mV, and per beat ``record``, ``symbol``, ``aami``,
        ``r_peak_time``, ``rr_pre``, ``rr_post``, ``rr_local``; the records, lead and window in
        the attributes.
    """
    import xarray as xr

    paced = sorted(set(map(str, records)) & set(PACED_RECORDS))
    if paced:
        raise ValueError(f"records {paced} are paced; AAMI evaluations exclude them")
    rng = np.random.default_rng(seed)
    parts = []
    fs = None
    for name in map(str, records):
        record = load_record(directory, name)
        if fs is not None and record.fs != fs:
            raise ValueError(f"record {name} is sampled at {record.fs} Hz, the others at {fs} Hz")
        fs = record.fs
        beats = record_beats(record, lead=lead, before=before, after=after)
        chosen = np.arange(len(beats["aami"]))
        if cap is not None:
            chosen = np.concatenate(
                [
                    np.sort(rng.permutation(np.flatnonzero(beats["aami"] == c))[:cap])
                    for c in AAMI_CLASSES
                ]
            )
            chosen = np.sort(chosen)
        part = {key: value[chosen] for key, value in beats.items()}
        part["record"] = np.full(len(chosen), name)
        part["r_peak_time"] = part.pop("r_peak") / fs
        parts.append(part)
    if not parts:
        raise ValueError("no records given")
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    n_before = round(before * fs)
    time = (np.arange(merged["waveform"].shape[1]) - n_before) / fs
    per_beat = {
        "record": ("record name", "1"),
        "symbol": ("MIT-BIH beat annotation code", "1"),
        "aami": ("AAMI EC57 beat class", "1"),
        "r_peak_time": ("time of the annotated R peak in its record", "s"),
        "rr_pre": ("interval from the previous beat", "s"),
        "rr_post": ("interval to the next beat", "s"),
        "rr_local": ("mean of up to 10 intervals before the beat", "s"),
    }
    data = {
        "waveform": (
            ("beat", "time"),
            merged["waveform"],
            {"units": "mV", "long_name": f"ECG lead {lead} around the R peak"},
        )
    }
    for key, (long_name, units) in per_beat.items():
        values = merged[key]
        if values.dtype.kind == "U":
            values = values.astype(str).astype(object)
        data[key] = ("beat", values, {"units": units, "long_name": long_name})
    return xr.Dataset(
        data,
        coords={
            "time": ("time", time, {"units": "s", "long_name": "time from the R peak"}),
        },
        attrs={
            "title": "MIT-BIH Arrhythmia Database beats",
            "records": " ".join(map(str, records)),
            "lead": lead,
            "sampling_frequency_hz": fs,
            "cap_per_class_and_record": "none" if cap is None else cap,
            "selection_seed": seed,
            "source": "MIT-BIH Arrhythmia Database v1.0.0, PhysioNet (mitdb)",
            "license": "Open Data Commons Attribution License v1.0 (ODC-By 1.0)",
            "citation": (
                "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng in "
                "Med and Biol 20(3):45-50 (2001); Goldberger AL et al. PhysioBank, PhysioToolkit, "
                "and PhysioNet. Circulation 101(23):e215-e220 (2000)"
            ),
        },
    )


def embedded_beats():
    """The beat subset shipped with bimsim, checked against its sha256 (see :data:`EMBEDDED`).

    Returns
    -------
    xarray.Dataset
        As :func:`beat_dataset` returns, for up to 100 beats per AAMI class from each of the 40
        records in ``$BIMSIM_DATA/mitdb``.
    """
    from bimsim.io import read_dataset

    if not EMBEDDED.exists():
        raise FileNotFoundError(f"{EMBEDDED} is missing from the installed package")
    digest = hashlib.sha256(EMBEDDED.read_bytes()).hexdigest()
    if digest != EMBEDDED_SHA256:
        raise ValueError(f"{EMBEDDED} is corrupted: sha256 {digest}, expected {EMBEDDED_SHA256}")
    return read_dataset(EMBEDDED)
