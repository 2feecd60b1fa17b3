"""Benchmark: a sweep on a local dask cluster against the same sweep run serially, measured in the
same run.

The sweep is the pairing protocol (Bi & Poo's schedule, 41 Δt, 60 pairings) at ``--points``
values of τ₊ (an 8-point grid by default), each point a process of its own, as
``python -m bimsim.sweep`` runs them. Each mode runs the whole grid into a fresh folder, cluster
start-up and merge included; the two merged datasets must be equal. Target: ``--workers`` (2)
workers take less time than serial. Writes ``results/bench_sweep.nc``::

    python benchmarks/bench_sweep.py --points 8 --workers 2
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import os
import sys
import time
from pathlib import Path

import xarray as xr

from bimsim.cli import ArgumentParser, add_out_argument, integer, run_command, temporary_folder
from bimsim.io import provenance, write_dataset
from bimsim.sweep import MAX_WORKERS, Sweep, run_sweep

PAIRING = str(Path(__file__).resolve().parents[1] / "protocols" / "stdp_pairing.py")

#: Most points of the benchmark's grid.
MAX_POINTS = 64


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument("--points", type=integer(2, MAX_POINTS), default=8,
                   help="points of the grid (default: 8)")  # fmt: skip
    p.add_argument("--workers", type=integer(2, MAX_WORKERS), default=2,
                   help="workers of the local cluster (default: 2)")  # fmt: skip
    add_out_argument(p, "results/bench_sweep.nc")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    taus = [f"{10 + 2 * k}ms" for k in range(args.points)]
    sweep = Sweep(PAIRING, {"tau-plus": taus})
    seconds, merged = {}, {}
    with temporary_folder(prefix="bench_sweep_") as folder:  # removed even after SIGKILL
        for mode in ("serial", f"{args.workers} workers"):
            start = time.perf_counter()
            merged[mode], errors = run_sweep(
                sweep, folder / mode.replace(" ", "_"), workers=args.workers,
                serial=mode == "serial", progress=False, log=lambda *_: None,
            )  # fmt: skip
            seconds[mode] = time.perf_counter() - start
            if errors:
                sys.exit(f"the {mode} sweep failed: {errors}")
    xr.testing.assert_equal(*merged.values())
    ratio = seconds[f"{args.workers} workers"] / seconds["serial"]
    for mode, value in seconds.items():
        print(f"{mode:<12}{value:>8.1f} s")
    verdict = "meets" if ratio < 1 else "misses"
    print(f"{args.workers} workers / serial: {ratio:.3f} ({verdict} the target < 1); "
          f"{args.points} points, {os.cpu_count()} CPUs")  # fmt: skip
    ds = xr.Dataset(
        {
            "seconds": ("mode", list(seconds.values()),
                        {"units": "s", "long_name": "wall-clock time of the whole sweep"}),
            "ratio": ((), ratio, {"units": "1", "long_name": "dask time / serial time",
                                 "target": "< 1"}),
        },
        coords={"mode": ("mode", list(seconds), {"units": "1", "long_name": "how it ran"})},
    )  # fmt: skip
    parameters = {"points": args.points, "workers": args.workers, "cpus": os.cpu_count()}
    ds.attrs.update(provenance(device="runtime", seed=None, parameters=parameters))
    print(f"wrote {write_dataset(ds, args.out)}")


if __name__ == "__main__":
    run_command(main)
