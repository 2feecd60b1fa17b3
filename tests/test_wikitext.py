"""The WikiText loader on the shipped WikiText-2 splits, both layouts, and bad files named."""

import shutil

import pytest
from commands import assert_refused, run_rows

from bimsim.data.wikitext import (
    CharacterVocabulary,
    read_split,
    read_splits,
    split_path,
    token_count,
    wikitext_dir,
)

LM = ("-m", "bimsim.tasks.lm")


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


@pytest.mark.parametrize("kind", ["folder", "dangling link"])
def test_a_split_that_is_not_a_file_is_named(tmp_path, kind):
    test = tmp_path / "test.txt"
    test.mkdir() if kind == "folder" else test.symlink_to(tmp_path / "gone.txt")
    (tmp_path / "wiki.test.tokens").write_text("not read: test.txt is there\n")
    with pytest.raises(ValueError, match=rf"^{test} is a {kind}.*, not a test split file$"):
        read_split(tmp_path, "test")


def test_a_test_split_that_is_a_copy_of_the_training_split_is_refused(wikitext2, tmp_path):
    shutil.copy(wikitext2 / "valid.txt", tmp_path / "valid.txt")
    shutil.copy(wikitext2 / "valid.txt", tmp_path / "wiki.test.tokens")
    with pytest.raises(ValueError) as refused:
        read_splits(tmp_path, ("valid", "test"))
    assert str(refused.value) == (
        f"{tmp_path / 'valid.txt'} and {tmp_path / 'wiki.test.tokens'} are byte-identical: the "
        "same split under two names, which could be both trained on and tested"
    )
    shutil.copy(wikitext2 / "test.txt", tmp_path / "wiki.test.tokens")
    texts = read_splits(tmp_path, ("valid", "test"))
    assert [token_count(texts[s]) for s in ("valid", "test")] == [217_646, 245_569]


def test_the_lm_command_refuses_a_copy_of_the_training_split(wikitext2, tmp_path, tmp_path_factory):
    shutil.copy(wikitext2 / "test.txt", tmp_path / "valid.txt")
    shutil.copy(wikitext2 / "test.txt", tmp_path / "test.txt")
    row = (LM, ["--data", tmp_path, "--quick", "--models", "floor"], "")
    run = run_rows([row], tmp_path_factory)
    assert_refused(run[0], r"valid\.txt and .*test\.txt are byte-identical")
