"""Recover the STDP window from spike pairing (Bi & Poo 1998 protocol by default).

Every Δt runs at once in one Brian2 network (one independent pre/post pair per Δt); the total weight
change of each synapse is fitted with A+ exp(-Δt/τ+) and -A- exp(Δt/τ-), and everything is saved to
one netCDF dataset. Example::

    python protocols/stdp_pairing.py --rule pair-all --tau-plus 16.8ms --dt-min=-50ms

Negative times follow an equals sign (``--dt-min=-50ms``), as argparse reads ``-50ms`` as a flag.
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import dataclasses

import brian2
import numpy as np
from brian2 import Hz, ms

from bimsim.analysis import FitFailed
from bimsim.cli import (
    ArgumentParser,
    add_delta_t_arguments,
    add_run_arguments,
    finish_run,
    integer,
    quantity,
    real,
    run_command,
)
from bimsim.pairing import MAX_PAIRS, pairing_schedule, stdp_curve
from bimsim.plasticity.stdp import (
    PAIR_DEFAULTS,
    TRIPLET_PRESETS,
    WeightBounds,
    pair_rule,
    triplet_preset,
)

RULES = ("pair-all", "pair-nearest", "triplet-all", "triplet-nearest")

#: The weight bounds of --bounds hard and soft, unless --w-min and --w-max say otherwise.
W_MIN, W_MAX = 0.0, 2.0
DEFAULT_PRESETS = {"all": "visual-all-minimal", "nearest": "visual-nearest-full"}


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument("--rule", choices=RULES, default="pair-all", help="plasticity rule")
    p.add_argument(
        "--preset",
        choices=list(TRIPLET_PRESETS),
        help="triplet parameter set (Pfister & Gerstner 2006); default: visual-all-minimal for "
        "triplet-all, visual-nearest-full for triplet-nearest",
    )
    amplitude = real(minimum=0)
    p.add_argument("--a-plus", type=amplitude, help="potentiation amplitude A+ (dimensionless)")
    p.add_argument("--a-minus", type=amplitude, help="depression amplitude A- (dimensionless)")
    time_constant = quantity("time", positive=True)
    p.add_argument("--tau-plus", type=time_constant, help="potentiation time constant")
    p.add_argument("--tau-minus", type=time_constant, help="depression time constant")
    p.add_argument(
        "--pairs",
        type=integer(1, MAX_PAIRS),
        default=60,
        help="pairings per Δt (default: 60)",
    )
    p.add_argument(
        "--frequency", type=quantity("frequency", positive=True), default=1 * Hz, help="e.g. 1Hz"
    )
    add_delta_t_arguments(p, points=41)
    p.add_argument("--bounds", choices=("none", "hard", "soft"), default="none")
    p.add_argument(
        "--w-min", type=real(), help=f"lower weight bound, with --bounds (default {W_MIN:g})"
    )
    p.add_argument(
        "--w-max", type=real(), help=f"upper weight bound, with --bounds (default {W_MAX:g})"
    )
    p.add_argument("--w-init", type=real(), default=1.0, help="initial weight (within bounds)")
    p.add_argument(
        "--time-step", type=quantity("time", positive=True), help="default: coarsest exact step"
    )
    add_run_arguments(p, out="results/stdp_pairing.nc")
    p.add_check(check_flags)
    return p


def check_flags(args):
    """Refuse, after parsing and before any simulation, what the flags cannot do together: the
    rule, its window's two sides, the bounds and initial weight, the Δt values and the pairing
    schedule (overlapping pairings, the time grid, the run's size). Also run by a sweep for
    each of its points."""
    try:
        check_window(build_rule(args))
        weight_bounds(args).check_weight(args.w_init, "--w-init")
        pairing_schedule(delta_t_values(args), args.frequency, args.pairs, args.time_step)
    except brian2.DimensionMismatchError as err:
        raise ValueError(str(err)) from None


def build_rule(args):
    """The STDP rule the flags describe."""
    family, pairing = args.rule.split("-")
    if family == "pair":
        if args.preset is not None:
            raise ValueError("--preset selects triplet parameters; use it with a triplet rule")
        given = {
            "a_plus": args.a_plus,
            "a_minus": args.a_minus,
            "tau_plus": args.tau_plus,
            "tau_minus": args.tau_minus,
        }
        values = {k: PAIR_DEFAULTS[k] if v is None else v for k, v in given.items()}
        return pair_rule(**values, pairing=pairing)
    rule = triplet_preset(args.preset or DEFAULT_PRESETS[pairing], pairing=pairing)
    overrides = {
        "a2_plus": args.a_plus,
        "a2_minus": args.a_minus,
        "tau_plus": args.tau_plus,
        "tau_minus": args.tau_minus,
    }
    return dataclasses.replace(rule, **{k: v for k, v in overrides.items() if v is not None})


def check_window(rule):
    """Refuse a rule with no potentiation or no depression: the fit of that side of the window
    would have nothing to fit (a flat side)."""
    sides = {
        "potentiation (Δt > 0)": ("--a-plus", rule.a2_plus, rule.a3_plus),
        "depression (Δt < 0)": ("--a-minus", rule.a2_minus, rule.a3_minus),
    }
    for side, (flag, pair, triplet) in sides.items():
        if pair == 0 and triplet == 0:
            extra = "" if rule.label.startswith("pair") else " and its triplet amplitude is 0"
            raise ValueError(
                f"{flag} 0 leaves the rule without {side}{extra}: that side of the window "
                "would be flat, with nothing to fit"
            )


def weight_bounds(args):
    """The bounds ``--bounds``, ``--w-min`` and ``--w-max`` say; the bound flags without bounds
    are refused (they would act on nothing)."""
    if args.bounds == "none":
        for flag in ("--w-min", "--w-max"):
            if getattr(args, flag[2:].replace("-", "_")) is not None:
                raise ValueError(
                    f"{flag} has no effect with --bounds none; add --bounds hard or soft"
                )
        return WeightBounds("none")
    w_min = W_MIN if args.w_min is None else args.w_min
    w_max = W_MAX if args.w_max is None else args.w_max
    try:
        return WeightBounds(args.bounds, w_min, w_max)
    except ValueError as err:
        raise ValueError(f"--w-min/--w-max: {err}") from None


def delta_t_values(args):
    if args.dt_min > args.dt_max:
        raise ValueError(f"--dt-min {args.dt_min} is greater than --dt-max {args.dt_max}")
    values = np.linspace(float(args.dt_min / ms), float(args.dt_max / ms), args.points)
    if (values >= 0).sum() < 3 or (values < 0).sum() < 3:
        raise ValueError(
            "fitting the window needs at least 3 Δt values on each side of 0: widen "
            "--dt-min/--dt-max or add --points"
        )
    return np.round(values, 9) * ms


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)  # and check_flags
    rule, bounds, delta_t = build_rule(args), weight_bounds(args), delta_t_values(args)
    brian2.seed(args.seed)
    print(
        f"simulating {len(delta_t)} Δt values x {args.pairs} pairings at {args.frequency} "
        f"({rule.label}, {args.device})",
        flush=True,
    )
    try:
        ds = stdp_curve(
            rule,
            delta_t,
            n_pairs=args.pairs,
            frequency=args.frequency,
            dt=args.time_step,
            bounds=bounds,
            w_init=args.w_init,
            device=args.device,
        )
    except FitFailed as err:  # found once simulated: the window is flat on a side
        p.exit(1, f"{p.prog}: fitting the simulated window failed: {err}; a time constant far "
                  "beyond the Δt range or a tiny amplitude leaves a side flat; no result was "
                  "written\n")  # fmt: skip
    summary = (
        f"fit: A+ = {ds.fit_a_plus.item():.4g}, tau+ = {ds.fit_tau_plus.item():.4g} ms, "
        f"A- = {ds.fit_a_minus.item():.4g}, tau- = {ds.fit_tau_minus.item():.4g} ms (per pairing)"
    )
    finish_run(ds, args, summary=summary)
    return ds


if __name__ == "__main__":
    run_command(main)
