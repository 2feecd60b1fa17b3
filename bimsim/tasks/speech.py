"""Spoken digit recognition (Free Spoken Digit Dataset): ``python -m bimsim.tasks.speech``.

The 3000 recordings (6 speakers × 10 digits × 50, 8 kHz) pass through a 20-band log-mel
filterbank (:mod:`bimsim.tasks.audio`, librosa: 25 ms windows every 10 ms, 50 Hz to 4 kHz, in
units of 10 dB above a floor 80 dB below each recording's peak), cut or padded with silence to
0.6 s (60 frames; 95 % of the recordings are shorter). Splits (``--split``):

* ``speakers`` (default): each of the six speakers held out in turn (6 folds): the task is to
  recognise a voice never heard;
* ``official``: FSDD's own split, recordings 0-4 of every speaker and digit for testing, the rest
  for training (the speakers are shared).

Score: the digit error rate (1 − accuracy of the most probable digit), mean ± s.d. over folds and
seeds, and per-digit sensitivity and PPV in the dataset. Models: BIM (each band delta-modulated,
0.2 steps, into the same network as the other tasks at a 2 ms step, scored from 0.2 s on), the
four BPTT baselines on the same frames, and the floor: a logistic regression on the mean and s.d.
of 13 MFCCs over each recording's frames. The paper's speech number is a word error rate on
LibriSpeech (3.4 %), another task; it is printed for orientation only. Writes
``results/speech.nc``::

    python -m bimsim.tasks.speech --quick
    python -m bimsim.tasks.speech --split official --seeds 3
"""

import dataclasses

import numpy as np
from brian2 import Hz, ms, mV, second

from bimsim.cli import run_command
from bimsim.data.fsdd import SAMPLE_RATE_HZ, fsdd_dir, load_fsdd, read_recording
from bimsim.tasks.audio import FRAME_HOP_S, fixed_length, log_mel
from bimsim.tasks.command import TaskCommand
from bimsim.tasks.config import BIMConfig
from bimsim.tasks.floors import mfcc_statistics
from bimsim.tasks.runner import Fold, Score, TaskData

__all__ = ["TASK", "digit_error_rate", "fsdd_task", "main"]

#: Mel bands, and frames per recording (0.6 s).
BANDS = 20
FRAMES = 60

DIGITS = tuple(str(d) for d in range(10))

SPLITS = ("speakers", "official")

#: The paper's speech numbers (LibriSpeech test-clean word error rate); not this task.
PAPER = {
    "data": "LibriSpeech test-clean word error rate (another task: for orientation only)",
    "bim": {"error_rate": 0.034},
    "snn": {"error_rate": 0.042},
}


def digit_error_rate(labels, probability):
    """The fraction of recordings whose most probable digit is wrong."""
    return float(np.mean(np.asarray(probability).argmax(axis=1) != np.asarray(labels)))


def front_end(paths):
    """Log-mel frames ``(recordings, FRAMES, BANDS)`` and the MFCC floor's features."""
    frames, floor = [], []
    for path in paths:
        bands = log_mel(read_recording(path), SAMPLE_RATE_HZ, bands=BANDS)
        frames.append(fixed_length(bands, FRAMES))
        floor.append(mfcc_statistics(bands))
    return np.stack(frames), np.stack(floor)


def speaker_folds(speakers):
    """One fold per speaker: that speaker's recordings are the test set."""
    return tuple(Fold(s, speakers != s, speakers == s) for s in sorted(set(speakers)))


def fsdd_task(fsdd, split):
    """The digit task on ``fsdd`` (:func:`bimsim.data.fsdd.load_fsdd`) with folds ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    speakers = fsdd.speaker.values.astype(str)
    if split == "speakers":
        folds = speaker_folds(speakers)
    else:
        test = fsdd.split.values == "test"
        folds = (Fold("official", ~test, test),)
    signals, floor = front_end(fsdd.path.values)
    return TaskData(
        name="speech",
        title="Spoken digits (FSDD)",
        signals=signals,
        features=np.zeros((len(signals), 0)),
        labels=fsdd.digit.values.astype(int),
        classes=DIGITS,
        groups=speakers,
        group_kind="speaker",
        folds=folds,
        sample_dt=FRAME_HOP_S * second,
        target_from=200 * ms,
        floor_features=floor,
        floor="logistic regression on MFCC means and s.d.s",
        scores=(Score("error_rate", "digit error rate (1 - accuracy)", digit_error_rate, "error"),),
        sample_name="recording",
        attrs={
            "dataset": "fsdd",
            "split": split,
            "front_end": f"librosa log-mel, {BANDS} bands, 25 ms windows every 10 ms, 0.6 s",
            "signal_units": "10 dB above a floor 80 dB below the recording's peak",
            "data": str(fsdd.attrs["source"]),
            "data_license": "CC BY-SA 4.0 (Free Spoken Digit Dataset)",
            "data_citation": "Jackson Z et al. Free Spoken Digit Dataset (FSDD), Zenodo",
        },
        paper=PAPER,
    )


def add_arguments(p):
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="speakers",
        help="speakers: each speaker held out in turn (default); official: FSDD's split\n"
        "(recordings 0-4 of each speaker and digit for testing)",
    )


def load(args):
    return fsdd_task(load_fsdd(args.data), args.split)


#: BIM for speech: a 2 ms step (for the time budget), 2 dB encoder steps, and the input weights
#: scaled to a layer rate of 50 Hz, read by the readout at 0.4 (chosen with ``--split official
#: --validate``, against no scaling and 20 Hz at 1; see the README).
SPEECH_BIM = dataclasses.replace(
    BIMConfig(), delta=0.2 * mV, dt=2 * ms, target_rate=50 * Hz, readout_scale=0.4
)

TASK = TaskCommand(
    name="speech",
    description=__doc__,
    load=load,
    add_arguments=add_arguments,
    data_dir=fsdd_dir,
    bim=SPEECH_BIM,
    data_help="the FSDD folder (default: $BIMSIM_DATA/fsdd)",
)

main = TASK.main

if __name__ == "__main__":
    run_command(main)
