"""Datasets: units, provenance and atomic writes."""

import numpy as np
import pytest
import xarray as xr

from bimsim.io import check_dataset, provenance, read_dataset, write_dataset


def small_dataset():
    return xr.Dataset(
        {"dw": ("delta_t", [0.1, -0.2], {"units": "1", "long_name": "weight change"})},
        coords={"delta_t": ("delta_t", [10.0, -10.0], {"units": "ms", "long_name": "lag"})},
    )


def test_round_trip_keeps_units_and_provenance(tmp_path):
    ds = small_dataset()
    ds.attrs.update(
        provenance(
            device="runtime", seed=3, parameters={"tau": "16.8 ms", "on": True}, command_line=["x"]
        )
    )
    path = write_dataset(ds, tmp_path / "sub" / "out.nc")
    back = read_dataset(path)
    assert back.dw.attrs["units"] == "1" and back.delta_t.attrs["units"] == "ms"
    assert back.attrs["seed"] == 3 and back.attrs["param_tau"] == "16.8 ms"
    assert back.attrs["param_on"] == 1 and back.attrs["device"] == "runtime"
    assert back.attrs["brian2_version"] == "2.10.1"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda ds: ds.dw.attrs.pop("units"), "'dw' has no units"),
        (lambda ds: ds.delta_t.attrs.pop("long_name"), "'delta_t' has no long_name"),
        (lambda ds: ds.dw.values.__setitem__(0, np.nan), "'dw' holds NaN"),
    ],
)
def test_incomplete_datasets_are_refused(tmp_path, change, match):
    ds = small_dataset()
    change(ds)
    with pytest.raises(ValueError, match=match):
        write_dataset(ds, tmp_path / "out.nc")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "out.nc"
    write_dataset(small_dataset(), target)
    before = target.read_bytes()

    def broken(self, path, **kwds):
        with open(path, "wb") as f:
            f.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(small_dataset(), target)
    assert target.read_bytes() == before  # the earlier result is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.nc"]  # no temporary file


def test_check_dataset_accepts_complete_dataset():
    check_dataset(small_dataset())


def test_nan_is_written_only_where_the_variable_says_what_it_means(tmp_path):
    ds = small_dataset()
    ds.dw.values[0] = np.nan
    ds.dw.attrs["nan_means"] = "not simulated"
    back = read_dataset(write_dataset(ds, tmp_path / "out.nc"))
    assert np.isnan(back.dw.values[0]) and back.dw.attrs["nan_means"] == "not simulated"
    ds.dw.values[1] = np.inf
    with pytest.raises(ValueError, match="'dw' holds NaN or infinite"):
        write_dataset(ds, tmp_path / "other.nc")


@pytest.mark.parametrize("stored", ["int64", "bool"])
def test_nan_is_never_written_as_a_number(tmp_path, stored):
    """A variable read back from a file keeps its integer or boolean type in its encoding: NaN
    put in it later (a merge, a reindex) would be written as -9223372036854775808 or True."""
    ds = small_dataset()
    ds["count"] = ("delta_t", np.array([1, 0], dtype=stored), {"units": "1", "long_name": "n"})
    back = read_dataset(write_dataset(ds, tmp_path / "out.nc"))
    grown = back.reindex(delta_t=[10.0, -10.0, 99.0])
    grown["count"].attrs["nan_means"] = "not simulated"
    grown["dw"].attrs["nan_means"] = "not simulated"
    assert grown["count"].encoding["dtype"] == stored and np.isnan(grown["count"][-1])
    with pytest.raises(ValueError, match=f"'count' holds NaN but would be written as {stored}"):
        write_dataset(grown, tmp_path / "grown.nc")
    assert not (tmp_path / "grown.nc").exists()
