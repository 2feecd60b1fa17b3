"""Figure scripts' command line: read one saved dataset, check it, draw it, save PNG and PDF.

A figure script (``figures/*.py``) declares what its ``draw`` reads from the dataset
(:class:`Requirements`) and hands both to :func:`figure_main`, which works in this order:

1. ``--out`` is checked before anything is read or drawn (:func:`figure_path`);
2. the dataset at ``--input`` is read and checked (:func:`load_dataset`): a missing, empty,
   truncated or non-netCDF file, or a dataset of another kind, is refused with one line that
   names the file and what is missing, and exit status 2;
3. the figure is drawn and saved as PNG and PDF together or not at all (:func:`save_figure`):
   both are written to temporary files beside their targets and renamed into place only once
   both exist, so a failure or an interrupt leaves any earlier PNG and PDF as they were.
"""

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from bimsim.cli import ArgumentParser, output_path
from bimsim.io import read_dataset, replace_together

__all__ = ["FORMATS", "Requirements", "figure_main", "figure_path", "load_dataset", "save_figure"]

#: The files every figure is saved as, in this order.
FORMATS = (".png", ".pdf")

_check_output = output_path(FORMATS)

#: What opening a file that is not a readable netCDF dataset raises: netCDF4 raises OSError
#: ("NetCDF: HDF error" for a truncated file, "Unknown file format" for an empty or text file),
#: RuntimeError while reading a damaged variable; xarray raises ValueError for contents it
#: cannot decode.
UNREADABLE = (OSError, RuntimeError, ValueError)


@dataclass(frozen=True)
class Requirements:
    """What a figure's ``draw`` reads from its dataset, checked before it draws.

    Every variable and coordinate named here must carry ``units`` and ``long_name`` attributes,
    as all of bimsim's datasets do (:func:`bimsim.io.check_dataset`), and every dimension of the
    variables must hold at least one value.

    Attributes
    ----------
    variables : dict of str to tuple of str
        Each variable and its dimensions, in any order; ``()`` for a scalar.
    coords : tuple of str
        Coordinates whose values or attributes are read.
    labels : dict of str to tuple
        Labels selected along a coordinate, e.g. ``{"side": ("positive", "negative")}``; the
        coordinate is required too.
    attrs : tuple of str
        The dataset's attributes that are read, e.g. ``"device"``.
    """

    variables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    coords: tuple[str, ...] = ()
    labels: Mapping[str, tuple] = field(default_factory=dict)
    attrs: tuple[str, ...] = ()

    def problems(self, ds):
        """Yield, as phrases such as ``"it has no variable 'dw'"``, what ``ds`` lacks."""
        for name, dims in self.variables.items():
            if name not in ds.variables:
                yield f"it has no variable {name!r}"
            elif set(ds[name].dims) != set(dims):
                yield f"its variable {name!r} is {_over(ds[name].dims)}, not {_over(dims)}"
        coords = tuple(dict.fromkeys((*self.coords, *self.labels)))
        for name in coords:
            if name not in ds.coords:
                yield f"it has no coordinate {name!r}"
        for name in (*self.variables, *coords):
            for key in ("units", "long_name"):
                if name in ds.variables and key not in ds[name].attrs:
                    what = "coordinate" if name in ds.coords else "variable"
                    yield f"its {what} {name!r} has no {key!r} attribute"
        for dim in dict.fromkeys(d for dims in self.variables.values() for d in dims):
            if ds.sizes.get(dim) == 0:
                yield f"its dimension {dim!r} is empty"
        for name, labels in self.labels.items():
            for label in labels:
                if name in ds.coords and label not in ds[name].values.tolist():
                    yield f"its coordinate {name!r} has no label {label!r}"
        for key in self.attrs:
            if key not in ds.attrs:
                yield f"it has no attribute {key!r}"


def _over(dims):
    """``dims`` in words: ``"a scalar"`` or ``"over (model, beat)"``."""
    return f"over ({', '.join(dims)})" if dims else "a scalar"


def figure_path(text):
    """An argparse type for a figure's ``--out``: a path without suffix, checked before any work.

    On top of :func:`bimsim.cli.output_path`'s checks of the ``.png`` and ``.pdf`` it names, an
    existing folder is refused (``--out results/figures`` would otherwise write
    ``results/figures.png`` beside the folder rather than a figure in it), and so is a path ending
    in ``.png`` or ``.pdf`` (which would write ``fig.png.png``).
    """
    path = Path(text)
    if text.strip() and path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a path without suffix in it")
    if path.suffix in FORMATS:
        raise argparse.ArgumentTypeError(
            f"{text} ends in {path.suffix}; give the path without suffix ({path.with_suffix('')})"
            f", both {' and '.join(FORMATS)} are written"
        )
    return _check_output(text)


