"""Character-level language modelling (WikiText-2): ``python -m bimsim.tasks.lm``.

The text is coded character by character (:class:`~bimsim.data.wikitext.CharacterVocabulary` of
the training text, one code for characters it lacks) and cut into sequences of ``--length``
characters (default 100), each paired with the character that follows each of its characters.
Every model predicts, at every character, the next one, from the characters of its own sequence
so far; every sequence starts from rest. Scores: bits per character (bpc, the mean of
``-log2 p(next)``) and the character perplexity ``2^bpc``.

Splits: the copy of WikiText-2 in ``$BIMSIM_DATA/wikitext-2`` holds only the validation and test
splits, so by default the models are **trained on the validation split and tested on the test
split** (``--train-split train`` for a copy that has the training split, such as WikiText-103's
``wiki.train.tokens``, read with ``--data``). ``--characters N`` (default 200,000) takes the
first N characters of each split, to keep the default run within minutes; give a larger N for
the whole splits (1.12 and 1.26 million characters in WikiText-2).

Models: BIM (one input neuron per character, one spike per character every 10 ms, into the same
network as the other tasks at a 2 ms step; its readout steps once per character,
:mod:`bimsim.tasks.bim_tokens`), the four BPTT baselines reading the one-hot characters and
predicting at every step (the CNN causal), and the floor: a character 5-gram model with
interpolated absolute discounting counted on the training text. The paper's language-modelling
numbers are on WikiText-103 (1.23 bpc), another corpus; they are printed for orientation only.
Writes ``results/lm.nc``::

    python -m bimsim.tasks.lm --quick
    python -m bimsim.tasks.lm --characters 2000000 --models floor gru
"""

import dataclasses

import numpy as np
from brian2 import ms

from bimsim.cli import integer, run_command
from bimsim.data.wikitext import CharacterVocabulary, read_splits, wikitext_dir
from bimsim.limits import require_bytes
from bimsim.tasks.command import Quick, TaskCommand
from bimsim.tasks.config import BIMConfig
from bimsim.tasks.models import NGramFloor
from bimsim.tasks.runner import Fold, Score, TaskData

__all__ = ["TASK", "bits_per_character", "lm_task", "main", "sequences"]

#: Time per character, for BIM.
CHARACTER_DT = 10 * ms

#: The paper's language-modelling number (WikiText-103); not these data.
PAPER = {
    "data": "WikiText-103, 1.23 bpc (another corpus: for orientation only)",
    "bim": {"bpc": 1.23},
}


def bits_per_character(targets, probability):
    """Mean ``-log2 p(target)`` over every step of every sequence (a probability below the
    smallest normal double counts as that, 1022 bits)."""
    picked = np.take_along_axis(probability, np.asarray(targets)[..., None], axis=-1)
    return float(-np.log2(np.maximum(picked, np.finfo(float).tiny)).mean())


def perplexity(targets, probability):
    """``2 ** bits_per_character``: the character-level perplexity."""
    return float(2.0 ** bits_per_character(targets, probability))


def sequences(codes, length):
    """Consecutive sequences of ``length`` codes and the codes that follow each: two arrays
    ``(n, length)``, ``n = (len(codes) - 1) // length`` (a short tail is left out)."""
    n = (len(codes) - 1) // length
    if n < 1:
        raise ValueError(f"{len(codes)} characters make no sequence of {length} and its targets")
    inputs = codes[: n * length].reshape(n, length)
    targets = codes[1 : n * length + 1].reshape(n, length)
    return inputs, targets


def lm_task(directory, train_split, characters, length):
    """The next-character task: train on ``train_split``, test on ``test``; the first
    ``characters`` characters of each, in sequences of ``length``."""
    texts = {
        name: text[:characters]
        for name, text in read_splits(directory, (train_split, "test")).items()
    }
    vocabulary = CharacterVocabulary.from_text(texts[train_split])
    parts = {name: sequences(vocabulary.encode(text), length) for name, text in texts.items()}
    inputs = np.concatenate([parts[train_split][0], parts["test"][0]])
    targets = np.concatenate([parts[train_split][1], parts["test"][1]])
    train = np.arange(len(inputs)) < len(parts[train_split][0])
    groups = np.where(train, train_split, "test")
    classes = ("\ufffd", *vocabulary.symbols)  # code 0: a character the training text lacks
    # a model's test predictions are held at once (twice, while a baseline assembles them):
    # a probability per character and class
    require_bytes(
        f"the test predictions of {len(parts['test'][0])} sequences of {length} characters",
        2 * parts["test"][0].size * len(classes) * 8,
    )
    unknown = float(np.mean(parts["test"][1] == CharacterVocabulary.UNKNOWN))
    return TaskData(
        name="lm",
        title="Character-level language modelling (WikiText)",
        signals=inputs.astype(np.int64),
        features=np.zeros((len(inputs), 0)),
        labels=targets.astype(np.int64),
        classes=classes,
        groups=groups,
        group_kind="split",
        folds=(Fold("test", train, ~train),),
        sample_dt=CHARACTER_DT,
        target_from=CHARACTER_DT,
        floor_features=np.zeros((len(inputs), 0)),
        floor=f"character {NGramFloor.ORDER}-gram, interpolated absolute discounting",
        scores=(
            Score("bpc", "bits per character", bits_per_character, "bpc", units="bit"),
            Score("perplexity", "character perplexity (2^bpc)", perplexity, "ppl"),
        ),
        sample_name="sequence",
        attrs={
            "dataset": str(directory),
            "split": f"train on {train_split}, test on test",
            "characters_per_split": characters,
            "train_characters": len(texts[train_split]),
            "test_characters": len(texts["test"]),
            "sequence_length": length,
            "test_unknown_fraction": unknown,
            "data_license": "CC BY-SA 3.0 (WikiText, from Wikipedia)",
            "data_citation": "Merity S et al. Pointer Sentinel Mixture Models. arXiv:1609.07843",
        },
        paper=PAPER,
        tokens=True,
        floor_model=NGramFloor,
    )


def add_arguments(p):
    p.add_argument(
        "--train-split",
        choices=("valid", "train"),
        default="valid",
        help="the split to train on (default valid: the copy in $BIMSIM_DATA has no train split)",
    )
    p.add_argument(
        "--characters",
        type=integer(1000, 200_000_000),
        default=200_000,
        help="the first N characters of each split (default 200000)",
    )
    p.add_argument(
        "--length",
        type=integer(2, 10_000),
        default=100,
        help="characters per sequence (default 100)",
    )


def load(args):
    return lm_task(wikitext_dir(args.data), args.train_split, args.characters, args.length)


TASK = TaskCommand(
    name="lm",
    description=__doc__,
    load=load,
    add_arguments=add_arguments,
    data_dir=wikitext_dir,
    bim=dataclasses.replace(BIMConfig(), dt=2 * ms, readout_dt=CHARACTER_DT),
    quick=Quick(samples=64),
    data_help="a WikiText folder (default: $BIMSIM_DATA/wikitext-2)",
)

main = TASK.main

if __name__ == "__main__":
    run_command(main)
