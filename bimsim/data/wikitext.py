"""WikiText (Merity et al. 2016) as text for character-level language modelling.

A split is one UTF-8 text file, tokenised, with rare words replaced by ``<unk>``. Two layouts are
read: pytorch/examples' (``train.txt``, ``valid.txt``, ``test.txt``; the copy of WikiText-2 in
``$BIMSIM_DATA/wikitext-2`` holds only ``valid.txt`` and ``test.txt``) and the official archives'
(``wiki.train.tokens`` ...), in which WikiText-103 ships. A missing, empty or non-UTF-8 file, a
split's name that is a folder or a dangling link, and two splits with the same bytes (a model
would be tested on its training text) are errors that name the files.

Characters are coded by a :class:`CharacterVocabulary` built from the training text; a character
the training text lacks is coded as the unknown symbol (index 0), never dropped.

Licence: CC BY-SA 3.0 (text from Wikipedia); cite Merity S, Xiong C, Bradbury J, Socher R (2016),
Pointer Sentinel Mixture Models, arXiv:1609.07843.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bimsim.data import data_folder
from bimsim.data.checks import Duplicates, check_regular_file

__all__ = [
    "SPLITS",
    "CharacterVocabulary",
    "read_split",
    "read_splits",
    "split_path",
    "token_count",
    "wikitext_dir",
]

SPLITS = ("train", "valid", "test")

#: A split's file in pytorch/examples' layout, then in the official archives'.
FILE_NAMES = {split: (f"{split}.txt", f"wiki.{split}.tokens") for split in SPLITS}


def wikitext_dir(data=None, name="wikitext-2"):
    """The folder to read: ``data``, else ``$BIMSIM_DATA/<name>``; errors say what is missing."""
    return data_folder(data, name, "WikiText")


def split_path(directory, split):
    """The file of ``split`` in ``directory`` (either layout), or an error naming both names
    (or the name that is there but is not a file: a folder, a dangling link)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    for name in FILE_NAMES[split]:
        if os.path.lexists(Path(directory) / name):
            return check_regular_file(Path(directory) / name, f"{split} split")
    raise FileNotFoundError(
        f"no {split} split in {directory}: neither {' nor '.join(FILE_NAMES[split])}"
    )


def read_split(directory, split):
    """The text of ``split`` (a ``str``), checked: UTF-8 and not empty.

    Raises
    ------
    FileNotFoundError
        If the split's file is missing.
    ValueError
        Naming the file: not UTF-8 (with the byte offset), or no text in it.
    """
    return _decode(split_path(directory, split))[0]


def read_splits(directory, splits):
    """The texts of ``splits`` (a dict of split to ``str``), each checked as :func:`read_split`.

    Raises
    ------
    ValueError
        Also naming both files, where two splits hold the same bytes (a copy of the training
        text as the test split: the score would be on text the model was trained on).
    """
    seen, texts = Duplicates("split"), {}
    for split in dict.fromkeys(splits):
        path = split_path(directory, split)
        texts[split], data = _decode(path)
        seen.add(path, data, split)
    return texts


def _decode(path):
    """The text of split file ``path`` and its bytes, checked (see :func:`read_split`)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text: byte {err.start} is {err.object[err.start]:#04x}"
        ) from None
    if not text.strip():
        raise ValueError(f"{path} holds no text")
    return text, data


def token_count(text):
    """Words and one ``<eos>`` per line: how WikiText's token counts are made."""
    return len(text.split()) + text.count("\n")


@dataclass(frozen=True)
class CharacterVocabulary:
    """The characters of a training text, coded 1..n; 0 codes every other character.

    Attributes
    ----------
    symbols : tuple of str
        The known characters, sorted; ``symbols[k - 1]`` has code ``k``.
    """

    symbols: tuple

    UNKNOWN = 0

    @classmethod
    def from_text(cls, text):
        """The vocabulary of every character in ``text``."""
        return cls(tuple(sorted(set(text))))

    @property
    def size(self):
        """Number of codes, the unknown symbol included."""
        return len(self.symbols) + 1

    def encode(self, text):
        """Codes of the characters of ``text`` (int32), unknown ones as :attr:`UNKNOWN`."""
        table = {c: k for k, c in enumerate(self.symbols, start=1)}
        return np.fromiter((table.get(c, self.UNKNOWN) for c in text), np.int32, len(text))

    def decode(self, codes, unknown="\ufffd"):
        """The text of ``codes``, with ``unknown`` for the unknown symbol."""
        return "".join(self.symbols[k - 1] if k else unknown for k in np.asarray(codes))
