"""Reference data shipped with bimsim, and where the loaders find the data that is not shipped."""

import os
from importlib.resources import files
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["data_folder", "sjostrom2001"]


def data_folder(data, name, title):
    """The folder a loader reads: ``data``, else ``$BIMSIM_DATA/<name>``.

    Parameters
    ----------
    data : path or None
        The folder the user named (``--data``).
    name : str
        The dataset's folder under ``$BIMSIM_DATA``, e.g. ``'mitdb'``.
    title : str
        The dataset's name in messages, e.g. ``'MIT-BIH'``.

    Raises
    ------
    FileNotFoundError
        Saying what is missing: no folder given and no ``BIMSIM_DATA``, or no such folder.
    """
    if data is None:
        root = os.environ.get("BIMSIM_DATA")
        if not root:
            raise FileNotFoundError(
                f"no {title} folder given: pass --data DIR or set BIMSIM_DATA to a folder that "
                f"holds {name}/"
            )
        data = Path(root) / name
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"{title} folder {data} does not exist")
    return data


def sjostrom2001():
    """Sjöström, Turrigiano & Nelson (2001): STDP against pairing frequency at Δt = ±10 ms.

    Returns
    -------
    xarray.Dataset
        ``dw_mean`` and ``dw_sem`` (relative weight change) over dims ``frequency`` (Hz) and
        ``delta_t`` (ms), with the citation in the attributes.
    """
    lines = (files(__package__) / "sjostrom2001.csv").read_text(encoding="utf-8").splitlines()
    citation = " ".join(line.lstrip("# ").strip() for line in lines if line.startswith("#"))
    rows = [line for line in lines if line and not line.startswith("#")][1:]  # after the header
    table = np.loadtxt(rows, delimiter=",", ndmin=2)
    frequency = np.unique(table[:, 0])
    delta_t = np.unique(table[:, 1])
    shape = (len(frequency), len(delta_t))
    mean, sem = np.full(shape, np.nan), np.full(shape, np.nan)
    for f, dt, m, s in table:
        index = (np.searchsorted(frequency, f), np.searchsorted(delta_t, dt))
        mean[index], sem[index] = m, s
    dims = ("frequency", "delta_t")
    return xr.Dataset(
        {
            "dw_mean": (dims, mean, {"units": "1", "long_name": "measured relative weight change"}),
            "dw_sem": (dims, sem, {"units": "1", "long_name": "standard error of dw_mean"}),
        },
        coords={
            "frequency": (
                "frequency",
                frequency,
                {"units": "Hz", "long_name": "pairing frequency"},
            ),
            "delta_t": ("delta_t", delta_t, {"units": "ms", "long_name": "t_post - t_pre"}),
        },
        attrs={"source": citation},
    )
