"""Delayed recall: how long a layer of each neuron model holds which of two inputs it received.

Every trial one of two input groups fires (the class), the layer hears only background noise for
a delay, then a recall cue drives it; a cross-validated logistic regression reads the class from
the layer's spikes after the cue. Nothing learns. Example::

    python protocols/delayed_recall.py --delays 20ms 100ms 1000ms --noise-rate 0.1Hz 2Hz

See :mod:`bimsim.delayed_recall`; ``figures/delayed_recall.py`` draws the result.
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import numpy as np
from brian2 import Hz, ms

from bimsim.cli import (
    MAX_SEED,
    ArgumentParser,
    add_run_arguments,
    finish_run,
    integer,
    quantity,
    real,
    run_command,
)
from bimsim.delayed_recall import MAX_HIDDEN, MAX_TRIALS, WEIGHTS, delayed_recall
from bimsim.neurons import NEURONS

#: Most delays, noise rates and seeds of one run.
MAX_VALUES = 50

DELAYS = (10, 20, 50, 100, 200, 500, 1000)
QUICK_DELAYS = (20, 200)


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument("--neurons", nargs="+", choices=tuple(NEURONS), default=list(NEURONS),
                   help="neuron models (default: all)")  # fmt: skip
    p.add_argument(
        "--delays",
        nargs="+",
        type=quantity("time", maximum=10_000 * ms),  # >= 0: checked after parsing
        help="delays from the class burst to the cue (default: "
        + " ".join(f"{d}ms" for d in DELAYS) + "; with --quick: "
        + " ".join(f"{d}ms" for d in QUICK_DELAYS) + ")",
    )  # fmt: skip
    p.add_argument(
        "--noise-rate",
        nargs="+",
        type=quantity("frequency", positive=True, maximum=100 * Hz),
        default=[0.1 * Hz, 2 * Hz],
        help="rate of each of the 10 noise inputs, one condition each (default: 0.1Hz 2Hz)",
    )
    p.add_argument("--seeds", type=integer(1, MAX_VALUES),
                   help="seeds --seed, --seed + 1, ... (default 3; 1 with --quick)")  # fmt: skip
    p.add_argument("--trials", type=integer(10, MAX_TRIALS),
                   help="trials per condition, half of each class (default 200; 100 with "
                   "--quick)")  # fmt: skip
    p.add_argument("--hidden", type=integer(1, MAX_HIDDEN), default=32,
                   help="neurons of the layer (default 32)")  # fmt: skip
    for name in NEURONS:
        p.add_argument(f"--weight-{name.replace('_', '-')}", type=real(above=0),
                       help=f"largest input weight of {name} (x its weight unit; default "
                       f"{WEIGHTS[name]:g})")  # fmt: skip
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 2 delays, 1 seed, 100 trials, unless given")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_run_arguments(p, out="results/delayed_recall.nc", devices=("runtime",))
    p.add_check(check_flags)
    return p


def settings(args):
    """Delays, seeds and trials: what was typed, else ``--quick``'s, else the defaults."""
    quick = args.quick
    delays = args.delays or [d * ms for d in (QUICK_DELAYS if quick else DELAYS)]
    seeds = args.seeds or (1 if quick else 3)
    trials = args.trials or (100 if quick else 200)
    return delays, seeds, trials


def check_flags(args):
    """Refuse, after parsing and before any simulation: too many or repeated values, a negative
    delay, a neuron's weight without the neuron, an odd number of trials."""
    delays, seeds, trials = settings(args)
    for name, values in (("delays", delays), ("noise-rate", args.noise_rate),
                         ("neurons", args.neurons)):  # fmt: skip
        if len(values) > MAX_VALUES:
            raise ValueError(f"--{name}: at most {MAX_VALUES} values, got {len(values)}")
        if len(set(map(str, values))) < len(values):
            raise ValueError(f"--{name}: a value is given twice")
    if any(d < 0 * ms for d in delays):
        raise ValueError("--delays: a delay must be >= 0")
    for name in NEURONS:
        if getattr(args, f"weight_{name}") is not None and name not in args.neurons:
            raise ValueError(
                f"--weight-{name.replace('_', '-')} has no effect without {name} in --neurons"
            )
    if trials % 2:
        raise ValueError(f"--trials must be even (half of each class), got {trials}")
    if args.seed + seeds - 1 > MAX_SEED:
        raise ValueError(f"--seed + --seeds - 1 must be at most {MAX_SEED}")


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)  # and check_flags
    args.delays, args.seeds, args.trials = settings(args)  # recorded as used
    weights = {name: getattr(args, f"weight_{name}") or WEIGHTS[name] for name in NEURONS}
    try:  # delayed_recall checks its inputs before it simulates
        ds = delayed_recall(
            args.neurons,
            np.array([float(d / ms) for d in args.delays]) * ms,
            np.arange(args.seed, args.seed + args.seeds),
            noise_rates=np.array([float(r / Hz) for r in args.noise_rate]) * Hz,
            trials=args.trials,
            hidden=args.hidden,
            weights={name: weights[name] for name in args.neurons},
            progress=not args.no_progress,
        )
    except ValueError as err:
        p.error(str(err))
    finish_run(ds, args, summary=summary(ds))
    return ds


def summary(ds):
    """The decoding accuracy by delay, per noise rate and neuron (means over seeds)."""
    lines = []
    mean = ds.accuracy.mean("seed")
    for rate in ds.noise_rate.values:
        lines.append(f"noise {rate:g} Hz: decoding accuracy (chance 0.5) by delay in ms")
        lines.append("  delay  " + "  ".join(f"{d:>7g}" for d in ds.delay.values))
        for neuron in ds.neuron.values:
            row = mean.sel(neuron=neuron, noise_rate=rate).values
            lines.append(f"  {neuron:<7}" + "  ".join(f"{a:7.3f}" for a in row))
    return "\n".join(lines)


if __name__ == "__main__":
    run_command(main)
