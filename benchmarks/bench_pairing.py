"""Benchmark: the default pairing protocol (Bi & Poo: 41 Δt, 60 pairings at 1 Hz), warm, bimsim
against the same schedule in NEST, measured in the same run.

Each variant runs once untimed (compilation, imports), then ``--repeats`` times; the median is
reported. NEST runs the schedule at bimsim's time step (the coarsest exact one, 5 ms) and at 0.1 ms,
NEST's default resolution. Target: bimsim's whole curve (simulation and fit) in at most half of
NEST's time. Writes ``results/bench_pairing.nc``::

    python benchmarks/bench_pairing.py --repeats 5
"""

import importlib.util
import os
import statistics
import sys
import time

import numpy as np
import xarray as xr
from brian2 import Hz, ms

from bimsim.cli import ArgumentParser, add_out_argument, integer, run_command
from bimsim.devices import DEVICES
from bimsim.io import provenance, write_dataset
from bimsim.nest_peer import simulate_pairings_nest
from bimsim.pairing import pairing_schedule, stdp_curve
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule

DELTA_T = np.linspace(-100, 100, 41) * ms

#: Most timed runs of each variant (each is a whole curve: about 0.3 s for bimsim, 2 s for NEST).
MAX_REPEATS = 1000


def median_time(run, repeats):
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--repeats",
        type=integer(1, MAX_REPEATS),
        default=5,
        help="timed runs of each variant, after one untimed (default: 5)",
    )
    p.add_argument(
        "--devices",
        nargs="+",
        choices=DEVICES,
        default=["runtime", "cpp_standalone"],
        help="bimsim's devices to time (default: runtime cpp_standalone)",
    )
    add_out_argument(p, "results/bench_pairing.nc")
    return p


def missing_software(devices):
    """What the run would miss, found before any timing: NEST, brian2cuda for cuda_standalone."""
    needed = {"nest": "NEST (pip install 'bimsim[nest]')"}
    if "cuda_standalone" in devices:
        needed["brian2cuda"] = "brian2cuda for cuda_standalone (pip install 'bimsim[cuda]')"
    return [what for module, what in needed.items() if importlib.util.find_spec(module) is None]


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if len(set(args.devices)) < len(args.devices):
        p.error(f"argument --devices: each device once, got {' '.join(args.devices)}")
    if missing := missing_software(args.devices):
        sys.exit(f"{p.prog}: error: this benchmark needs {' and '.join(missing)}")
    os.environ.setdefault("PYNEST_QUIET", "1")
    rule = pair_rule(**PAIR_DEFAULTS)
    coarse = pairing_schedule(DELTA_T, 1 * Hz, 60)
    fine = pairing_schedule(DELTA_T, 1 * Hz, 60, dt=0.1 * ms)
    variants = {
        f"bimsim {device}": (lambda d=device: stdp_curve(rule, DELTA_T, device=d))
        for device in args.devices
    }
    variants[f"NEST dt={coarse.dt}"] = lambda: simulate_pairings_nest(coarse, rule)
    variants[f"NEST dt={fine.dt}"] = lambda: simulate_pairings_nest(fine, rule)
    seconds = {name: median_time(run, args.repeats) for name, run in variants.items()}
    nest_names = [name for name in seconds if name.startswith("NEST")]
    ours = [name for name in seconds if name.startswith("bimsim")]
    ratio = np.array([[seconds[a] / seconds[b] for b in nest_names] for a in ours])
    print(f"{'variant':<28}{'median s':>10}")
    for name, value in seconds.items():
        print(f"{name:<28}{value:>10.3f}")
    for i, a in enumerate(ours):
        for j, b in enumerate(nest_names):
            verdict = "meets" if ratio[i, j] <= 0.5 else "misses"
            print(f"{a} / {b}: {ratio[i, j]:.3f} ({verdict} the target <= 0.5)")
    ds = xr.Dataset(
        {
            "seconds": (
                "variant",
                list(seconds.values()),
                {"units": "s", "long_name": "median wall-clock time of the whole curve"},
            ),
            "ratio": (
                ("bimsim", "peer"),
                ratio,
                {"units": "1", "long_name": "bimsim time / NEST time"},
            ),
        },
        coords={
            "variant": ("variant", list(seconds), {"units": "1", "long_name": "what ran"}),
            "bimsim": ("bimsim", ours, {"units": "1", "long_name": "bimsim variant"}),
            "peer": ("peer", nest_names, {"units": "1", "long_name": "NEST variant"}),
        },
    )
    ds.attrs.update(
        provenance(
            device=",".join(args.devices),
            seed=None,
            parameters={"repeats": args.repeats, "cpus": os.cpu_count()},
            command_line=sys.argv,
        )
    )
    print(f"wrote {write_dataset(ds, args.out)}")


if __name__ == "__main__":
    run_command(main)
