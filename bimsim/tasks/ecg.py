"""ECG beat classification on MIT-BIH: ``python -m bimsim.tasks.ecg``.

Beats (lead MLII, 0.25 s before to 0.40 s after the R peak) come from the subset shipped with
bimsim, or from a full MIT-BIH folder (``--data DIR``). The default split is de Chazal et al.'s
(2004) inter-patient split, DS1 for training and DS2 for testing, no patient in both.
``--split validation`` trains on DS1 without four of its records and tests on those, for choosing
settings; ``--split intra`` draws a random half of each class instead (patients shared). Each
beat's median is subtracted; its RR intervals enter as two features, the previous and the next
interval divided by the patient's recent mean (``rr_local``).

Models (``--models``): ``bim``, the BIM network trained online with the hybrid rule
(:mod:`bimsim.tasks.bim_classifier`), and four baselines trained by BPTT in torch
(:mod:`bimsim.tasks.baselines`): a 1-D CNN (``cnn``), a GRU (``gru``), a surrogate-gradient LIF SNN
(``snn``) and a selective-SSM network (``ssm``). All classify the five AAMI classes (N, S, V, F,
Q). Scores: abnormal (not N) against normal by AUC-ROC and AUC-PR on ``1 - p(N)``, and per-class
sensitivity and positive predictive value of the most probable class. Energy: synaptic
accumulates and multiply-accumulates per beat, at 0.9 and 4.6 pJ (Horowitz 2014). Writes
``results/ecg.nc`` and prints a table in the form of the paper's Table 3::

    python -m bimsim.tasks.ecg --quick
    python -m bimsim.tasks.ecg --data ~/physionet/mitdb --epochs 3 --out results/ecg_full.nc
"""

import time
from dataclasses import dataclass

import numpy as np
import xarray as xr
from brian2 import ms, second

from bimsim.cli import (
    ArgumentParser,
    add_run_arguments,
    finish_run,
    integer,
    real,
    run_command,
)
from bimsim.data.mitdb import (
    AAMI_CLASSES,
    DS1,
    DS2,
    PACED_RECORDS,
    beat_dataset,
    embedded_beats,
    mitdb_dir,
    records_in,
)
from bimsim.limits import require_bytes
from bimsim.metrics import (
    ENERGY_PER_AC_PJ,
    ENERGY_PER_MAC_PJ,
    binary_scores,
    class_scores,
    energy_pj,
)
from bimsim.readout import SelectiveSSM

__all__ = ["TaskData", "load_beats", "main", "mitdb_task", "prepare", "ptbxl_task", "split"]

MODELS = ("bim", "cnn", "gru", "snn", "ssm")

#: DS1 records held out by ``--split validation`` (they hold N, S, V and F beats).
VALIDATION_RECORDS = ("106", "119", "208", "223")

#: BIM's readout states per input (N), as :func:`run_bim` builds it.
READOUT_STATES = 8

#: Training lengths and sizes of the default run, and of ``--quick`` where it differs.
DEFAULTS = {"epochs": 3, "baseline_epochs": 20, "copies": 64}
QUICK = {"epochs": 1, "baseline_epochs": 1, "copies": 32}


@dataclass
class TaskData:
    """Inputs, labels and split of one ECG task, as the models see them."""

    signals: np.ndarray  # (samples, time, channels) in mV
    features: np.ndarray  # (samples, features), non-negative
    labels: np.ndarray  # class indices
    classes: tuple
    groups: np.ndarray  # record (MIT-BIH) or patient (PTB-XL) of each sample
    train: np.ndarray
    test: np.ndarray
    sample_dt: object
    target_from: object  # BIM's targets (and scores) start here
    attrs: dict


