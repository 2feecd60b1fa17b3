"""Draw a two-option sweep as heatmaps (``python -m bimsim.sweep``'s merged dataset).

    python figures/sweep_heatmap.py --input results/sweep_ecg_lam_rho.nc

writes ``results/figures/sweep_ecg_lam_rho.png`` and ``.pdf``: one heatmap per variable (default:
the runs' headline score and their energy per sample), over the sweep's two options, each cell
the mean over seeds (and folds) with its s.d. over seeds written in it; a point that did not run
is left blank and marked. Where the runs hold several models, ``--model`` picks one (default
``bim``).
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bimsim.cli import ArgumentParser, run_command
from bimsim.plotting import FORMATS, Requirements, figure_path, load_dataset, save_figure

#: Dimensions a drawn variable may have besides the sweep's: averaged (seed, fold) or picked.
AVERAGED = ("seed", "fold", "model")


@dataclass(frozen=True)
class SweepRequirements(Requirements):
    """A merged sweep of two options holding the variables to draw (``names``; default: the
    headline score and the energy) over them, and ``model`` where the runs hold several."""

    names: tuple = ()
    model: str | None = None  # as typed (--model); None: bim, where the runs hold several

    def problems(self, ds):
        yield from super().problems(ds)
        if "sweep_grid" not in ds.attrs:
            return
        dims = sweep_dims(ds)
        if len(dims) != 2:
            yield f"it sweeps {len(dims)} option(s) ({', '.join(dims)}), not two"
            return
        names = self.names or default_variables(ds)
        if not names:
            yield "its runs name no score: give --variables"
        for name in ["error", *names]:
            problem = variable_problem(ds, name, dims)
            if problem:
                yield problem
        yield from Requirements(coords=tuple(dims)).problems(ds)
        if "model" in ds.dims and (self.model or "bim") not in ds.model.values.tolist():
            yield f"it holds no model {self.model or 'bim'!r}"
        if "model" not in ds.dims and self.model is not None:
            yield f"its runs hold no models, so --model {self.model} picks nothing"


REQUIRES = SweepRequirements(attrs=("sweep_grid", "sweep_command"))


def sweep_dims(ds):
    """The dataset's sweep dimensions, in the sweep's order."""
    return [option.replace("-", "_") for option in json.loads(ds.attrs["sweep_grid"])]


def default_variables(ds):
    """The runs' headline score (the first of their ``scores``) and their energy, where held."""
    names = ds.attrs.get("scores", "").split()[:1]
    return names + [n for n in ("energy_per_sample",) if n in ds]


def variable_problem(ds, name, dims):
    """What keeps ``name`` from being drawn over ``dims``, or None."""
    if name not in ds.data_vars:
        return f"it has no variable {name!r}"
    var = ds[name]
    if not set(dims) <= set(var.dims) or not set(var.dims) <= {*dims, *AVERAGED}:
        return f"its {name!r} is over ({', '.join(var.dims)})"
    missing = [key for key in ("units", "long_name") if key not in var.attrs]
    if missing:
        return f"its {name!r} has no {' or '.join(missing)} attribute"
    return None


def cell_values(var, dims, model):
    """``var`` of ``model`` over the two sweep dims: mean and s.d. over seeds (each seed first
    averaged over its folds)."""
    if "model" in var.dims:
        var = var.sel(model=model)
    if "fold" in var.dims:
        var = var.mean("fold")
    mean = var.mean("seed") if "seed" in var.dims else var
    n = var.sizes.get("seed", 1)
    sd = var.std("seed", ddof=1) if n > 1 else None
    return mean.transpose(*dims).values, None if sd is None else sd.transpose(*dims).values


def _number(value):
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def draw(ds, variables=None, model="bim"):
    dims = sweep_dims(ds)
    variables = variables or default_variables(ds)
    y, x = dims
    fig, axes = plt.subplots(1, len(variables), figsize=(4.6 * len(variables), 3.9),
                             layout="constrained", squeeze=False)  # fmt: skip
    failed = ds.error.transpose(*dims).values != ""
    for ax, name in zip(axes[0], variables, strict=True):
        mean, sd = cell_values(ds[name], dims, model)
        attrs = ds[name].attrs
        if name == "energy_per_sample" and attrs.get("units") == "pJ":
            mean, sd = mean / 1e3, None if sd is None else sd / 1e3
            unit = "nJ"
        else:
            unit = attrs.get("units", "1")
        image = ax.imshow(np.ma.masked_invalid(mean), origin="lower", cmap="viridis",
                          aspect="auto")  # fmt: skip
        label = attrs.get("column", name)
        fig.colorbar(image, ax=ax, label=label if unit == "1" else f"{label} ({unit})")
        for i in range(mean.shape[0]):
            for j in range(mean.shape[1]):
                if failed[i, j] or not np.isfinite(mean[i, j]):
                    why = "did not run" if failed[i, j] else "no value"
                    ax.text(j, i, why, ha="center", va="center", fontsize=7)
                    continue
                text = _number(mean[i, j]) + ("" if sd is None else f"\n± {sd[i, j]:.2g}")
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="w")
        ax.set_xticks(range(ds.sizes[x]), [str(v) for v in ds[x].values])
        ax.set_yticks(range(ds.sizes[y]), [str(v) for v in ds[y].values])
        ax.set_xlabel(ds[x].attrs.get("long_name", x))
        ax.set_ylabel(ds[y].attrs.get("long_name", y))
        ax.set_title(attrs.get("long_name", name), fontsize=9)
    seeds = ds.sizes.get("seed", 1)
    fig.suptitle(f"{ds.attrs.get('title', ds.attrs['sweep_command'])}: mean over {seeds} "
                 f"seed(s), ± s.d.", fontsize=10)  # fmt: skip
    return fig


def main(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--input", default="results/sweep_ecg_lam_rho.nc",
                   help="a merged sweep of two options (default: %(default)s)")  # fmt: skip
    p.add_argument("--out", type=figure_path,
                   help="path without suffix: .png and .pdf are appended (default: "
                   "results/figures/<input name>)")  # fmt: skip
    p.add_argument("--variables", nargs="+", metavar="NAME",
                   help="variables to draw (default: headline score and energy)")  # fmt: skip
    p.add_argument("--model",
                   help="the model whose values are drawn, where the runs hold several "
                   "(default: bim)")  # fmt: skip
    p.add_input("--input")
    p.add_output("--out", FORMATS)
    args = p.parse_args(argv)
    if args.out is None:
        try:
            args.out = figure_path(f"results/figures/{Path(args.input).stem}")
        except argparse.ArgumentTypeError as err:
            p.error(f"argument --out: {err}")
        try:
            p.check_outputs(args)
        except ValueError as err:
            p.error(str(err))
    out = args.out
    requires = SweepRequirements(attrs=REQUIRES.attrs, names=tuple(args.variables or ()),
                                 model=args.model)  # fmt: skip
    try:
        ds = load_dataset(args.input, requires, kind="sweep", protocol="python -m bimsim.sweep")
    except ValueError as err:
        p.error(str(err))
    for path in save_figure(draw(ds, args.variables, args.model or "bim"), out):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_command(main)
