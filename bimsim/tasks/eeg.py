"""Seizure detection in EEG (Bonn, Andrzejak et al. 2001): ``python -m bimsim.tasks.eeg``.

Each of the 500 single-channel segments (23.6 s at 173.61 Hz) is cut into 23 windows of 178
samples (1.03 s, as in the UCI "Epileptic Seizure Recognition" version of these data); ``--windows
K`` windows per segment, spread evenly over it, enter the task (default 3: 1500 windows). The task
is seizure (set E) against non-seizure (sets A to D). Five-fold cross-validation keeps every
segment, with all its windows, in one fold (folds stratified by set E, drawn once with seed 0, the
same for every ``--seed``). Scores: AUC-ROC and AUC-PR of each test fold, mean ± s.d. over folds
and seeds.

Two variants of the inputs, reported side by side (``--inputs``, default both):

* ``raw``: the samples divided by one fixed scale, 50 ADC units (the non-seizure sets' typical
  window s.d. is 38-55 units, set E's 277): amplitude is part of the input, and set E is louder,
  so amplitude alone nearly separates it;
* ``normalised``: each window minus its mean, divided by its own s.d.: only the waveform's shape
  and spectrum are left.

Models: BIM (delta-modulated windows, 0.1 steps of the scaled signal, into the same network as the
ECG task at a 2 ms step, its input weights scaled to a 50 Hz layer rate and read at 0.4, λ = 0.5,
scored from 0.5 s on), the four BPTT baselines, and the floor: a logistic regression on the log band
powers (delta, theta, alpha, beta, gamma) of each window, by Welch's method.
The paper's seizure numbers are on CHB-MIT scalp EEG, not on these data; they are printed beside
ours for orientation only. Writes ``results/eeg.nc`` (with a ``variant`` dimension)::

    python -m bimsim.tasks.eeg --quick
    python -m bimsim.tasks.eeg --inputs normalised --seeds 3
"""

import dataclasses

import numpy as np
from brian2 import Hz, ms, mV, second

from bimsim.cli import integer, run_command
from bimsim.data.bonn import SAMPLES, SAMPLING_FREQUENCY_HZ, bonn_dir, load_bonn
from bimsim.tasks.command import TaskCommand
from bimsim.tasks.config import BIMConfig
from bimsim.tasks.floors import band_powers
from bimsim.tasks.runner import Fold, TaskData, binary_scores_against

__all__ = ["EEG_BIM", "TASK", "bonn_task", "fold_masks", "main", "windows"]

#: Samples per window, and the windows of one segment.
WINDOW = 178
WINDOWS_PER_SEGMENT = SAMPLES // WINDOW

#: The raw variant's scale, in ADC units.
RAW_SCALE = 50.0

#: Folds of the cross-validation, and the seed that draws them.
FOLDS = 5
FOLD_SEED = 0

CLASSES = ("non-seizure", "seizure")

#: The paper's seizure-detection numbers (CHB-MIT); ``gru`` stands for its RNN.
PAPER = {
    "data": "CHB-MIT scalp EEG (the paper's data, not Bonn: for orientation only)",
    "bim": {"auc_roc": 0.95, "auc_pr": 0.90},
    "cnn": {"auc_roc": 0.91, "auc_pr": 0.84},
    "gru": {"auc_roc": 0.89, "auc_pr": 0.81},
    "snn": {"auc_roc": 0.93, "auc_pr": 0.87},
}

VARIANTS = ("raw", "normalised")


def windows(eeg, per_segment):
    """``per_segment`` windows of :data:`WINDOW` samples from each segment, spread evenly.

    Parameters
    ----------
    eeg : numpy.ndarray
        ``(segments, samples)``.
    per_segment : int
        From 1 to :data:`WINDOWS_PER_SEGMENT`.

    Returns
    -------
    numpy.ndarray
        ``(segments * per_segment, WINDOW)``, segment-major, as float.
    """
    if not 1 <= per_segment <= WINDOWS_PER_SEGMENT:
        raise ValueError(f"windows per segment must lie in [1, {WINDOWS_PER_SEGMENT}]")
    chunks = np.asarray(eeg, dtype=float)[:, : WINDOWS_PER_SEGMENT * WINDOW]
    chunks = chunks.reshape(len(eeg), WINDOWS_PER_SEGMENT, WINDOW)
    chosen = np.round(np.linspace(0, WINDOWS_PER_SEGMENT - 1, per_segment)).astype(int)
    return chunks[:, chosen].reshape(-1, WINDOW)