def mitdb_task(data, kind, seed):
    """Beats of MIT-BIH (shipped subset or ``data``), AAMI classes, ``kind`` split."""
    beats = load_beats(data)
    train, test = split(beats, kind, seed)
    signals, features, labels = prepare(beats)
    return TaskData(
        signals,
        features,
        labels,
        AAMI_CLASSES,
        beats.record.values,
        train,
        test,
        second / float(beats.attrs["sampling_frequency_hz"]),
        300 * ms,
        {
            "title": "ECG beat classification (MIT-BIH, AAMI classes)",
            "data": "bimsim's shipped MIT-BIH subset" if data is None else str(data),
            "data_license": beats.attrs["license"],
            "data_citation": beats.attrs["citation"],
        },
    )


def ptbxl_task(data):
    """PTB-XL records at 100 Hz: normal (NORM only) against abnormal (any other superclass);
    folds 1-8 train, fold 10 test; ECGs without a diagnostic superclass are left out."""
    from bimsim.data.ptbxl import SUPERCLASSES, load_ptbxl

    if data is None:
        raise ValueError("--dataset ptbxl needs --data DIR (a copy of PTB-XL)")
    ecgs = load_ptbxl(data, folds=[*range(1, 9), 10])
    labelled = ecgs["labels"].any(axis=1)
    normal = ecgs["labels"][:, SUPERCLASSES.index("NORM")] & (ecgs["labels"].sum(axis=1) == 1)
    signals = ecgs["signal"][labelled]
    signals = signals - np.median(signals, axis=1, keepdims=True)
    fold = ecgs["fold"][labelled]
    return TaskData(
        signals,
        np.zeros((len(signals), 0)),
        np.where(normal[labelled], 0, 1),
        ("NORM", "abnormal"),
        ecgs["patient"][labelled].astype(str),
        fold <= 8,
        fold == 10,
        second / ecgs["fs"],
        signals.shape[1] / ecgs["fs"] / 2 * second,
        {
            "title": "ECG classification (PTB-XL, normal vs abnormal)",
            "data": str(data),
            "data_license": "Creative Commons Attribution 4.0 (PTB-XL)",
            "data_citation": (
                "Wagner P et al. PTB-XL, a large publicly available electrocardiography "
                "dataset. Scientific Data 7:154 (2020)"
            ),
        },
    )


def load_beats(data=None):
    """The shipped subset, or every non-paced record of the MIT-BIH folder ``data``."""
    if data is None:
        return embedded_beats()
    directory = mitdb_dir(data)
    records = [r for r in records_in(directory) if r not in PACED_RECORDS]
    if not records:
        raise FileNotFoundError(f"no MIT-BIH records (*.hea) in {directory}")
    return beat_dataset(directory, records)


