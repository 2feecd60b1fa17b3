"""How far the online eligibility traces are from BPTT in a recurrent spiking layer.

For one feed-forward layer the traces give the exact gradient of the surrogate model; with recurrent
synapses they drop the paths through other neurons' spikes. This sweeps the recurrent weight scale
and reports, per scale and seed, the relative error and cosine of the trace gradient against torch
BPTT, for the input and the recurrent weights. Example::

    python protocols/eligibility_error.py --scales 0 0.001 0.003 0.01 0.03 0.1 --seeds 3
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import brian2

from bimsim.cli import (
    MAX_SEED,
    ArgumentParser,
    add_run_arguments,
    distinct,
    finish_run,
    integer,
    real,
    run_command,
)
from bimsim.gradient_check import NoGradient, recurrent_trace_error

MAX_SCALES, MAX_SEEDS = 100, 1000
#: BPTT keeps every step's state and builds one autograd graph over all of them.
MAX_STEPS = 100_000


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--scales",
        type=real(minimum=0),
        nargs="+",
        action=distinct("scale"),
        default=[0, 0.001, 0.003, 0.01, 0.03, 0.1],
        help="standard deviations of the recurrent weights, in nA (default: 0 to 0.1)",
    )
    p.add_argument(
        "--seeds",
        type=integer(1, MAX_SEEDS),
        default=3,
        help="random networks per scale (default 3)",
    )
    p.add_argument(
        "--steps",
        type=integer(1, MAX_STEPS, "BPTT keeps every step"),
        default=500,
        help="time steps of 1 ms (default 500)",
    )
    add_run_arguments(p, out="results/eligibility_error.nc", devices=("runtime",))
    p.add_check(check_flags)
    return p


def check_flags(args):
    """Refuse, after parsing, too many scales and seeds beyond the largest seed."""
    if len(args.scales) > MAX_SCALES:
        raise ValueError(f"--scales: at most {MAX_SCALES} values, got {len(args.scales)}")
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise ValueError(f"--seed + --seeds - 1 must be at most {MAX_SEED} (the networks' seeds)")


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)  # and check_flags
    brian2.seed(args.seed)
    seeds = [args.seed + k for k in range(args.seeds)]
    try:
        ds = recurrent_trace_error(args.scales, seeds, steps=args.steps)
    except NoGradient as err:  # found by simulating: no spike, so no gradient to compare
        p.exit(1, f"{p.prog}: {err} (--steps {args.steps}: the layer may not have spiked in "
                  "time; give more --steps); no result was written\n")  # fmt: skip
    finish_run(ds, args, summary=summary(ds))
    return ds


def summary(ds):
    """The medians over seeds of each scale's errors, as a table."""
    lines = [
        "scale   rate (Hz)  input: rel. error  cosine   recurrent: rel. error  cosine  "
        "|BPTT| / |traces|"
    ]
    mean = ds.median("seed")
    for scale in ds.scale.values:
        row = mean.sel(scale=scale)
        lines.append(
            f"{scale:<7g} {row.rate.item():9.1f}  {row.input_norm_relative.item():17.3g}  "
            f"{row.input_cosine.item():6.3f}   {row.recurrent_norm_relative.item():21.3g}  "
            f"{row.recurrent_cosine.item():6.3f}  "
            f"{(row.bptt_norm / row.trace_norm).item():.3g}"
        )
    lines.append("(medians over seeds)")
    return "\n".join(lines)


if __name__ == "__main__":
    run_command(main)
