"""PTB-XL (Wagner et al. 2020): records, diagnostic superclasses and the recommended folds.

Reads a copy of the database in its published layout::

    ptbxl_database.csv      one row per ECG: ecg_id, patient_id, scp_codes, strat_fold,
                            filename_lr (100 Hz record), filename_hr (500 Hz record), ...
    scp_statements.csv      one row per SCP code: diagnostic (1 for diagnostic statements),
                            diagnostic_class (NORM, MI, STTC, CD or HYP)
    records100/00000/00001_lr.hea, .dat, ...

``scp_codes`` holds a Python dict literal of code to likelihood; an ECG's diagnostic
superclasses are the classes of its diagnostic codes (any likelihood, as in the benchmark of
Strodthoff et al. 2021). The recommended split: folds 1-8 train, 9 validation, 10 test; the folds
keep each patient within one fold. Where the folder holds PhysioNet's ``SHA256SUMS.txt``, every
file read (the two tables, each record's ``.hea`` and ``.dat``) is checked against it first; a
file it does not name, or a listing that names none, is refused (see
:class:`bimsim.data.checks.Listing`). PTB-XL is under the Creative Commons Attribution 4.0 licence.
"""

import ast
from pathlib import Path

import numpy as np

from bimsim.data.checks import Listing, check_regular_file
from bimsim.data.mitdb import read_header

__all__ = ["SUPERCLASSES", "load_ptbxl", "superclass_labels"]

SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")


def _checked(listing, path):
    """``path``, once found to be a regular file that ``listing`` vouches for (message with
    ``PTB-XL:`` in front)."""
    try:
        return listing.check(check_regular_file(path, "PTB-XL"))
    except (FileNotFoundError, ValueError) as err:
        raise type(err)(f"PTB-XL: {err}") from None


def _read_csv(listing, path, **kwds):
    import pandas as pd

    _checked(listing, path)
    try:
        return pd.read_csv(path, **kwds)
    except Exception as err:
        raise ValueError(f"PTB-XL: {path} cannot be read: {err}") from err


def superclass_labels(scp_codes, statements):
    """Multi-hot ``(ECGs, 5)`` labels over :data:`SUPERCLASSES` from ``scp_codes`` dict literals."""
    diagnostic = statements[statements["diagnostic"] == 1]["diagnostic_class"].to_dict()
    labels = np.zeros((len(scp_codes), len(SUPERCLASSES)), dtype=bool)
    for k, text in enumerate(scp_codes):
        try:
            codes = ast.literal_eval(text)
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"PTB-XL: scp_codes {text!r} is not a dict literal") from err
        for code in codes:
            superclass = diagnostic.get(code)
            if isinstance(superclass, str) and superclass in SUPERCLASSES:
                labels[k, SUPERCLASSES.index(superclass)] = True
    return labels


def _read_record(base):
    """Read a record once its header is found to name the record's own signal file.

    Raises
    ------
    ValueError
        If the record cannot be read, or its header names a signal file other than
        ``base.name + '.dat'`` (see :func:`bimsim.data.mitdb.read_header`).
    """
    import wfdb

    try:
        read_header(base)
    except ValueError as err:
        raise ValueError(f"PTB-XL: {err}") from err
    try:
        return wfdb.rdrecord(str(base))
    except Exception as err:
        raise ValueError(f"PTB-XL: record {base} cannot be read: {err}") from err


def load_ptbxl(directory, *, rate=100, folds=None):
    """Read the ECGs (12 leads), their superclasses, folds and patients.

    Parameters
    ----------
    directory : path
        The folder holding ``ptbxl_database.csv``.
    rate : {100, 500}
        Which records to read (``records100`` or ``records500``).
    folds : sequence of int, optional
        Read only these ``strat_fold`` values.

    Returns
    -------
    dict
        ``signal`` ``(ECGs, samples, 12)`` in mV, ``labels`` ``(ECGs, 5)`` multi-hot over
        :data:`SUPERCLASSES`, ``fold``, ``patient``, ``ecg_id``, ``leads`` and ``fs``.
    """
    directory = Path(directory)
    if rate not in (100, 500):
        raise ValueError(f"rate must be 100 or 500 Hz, got {rate!r}")
    try:
        listing = Listing(directory)
    except ValueError as err:
        raise ValueError(f"PTB-XL: {err}") from None
    database = _read_csv(listing, directory / "ptbxl_database.csv", index_col="ecg_id")
    statements = _read_csv(listing, directory / "scp_statements.csv", index_col=0)
    filename = f"filename_{'lr' if rate == 100 else 'hr'}"
    for column in ("patient_id", "scp_codes", "strat_fold", filename):
        if column not in database.columns:
            raise ValueError(f"PTB-XL: ptbxl_database.csv has no {column!r} column")
    for column in ("diagnostic", "diagnostic_class"):
        if column not in statements.columns:
            raise ValueError(f"PTB-XL: scp_statements.csv has no {column!r} column")
    if folds is not None:
        database = database[database["strat_fold"].isin(list(folds))]
    files = database[filename]
    signals, leads = [], None
    for name in files:
        base = directory / name
        for suffix in (".hea", ".dat"):
            _checked(listing, base.with_suffix(suffix))
        record = _read_record(base)
        if record.fs != rate:
            raise ValueError(f"PTB-XL: {base} is sampled at {record.fs} Hz, not {rate} Hz")
        signal = np.asarray(record.p_signal, dtype=float)
        if not np.all(np.isfinite(signal)):
            raise ValueError(f"PTB-XL: {base}.dat holds invalid samples")
        if leads is not None and tuple(record.sig_name) != leads:
            raise ValueError(f"PTB-XL: {base} has leads {record.sig_name}, others {leads}")
        leads = tuple(record.sig_name)
        signals.append(signal)
    if not signals:
        raise ValueError(f"PTB-XL: no ECGs in {directory} for folds {folds}")
    if len({s.shape for s in signals}) > 1:
        raise ValueError("PTB-XL: records differ in length")
    return {
        "signal": np.stack(signals),
        "labels": superclass_labels(database["scp_codes"].tolist(), statements),
        "fold": database["strat_fold"].to_numpy(dtype=int),
        "patient": database["patient_id"].to_numpy(),
        "ecg_id": database.index.to_numpy(),
        "leads": leads,
        "fs": float(rate),
    }