def load_dataset(path, requires, *, kind, protocol):
    """Read the dataset at ``path`` and check that it holds what a figure ``requires``.

    Parameters
    ----------
    path : str
        The file, as the user typed it.
    requires : Requirements
    kind : str
        The dataset's kind (e.g. ``"stdp_pairing"``), named when the file is of another.
    protocol : str
        The command that writes such a dataset, named when it is missing or of another kind.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    ValueError
        One line that names the file and what is wrong with it.
    """
    if not path.strip():
        raise ValueError("the input path is empty")
    if not Path(path).exists():
        raise ValueError(f"no dataset at {path}: run {protocol} first")
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder, not a dataset")
    try:
        ds = read_dataset(path)
    except UNREADABLE as err:
        # netCDF4's str(err) repeats the path; its strerror is the reason alone
        reason = " ".join((getattr(err, "strerror", None) or str(err)).split())
        raise ValueError(f"{path} cannot be read as a netCDF dataset ({reason})") from None
    problem = next(requires.problems(ds), None)
    if problem:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ValueError(
            f"{path} is not {article} {kind} dataset: {problem} (written by {protocol})"
        )
    return ds


def save_figure(fig, out, formats=FORMATS, dpi=150):
    """Save ``fig`` as ``out`` plus each suffix in ``formats``, all of them or none; close it.

    Each file is saved to a hidden temporary name beside its target; the temporaries are renamed
    into place together once all have been saved, with interrupts held back between the renames
    (:func:`bimsim.io.replace_together`). A failure or an interrupt before that removes them and
    leaves the files already at the targets untouched.

    Returns
    -------
    list of Path
        The files written.
    """

    def saver(suffix):
        # the temporary's suffix is .tmp, so matplotlib must be told the format
        return lambda temporary: fig.savefig(temporary, format=suffix.removeprefix("."), dpi=dpi)

    try:
        return replace_together({Path(f"{out}{suffix}"): saver(suffix) for suffix in formats})
    finally:
        plt.close(fig)


def figure_main(description, draw, *, dataset, figure, protocol, requires, argv=None):
    """Command line of a figure script: check ``--out``, read and check, draw, save PNG and PDF.

    Parameters
    ----------
    description : str
        The script's help text.
    draw : callable
        Takes the dataset, returns a matplotlib figure.
    dataset, figure : str
        Name the default input ``results/<dataset>.nc`` and output ``results/figures/<figure>.*``;
        ``dataset`` is also the kind of dataset the figure draws.
    protocol : str
        The command that writes the dataset, named when it is missing or of another kind.
    requires : Requirements
        What ``draw`` reads from the dataset.
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).
    """
    p = ArgumentParser(description=description)
    p.add_argument(
        "--input", default=f"results/{dataset}.nc", help="dataset to draw (default: %(default)s)"
    )
    p.add_argument(
        "--out",
        type=figure_path,
        default=f"results/figures/{figure}",
        help="path without suffix: .png and .pdf are appended (default: %(default)s)",
    )
    p.add_input("--input")
    p.add_output("--out", FORMATS)
    args = p.parse_args(argv)
    try:
        ds = load_dataset(args.input, requires, kind=dataset, protocol=protocol)
    except ValueError as err:
        p.error(str(err))
    for path in save_figure(draw(ds), args.out):
        print(f"wrote {path}")


#: What :func:`draw_roc` reads: a binary-scored task's results (:mod:`bimsim.tasks.runner`).
ROC_REQUIRES = Requirements(
    variables={
        "probability": ("seed", "model", "sample", "class"),
        "label": ("sample",),
        "auc_roc": ("seed", "fold", "model"),
        "auc_pr": ("seed", "fold", "model"),
    },
    coords=("model", "class", "seed"),
    attrs=("title", "split"),
)

#: The same, for a task run on several variants of its inputs (the EEG task).
VARIANTS_ROC_REQUIRES = Requirements(
    variables={
        "probability": ("variant", "seed", "model", "sample", "class"),
        "label": ("sample",),
        "auc_roc": ("variant", "seed", "fold", "model"),
        "auc_pr": ("variant", "seed", "fold", "model"),
    },
    coords=("model", "class", "seed", "variant"),
    attrs=("title", "split"),
)


def draw_roc(ds):
    """ROC and precision-recall curves of every model of a task whose first class is the
    negative one (normal beats, non-seizure EEG), from the first seed's predictions; one row per
    variant of the inputs where the dataset has them."""
    variants = list(ds.variant.values) if "variant" in ds.dims else [None]
    fig, axes = plt.subplots(
        len(variants), 2, figsize=(10, 4 * len(variants)), layout="constrained", squeeze=False
    )
    for (roc, pr), variant in zip(axes, variants, strict=True):
        _roc_row(ds if variant is None else ds.sel(variant=variant), roc, pr, variant)
    seed = ds.seed.values[0]
    fig.suptitle(
        f"{ds.attrs['title']}; split: {ds.attrs['split']}; curves: seed {seed}", fontsize=8
    )
    return fig


