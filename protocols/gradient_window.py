"""The gradient window: dℓ/dw of one synapse against the pre/post spike-time difference.

For every Δt (and every baseline depolarisation) one synapse carries a presynaptic spike at t_pre
and its neuron is made to fire at t_pre + Δt by a one-step current pulse; the loss rewards the
postsynaptic output. The gradient is computed online by the eligibility traces (Brian2, generated
code) and by BPTT (torch autograd), the pairing-induced update is fitted with an exponential on each
side of Δt = 0, and the STDP window is saved beside it. Example::

    python protocols/gradient_window.py --depolarization 0mV 7.5mV --points 81

Negative times follow an equals sign (``--dt-min=-50ms``). See :mod:`bimsim.gradient_window`.
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import brian2
import numpy as np
from brian2 import ms, mV

from bimsim.cli import (
    ArgumentParser,
    add_delta_t_arguments,
    add_run_arguments,
    distinct,
    finish_run,
    quantity,
    real,
    run_command,
)
from bimsim.gradient_window import gradient_window

#: Most baseline depolarisations of one run (each is one condition of ``--points`` + 1 neurons).
MAX_CONDITIONS = 100


def parser():
    p = ArgumentParser(description=__doc__)
    add_delta_t_arguments(p, points=81)
    p.add_argument(
        "--depolarization",
        type=quantity("voltage"),
        nargs="+",
        action=distinct("depolarisation"),
        default=[0 * mV, 7.5 * mV],
        help="baseline depolarisations v - v_rest, one condition each (default: 0mV 7.5mV)",
    )
    p.add_argument(
        "--w", type=real(above=0), default=0.05, help="synaptic weight in nA (default 0.05)"
    )
    p.add_argument(
        "--overshoot",
        type=quantity("voltage", positive=True),
        default=5 * mV,
        help="how far above threshold the pulse takes v (default 5mV)",
    )
    p.add_argument(
        "--time-step", type=quantity("time", positive=True), default=0.1 * ms, help="default 0.1ms"
    )
    p.add_argument(
        "--no-bptt", action="store_true", help="skip the torch BPTT reference (traces only)"
    )
    add_run_arguments(p, out="results/gradient_window.nc", devices=("runtime",))
    p.add_check(check_flags)
    return p


def check_flags(args):
    """Refuse, after parsing, too many conditions and a Δt range the fit cannot use (the
    library checks the grid and the depolarisations before it simulates)."""
    if len(args.depolarization) > MAX_CONDITIONS:
        raise ValueError(
            f"--depolarization: at most {MAX_CONDITIONS} values, got {len(args.depolarization)}"
        )
    delta_t_values(args)


def delta_t_values(args):
    if args.dt_min >= args.dt_max:
        raise ValueError(f"--dt-min {args.dt_min} must be below --dt-max {args.dt_max}")
    if args.points < 7:
        raise ValueError(f"--points must be at least 7, got {args.points}")
    values = np.linspace(float(args.dt_min / ms), float(args.dt_max / ms), args.points)
    if (values >= 0).sum() < 3 or (values < 0).sum() < 3:
        raise ValueError(
            "fitting the window needs at least 3 Δt values on each side of 0: widen "
            "--dt-min/--dt-max or add --points"
        )
    steps = values / float(args.time_step / ms)
    off = np.abs(steps - np.round(steps)) > 1e-6
    if off.any():
        raise ValueError(
            f"--dt-min, --dt-max and --points {args.points} give Δt = {values[off][0]:g} ms, not "
            f"a multiple of --time-step {args.time_step}; choose them so that every Δt is"
        )
    return np.round(values, 9) * ms


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)  # and check_flags
    brian2.seed(args.seed)
    try:  # gradient_window checks its inputs (grid, depolarisation, size) before it simulates
        ds = gradient_window(
            delta_t_values(args),
            depolarization=np.array([float(d / mV) for d in args.depolarization]) * mV,
            w=args.w,
            overshoot=args.overshoot,
            dt=args.time_step,
            bptt=not args.no_bptt,
        )
    except ValueError as err:
        p.error(str(err))
    finish_run(ds, args, summary=summary(ds))
    return ds


def summary(ds):
    """Each condition's comparison with BPTT and its fitted window, a line each."""
    lines = []
    for dep in ds.depolarization.values:
        row = ds.sel(depolarization=dep)
        line = [f"depolarization {dep:g} mV:"]
        if "max_relative_error" in ds:
            line.append(f"traces vs BPTT max rel. error {row.max_relative_error.item():.2g};")
        for side in ds.side.values:
            fit = row.sel(side=side)
            if fit.fit_found.item():
                line.append(
                    f"{side} Δt: A = {fit.fit_amplitude.item():.4g}, "
                    f"τ = {fit.fit_tau.item():.3g} ms (from |Δt| = {fit.fit_start.item():g} ms);"
                )
            else:
                line.append(f"{side} Δt: no Δt dependence;")
        lines.append(" ".join(line))
    return "\n".join(lines)


if __name__ == "__main__":
    run_command(main)
