"""LibriSpeech (Panayotov et al. 2015): read English speech, FLAC at 16 kHz, with transcripts.

A subset such as ``test-clean/`` holds ``<speaker>/<chapter>/`` folders, each with the chapter's
utterances ``<speaker>-<chapter>-<n>.flac`` and one transcript file
``<speaker>-<chapter>.trans.txt`` whose lines are ``<utterance id> WORDS IN CAPITALS``. Audio is
read with ``soundfile``; the word error rate is computed with ``jiwer`` (edit distance on words).
A transcript line without words, an utterance listed twice, a transcript without its audio file
(or the reverse, a chapter's audio without a transcript), audio of another rate or channel count,
audio cut short (its samples cannot all be decoded), an audio entry that is a folder or a
dangling link, and two audio files with the same bytes are errors that name the file. Loading
decodes every utterance once, so that what is listed can be read. The corpus is not shipped
(test-clean is 346 MB); point the loader at a copy.

Licence: CC BY 4.0; cite Panayotov V, Chen G, Povey D, Khudanpur S (2015), LibriSpeech: an ASR
corpus based on public domain audio books, ICASSP 2015.
"""

import io
from pathlib import Path

import numpy as np

from bimsim.data.checks import Duplicates, check_regular_file

__all__ = ["SAMPLE_RATE_HZ", "load_librispeech", "read_utterance", "word_error_rate"]

SAMPLE_RATE_HZ = 16000


def _transcripts(path):
    """Utterance id to words of one ``.trans.txt`` file, checked line by line."""
    texts = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        utterance, _, words = line.strip().partition(" ")
        if not words.strip():
            raise ValueError(f"{path}, line {number}: utterance {utterance!r} has no words")
        if utterance in texts:
            raise ValueError(f"{path}, line {number}: utterance {utterance!r} is listed twice")
        texts[utterance] = words.strip()
    return texts


def load_librispeech(subset):
    """Every utterance of a subset folder (e.g. ``LibriSpeech/test-clean``), checked.

    Returns
    -------
    xarray.Dataset
        Over ``utterance`` (its id): ``speaker``, ``chapter``, ``text``, ``duration`` (s) and
        ``path`` of the FLAC file (read the audio with :func:`read_utterance`).

    Raises
    ------
    FileNotFoundError
        If the folder is missing or holds no transcripts.
    ValueError
        Naming the file: see the module docstring.
    """
    import xarray as xr

    subset = Path(subset)
    if not subset.is_dir():
        raise FileNotFoundError(f"LibriSpeech folder {subset} does not exist")
    rows, seen = [], Duplicates("utterance")
    transcripts = sorted(subset.glob("*/*/*.trans.txt"))
    chapters = {transcript.parent for transcript in transcripts}
    orphans = sorted(p for p in subset.glob("*/*/*.flac") if p.parent not in chapters)
    if orphans:
        raise ValueError(f"{orphans[0]} has no transcript (*.trans.txt) in its folder")
    for transcript in transcripts:
        texts = _transcripts(transcript)
        audio = {p.stem: p for p in transcript.parent.glob("*.flac")}
        untranscribed = sorted(set(audio) - set(texts))
        if untranscribed:
            raise ValueError(f"{audio[untranscribed[0]]} has no line in {transcript}")
        for utterance, text in texts.items():
            if utterance not in audio:
                raise ValueError(f"{transcript}: no audio file {utterance}.flac for its line")
            path = check_regular_file(audio[utterance], "FLAC")
            data = path.read_bytes()
            seen.add(path, data, utterance)
            duration = len(_decode(path, data)) / SAMPLE_RATE_HZ
            speaker, chapter, _ = utterance.split("-")
            rows.append((utterance, speaker, chapter, text, duration, str(path)))
    if not rows:
        raise FileNotFoundError(f"{subset} holds no <speaker>/<chapter>/*.trans.txt transcripts")
    ids, speaker, chapter, text, duration, path = zip(*rows, strict=True)

    def column(values, units, long_name):
        values = np.asarray(values)
        if values.dtype.kind == "U":
            values = values.astype(object)
        return ("utterance", values, {"units": units, "long_name": long_name})

    return xr.Dataset(
        {
            "speaker": column(speaker, "1", "speaker"),
            "chapter": column(chapter, "1", "book chapter"),
            "text": column(text, "1", "transcript"),
            "duration": column(duration, "s", "length of the utterance"),
            "path": column(path, "1", "FLAC file"),
        },
        coords={"utterance": column(ids, "1", "utterance id")},
        attrs={"title": "LibriSpeech", "source": str(subset), "license": "CC BY 4.0"},
    )


def _decode(path, data):
    """The samples of utterance ``path`` from its bytes ``data``, checked (float32 in [-1, 1]).

    Raises
    ------
    ValueError
        Naming ``path``: not audio, another rate or channel count than LibriSpeech's, or samples
        that cannot be decoded (a file cut short: libsndfile's FLAC decoder loses sync).
    """
    import soundfile

    try:
        audio = soundfile.SoundFile(io.BytesIO(data))
    except RuntimeError as err:  # soundfile's LibsndfileError
        raise ValueError(f"{path} cannot be read as audio: {err}") from None
    with audio:
        if audio.samplerate != SAMPLE_RATE_HZ:
            raise ValueError(f"{path} is sampled at {audio.samplerate} Hz, not {SAMPLE_RATE_HZ} Hz")
        if audio.channels != 1:
            raise ValueError(f"{path} has {audio.channels} channels, not 1 (mono)")
        try:
            samples = audio.read(dtype="float32")
        except RuntimeError as err:  # e.g. FLAC cut short: "flac decoder lost sync"
            raise ValueError(
                f"{path} is truncated or damaged: its header promises {audio.frames} samples, and "
                f"decoding them fails ({str(err).strip().rstrip('.')})"
            ) from None
    return samples


def read_utterance(path):
    """The samples of one utterance in [-1, 1] (float32), checked as :func:`load_librispeech`."""
    return _decode(path, Path(path).read_bytes())


def word_error_rate(references, hypotheses):
    """Word error rate of ``hypotheses`` against ``references`` (lists of strings), by jiwer.

    (substitutions + deletions + insertions) / words of the references, over all utterances.

    Raises
    ------
    ValueError
        If the lists differ in length or a reference has no words.
    """
    import jiwer

    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    empty = [k for k, text in enumerate(references) if not text.split()]
    if empty:
        raise ValueError(f"reference {empty[0]} has no words")
    return float(jiwer.wer(references, hypotheses))
