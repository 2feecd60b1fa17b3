"""Benchmark: the cost per step of the readout's network operation inside a Brian2 run.

A :class:`bimsim.network.BIMNetwork` learns online (λ = 1) from Poisson input for one sequence;
Brian2's profiler times every object. Reported per readout step (1 ms): the network operation (read
``u_out``, advance the selective SSM with exact RTRL, update it, write ``L``), and everything else
the network runs in that millisecond (neurons, synapses with their eligibility traces and the
hybrid update, all in generated code, over 10 steps of 0.1 ms). Writes
``results/bench_readout_step.nc``::

    python benchmarks/bench_readout_step.py --hidden 16 64 256 --duration 1s --rate 20Hz

The time steps and memory the run would need are estimated before anything is built, and a run
above bimsim's limits is refused.
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import argparse
import sys

import numpy as np
import xarray as xr
from brian2 import Hz, ms, second

from bimsim.cli import (
    ArgumentParser,
    add_out_argument,
    add_seed_argument,
    distinct,
    integer,
    quantity,
    run_command,
)
from bimsim.io import provenance, write_dataset
from bimsim.limits import MAX_STEPS, require_bytes, require_steps
from bimsim.network import BIMNetwork

#: The network's time step and the readout's (BIMNetwork's defaults).
DT = 0.1 * ms
READOUT_DT = 1 * ms

MAX_HIDDEN = 4096
MAX_INPUTS = 10_000
MAX_STATES = 256
MAX_REPEATS = 1000

#: Memory of one plastic synapse: 104 bytes of Brian2 state (ten traces, weight, indices), with
#: room for Brian2's own index structures.
BYTES_PER_SYNAPSE = 256

#: RTRL holds the m x N x m sensitivities of the readout, and a step makes about six temporaries of
#: that size (m hidden neurons, N states; measured 58 bytes per m²N).
BYTES_PER_SENSITIVITY = 8 * 8

#: Drawing a sequence's spike times takes up to one int64 per time step, and each spike about this
#: much in numpy and Brian2's spike generator.
BYTES_PER_SPIKE = 64


def measure(n_hidden, n_inputs, n_states, duration_ms, rate_hz, repeats, seed):
    rng = np.random.default_rng(seed)
    net = BIMNetwork(
        n_inputs, n_hidden, 2, n_states=n_states, lam=1.0, eta=0.002,
        readout_learning_rate=0.001, w_init=(0.02, 0.1), seed=seed,
    )  # fmt: skip
    steps = int(duration_ms)  # readout steps of 1 ms
    targets = list(rng.integers(2, size=steps))

    def sequence():
        slots = int(duration_ms * 10)
        # spikes take distinct 0.1 ms steps: a rare Poisson count above the steps is cut to them
        n = min(rng.poisson(rate_hz * duration_ms / 1000 * n_inputs), slots)
        indices = rng.integers(n_inputs, size=n)
        times = rng.choice(slots, size=n, replace=False) * 0.1
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


_positive_time = quantity("time", positive=True, maximum=MAX_STEPS * DT)


def whole_readout_steps(text):
    """An argparse type for ``--duration``: a positive time of whole readout steps (1 ms)."""
    duration = _positive_time(text)
    steps = float(duration / READOUT_DT)
    if not np.isclose(steps, round(steps), rtol=1e-12, atol=0):
        raise argparse.ArgumentTypeError(
            f"must be a whole number of readout steps of {READOUT_DT}, got {duration}"
        )
    return duration


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--hidden",
        type=integer(1, MAX_HIDDEN, "the readout's sensitivities grow as hidden² × states"),
        nargs="+",
        action=distinct("size"),
        default=[16, 64, 256],
        help="layer sizes (default: 16 64 256)",
    )
    p.add_argument(
        "--inputs", type=integer(1, MAX_INPUTS), default=40, help="input neurons (default: 40)"
    )
    p.add_argument(
        "--states",
        type=integer(1, MAX_STATES),
        default=8,
        help="SSM states per readout input (N, default: 8)",
    )
    p.add_argument(
        "--duration",
        type=whole_readout_steps,
        default=1000 * ms,
        help="sequence length, whole ms (default: 1000ms)",
    )
    p.add_argument(
        "--rate",
        type=quantity("frequency", positive=True, maximum=1 / DT),
        default=20 * Hz,
        help="input rate of each input neuron (default: 20Hz)",
    )
    p.add_argument(
        "--repeats",
        type=integer(1, MAX_REPEATS),
        default=3,
        help="timed sequences (median) after one untimed (default: 3)",
    )
    add_seed_argument(p)
    add_out_argument(p, "results/bench_readout_step.nc")
    return p


def run_bytes(n_hidden, args):
    """Estimated memory of one network of ``n_hidden`` neurons and one sequence's input."""
    synapses = args.inputs * n_hidden * BYTES_PER_SYNAPSE
    sensitivities = n_hidden**2 * args.states * BYTES_PER_SENSITIVITY
    steps = float(args.duration / DT)
    spikes = float(args.rate * args.duration) * args.inputs
    return synapses + sensitivities + 8 * steps + BYTES_PER_SPIKE * spikes


def check_size(args):
    """Refuse, before anything is built, a run beyond the limits on time steps and memory.

    Raises
    ------
    ValueError
        Naming the flags.
    """
    if args.rate * args.inputs * DT > 1:
        most = float(1 / (DT * args.inputs) / Hz)
        raise ValueError(
            f"--rate {float(args.rate / Hz):g} Hz with --inputs {args.inputs}: the input spikes "
            f"are drawn at distinct time steps of {float(DT / ms):g} ms, so the rate can be at "
            f"most {most:g} Hz with this many inputs"
        )
    sequences = len(args.hidden) * (args.repeats + 1)
    require_steps(
        f"{sequences} sequences of --duration {float(args.duration / second):g} s "
        "(--hidden sizes × (--repeats + 1))",
        float(sequences * args.duration / DT),
        DT,
    )
    largest = max(args.hidden)
    require_bytes(
        f"--hidden {largest} with --inputs {args.inputs} and --states {args.states}",
        run_bytes(largest, args),
    )


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    try:
        check_size(args)
    except ValueError as err:
        p.error(str(err))
    duration_ms, rate_hz = round(float(args.duration / ms)), float(args.rate / Hz)
    readout, rest, synapses = [], [], []
    for n in args.hidden:
        r, o, s = measure(
            n, args.inputs, args.states, duration_ms, rate_hz, args.repeats, args.seed
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
            "ratio": (
                "hidden",
                np.divide(readout, rest),
                {"units": "1", "long_name": "network operation time / rest of the network's"},
            ),
        },
        coords={"hidden": ("hidden", args.hidden, {"units": "1", "long_name": "hidden neurons"})},
    )
    ds.attrs.update(
        provenance(device="runtime", seed=args.seed, parameters=vars(args), command_line=sys.argv)
    )
    print(f"wrote {write_dataset(ds, args.out)}")


if __name__ == "__main__":
    run_command(main)
