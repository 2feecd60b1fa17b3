"""Draw the table of neuron models on every task.

    python figures/neuron_table.py --input results/neuron_table.nc

writes ``results/figures/neuron_table.png`` and ``.pdf``: per task (columns), the headline score
of BIM with each neuron model (mean ± s.d. over seeds, each seed a dot) with the task's floor
dashed (top), and the energy estimate per sample on a log axis (bottom).
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bimsim.cli import run_command
from bimsim.plotting import Requirements, figure_main


class TableRequirements(Requirements):
    """The fixed parts, and each task's score and floor that the ``scores`` attribute names."""

    def problems(self, ds):
        yield from super().problems(ds)
        scores = ds.attrs.get("scores", "").split()
        if "scores" in ds.attrs and "task" in ds.coords and len(scores) != ds.sizes["task"]:
            yield f"its attribute 'scores' names {len(scores)} scores for {ds.sizes['task']} tasks"
        for name in scores:
            dims = {name: ("neuron", "seed"), f"{name}_floor": ("seed",)}
            yield from Requirements(variables=dims).problems(ds)


REQUIRES = TableRequirements(
    variables={"energy_per_sample": ("task", "neuron", "seed")},
    coords=("task", "neuron", "seed", "sample_name"),
    attrs=("scores",),
)


def draw(ds):
    tasks, neurons = ds.task.values, ds.neuron.values
    scores = ds.attrs["scores"].split()
    n = len(tasks)
    fig, axes = plt.subplots(2, n, figsize=(3.2 * n, 5.6), layout="constrained", squeeze=False)
    x = np.arange(len(neurons))
    for column, (task, score) in enumerate(zip(tasks, scores, strict=True)):
        top, bottom = axes[0, column], axes[1, column]
        var = ds[score]
        for k, neuron in enumerate(neurons):
            values = var.sel(neuron=neuron).values
            top.bar(k, values.mean(), yerr=values.std(ddof=1) if len(values) > 1 else None,
                    color=f"C{k}", alpha=0.6, capsize=3)  # fmt: skip
            top.plot(np.full(len(values), k), values, "k.", ms=4)
            energy = ds.energy_per_sample.sel(task=task, neuron=neuron).values / 1e3
            bottom.bar(k, energy.mean(), color=f"C{k}", alpha=0.6)
        floor = ds[f"{score}_floor"].values.mean()
        top.axhline(floor, color="0.3", ls="--", lw=1, label="floor")
        top.set_title(str(task))
        name = var.attrs.get("column", score)
        top.set_ylabel(f"{name} ({var.attrs['units']})" if var.attrs["units"] != "1" else name)
        top.legend(frameon=False, fontsize=8)
        bottom.set_yscale("log")
        bottom.set_ylabel(f"energy (nJ per {ds.sample_name.sel(task=task).item()})")
        for ax in (top, bottom):
            ax.set_xticks(x, [str(n) for n in neurons], rotation=30, ha="right")
    return fig


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="neuron_table",
        figure="neuron_table",
        protocol="protocols/neuron_table.py",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
