"""How far the online eligibility traces are from BPTT in a recurrent spiking layer.

For one feed-forward layer the traces give the exact gradient of the surrogate model; with recurrent
synapses they drop the paths through other neurons' spikes. This sweeps the recurrent weight scale
and reports, per scale and seed, the relative error and cosine of the trace gradient against torch
BPTT, for the input and the recurrent weights. Example::

    python protocols/eligibility_error.py --scales 0 0.001 0.003 0.01 0.03 0.1 --seeds 3
"""

import argparse

import brian2
import numpy as np

from bimsim.cli import add_run_arguments, finish_run
from bimsim.gradient_check import recurrent_trace_error


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--scales",
        type=float,
        nargs="+",
        default=[0, 0.001, 0.003, 0.01, 0.03, 0.1],
        help="standard deviations of the recurrent weights, in nA (default: 0 to 0.1)",
    )
    p.add_argument("--seeds", type=int, default=3, help="random networks per scale (default 3)")
    p.add_argument("--steps", type=int, default=500, help="time steps of 1 ms (default 500)")
    add_run_arguments(p, out="results/eligibility_error.nc", devices=("runtime",))
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.seeds < 1 or args.steps < 1:
        p.error("--seeds and --steps must be at least 1")
    if any(not np.isfinite(s) or s < 0 for s in args.scales):
        p.error(f"--scales must be finite and >= 0, got {args.scales}")
    brian2.seed(args.seed)
    seeds = [args.seed + k for k in range(args.seeds)]
    ds = recurrent_trace_error(args.scales, seeds, steps=args.steps)
    finish_run(ds, args)
    print(
        "scale   rate (Hz)  input: rel. error  cosine   recurrent: rel. error  cosine  "
        "|BPTT| / |traces|"
    )
    mean = ds.median("seed")
    for scale in ds.scale.values:
        row = mean.sel(scale=scale)
        print(
            f"{scale:<7g} {row.rate.item():9.1f}  {row.input_norm_relative.item():17.3g}  "
            f"{row.input_cosine.item():6.3f}   {row.recurrent_norm_relative.item():21.3g}  "
            f"{row.recurrent_cosine.item():6.3f}  "
            f"{(row.bptt_norm / row.trace_norm).item():.3g}"
        )
    print("(medians over seeds)")
    return ds


if __name__ == "__main__":
    main()