def split(beats, kind, seed):
    """Boolean masks (train, test) over the beats.

    ``'inter'``: DS1 against DS2. ``'validation'``: DS1 without :data:`VALIDATION_RECORDS`
    against those records, for choosing settings without looking at DS2. ``'intra'``: a random
    half of each class against the rest (patients shared).
    """
    records = beats.record.values
    if kind in ("inter", "validation"):
        train, test = np.isin(records, DS1), np.isin(records, DS2)
        if kind == "validation":
            test = np.isin(records, VALIDATION_RECORDS)
            train &= ~test
        if not train.any() or not test.any():
            raise ValueError(f"the {kind!r} split finds no training or no test records")
        return train, test
    if kind != "intra":
        raise ValueError(f"split must be 'inter', 'validation' or 'intra', got {kind!r}")
    rng = np.random.default_rng(seed)
    train = np.zeros(len(records), dtype=bool)
    for c in AAMI_CLASSES:
        members = rng.permutation(np.flatnonzero(beats.aami.values == c))
        train[members[: len(members) // 2]] = True
    return train, ~train


def prepare(beats):
    """Signals ``(beats, samples, 1)`` in mV (median removed), RR features and class indices."""
    waveform = beats.waveform.values
    signals = (waveform - np.median(waveform, axis=1, keepdims=True))[:, :, None]
    local = beats.rr_local.values
    features = np.stack([beats.rr_pre.values / local, beats.rr_post.values / local], axis=1)
    labels = np.array([AAMI_CLASSES.index(c) for c in beats.aami.values])
    return signals, features, labels


def _subsample(mask, n, rng):
    chosen = np.flatnonzero(mask)
    if len(chosen) > n:
        chosen = np.sort(rng.choice(chosen, n, replace=False))
    out = np.zeros_like(mask)
    out[chosen] = True
    return out


def run_bim(train, test, task, args, rng, progress):
    """Train the BIM classifier for ``args.epochs`` epochs; test probabilities and costs."""
    from bimsim.tasks.bim_classifier import BIMClassifier

    signals, features, labels = train
    clf = BIMClassifier(
        signals.shape[2],
        features.shape[1],
        len(task.classes),
        sample_dt=task.sample_dt,
        samples=signals.shape[1],
        target_from=task.target_from,
        n_hidden=args.hidden,
        n_states=READOUT_STATES,
        copies=args.copies,
        tau_readout=50 * ms,
        readout_dt=10 * ms,
        readout_learning_rate=args.readout_lr,
        lam=args.lam,
        eta=args.eta,
        seed=args.seed,
    )
    start = time.perf_counter()
    losses = [
        clf.fit_epoch(signals, features, labels, rng, progress=progress) for _ in range(args.epochs)
    ]
    seconds = time.perf_counter() - start
    probabilities = clf.predict_proba(test[0], test[1], progress=progress)
    ops = clf.operations_per_sample()
    return {
        "probability": probabilities,
        "train_loss": losses,
        "train_time": seconds,
        "parameters": clf.parameter_count(),
        "accumulates": ops["accumulates"],
        "macs": ops["neuron_macs"] + ops["readout_macs"],
        "spike_sparsity": 1.0
        - clf.counts["hidden_spikes"] / (args.hidden * float(clf.duration / clf.network.layer.dt)),
    }


def run_baseline(name):
    """A runner for the torch baseline ``name`` (:mod:`bimsim.tasks.baselines`)."""

    def run(train, test, task, args, rng, progress):
        from bimsim.tasks.baselines import train_baseline

        return train_baseline(
            name,
            train,
            test,
            n_classes=len(task.classes),
            epochs=args.baseline_epochs,
            seed=args.seed,
            progress=progress,
        )

    return run


RUNNERS = {"bim": run_bim, **{name: run_baseline(name) for name in MODELS[1:]}}


def results_dataset(results, labels, groups, classes):
    """Everything the models produced, one Dataset (see module docstring)."""
    models = list(results)
    abnormal = labels != 0
    scores = {m: binary_scores(abnormal, 1 - r["probability"][:, 0]) for m, r in results.items()}
    per_class = {
        m: class_scores(labels, r["probability"].argmax(axis=1), range(len(classes)))
        for m, r in results.items()
    }

    def per_model(values, unit, long_name):
        if isinstance(values, str):
            values = [results[m][values] for m in models]
        return ("model", np.asarray(values, dtype=float), {"units": unit, "long_name": long_name})

    epochs = max(len(results[m]["train_loss"]) for m in models)
    loss = np.full((len(models), epochs), np.nan)
    for k, m in enumerate(models):
        loss[k, : len(results[m]["train_loss"])] = results[m]["train_loss"]
    data = {
        "auc_roc": per_model(
            [scores[m]["auc_roc"] for m in models], "1", "AUC-ROC, abnormal vs normal"
        ),
        "auc_pr": per_model(
            [scores[m]["auc_pr"] for m in models], "1", "AUC-PR (average precision)"
        ),
        "sensitivity": (
            ("model", "class"),
            np.array([per_class[m]["sensitivity"] for m in models]),
            {"units": "1", "long_name": "sensitivity (recall) per AAMI class"},
        ),
        "ppv": (
            ("model", "class"),
            np.array([per_class[m]["ppv"] for m in models]),
            {"units": "1", "long_name": "positive predictive value per AAMI class"},
        ),
        "train_loss": (
            ("model", "epoch"),
            loss,
            {
                "units": "1",
                "long_name": "mean training loss (cross-entropy)",
                "nan_means": "the model trained for fewer epochs",
            },
        ),
        "train_time": per_model("train_time", "s", "training time (wall clock)"),
        "parameters": per_model("parameters", "1", "learned parameters"),
        "accumulates_per_beat": per_model("accumulates", "1", "synaptic accumulates per beat"),
        "macs_per_beat": per_model("macs", "1", "multiply-accumulates per beat"),
        "energy_per_beat": per_model(
            [energy_pj(results[m]["accumulates"], results[m]["macs"]) for m in models],
            "pJ",
            "energy estimate per beat",
        ),
        "spike_sparsity": per_model(
            "spike_sparsity", "1", "fraction of hidden neuron-steps without a spike"
        ),
        "probability": (
            ("model", "beat", "class"),
            np.array([results[m]["probability"] for m in models]),
            {"units": "1", "long_name": "predicted class probability"},
        ),
        "label": (
            "beat",
            np.array([classes[k] for k in labels], dtype=object),
            {"units": "1", "long_name": "true class"},
        ),
        "record": (
            "beat",
            np.asarray(groups, dtype=object),
            {"units": "1", "long_name": "record (MIT-BIH) or patient (PTB-XL) of the sample"},
        ),
    }
    coords = {
        "model": ("model", models, {"units": "1", "long_name": "model"}),
        "class": ("class", list(classes), {"units": "1", "long_name": "class"}),
        "epoch": ("epoch", np.arange(1, epochs + 1), {"units": "1", "long_name": "epoch"}),
        "beat": ("beat", np.arange(len(labels)), {"units": "1", "long_name": "test sample"}),
    }
    return xr.Dataset(data, coords=coords)


def table(ds):
    """The paper's Table 3 layout: one row per model."""
    lines = [
        f"{'model':<8} {'AUC-ROC':>8} {'AUC-PR':>8} {'params':>8} {'train (s)':>10} "
        f"{'energy/beat (nJ)':>17}"
    ]
    for m in ds.model.values:
        row = ds.sel(model=m)
        lines.append(
            f"{m:<8} {row.auc_roc.item():8.3f} {row.auc_pr.item():8.3f} "
            f"{int(row.parameters.item()):8d} {row.train_time.item():10.1f} "
            f"{row.energy_per_beat.item() / 1e3:17.1f}"
        )
    return "\n".join(lines)


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--data", help="a full MIT-BIH (or PTB-XL) folder (default: the MIT-BIH subset shipped)"
    )
    p.add_argument("--dataset", choices=("mitdb", "ptbxl"), default="mitdb")
    p.add_argument(
        "--download",
        action="store_true",
        help="fetch the 44 non-paced MIT-BIH records from PhysioNet into the cache\n"
        "($BIMSIM_CACHE/data/mitdb), checking every file's sha256, and use them",
    )
    p.add_argument(
        "--split",
        choices=("inter", "validation", "intra"),
        default="inter",
        help="inter: train DS1, test DS2 (de Chazal 2004); validation: train DS1 without\n"
        f"records {', '.join(VALIDATION_RECORDS)}, test on those (for choosing settings);\n"
        "intra: a random half of each class (patients shared)",
    )
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument(
        "--epochs",
        type=integer(1, 1000),
        help=f"BIM's training epochs (default {DEFAULTS['epochs']}, "
        f"{QUICK['epochs']} with --quick)",
    )
    p.add_argument(
        "--baseline-epochs",
        type=integer(1, 10_000),
        help=f"the baselines' epochs (default {DEFAULTS['baseline_epochs']}, "
        f"{QUICK['baseline_epochs']} with --quick)",
    )
    p.add_argument("--lam", type=real(0, 1), default=1.0, help="BIM's λ (1: gradient, 0: STDP)")
    p.add_argument(
        "--eta",
        type=real(minimum=0),
        default=0.0005,
        help="BIM's η for the spiking layer (default 0.0005)",
    )
    p.add_argument(
        "--readout-lr", type=real(minimum=0), default=0.05, help="BIM's readout learning rate"
    )
    p.add_argument(
        "--hidden", type=integer(1, 4096), default=32, help="spiking neurons (default 32)"
    )
    p.add_argument(
        "--copies",
        type=integer(1, 4096),
        help=f"beats simulated at once (default {DEFAULTS['copies']}, "
        f"{QUICK['copies']} with --quick)",
    )
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: 256 beats each, shorter training"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_run_arguments(p, out="results/ecg.nc", devices=("runtime",))
    return p


def check_arguments(p, args):
    """Refuse what the parser alone cannot see, and fill in the defaults ``--quick`` changes.

    Everything here runs before any data is loaded or downloaded.
    """
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:  # what the user typed is never replaced
            setattr(args, key, value)
    repeated = sorted({m for m in args.models if args.models.count(m) > 1})
    if repeated:
        p.error(f"--models: {', '.join(repeated)} given more than once")
    if args.dataset == "ptbxl" and args.split != "inter":
        p.error("--split is MIT-BIH's; PTB-XL uses its recommended strat_fold split")
    if args.download and (args.data is not None or args.dataset != "mitdb"):
        p.error("--download fetches MIT-BIH; it does not go with --data or --dataset ptbxl")
    if "bim" in args.models:
        try:
            require_bytes(
                f"BIM's readout with --hidden {args.hidden} and --copies {args.copies}",
                SelectiveSSM.state_bytes(args.hidden, READOUT_STATES, args.copies),
            )
        except ValueError as err:
            p.error(str(err))


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    check_arguments(p, args)
    if args.download:
        from bimsim.data.download import download_mitdb

        args.data = str(download_mitdb(DS1 + DS2, progress=not args.no_progress))
    try:
        if args.dataset == "ptbxl":
            task = ptbxl_task(args.data)
        else:
            task = mitdb_task(args.data, args.split, args.seed)
    except (FileNotFoundError, ValueError) as err:
        p.error(str(err))
    rng = np.random.default_rng(args.seed)
    train, test = task.train, task.test
    if args.quick:
        train, test = _subsample(train, 256, rng), _subsample(test, 256, rng)
    for name, mask in (("training", train), ("test", test)):
        if len(set(task.labels[mask])) < 2:
            p.error(f"the {name} set holds one class only: the scores need both")
    kind = "records" if args.dataset == "mitdb" else "patients"
    train_groups, test_groups = (sorted(set(task.groups[m])) for m in (train, test))
    print(f"train: {train.sum()} samples of {kind} {' '.join(train_groups)}")
    print(f"test:  {test.sum()} samples of {kind} {' '.join(test_groups)}")
    results = {}
    data = (task.signals, task.features, task.labels)
    for model in args.models:
        print(f"training {model} ...", flush=True)
        results[model] = RUNNERS[model](
            tuple(a[train] for a in data),
            tuple(a[test] for a in data),
            task,
            args,
            rng,
            not args.no_progress,
        )
    ds = results_dataset(results, task.labels[test], task.groups[test], task.classes)
    ds.attrs.update(
        {
            **task.attrs,
            "dataset": args.dataset,
            "split": args.split if args.dataset == "mitdb" else "strat_fold 1-8 / 10",
            f"train_{kind}": " ".join(train_groups),
            f"test_{kind}": " ".join(test_groups),
            "energy_per_accumulate_pj": ENERGY_PER_AC_PJ,
            "energy_per_mac_pj": ENERGY_PER_MAC_PJ,
            "energy_source": "Horowitz (2014), 45 nm, 32-bit float",
        }
    )
    finish_run(ds, args)
    print(table(ds))
    return ds


if __name__ == "__main__":
    run_command(main)
