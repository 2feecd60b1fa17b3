"""Draw the STDP window from a saved pairing dataset: the simulated points and the fitted window.

    python figures/stdp_curve.py --input results/stdp_pairing.nc --out results/figures/stdp_curve

writes ``stdp_curve.png`` and ``stdp_curve.pdf``.
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
        "dw_per_pair": ("delta_t",),
        "fit_a_plus": (),
        "fit_tau_plus": (),
        "fit_a_minus": (),
        "fit_tau_minus": (),
    },
    coords=("delta_t",),
    attrs=("rule", "n_pairs", "frequency", "device"),
)


def label(var):
    return f"{var.attrs['long_name']} ({var.attrs['units']})"


def draw(ds):
    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    delta_t = ds.delta_t.values
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.plot(delta_t, ds.dw_per_pair, "o", ms=4, color="k", label=f"bimsim ({ds.attrs['rule']})")
    after = np.linspace(0, delta_t.max(), 200)
    before = np.linspace(delta_t.min(), 0, 200)[:-1]
    fit = (
        f"fit: A+ = {ds.fit_a_plus.item():.3g}, τ+ = {ds.fit_tau_plus.item():.3g} ms\n"
        f"     A- = {ds.fit_a_minus.item():.3g}, τ- = {ds.fit_tau_minus.item():.3g} ms"
    )
    ax.plot(after, ds.fit_a_plus.item() * np.exp(-after / ds.fit_tau_plus.item()), "C3", label=fit)
    ax.plot(before, -ds.fit_a_minus.item() * np.exp(before / ds.fit_tau_minus.item()), "C3")
    ax.set_xlabel(f"Δt = t_post − t_pre ({ds.delta_t.attrs['units']})")
    ax.set_ylabel(label(ds.dw_per_pair))
    ax.set_title(
        f"{ds.attrs['n_pairs']} pairings at {ds.attrs['frequency']}, device {ds.attrs['device']}"
    )
    ax.legend(frameon=False, fontsize=8)
    return fig


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="stdp_pairing",
        figure="stdp_curve",
        protocol="protocols/stdp_pairing.py",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
