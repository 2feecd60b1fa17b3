"""Benchmark: memory of online learning (exact RTRL) against BPTT as the sequence grows.

The selective SSM readout learns over T = 1e3, 1e4 and 1e5 steps, once by bimsim's RTRL (state and
sensitivities carried forward) and once by torch autograd through the whole sequence (BPTT) on the
same model. Each run is a separate process; the reported memory is the growth of its peak resident
set over the learning loop (``ru_maxrss`` before and after). RTRL's should be flat in T (within
10 %), BPTT's linear. Also reported: the time per step of the RTRL update. Writes
``results/bench_memory.nc``::

    python benchmarks/bench_memory.py --inputs 16 --states 8

The memory both methods would need is estimated before any worker starts, and a run above bimsim's
limit (8 GiB) is refused. The workers belong to this command: a Ctrl-C ends them with it, and they
die with it even when it is killed.
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import argparse
import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

from bimsim.cli import (
    ArgumentParser,
    add_out_argument,
    distinct,
    end_with_parent,
    integer,
    run_command,
)
from bimsim.io import provenance, write_dataset
from bimsim.limits import require_bytes

#: This script, run again by each worker (``sys.argv[0]`` may be relative, or not this file).
SCRIPT = Path(__file__).resolve()

MAX_STEPS = 10**6
MAX_INPUTS = 4096
MAX_STATES = 1024
MAX_OUTPUTS = 1024

#: BPTT keeps every step's autograd graph: about 28 KiB of small tensors and graph nodes whatever
#: the size, and about seven float64 arrays of the m x N states (measured with torch 2 on CPU from
#: m = N = 1 to m = 128, N = 32: 28 to 231 KiB per step).
BPTT_BYTES_PER_STEP = 28 * 2**10
BPTT_BYTES_PER_STATE = 7 * 8

#: RTRL holds the m x N x m sensitivities to W_Δ and W_B, and a step makes about six temporaries
#: of that size (measured: 58 bytes per m²N at m = 128, N = 32).
RTRL_BYTES_PER_SENSITIVITY = 8 * 8


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rtrl_worker(steps, m, n, k):
    from bimsim.readout import SelectiveSSM, SSMParameters

    rng = np.random.default_rng(0)
    model = SelectiveSSM(SSMParameters.initial(m, n, k, rng))
    before = peak_kib()
    start = time.perf_counter()
    for _ in range(steps):
        model.step(rng.normal(0, 1, m), rng.normal(0, 1, k))
    seconds = time.perf_counter() - start
    return {
        "growth_kib": peak_kib() - before,
        "peak_kib": peak_kib(),
        "seconds_per_step": seconds / steps,
    }


def bptt_worker(steps, m, n, k):
    import torch

    from bimsim.readout import SSMParameters

    rng = np.random.default_rng(0)
    p = {
        key: torch.tensor(value, requires_grad=True)
        for key, value in SSMParameters.initial(m, n, k, rng).as_dict().items()
    }
    before = peak_kib()
    start = time.perf_counter()
    h = torch.zeros(m, n, dtype=torch.float64)
    loss = torch.zeros((), dtype=torch.float64)
    for _ in range(steps):
        u = torch.tensor(rng.normal(0, 1, m))
        delta = torch.nn.functional.softplus(p["W_delta"] @ u + p["b_delta"])
        a = torch.exp(delta[:, None] * -torch.exp(p["A_log"]))
        h = a * h + (delta * u)[:, None] * (p["W_B"] @ u)[None, :]
        o = p["W_out"] @ (h @ (p["W_C"] @ u) + p["D"] * u) + p["b_out"]
        loss = loss + 0.5 * ((o - torch.tensor(rng.normal(0, 1, k))) ** 2).sum()
    loss.backward()
    seconds = time.perf_counter() - start
    return {
        "growth_kib": peak_kib() - before,
        "peak_kib": peak_kib(),
        "seconds_per_step": seconds / steps,
    }


WORKERS = {"rtrl": rtrl_worker, "bptt": bptt_worker}


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--steps",
        type=integer(1, MAX_STEPS, "BPTT keeps every step in memory"),
        nargs="+",
        action=distinct("length"),
        default=[1_000, 10_000, 100_000],
        help="sequence lengths T (default: 1000 10000 100000)",
    )
    p.add_argument(
        "--inputs",
        type=integer(1, MAX_INPUTS, "RTRL's sensitivities grow as inputs² × states"),
        default=16,
        help="m, the readout's inputs",
    )
    p.add_argument("--states", type=integer(1, MAX_STATES), default=8, help="N, states per input")
    p.add_argument(
        "--outputs", type=integer(1, MAX_OUTPUTS), default=2, help="k, the readout's outputs"
    )
    add_out_argument(p, "results/bench_memory.nc")
    p.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    return p


def bptt_bytes(steps, m, n):
    """Estimated memory of BPTT's autograd graph over ``steps`` steps (m inputs, n states)."""
    return steps * (BPTT_BYTES_PER_STEP + BPTT_BYTES_PER_STATE * m * n)


