"""Benchmark: memory of online learning (exact RTRL) against BPTT as the sequence grows.

The selective SSM readout learns over T = 1e3, 1e4 and 1e5 steps, once by bimsim's RTRL (state and
sensitivities carried forward) and once by torch autograd through the whole sequence (BPTT) on the
same model. Each run is a separate process; the reported memory is the growth of its peak resident
set over the learning loop (``ru_maxrss`` before and after). RTRL's should be flat in T (within
10 %), BPTT's linear. Also reported: the time per step of the RTRL update. Writes
``results/bench_memory.nc``::

    python benchmarks/bench_memory.py --inputs 16 --states 8
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import xarray as xr

from bimsim.io import provenance, write_dataset


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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    p.add_argument("--inputs", type=int, default=16, help="m, the readout's inputs")
    p.add_argument("--states", type=int, default=8, help="N, states per input")
    p.add_argument("--outputs", type=int, default=2, help="k, the readout's outputs")
    p.add_argument("--out", default="results/bench_memory.nc")
    p.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sizes = (args.inputs, args.states, args.outputs)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.steps[0], *sizes)))
        return
    results = {}
    for method in WORKERS:
        for steps in args.steps:
            command = [sys.argv[0], "--worker", method, "--steps", str(steps)]
            command += ["--inputs", str(args.inputs), "--states", str(args.states)]
            command += ["--outputs", str(args.outputs)]
            out = subprocess.run([sys.executable, *command], capture_output=True, text=True)
            if out.returncode:
                raise RuntimeError(f"{method} at T={steps} failed:\n{out.stderr}")
            results[method, steps] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[method, steps]
            print(
                f"{method:>5} T={steps:>7}: peak {r['peak_kib'] / 1024:7.1f} MiB, "
                f"grew {r['growth_kib'] / 1024:7.1f} MiB in the loop, "
                f"{r['seconds_per_step'] * 1e6:8.1f} µs per step",
                flush=True,
            )
    methods, steps = list(WORKERS), args.steps
    growth = [[results[m, t]["growth_kib"] / 1024 for t in steps] for m in methods]
    peak = [[results[m, t]["peak_kib"] / 1024 for t in steps] for m in methods]
    per_step = [[results[m, t]["seconds_per_step"] * 1e6 for t in steps] for m in methods]
    ds = xr.Dataset(
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
        },
        coords={
            "method": ("method", methods, {"units": "1", "long_name": "learning method"}),
            "steps": ("steps", steps, {"units": "1", "long_name": "sequence length T"}),
        },
    )
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
    main()
