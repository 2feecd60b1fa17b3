"""Draw the gradient window beside the STDP window, one panel per baseline depolarisation.

    python figures/gradient_window.py --input results/gradient_window.nc

writes ``results/figures/gradient_window.png`` and ``.pdf``. Lines: the pairing-induced update
-dℓ/dw from the eligibility traces; dots: the same from BPTT; dashed: the exponential fits; grey,
on the right-hand axis: the STDP window W(Δt).
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bimsim.cli import run_command
from bimsim.plotting import Requirements, figure_main

REQUIRES = Requirements(
    variables={
        "pairing_update": ("depolarization", "delta_t"),
        "stdp_window": ("delta_t",),
        "fit_found": ("depolarization", "side"),
        "fit_start": ("depolarization", "side"),
        "fit_amplitude": ("depolarization", "side"),
        "fit_tau": ("depolarization", "side"),
    },
    coords=("depolarization", "delta_t"),
    labels={"side": ("positive", "negative")},
)


def draw(ds):
    n = ds.sizes["depolarization"]
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.8), layout="constrained", squeeze=False)
    delta_t = ds.delta_t.values
    for ax, dep in zip(axes[0], ds.depolarization.values, strict=True):
        row = ds.sel(depolarization=dep)
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.plot(delta_t, row.pairing_update, "C0", label="eligibility traces (online)")
        if "gradient_bptt" in ds:
            bptt = -(row.gradient_bptt - row.unpaired_gradient_bptt)
            ax.plot(delta_t, bptt, "o", ms=3, mfc="none", color="C1", label="BPTT (torch)")
        for side, sign in (("positive", 1), ("negative", -1)):
            fit = row.sel(side=side)
            if not fit.fit_found.item():
                continue
            x = np.linspace(fit.fit_start.item(), np.abs(delta_t).max(), 100)
            ax.plot(
                sign * x,
                fit.fit_amplitude.item() * np.exp(-x / fit.fit_tau.item()),
                "--",
                color="C3",
                label=f"fit τ = {fit.fit_tau.item():.3g} ms ({side} Δt)",
            )
        ax.set_xlabel(f"Δt = t_post − t_pre ({ds.delta_t.attrs['units']})")
        ax.set_ylabel("pairing-induced −dℓ/dw (per unit w)")
        ax.set_title(f"baseline depolarisation {dep:g} {ds.depolarization.attrs['units']}")
        right = ax.twinx()
        right.plot(delta_t, ds.stdp_window, color="0.6", lw=1.2)
        right.set_ylabel("STDP window W(Δt) (grey)", color="0.5")
        # one zero line for both axes: the right axis is the left one rescaled, showing both
        update, window = row.pairing_update.values, ds.stdp_window.values
        scale = np.abs(window).max() / np.abs(update).max()
        low = min(update.min(), window.min() / scale, 0)
        high = max(update.max(), window.max() / scale, 0)
        pad = 0.05 * (high - low)
        ax.set_ylim(low - pad, high + pad)
        right.set_ylim((low - pad) * scale, (high + pad) * scale)
        ax.legend(frameon=False, fontsize=7, loc="best")
    return fig


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="gradient_window",
        figure="gradient_window",
        protocol="protocols/gradient_window.py",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
