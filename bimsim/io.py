"""Results as labelled xarray Datasets: provenance attributes and atomic netCDF writes."""

import datetime
import os
import shlex
import sys
from pathlib import Path

import brian2
import numpy as np
import xarray as xr

import bimsim

__all__ = [
    "check_dataset",
    "labelled",
    "provenance",
    "read_dataset",
    "write_atomically",
    "write_dataset",
]


def _attr_value(value):
    """A netCDF-storable form of ``value``: numbers stay numbers, everything else becomes text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value
    return str(value)


def labelled(dims, values, units, long_name, **attrs):
    """A Dataset variable, ``(dims, values, attributes)``, with its ``units`` and ``long_name``
    (and any other ``attrs``)."""
    return dims, values, {"units": units, "long_name": long_name, **attrs}


def provenance(*, device, seed, parameters, command_line=None):
    """Attributes that say how a dataset was made.

    Parameters
    ----------
    device : str
        The Brian2 device the simulation ran on.
    seed : int or None
        The random seed.
    parameters : dict
        Every parameter of the run; stored as ``param_<name>`` (quantities as text with units).
    command_line : list of str, optional
        Defaults to ``sys.argv``.

    Returns
    -------
    dict
    """
    command_line = sys.argv if command_line is None else command_line
    attrs = {
        "bimsim_version": bimsim.__version__,
        "brian2_version": brian2.__version__,
        "python_version": sys.version.split()[0],
        "device": device,
        "seed": "none" if seed is None else int(seed),
        "command_line": shlex.join(str(arg) for arg in command_line),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    attrs.update({f"param_{key}": _attr_value(value) for key, value in parameters.items()})
    return attrs


def check_dataset(ds):
    """Check that every variable and coordinate has ``units`` and ``long_name`` and no NaN.

    A variable may hold NaN only where it says what NaN means there, in a ``nan_means``
    attribute (e.g. the epochs a model did not train), and only where it is written as a
    floating-point number: a variable read from a file keeps that file's type in its encoding,
    and an integer or boolean one would write NaN as a number (-9223372036854775808, True).

    Raises
    ------
    ValueError
        Naming the first variable that breaks the rule.
    """
    for name, var in {**ds.coords, **ds.data_vars}.items():
        missing = [key for key in ("units", "long_name") if key not in var.attrs]
        if missing:
            raise ValueError(f"variable {name!r} has no {' or '.join(missing)} attribute")
        if np.issubdtype(var.dtype, np.floating) and not np.all(np.isfinite(var.values)):
            declared = "nan_means" in var.attrs and not np.any(np.isinf(var.values))
            if not declared:
                raise ValueError(f"variable {name!r} holds NaN or infinite values")
            written = np.dtype(var.encoding.get("dtype", var.dtype))
            if not np.issubdtype(written, np.floating):
                raise ValueError(
                    f"variable {name!r} holds NaN but would be written as {written} (its "
                    "encoding), which has no NaN"
                )
    return ds


def write_dataset(ds, path, encoding=None):
    """Write ``ds`` to netCDF (engine netcdf4) atomically.

    The file is written to a temporary name beside ``path`` and renamed into place, so an
    interrupted or failed write leaves no half-written ``path`` (and no temporary file).
    ``encoding`` is passed to :meth:`xarray.Dataset.to_netcdf` (compression, packed integers).

    Returns
    -------
    Path
    """
    check_dataset(ds)
    return write_atomically(
        path, lambda temporary: ds.to_netcdf(temporary, engine="netcdf4", encoding=encoding)
    )


def write_atomically(path, write):
    """Make ``path`` by ``write(temporary)``, a hidden temporary file beside it, renamed into place
    once written: ``path`` is either as it was or complete, and no temporary file stays.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_dataset(path):
    """Open a dataset written by :func:`write_dataset` (loaded into memory, file closed)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
