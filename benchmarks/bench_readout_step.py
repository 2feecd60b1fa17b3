"""Benchmark: the cost per step of the readout's network operation inside a Brian2 run.

A :class:`bimsim.network.BIMNetwork` learns online (λ = 1) from Poisson input for one sequence;
Brian2's profiler times every object. Reported per readout step (1 ms): the network operation (read
``u_out``, advance the selective SSM with exact RTRL, update it, write ``L``), and everything else
the network runs in that millisecond (neurons, synapses with their eligibility traces and the
hybrid update, all in generated code, over 10 steps of 0.1 ms). Writes
``results/bench_readout_step.nc``::

    python benchmarks/bench_readout_step.py --hidden 16 64 256
"""

import argparse
import sys

import numpy as np
import xarray as xr
from brian2 import ms

from bimsim.io import provenance, write_dataset
from bimsim.network import BIMNetwork


def measure(n_hidden, n_inputs, n_states, duration_ms, rate_hz, repeats, seed):
    rng = np.random.default_rng(seed)
    net = BIMNetwork(
        n_inputs, n_hidden, 2, n_states=n_states, lam=1.0, eta=0.002,
        readout_learning_rate=0.001, w_init=(0.02, 0.1), seed=seed,
    )  # fmt: skip
    steps = int(duration_ms)  # readout steps of 1 ms
    targets = list(rng.integers(2, size=steps))

    def sequence():
        n = rng.poisson(rate_hz * duration_ms / 1000 * n_inputs)
        indices = rng.integers(n_inputs, size=n)
        times = rng.choice(int(duration_ms * 10), size=n, replace=False) * 0.1
        return indices, times * ms, duration_ms * ms, targets

    net.run_sequence(*sequence())  # compiles
    readout, rest = [], []
    for _ in range(repeats):
        net.run_sequence(*sequence(), profile=True)
        info = dict(net.network.profiling_info)
        op = float(info.pop(net.readout.operation.name))
        readout.append(op / steps)
        rest.append(sum(float(t) for t in info.values()) / steps)
    return float(np.median(readout)), float(np.median(rest)), len(net.synapses)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--hidden", type=int, nargs="+", default=[16, 64, 256], help="layer sizes")
    p.add_argument("--inputs", type=int, default=40, help="input neurons")
    p.add_argument("--states", type=int, default=8, help="SSM states per readout input (N)")
    p.add_argument("--duration", type=float, default=1000, help="sequence length in ms")
    p.add_argument("--rate", type=float, default=20, help="input rate in Hz")
    p.add_argument("--repeats", type=int, default=3, help="timed sequences (median)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/bench_readout_step.nc")
    args = p.parse_args(argv)
    readout, rest, synapses = [], [], []
    for n in args.hidden:
        r, o, s = measure(
            n, args.inputs, args.states, args.duration, args.rate, args.repeats, args.seed
        )
        readout.append(r * 1e6)
        rest.append(o * 1e6)
        synapses.append(s)
        print(
            f"hidden {n:>4} ({s} plastic synapses): network operation {r * 1e6:8.1f} µs per "
            f"readout step, rest of the network {o * 1e6:8.1f} µs per readout step",
            flush=True,
        )
    ds = xr.Dataset(
        {
            "readout_operation": (
                "hidden",
                readout,
                {"units": "us", "long_name": "time of the readout network operation per 1 ms step"},
            ),
            "rest_of_network": (
                "hidden",
                rest,
                {"units": "us", "long_name": "time of all other objects per 1 ms readout step"},
            ),
            "synapses": (
                "hidden",
                np.asarray(synapses, dtype=np.int64),
                {"units": "1", "long_name": "plastic input synapses"},
            ),
        },
        coords={"hidden": ("hidden", args.hidden, {"units": "1", "long_name": "hidden neurons"})},
    )
    ds.attrs.update(
        provenance(device="runtime", seed=args.seed, parameters=vars(args), command_line=sys.argv)
    )
    print(f"wrote {write_dataset(ds, args.out)}")


if __name__ == "__main__":
    main()
