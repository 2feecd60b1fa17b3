"""Draw STDP against pairing frequency from a saved dataset, with the measured points.

    python figures/stdp_frequency.py --input results/stdp_frequency.nc \
        --out results/figures/stdp_frequency

writes ``stdp_frequency.png`` and ``stdp_frequency.pdf``: one panel per Δt, each rule as a line,
Sjöström et al. (2001) as points with s.e.m. error bars.
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bimsim.cli import run_command
from bimsim.plotting import Requirements, figure_main

REQUIRES = Requirements(
    variables={
        "dw": ("rule", "frequency", "delta_t"),
        "weighted_error": ("rule",),
        "data_mean": ("frequency", "delta_t"),
        "data_sem": ("frequency", "delta_t"),
    },
    coords=("rule", "frequency", "delta_t"),
    attrs=("n_pairs",),
)

STYLES = {
    "pair-all": "C0--",
    "pair-nearest": "C0:",
    "triplet-all": "C3-",
    "triplet-nearest": "C3-.",
}


def draw(ds):
    n = ds.sizes["delta_t"]  # one panel per Δt: Sjöström et al. (2001) measured +10 and -10 ms
    fig, (axes,) = plt.subplots(
        1, n, figsize=(4.5 * n, 3.8), sharey=True, layout="constrained", squeeze=False
    )
    f_units = ds.frequency.attrs["units"]
    for ax, delta_t in zip(axes, sorted(ds.delta_t.values, reverse=True), strict=True):
        ax.axhline(0, color="0.7", lw=0.8)
        for rule in ds.rule.values:
            error = ds.weighted_error.sel(rule=rule).item()
            ax.plot(
                ds.frequency,
                ds.dw.sel(rule=rule, delta_t=delta_t),
                STYLES.get(str(rule), "-"),
                marker=".",
                label=f"{rule} (error {error:.2g})",
            )
        ax.errorbar(
            ds.frequency,
            ds.data_mean.sel(delta_t=delta_t),
            yerr=ds.data_sem.sel(delta_t=delta_t),
            fmt="ko",
            capsize=3,
            label="Sjöström et al. 2001",
        )
        ax.set_title(f"Δt = {delta_t:+g} {ds.delta_t.attrs['units']}")
        ax.set_xlabel(f"pairing frequency ({f_units})")
    axes[0].set_ylabel(
        f"weight change after {ds.attrs['n_pairs']} pairings ({ds.dw.attrs['units']})"
    )
    axes[-1].legend(frameon=False, fontsize=8)
    return fig


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="stdp_frequency",
        figure="stdp_frequency",
        protocol="protocols/stdp_frequency.py",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
