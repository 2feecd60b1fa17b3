"""Benchmark: the default pairing protocol (Bi & Poo: 41 Δt, 60 pairings at 1 Hz), bimsim against
the same schedule in NEST, measured in the same run, in-process and as whole processes.

In-process, each variant runs once untimed (compilation, imports), then ``--repeats`` times; the
median is reported. NEST runs the schedule at bimsim's time step (the coarsest exact one, 5 ms)
and at 0.1 ms, NEST's default resolution. Target: bimsim's whole curve (simulation and fit) in at
most half of NEST's time at the same step (5 ms); against NEST at 0.1 ms the ratio is reported
without a target. ``cpp_standalone`` is also compared with ``runtime``.

Whole processes are what a user waits for: ``protocols/stdp_pairing.py --device D`` (imports,
simulation, fit, netCDF file) against ``benchmarks/nest_pairing_process.py`` (imports NEST and
numpy, simulates, saves the weight changes), each started ``--repeats`` times after one untimed
start; the weight changes of both must agree (Δt != 0, to 1e-6). Target: at most half of NEST's
time at its default resolution, 0.1 ms. Whole processes are timed first, before NEST runs in
this process. Writes ``results/bench_pairing.nc``::

    python benchmarks/bench_pairing.py --repeats 5
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr
from brian2 import Hz, ms

from bimsim.cli import (
    ArgumentParser,
    add_out_argument,
    distinct,
    end_with_parent,
    integer,
    run_command,
    temporary_folder,
)
from bimsim.devices import DEVICES, device_problem
from bimsim.io import provenance, write_dataset
from bimsim.nest_peer import nest_inputs, simulate_pairings_nest
from bimsim.pairing import pairing_schedule, stdp_curve
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule

DELTA_T = np.linspace(-100, 100, 41) * ms

ROOT = Path(__file__).resolve().parents[1]
PAIRING_COMMAND = ROOT / "protocols" / "stdp_pairing.py"
NEST_PROCESS = ROOT / "benchmarks" / "nest_pairing_process.py"

#: The protocol's command line for the benchmark's schedule and rule (its defaults, spelled out).
PAIRING_FLAGS = ["--rule", "pair-all", "--dt-min=-100ms", "--dt-max", "100ms", "--points", "41",
                 "--pairs", "60", "--frequency", "1Hz"]  # fmt: skip

#: Most bimsim / NEST time.
TARGET = 0.5

#: How closely the whole processes' weight changes must agree (relative, Δt != 0).
AGREEMENT = 1e-6

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
        action=distinct("device"),
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


def process(command):
    """A function that runs ``command`` as a process and fails, with its stderr, if it fails."""

    def run():
        done = subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=end_with_parent(),
        )
        if done.returncode:
            sys.exit(f"{Path(command[1]).name} failed: {done.stderr.decode().strip()}")

    return run


def write_nest_schedule(path, schedule, rule):
    """Save what ``nest_pairing_process.py`` needs to run ``schedule`` under ``rule``."""
    inputs = nest_inputs(schedule, rule)
    channels = {f"pre_{c}": steps for c, steps in enumerate(inputs["pre_steps"])}
    channels.update({f"post_{c}": steps for c, steps in enumerate(inputs["post_steps"])})
    np.savez(
        path,
        model=json.dumps([inputs["synapse"], inputs["post_params"]]),
        channels=len(inputs["pre_steps"]),
        dt=inputs["dt"],
        longest_tau=inputs["longest_tau"],
        **channels,
    )


def whole_processes(devices, schedules, rule, repeats, folder):
    """Median seconds of each whole process; checks that bimsim and NEST agree."""
    commands, outputs = {}, {}
    for device in devices:
        outputs[device] = folder / f"{device}.nc"
        commands[f"bimsim {device}, whole process"] = [
            sys.executable, str(PAIRING_COMMAND), "--device", device, *PAIRING_FLAGS,
            "--out", str(outputs[device]),
        ]  # fmt: skip
    for schedule in schedules:
        name = f"NEST dt={schedule.dt}"
        write_nest_schedule(folder / f"{name}.npz", schedule, rule)
        outputs[name] = folder / f"{name}.npy"
        commands[f"{name}, whole process"] = [
            sys.executable, str(NEST_PROCESS), str(folder / f"{name}.npz"), str(outputs[name]),
        ]  # fmt: skip
    seconds = {name: median_time(process(command), repeats) for name, command in commands.items()}
    nonzero = np.asarray(DELTA_T) != 0
    for device in devices:
        with xr.open_dataset(outputs[device]) as ds:
            ours = ds.dw.values[nonzero]
        for schedule in schedules:
            theirs = np.load(outputs[f"NEST dt={schedule.dt}"])[nonzero]
            if not np.allclose(ours, theirs, rtol=AGREEMENT, atol=0):
                sys.exit(
                    f"bimsim ({device}) and NEST (dt={schedule.dt}) disagree as whole processes "
                    f"(by up to {np.max(np.abs(ours - theirs) / np.abs(theirs)):.3g}, relative)"
                )
    return seconds


def comparisons(names):
    """(bimsim variant, peer variant) pairs that share a setting: in-process bimsim against NEST
    at either step, cpp_standalone against runtime, and whole processes against each other."""
    ours = [name for name in names if name.startswith("bimsim")]
    nest = [name for name in names if name.startswith("NEST")]
    whole = [name for name in names if name.endswith("whole process")]
    pairs = [(a, b) for a in ours for b in nest if (a in whole) == (b in whole)]
    if "bimsim cpp_standalone" in names and "bimsim runtime" in names:
        pairs.append(("bimsim cpp_standalone", "bimsim runtime"))
    return pairs


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if missing := missing_software(args.devices):
        p.error(f"this benchmark needs {' and '.join(missing)}")
    for device in args.devices:  # no GPU, no compiler, a build cache that cannot be written
        if problem := device_problem(device):
            p.error(f"argument --devices: {problem}")
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
    # whole processes first, started from this process before NEST runs (and threads) in it
    with temporary_folder(prefix="bench_pairing_") as folder:  # removed even after SIGKILL
        seconds = whole_processes(args.devices, [coarse, fine], rule, args.repeats, folder)
    seconds.update({name: median_time(run, args.repeats) for name, run in variants.items()})
    pairs = comparisons(seconds)
    targets = {(f"bimsim {d}", f"NEST dt={coarse.dt}") for d in args.devices}
    targets |= {(f"bimsim {d}, whole process", f"NEST dt={fine.dt}, whole process")
                for d in args.devices}  # fmt: skip
    ratio = np.array([seconds[a] / seconds[b] for a, b in pairs])
    print(f"{'variant':<44}{'median s':>10}")
    for name, value in seconds.items():
        print(f"{name:<44}{value:>10.3f}")
    for (a, b), value in zip(pairs, ratio, strict=True):
        verdict = ""
        if (a, b) in targets:
            verdict = f" ({'meets' if value <= TARGET else 'misses'} the target <= {TARGET})"
        print(f"{a} / {b}: {value:.3f}{verdict}")
    ds = xr.Dataset(
        {
            "seconds": (
                "variant",
                list(seconds.values()),
                {"units": "s", "long_name": "median wall-clock time of the whole curve"},
            ),
            "ratio": (
                "comparison",
                ratio,
                {"units": "1", "long_name": "bimsim time / peer time"},
            ),
        },
        coords={
            "variant": ("variant", list(seconds), {"units": "1", "long_name": "what ran"}),
            "comparison": (
                "comparison",
                [f"{a} / {b}" for a, b in pairs],
                {"units": "1", "long_name": "bimsim variant / peer variant"},
            ),
            "target": (
                "comparison",
                [f"<= {TARGET}" if pair in targets else "none" for pair in pairs],
                {"units": "1", "long_name": "the ratio's target"},
            ),
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
