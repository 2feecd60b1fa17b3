"""Draw the delayed-recall accuracy against the delay, one line per neuron model.

    python figures/delayed_recall.py --input results/delayed_recall.nc

writes ``results/figures/delayed_recall.png`` and ``.pdf``: one panel per noise rate, the
decoding accuracy (mean ± s.d. over seeds) against the delay on a log axis, chance dashed.
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
        "accuracy": ("neuron", "noise_rate", "delay", "seed"),
        "rate": ("neuron", "noise_rate", "delay", "seed"),
    },
    coords=("neuron", "noise_rate", "delay", "seed"),
)


def draw(ds):
    n = ds.sizes["noise_rate"]
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.6), layout="constrained", squeeze=False)
    delay = ds.delay.values
    for ax, rate in zip(axes[0], ds.noise_rate.values, strict=True):
        for k, neuron in enumerate(ds.neuron.values):
            row = ds.accuracy.sel(neuron=neuron, noise_rate=rate)
            mean, sd = row.mean("seed").values, row.std("seed").values
            ax.plot(delay, mean, "o-", color=f"C{k}", ms=4, label=str(neuron))
            ax.fill_between(delay, mean - sd, mean + sd, color=f"C{k}", alpha=0.2, lw=0)
        ax.axhline(ds.attrs.get("chance", 0.5), color="0.5", ls="--", lw=1, label="chance")
        if (delay > 0).all():
            ax.set_xscale("log")
        ax.set_ylim(0.3, 1.02)
        ax.set_xlabel(f"delay ({ds.delay.attrs['units']})")
        ax.set_ylabel("decoding accuracy")
        ax.set_title(f"noise {rate:g} {ds.noise_rate.attrs['units']} per input")
        ax.legend(frameon=False, fontsize=8)
    return fig


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="delayed_recall",
        figure="delayed_recall",
        protocol="protocols/delayed_recall.py",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