def rtrl_bytes(m, n):
    """Estimated memory of RTRL's sensitivities and a step's temporaries (m inputs, n states)."""
    return RTRL_BYTES_PER_SENSITIVITY * m * m * n


def check_memory(args):
    """Refuse, before any worker starts, sizes whose learning would exceed the memory limit.

    Raises
    ------
    ValueError
        Naming the flags and the memory they would need.
    """
    m, n = args.inputs, args.states
    require_bytes(f"RTRL with --inputs {m} and --states {n}", rtrl_bytes(m, n))
    steps = max(args.steps)
    require_bytes(
        f"BPTT over --steps {steps} with --inputs {m} and --states {n}", bptt_bytes(steps, m, n)
    )


def work(args):
    """Be a worker: measure ``args.worker`` over ``args.steps[0]`` steps, print the result as JSON.

    A worker is its parent's: it leaves Ctrl-C to the parent, which kills it, and ends on SIGTERM
    as a plain process does (:func:`bimsim.cli.run_command` had set both up for a command).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    measure = WORKERS[args.worker]
    print(json.dumps(measure(args.steps[0], args.inputs, args.states, args.outputs)))


class WorkerFailed(Exception):
    """A worker ended without a result."""


def run_worker(method, steps, args):
    """Run ``method`` over ``steps`` steps in a new process; return its measurements.

    Raises
    ------
    WorkerFailed
        Saying how the worker ended, with its stderr.
    """
    command = [sys.executable, str(SCRIPT), "--worker", method, "--steps", str(steps)]
    command += ["--inputs", str(args.inputs), "--states", str(args.states)]
    command += ["--outputs", str(args.outputs), "--out", args.out]
    # Ctrl-C is this process's to handle (it kills the worker, whose traceback would be noise);
    # the worker dies with this process, also when it is killed outright
    setup = end_with_parent(signal.SIGKILL, ignore_interrupt=True)
    out = subprocess.run(command, capture_output=True, text=True, preexec_fn=setup)
    what = f"the {method} worker at T={steps}"
    if out.returncode < 0:
        name = signal.Signals(-out.returncode).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        raise WorkerFailed(f"{what} was killed by {name}{hint}{_indented(out.stderr)}")
    if out.returncode:
        raise WorkerFailed(f"{what} failed (exit status {out.returncode}){_indented(out.stderr)}")
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise WorkerFailed(f"{what} printed no result{_indented(out.stdout)}") from None


def _indented(text):
    lines = text.strip().splitlines()
    return "".join(f"\n  {line}" for line in lines)


def dataset(results, methods, steps):
    growth = [[results[m, t]["growth_kib"] / 1024 for t in steps] for m in methods]
    peak = [[results[m, t]["peak_kib"] / 1024 for t in steps] for m in methods]
    per_step = [[results[m, t]["seconds_per_step"] * 1e6 for t in steps] for m in methods]
    return xr.Dataset(
        {
            "memory_growth": (
                ("method", "steps"),
                growth,
                {"units": "MiB", "long_name": "growth of peak resident memory over the loop"},
            ),
            "peak_memory": (
                ("method", "steps"),
                peak,
                {"units": "MiB", "long_name": "peak resident memory of the whole process"},
            ),
            "time_per_step": (
                ("method", "steps"),
                per_step,
                {"units": "us", "long_name": "wall-clock time per step (BPTT: with backward)"},
            ),
            "ratio": (
                "steps",
                np.divide(*peak),
                {"units": "1", "long_name": f"{methods[0]} peak memory / {methods[1]} peak memory"},
            ),
        },
        coords={
            "method": ("method", methods, {"units": "1", "long_name": "learning method"}),
            "steps": ("steps", steps, {"units": "1", "long_name": "sequence length T"}),
        },
    )


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    try:
        check_memory(args)
    except ValueError as err:
        p.error(str(err))
    if args.worker:
        work(args)
        return
    results = {}
    for method in WORKERS:
        for steps in args.steps:
            try:
                r = results[method, steps] = run_worker(method, steps, args)
            except WorkerFailed as err:
                sys.exit(f"{p.prog}: error: {err}")
            print(
                f"{method:>5} T={steps:>7}: peak {r['peak_kib'] / 1024:7.1f} MiB, "
                f"grew {r['growth_kib'] / 1024:7.1f} MiB in the loop, "
                f"{r['seconds_per_step'] * 1e6:8.1f} µs per step",
                flush=True,
            )
    ds = dataset(results, list(WORKERS), args.steps)
    ds.attrs.update(
        provenance(
            device="cpu (numpy, torch)",
            seed=0,
            parameters={"inputs": args.inputs, "states": args.states, "outputs": args.outputs},
            command_line=sys.argv,
        )
    )
    print(f"wrote {write_dataset(ds, args.out)}")


if __name__ == "__main__":
    run_command(main)
