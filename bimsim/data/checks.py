"""What every loader checks before it reads a data file: listings, file kinds and duplicates.

* **Checksum listings.** Where a dataset's folder holds PhysioNet's ``SHA256SUMS.txt``, every file
  a loader reads is checked against it (:class:`Listing`): a file the listing does not name is
  refused, since nothing vouches for it, and a listing that names no file is refused, since it
  checks nothing. Header files (``.hea``) are text, and copies change their line endings: the same
  text with CRLF or LF line endings matches.
* **Recordings listed from a folder** must be regular files (:func:`check_regular_file`): a folder
  or a dangling link among them would otherwise be skipped without a word, and a FIFO would hang
  the read.
* **Byte-identical recordings under two names** (:class:`Duplicates`): the same recording twice
  is one sample counted as two, and may land in a training and a test fold at once.

Every refusal is a ``ValueError`` (``FileNotFoundError`` for a missing file) whose one-line
message names the file and what is wrong with it.
"""

import hashlib
import os
from pathlib import Path

from bimsim.files import special_kind

__all__ = [
    "LISTING",
    "Duplicates",
    "Listing",
    "check_regular_file",
    "parse_sha256sums",
    "sha256_matches",
]

#: PhysioNet's checksum listing, beside a database's files.
LISTING = "SHA256SUMS.txt"


def parse_sha256sums(text):
    """File name to sha256 (lower-case hex) from the text of a ``SHA256SUMS.txt`` listing."""
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def sha256_matches(data, expected, name):
    """Whether ``data`` (the bytes of file ``name``) has the sha256 ``expected``.

    A header (``name`` ending in ``.hea``) also matches with its line endings changed to CRLF or
    to LF: it is the same text (PhysioNet writes CRLF; copies in git repositories often hold LF).
    """
    if hashlib.sha256(data).hexdigest() == expected:
        return True
    if not name.endswith(".hea"):
        return False
    lf = data.replace(b"\r\n", b"\n")
    return any(
        hashlib.sha256(text).hexdigest() == expected for text in (lf, lf.replace(b"\n", b"\r\n"))
    )


def check_regular_file(path, what):
    """Refuse ``path`` unless it is a regular file (or a link to one).

    Parameters
    ----------
    path : pathlib.Path
    what : str
        What the file should be, for the message, e.g. ``'recording'``.

    Raises
    ------
    FileNotFoundError
        If nothing is there.
    ValueError
        Naming ``path``: a folder, a dangling link, a FIFO, socket or device.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{path} is missing")
    raise ValueError(f"{path} is {special_kind(path)}, not a {what} file")


class Listing:
    """A folder's ``SHA256SUMS.txt``, read once, that checks the files a loader reads.

    Parameters
    ----------
    directory : path
        The folder the listing's names are relative to (where the listing lies).

    Raises
    ------
    ValueError
        Naming the listing: it is not a regular file, or it lists no file.

    Attributes
    ----------
    path : pathlib.Path or None
        The listing, or None where the folder has none (then :meth:`check` checks nothing).
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        path = self.directory / LISTING
        self.path, self.sums = None, {}
        if not os.path.lexists(path):
            return
        check_regular_file(path, "checksum listing")
        self.path = path
        self.sums = parse_sha256sums(path.read_text(encoding="ascii", errors="replace"))
        if not self.sums:
            raise ValueError(
                f"{path} lists no files (no '<sha256> <name>' lines): an empty listing checks "
                "nothing"
            )

    def check(self, path):
        """Check ``path`` (within the folder) against the listing, where there is one.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        ValueError
            Naming ``path``: the listing does not name it, or its sha256 differs from the
            listing's.
        """
        path = Path(path)
        if self.path is None:
            return path
        name = path.relative_to(self.directory).as_posix()
        expected = self.sums.get(name)
        if expected is None:
            raise ValueError(f"{path} is not in {self.path}, so nothing vouches for it")
        data = path.read_bytes()
        if not sha256_matches(data, expected, name):
            raise ValueError(
                f"{path} is corrupted: its sha256 is {hashlib.sha256(data).hexdigest()}, "
                f"{self.path} says {expected}"
            )
        return path


class Duplicates:
    """Remembers the name and the sha256 of every recording of one load; refuses a repeat of
    either.

    Keep one per load: each recording is hashed once, from the bytes the loader reads anyway.

    Parameters
    ----------
    what : str
        What a recording is, for the message, e.g. ``'segment'``.
    """

    def __init__(self, what="recording"):
        self.what = what
        self._files, self._first = {}, {}

    def add(self, path, data, name):
        """Note recording ``name`` (as the loader names it), read from ``path`` as ``data``.

        Raises
        ------
        ValueError
            Naming both files, if an earlier file gave the same name (e.g. ``Z001.txt`` and
            ``Z001.TXT``) or held the same bytes.
        """
        if name in self._files:
            raise ValueError(f"{self._files[name]} and {path} are both {self.what} {name}")
        self._files[name] = path
        first = self._first.setdefault(hashlib.sha256(data).digest(), path)
        if first != path:
            raise ValueError(
                f"{first} and {path} are byte-identical: the same {self.what} under two names, "
                "which could be both trained on and tested"
            )
