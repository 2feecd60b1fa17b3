"""Checksummed downloads, exercised on a local copy through file:// URLs (no network)."""

import shutil

import pytest

from bimsim.data.download import download_mitdb
from bimsim.data.mitdb import beat_counts, load_record


@pytest.fixture
def server(data_root, tmp_path):
    """A folder that looks like PhysioNet's: two records and the checksum list."""
    folder = tmp_path / "physionet"
    folder.mkdir()
    for name in ("100", "208"):
        for suffix in (".hea", ".dat", ".atr"):
            shutil.copy(data_root / "mitdb" / f"{name}{suffix}", folder)
    shutil.copy(data_root / "mitdb" / "SHA256SUMS.txt", folder)
    return folder


def test_download_checks_and_caches(server, tmp_path):
    folder = download_mitdb(
        ["100", "208"], cache=tmp_path / "cache", base_url=server.as_uri() + "/"
    )
    assert beat_counts(load_record(folder, "100")) == {"N": 2239, "A": 33, "V": 1}
    stamp = (folder / "100.dat").stat().st_mtime_ns
    download_mitdb(["100"], cache=tmp_path / "cache", base_url=server.as_uri() + "/")
    assert (folder / "100.dat").stat().st_mtime_ns == stamp  # a good copy is not fetched again


def test_a_corrupted_download_is_refused_and_not_written(server, tmp_path):
    data = bytearray((server / "208.atr").read_bytes())
    data[100] ^= 0xFF
    (server / "208.atr").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"208\.atr does not match its sha256"):
        download_mitdb(["208"], cache=tmp_path / "cache", base_url=server.as_uri() + "/")
    assert not (tmp_path / "cache" / "mitdb" / "208.atr").exists()
    assert not list((tmp_path / "cache" / "mitdb").glob(".*part"))
    with pytest.raises(ValueError, match=r"not in .*SHA256SUMS\.txt: 999\.hea"):
        download_mitdb(["999"], cache=tmp_path / "cache", base_url=server.as_uri() + "/")
