"""Command-line pieces shared by the protocol scripts: flags with units, and the run's ending."""

import argparse
import sys
from argparse import RawTextHelpFormatter
from pathlib import Path

import brian2

from bimsim.devices import DEVICES
from bimsim.io import provenance, read_dataset, write_dataset
from bimsim.quantities import parse_quantity

__all__ = ["add_delta_t_arguments", "add_run_arguments", "finish_run", "quantity"]


def quantity(kind):
    """An argparse ``type`` that reads a quantity with units (e.g. ``16.8ms``) of ``kind``."""

    def parse(text):
        try:
            return parse_quantity(text, kind)
        except (ValueError, brian2.DimensionMismatchError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = kind  # argparse names the type in its messages
    return parse


def add_delta_t_arguments(parser, points):
    """Add ``--dt-min``, ``--dt-max`` (-100 ms to 100 ms) and ``--points`` (default ``points``)."""
    parser.add_argument(
        "--dt-min",
        type=quantity("time"),
        default=-100 * brian2.ms,
        help="smallest Δt = t_post - t_pre; write negative values as --dt-min=-100ms",
    )
    parser.add_argument(
        "--dt-max", type=quantity("time"), default=100 * brian2.ms, help="largest Δt"
    )
    parser.add_argument(
        "--points", type=int, default=points, help=f"number of Δt values (default: {points})"
    )


def add_run_arguments(parser, out, devices=DEVICES):
    """Add ``--device`` (one of ``devices``), ``--seed`` and ``--out`` (default ``out``)."""
    parser.add_argument("--device", choices=devices, default="runtime", help="Brian2 device")
    parser.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    parser.add_argument("--out", default=out, help="netCDF file to write (default: %(default)s)")


def finish_run(ds, args, parameters=None):
    """Attach provenance to ``ds``, write it atomically to ``args.out`` and say where.

    ``parameters`` default to every flag in ``args`` but ``--device``, ``--seed`` and ``--out``
    (which provenance records under their own names).
    """
    if parameters is None:
        parameters = {k: v for k, v in vars(args).items() if k not in ("device", "seed", "out")}
    ds.attrs.update(
        provenance(device=args.device, seed=args.seed, parameters=parameters, command_line=sys.argv)
    )
    path = write_dataset(ds, args.out)
    print(f"wrote {path}")
    return path


def figure_main(description, draw, *, dataset, figure, protocol, argv=None):
    """Command line of a figure script: read one saved dataset, draw it, save PNG and PDF.

    Parameters
    ----------
    description : str
        The script's help text.
    draw : callable
        Takes the dataset, returns a matplotlib figure.
    dataset, figure : str
        Name the default input ``results/<dataset>.nc`` and output ``results/figures/<figure>.*``.
    protocol : str
        The script that writes the dataset, named when it is missing.
    """
    p = argparse.ArgumentParser(description=description, formatter_class=RawTextHelpFormatter)
    p.add_argument("--input", default=f"results/{dataset}.nc", help="dataset to draw")
    p.add_argument("--out", default=f"results/figures/{figure}", help="path without suffix")
    args = p.parse_args(argv)
    if not Path(args.input).exists():
        p.error(f"no dataset at {args.input}: run {protocol} first")
    fig = draw(read_dataset(args.input))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".png", ".pdf"):
        fig.savefig(out.with_suffix(suffix), dpi=150)
        print(f"wrote {out.with_suffix(suffix)}")
