"""The WikiText loader on the shipped WikiText-2 splits, both layouts, and bad files named."""

import pytest

from bimsim.data.wikitext import (
    CharacterVocabulary,
    read_split,
    split_path,
    token_count,
    wikitext_dir,
)


@pytest.fixture(scope="module")
def wikitext2(data_root):
    return data_root / "wikitext-2"


def test_the_splits_hold_the_official_token_counts(wikitext2):
    # Merity et al. (2016): WikiText-2 has 217,646 validation and 245,569 test tokens
    assert token_count(read_split(wikitext2, "valid")) == 217_646
    assert token_count(read_split(wikitext2, "test")) == 245_569


def test_characters_the_training_text_lacks_are_coded_unknown(wikitext2):
    valid, test = read_split(wikitext2, "valid"), read_split(wikitext2, "test")
    vocabulary = CharacterVocabulary.from_text(valid)
    assert vocabulary.size == len(set(valid)) + 1
    codes = vocabulary.encode(test)
    assert len(codes) == len(test) and codes.min() >= 0 and codes.max() < vocabulary.size
    missing = set(test) - set(valid)
    assert missing and "#" in missing  # e.g. '#' appears only in the test split
    assert (codes == CharacterVocabulary.UNKNOWN).sum() == sum(test.count(c) for c in missing)
    known = valid[:2000]
    assert vocabulary.decode(vocabulary.encode(known)) == known


def test_the_official_archive_layout_is_read(wikitext2, tmp_path):
    (tmp_path / "wiki.test.tokens").write_bytes((wikitext2 / "test.txt").read_bytes())
    assert split_path(tmp_path, "test").name == "wiki.test.tokens"
    assert token_count(read_split(tmp_path, "test")) == 245_569


def test_bad_files_and_folders_are_named(tmp_path, monkeypatch):
    with pytest.raises(
        FileNotFoundError, match=r"no train split in .*: neither train.txt nor wiki"
    ):
        read_split(tmp_path, "train")
    (tmp_path / "valid.txt").write_text(" \n \n")
    with pytest.raises(ValueError, match=r"valid.txt holds no text"):
        read_split(tmp_path, "valid")
    (tmp_path / "test.txt").write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(ValueError, match=r"test.txt is not UTF-8 text: byte 3 is 0xe9"):
        read_split(tmp_path, "test")
    with pytest.raises(ValueError, match=r"split must be one of train, valid, test, got 'dev'"):
        read_split(tmp_path, "dev")
    with pytest.raises(FileNotFoundError, match=r"WikiText folder .*nowhere does not exist"):
        wikitext_dir(tmp_path / "nowhere")
    monkeypatch.delenv("BIMSIM_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"holds wikitext-103/"):
        wikitext_dir(name="wikitext-103")