def _roc_row(ds, roc, pr, variant):
    from sklearn.metrics import precision_recall_curve, roc_curve

    from bimsim.tasks.runner import mean_sd

    negative = str(ds["class"].values[0])
    seed = ds.seed.values[0]
    for m in ds.model.values:
        row = ds.sel(model=m)
        p = row.probability.sel(seed=seed)
        tested = np.isfinite(p.values).all(axis=1)
        positive = ds.label.values[tested] != negative
        score = 1 - p.sel({"class": negative}).values[tested]
        fpr, tpr, _ = roc_curve(positive, score)
        precision, recall, _ = precision_recall_curve(positive, score)
        roc.plot(fpr, tpr, label=f"{m} (AUC {mean_sd(row.auc_roc.values)})")
        pr.plot(recall, precision, label=f"{m} (AUC {mean_sd(row.auc_pr.values)})")
    roc.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
    pr.axhline((ds.label.values != negative).mean(), color="0.7", lw=0.8, ls="--")
    inputs = "" if variant is None else f", {variant} inputs"
    roc.set(xlabel="false positive rate", ylabel="true positive rate",
            title=f"ROC, not {negative}{inputs}")  # fmt: skip
    pr.set(xlabel="recall", ylabel="precision", title=f"precision-recall, not {negative}{inputs}")
    for ax in (roc, pr):
        ax.legend(frameon=False, fontsize=8)


#: What :func:`draw_confusion` reads: a multi-class task's results (:mod:`bimsim.tasks.runner`).
CONFUSION_REQUIRES = Requirements(
    variables={
        "probability": ("seed", "model", "sample", "class"),
        "label": ("sample",),
    },
    coords=("model", "class", "seed"),
    attrs=("title", "split"),
)


def draw_confusion(ds):
    """One confusion matrix per model, from the first seed's predictions (every fold pooled),
    rows the true class, normalised per row; the error rate in each title."""
    classes = [str(c) for c in ds["class"].values]
    models = list(ds.model.values)
    columns = min(3, len(models))
    rows = -(-len(models) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 3.0 * rows), layout="constrained", squeeze=False
    )
    seed = ds.seed.values[0]
    for ax, m in zip(axes.flat, models, strict=False):
        p = ds.probability.sel(seed=seed, model=m).values
        tested = np.isfinite(p).all(axis=1)
        truth = np.array([classes.index(c) for c in ds.label.values[tested]])
        predicted = p[tested].argmax(axis=1)
        matrix = np.zeros((len(classes), len(classes)))
        np.add.at(matrix, (truth, predicted), 1)
        matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
        ax.set_title(f"{m}: error {np.mean(truth != predicted):.3f}", fontsize=9)
        ax.set_xticks(range(len(classes)), classes, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set(xlabel="predicted", ylabel="true")
    for ax in list(axes.flat)[len(models) :]:
        ax.axis("off")
    fig.suptitle(f"{ds.attrs['title']}; split: {ds.attrs['split']}; seed {seed}", fontsize=8)
    return fig


#: What :func:`draw_bits` reads: a next-token task's results (:mod:`bimsim.tasks.runner`).
BITS_REQUIRES = Requirements(
    variables={"bits": ("seed", "model", "sample"), "bpc": ("seed", "fold", "model")},
    coords=("model", "seed", "class"),
    attrs=("title", "split"),
)


def draw_bits(ds):
    """Bits per character of each test sequence, one box per model (the first seed), with the
    uniform distribution's ``log2(vocabulary)`` for reference."""
    from bimsim.tasks.runner import mean_sd

    seed = ds.seed.values[0]
    models = list(ds.model.values)
    fig, ax = plt.subplots(figsize=(1.2 * len(models) + 2, 4), layout="constrained")
    per_sequence = [ds.bits.sel(seed=seed, model=m).values for m in models]
    ax.boxplot([b[np.isfinite(b)] for b in per_sequence], showfliers=False)
    ax.set_xticks(range(1, len(models) + 1), [f"{m}\n{mean_sd(ds.bpc.sel(model=m).values)}"
                                              for m in models], fontsize=8)  # fmt: skip
    ax.axhline(np.log2(ds.sizes["class"]), color="0.6", lw=0.8, ls="--", label="uniform")
    ax.set(ylabel="bits per character (per test sequence)")
    ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"{ds.attrs['title']}; {ds.attrs['split']}; seed {seed}", fontsize=8)
    return fig
