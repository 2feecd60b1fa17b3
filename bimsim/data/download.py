"""Checksummed downloads of PhysioNet databases into a local cache (never run by the tests).

PhysioNet publishes a ``SHA256SUMS.txt`` beside every database version. A download fetches that
list first, then each wanted file, checks the file's sha256 against the list before it is put in
place (written to a temporary name and renamed, so an interrupted download leaves no partial
file), and skips files already in the cache with the right checksum. Header files (``.hea``) are
text: a copy whose line endings were changed (CRLF and LF) is accepted as the same file.
"""

import os
import urllib.error
import urllib.request
from pathlib import Path

from bimsim.data.checks import parse_sha256sums, sha256_matches
from bimsim.files import cache_dir

__all__ = ["MITDB_URL", "default_cache", "download_mitdb", "fetch_checked"]

MITDB_URL = "https://physionet.org/files/mitdb/1.0.0/"


def default_cache():
    """``$BIMSIM_CACHE/data`` or ``~/.cache/bimsim/data``."""
    return cache_dir() / "data"


def _get(url):
    """The bytes at ``url``.

    Raises
    ------
    OSError
        Naming the address and why it could not be fetched (no network, a refused connection,
        an HTTP error, a time-out).
    """
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        raise OSError(
            f"cannot download {url}: the server answered {err.code} {err.reason}"
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        reason = getattr(reason, "strerror", None) or str(reason)
        raise OSError(
            f"cannot download {url}: {reason} (no network here? download where there is one, "
            "then give the folder with --data)"
        ) from None


def fetch_checked(base_url, name, expected, folder):
    """Fetch ``base_url + name`` into ``folder`` unless a good copy is there; check its sha256.

    Raises
    ------
    ValueError
        If the fetched bytes do not match ``expected`` (nothing is written).
    """
    target = Path(folder) / name
    if target.exists() and sha256_matches(target.read_bytes(), expected, name):
        return target
    data = _get(base_url + name)
    if not sha256_matches(data, expected, name):
        raise ValueError(f"{base_url + name} does not match its sha256 in SHA256SUMS.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def download_mitdb(records, cache=None, base_url=MITDB_URL, progress=False):
    """Fetch the ``.hea``, ``.dat`` and ``.atr`` files of ``records`` and the checksum list.

    Returns
    -------
    Path
        The folder (``<cache>/mitdb``), ready for :func:`bimsim.data.mitdb.load_record`.
    """
    from tqdm.auto import tqdm

    folder = Path(cache or default_cache()) / "mitdb"
    folder.mkdir(parents=True, exist_ok=True)
    listing = _get(base_url + "SHA256SUMS.txt")
    sums = parse_sha256sums(listing.decode())
    names = [f"{r}{suffix}" for r in map(str, records) for suffix in (".hea", ".dat", ".atr")]
    missing = [name for name in names if name not in sums]
    if missing:
        raise ValueError(f"not in {base_url}SHA256SUMS.txt: {', '.join(missing)}")
    for name in tqdm(names, desc="download mitdb", disable=not progress):
        fetch_checked(base_url, name, sums[name], folder)
    (folder / "SHA256SUMS.txt").write_bytes(listing)
    return folder
