"""Frequency dependence of STDP: the Sjöström, Turrigiano & Nelson (2001) protocol.

60 pairings at Δt = +10 ms and -10 ms, at 0.1, 10, 20, 40 and 50 Hz, for the pair rule and the
triplet rule of Pfister & Gerstner (2006), each with all-to-all and nearest-spike pairing, all in
one Brian2 network. The dataset holds the simulated weight changes, the measured ones (shipped with
bimsim, with their citation) and each rule's weighted error against them. Example::

    python protocols/stdp_frequency.py --out results/stdp_frequency.nc
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import brian2

from bimsim.cli import ArgumentParser, add_run_arguments, finish_run, integer, quantity, run_command
from bimsim.pairing import MAX_PAIRS, frequency_dependence, frequency_schedule
from bimsim.plasticity.stdp import PAIR_DEFAULTS, TRIPLET_PRESETS, pair_rule, triplet_preset


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--pairs",
        type=integer(1, MAX_PAIRS),
        default=60,
        help="pairings per condition (default: 60)",
    )
    p.add_argument(
        "--triplet-all",
        choices=[k for k, v in TRIPLET_PRESETS.items() if v.pairing == "all"],
        default="visual-all-minimal",
        help="preset of the all-to-all triplet rule",
    )
    p.add_argument(
        "--triplet-nearest",
        choices=[k for k, v in TRIPLET_PRESETS.items() if v.pairing == "nearest"],
        default="visual-nearest-full",
        help="preset of the nearest-spike triplet rule",
    )
    p.add_argument(
        "--time-step", type=quantity("time", positive=True), help="default: coarsest exact step"
    )
    add_run_arguments(p, out="results/stdp_frequency.nc")
    p.add_check(lambda args: frequency_schedule(args.pairs, args.time_step))
    return p


def rules(args):
    """The four rules compared: pair and triplet, all-to-all and nearest."""
    return {
        "pair-all": pair_rule(**PAIR_DEFAULTS, pairing="all"),
        "pair-nearest": pair_rule(**PAIR_DEFAULTS, pairing="nearest"),
        "triplet-all": triplet_preset(args.triplet_all),
        "triplet-nearest": triplet_preset(args.triplet_nearest),
    }


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)  # and the schedule's checks, before any simulation
    brian2.seed(args.seed)
    ds = frequency_dependence(
        rules(args), n_pairs=args.pairs, dt=args.time_step, device=args.device
    )
    summary = "\n".join(
        f"{rule:>16}: weighted error against the data {error:.3g}"
        for rule, error in zip(ds.rule.values, ds.weighted_error.values, strict=True)
    )
    finish_run(ds, args, summary=summary)
    return ds


if __name__ == "__main__":
    run_command(main)
