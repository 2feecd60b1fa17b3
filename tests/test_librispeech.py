"""The LibriSpeech loader on a small subset the test writes, and the word error rate."""

import shutil

import numpy as np
import pytest
import soundfile

from bimsim.data.librispeech import load_librispeech, read_utterance, word_error_rate
from bimsim.io import check_dataset

UTTERANCES = {
    "1089-134686": {"0000": "HE HOPED THERE WOULD BE STEW", "0001": "STUFF IT INTO YOU"},
    "121-121726": {"0000": "ALSO A POPULAR CONTRIVANCE"},
}


def tone(seconds, rate=16000, frequency=220):
    return 0.1 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)


@pytest.fixture
def subset(tmp_path):
    """``test-clean`` in LibriSpeech's layout: speaker/chapter folders, FLAC, ``.trans.txt``."""
    root = tmp_path / "test-clean"
    for c, (chapter_id, lines) in enumerate(UTTERANCES.items()):
        speaker, chapter = chapter_id.split("-")
        folder = root / speaker / chapter
        folder.mkdir(parents=True)
        text = "".join(f"{chapter_id}-{n} {words}\n" for n, words in lines.items())
        (folder / f"{chapter_id}.trans.txt").write_text(text)
        for k, n in enumerate(lines):
            audio = tone(0.5 + k / 4, frequency=220 * (c + 1))  # no two files alike
            soundfile.write(folder / f"{chapter_id}-{n}.flac", audio, 16000)
    return root


def test_utterances_their_speakers_texts_and_audio(subset):
    ds = check_dataset(load_librispeech(subset))
    assert list(ds.utterance.values) == ["1089-134686-0000", "1089-134686-0001", "121-121726-0000"]
    assert list(ds.speaker.values) == ["1089", "1089", "121"]
    assert ds.text.sel(utterance="1089-134686-0001").item() == "STUFF IT INTO YOU"
    np.testing.assert_allclose(ds.duration.values, [0.5, 0.75, 0.5])
    audio = read_utterance(ds.path.sel(utterance="1089-134686-0000").item())
    np.testing.assert_allclose(audio, tone(0.5), atol=1e-4)  # FLAC is lossless at 16 bits


def chapter(subset):
    return subset / "1089" / "134686"


def cut(path):
    """``path`` cut to half its bytes, its header left as it was."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def replace(path, make):
    path.unlink()
    make(path)


def ignore_text(folder, names):
    return [name for name in names if name.endswith(".txt")]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda s: (chapter(s) / "1089-134686.trans.txt").write_text("1089-134686-0000\n"),
            r"trans.txt, line 1: utterance '1089-134686-0000' has no words",
        ),
        (
            lambda s: (chapter(s) / "1089-134686-0001.flac").unlink(),
            r"1089-134686.trans.txt: no audio file 1089-134686-0001.flac",
        ),
        (
            lambda s: soundfile.write(chapter(s) / "1089-134686-0007.flac", tone(0.1), 16000),
            r"1089-134686-0007.flac has no line in .*1089-134686.trans.txt",
        ),
        (
            lambda s: soundfile.write(chapter(s) / "1089-134686-0001.flac", tone(0.1, 8000), 8000),
            r"1089-134686-0001.flac is sampled at 8000 Hz, not 16000 Hz",
        ),
        (
            lambda s: (chapter(s) / "1089-134686-0001.flac").write_bytes(b"not flac"),
            r"1089-134686-0001.flac cannot be read as audio",
        ),
        (
            lambda s: cut(chapter(s) / "1089-134686-0001.flac"),
            r"1089-134686-0001.flac is truncated or damaged: its header promises 12000 samples, "
            r"and decoding them fails \(Error : flac decoder lost sync\)$",
        ),
        (
            lambda s: replace(chapter(s) / "1089-134686-0001.flac", lambda p: p.mkdir()),
            r"1089-134686-0001.flac is a folder, not a FLAC file$",
        ),
        (
            lambda s: replace(
                chapter(s) / "1089-134686-0001.flac", lambda p: p.symlink_to(p.parent / "gone")
            ),
            r"1089-134686-0001.flac is a dangling link \(to .*gone\), not a FLAC file$",
        ),
        (
            lambda s: shutil.copy(
                chapter(s) / "1089-134686-0000.flac", s / "121" / "121726" / "121-121726-0000.flac"
            ),
            r"1089-134686-0000.flac and .*121-121726-0000.flac are byte-identical",
        ),
        (
            lambda s: shutil.copytree(chapter(s), s / "1089" / "134687", ignore=ignore_text),
            r"134687/1089-134686-0000.flac has no transcript \(\*.trans.txt\) in its folder$",
        ),
    ],
    ids=["no words", "no audio", "no line", "rate", "not audio", "truncated", "folder",
         "dangling link", "duplicate", "no transcript"],
)  # fmt: skip
def test_a_damaged_subset_is_named(subset, damage, message):
    damage(subset)
    with pytest.raises(ValueError, match=message):
        load_librispeech(subset)


def test_a_truncated_utterance_is_refused_when_read_alone(subset):
    path = chapter(subset) / "1089-134686-0001.flac"
    cut(path)
    with pytest.raises(ValueError, match=r"1089-134686-0001\.flac is truncated or damaged"):
        read_utterance(path)


def test_missing_and_empty_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"LibriSpeech folder .*nowhere does not exist"):
        load_librispeech(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"holds no <speaker>/<chapter>/\*.trans.txt"):
        load_librispeech(tmp_path)


def test_word_error_rate_is_the_edit_distance_on_words():
    assert word_error_rate(["THE CAT SAT"], ["THE CAT SAT"]) == 0
    # one substitution and one insertion against three reference words
    assert word_error_rate(["THE CAT SAT"], ["THE BAT SAT ON"]) == pytest.approx(2 / 3)
    # pooled over utterances: one deletion in five words
    assert word_error_rate(["A B", "C D E"], ["A B", "C E"]) == pytest.approx(1 / 5)
    assert word_error_rate(["A B C"], [""]) == 1
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        word_error_rate(["A", "B"], ["A"])
    with pytest.raises(ValueError, match="reference 1 has no words"):
        word_error_rate(["A", " "], ["A", "B"])