def normalise(signals):
    """Each window minus its mean, divided by its s.d. (a flat window is refused)."""
    centred = signals - signals.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, keepdims=True)
    if np.any(sd == 0):
        raise ValueError(f"{int(np.sum(sd == 0))} windows are flat and cannot be normalised")
    return centred / sd


def fold_masks(seizure, n_folds=FOLDS, seed=FOLD_SEED):
    """Test-fold index of each segment: stratified k-fold over segments (scikit-learn)."""
    from sklearn.model_selection import StratifiedKFold

    fold = np.empty(len(seizure), dtype=int)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(seizure)), seizure)):
        fold[test] = k
    return fold


def bonn_task(bonn, variant, per_segment):
    """The seizure task on ``bonn`` (:func:`bimsim.data.bonn.load_bonn`) with inputs ``variant``
    (``'raw'`` or ``'normalised'``), ``per_segment`` windows per segment."""
    if variant not in VARIANTS:
        raise ValueError(f"inputs must be one of {', '.join(VARIANTS)}, got {variant!r}")
    segments = bonn.segment.values.astype(str)
    seizure = (bonn.set.values == "E").astype(int)
    signals = windows(bonn.eeg.values, per_segment)
    signals = normalise(signals) if variant == "normalised" else signals / RAW_SCALE
    groups = np.repeat(segments, per_segment)
    labels = np.repeat(seizure, per_segment)
    segment_fold = np.repeat(fold_masks(seizure), per_segment)
    folds = tuple(Fold(str(k + 1), segment_fold != k, segment_fold == k) for k in range(FOLDS))
    return TaskData(
        name="eeg",
        title="Seizure detection (Bonn EEG, E vs A-D)",
        signals=signals[:, :, None],
        features=np.zeros((len(signals), 0)),
        labels=labels,
        classes=CLASSES,
        groups=groups,
        group_kind="segment",
        folds=folds,
        sample_dt=second / SAMPLING_FREQUENCY_HZ,
        target_from=500 * ms,
        floor_features=band_powers(signals, SAMPLING_FREQUENCY_HZ),
        floor="logistic regression on log EEG band powers (Welch)",
        scores=binary_scores_against(CLASSES, "non-seizure"),
        sample_name="window",
        attrs={
            "dataset": "bonn",
            "split": f"{FOLDS}-fold cross-validation by segment (stratified, seed {FOLD_SEED})",
            "signal_units": f"raw: {RAW_SCALE:g} ADC units; normalised: the window's s.d.",
            "windows_per_segment": per_segment,
            "window_samples": WINDOW,
            "data": str(bonn.attrs["source"]),
            "data_citation": bonn.attrs["citation"],
            "data_license": "free for research with citation (University of Bonn)",
        },
        paper=PAPER,
    )


def add_arguments(p):
    p.add_argument(
        "--inputs",
        choices=(*VARIANTS, "both"),
        default="both",
        help="raw (fixed scale) or amplitude-normalised windows, or both side by side (default)",
    )
    p.add_argument(
        "--windows",
        type=integer(1, WINDOWS_PER_SEGMENT),
        default=3,
        help=f"windows of {WINDOW} samples per segment (default 3; all {WINDOWS_PER_SEGMENT}: "
        "every window)",
    )


def load(args):
    variants = VARIANTS if args.inputs == "both" else (args.inputs,)
    bonn = load_bonn(args.data)
    return {v: bonn_task(bonn, v, args.windows) for v in variants}


#: BIM for EEG: a 2 ms step (for the time budget), encoder steps of 0.1, the input weights scaled
#: to a layer rate of 50 Hz, read by the readout at 0.4 (chosen with ``--validate`` on both input
#: variants, against no scaling and 20 Hz at 1), and λ = 0.5 (the best of λ = 1, 0.5 and 0 on
#: both variants, seeds 0-2; see the README).
EEG_BIM = dataclasses.replace(
    BIMConfig(), delta=0.1 * mV, dt=2 * ms, target_rate=50 * Hz, readout_scale=0.4, lam=0.5
)

TASK = TaskCommand(
    name="eeg",
    description=__doc__,
    load=load,
    add_arguments=add_arguments,
    data_dir=bonn_dir,
    bim=EEG_BIM,
    data_help="the Bonn EEG folder (default: $BIMSIM_DATA/eeg_bonn)",
)

main = TASK.main

if __name__ == "__main__":
    run_command(main)
