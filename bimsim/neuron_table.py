"""The table of neuron models on every task: each task's headline score, spikes, synaptic
operations and energy for BIM with each neuron model, over seeds, beside the task's non-neural
floor.

Every cell is one run of a task's own command (``python -m bimsim.tasks.<task> --models bim
--neuron <neuron>``, :func:`task_command`), whose dataset is kept (:func:`run_path`); the floor is
one run per task (``--models floor``). :func:`table_dataset` merges them into one Dataset:

- ``<task>_<score>`` (``neuron``, ``seed``): the task's headline score (the first of its scores:
  ECG and EEG AUC-ROC, speech the digit error rate, LM bits per character), and
  ``<task>_<score>_floor`` (``seed``) the floor's;
- ``accumulates_per_sample``, ``macs_per_sample``, ``energy_per_sample``, ``spike_sparsity``,
  ``train_time`` (``task``, ``neuron``, ``seed``), each task's sample being its own (a beat, an
  EEG window, an utterance, a character).

A task with several folds gives each seed the mean over its folds. :func:`check_run` tells
whether a kept run is the one a table asks for (its neuron, seeds, ``--quick``, epochs and
target rate), so an
interrupted table goes on from the runs it finished, and a run made with other settings is never
taken for one.
"""

import sys

import numpy as np
import xarray as xr

__all__ = [
    "TASKS",
    "check_run",
    "headline_score",
    "run_path",
    "table_dataset",
    "task_command",
]

#: The tasks, in the table's order (``bimsim.tasks.<name>``).
TASKS = ("ecg", "eeg", "speech", "lm")

#: The per-run costs the table keeps, as the runs name them, and what they are in the table
#: (whose tasks' samples differ: ``sample_name`` says what one is).
COSTS = {
    "accumulates_per_sample": "synaptic accumulates per sample of the task (see sample_name)",
    "macs_per_sample": "multiply-accumulates per sample of the task (see sample_name)",
    "energy_per_sample": "energy estimate per sample of the task (see sample_name)",
    "spike_sparsity": "fraction of hidden neuron-steps without a spike",
    "train_time": "training time (wall clock)",
}

FLOOR = "floor"


def run_path(folder, task, neuron):
    """Where the run of ``task`` with ``neuron`` (or :data:`FLOOR`) is kept."""
    return folder / f"{task}_{neuron}.nc"


def task_command(task, neuron, *, seed, seeds, quick, epochs, target_rate, out):
    """The command line of one run: BIM with ``neuron`` on ``task`` (``neuron`` ``"floor"``: the
    task's floor), seeds ``seed`` to ``seed + seeds - 1``, written to ``out``; ``epochs`` and
    ``target_rate`` (Hz, a number) None: the task's own."""
    models = ["--models", FLOOR] if neuron == FLOOR else ["--models", "bim", "--neuron", neuron]
    argv = [sys.executable, "-m", f"bimsim.tasks.{task}", *models]
    argv += ["--seed", str(seed), "--seeds", str(seeds), "--no-progress", "--out", str(out)]
    if quick:
        argv.append("--quick")
    if epochs is not None and neuron != FLOOR:
        argv += ["--epochs", str(epochs)]
    if target_rate is not None and neuron != FLOOR:
        argv += ["--target-rate", repr(float(target_rate))]
    return argv


def check_run(ds, task, neuron, *, seed, seeds, quick, epochs, target_rate):
    """Why the kept run ``ds`` is not the run of ``task`` and ``neuron`` with these settings, or
    None when it is."""
    wanted = {
        "task": task,
        "param_models": str([FLOOR] if neuron == FLOOR else ["bim"]),
        "seed": seed,
        "param_seeds": seeds,
        "param_quick": int(bool(quick)),
    }
    if neuron != FLOOR:
        wanted["param_neuron"] = neuron
        wanted["param_epochs"] = "None" if epochs is None else epochs
        wanted["param_target_rate"] = "None" if target_rate is None else float(target_rate)
    for key, value in wanted.items():
        kept = ds.attrs.get(key)
        if str(kept) != str(value):
            return f"its {key} is {kept}, not {value}"
    return None


def headline_score(ds):
    """The name of a task run's headline score: the first of its scores."""
    return ds.attrs["scores"].split()[0]


def _per_seed(var, model):
    """``var`` of ``model`` per seed: the mean over the run's folds."""
    return var.sel(model=model).mean("fold").values


def _columns(runs, floors, neurons, tasks):
    """The table's columns: each task, or each variant of a task's inputs (EEG's raw and
    normalised windows: ``eeg_raw``, ``eeg_normalised``), with its runs and floor run."""
    for task in tasks:
        first = runs[task, neurons[0]]
        variants = first.variant.values if "variant" in first.dims else [None]
        for variant in variants:

            def pick(ds, variant=variant):
                return ds if variant is None else ds.sel(variant=variant)

            name = task if variant is None else f"{task}_{variant}"
            yield name, {n: pick(runs[task, n]) for n in neurons}, pick(floors[task])


def table_dataset(runs, floors, neurons, tasks):
    """Merge the runs into the table (see the module docstring).

    Parameters
    ----------
    runs : dict
        ``{(task, neuron): Dataset}``, every task with every neuron.
    floors : dict
        ``{task: Dataset}``, each task's floor run.
    neurons, tasks : sequence of str
        The table's order.

    Returns
    -------
    xarray.Dataset
        Its ``task`` coordinate names a task, or a variant of a task's inputs
        (``eeg_normalised``).

    Raises
    ------
    ValueError
        When the runs do not share their seeds.
    """
    seeds = runs[tasks[0], neurons[0]].seed.values
    for key, ds in [*runs.items(), *floors.items()]:
        if not np.array_equal(ds.seed.values, seeds):
            raise ValueError(f"the run {key} has seeds {ds.seed.values}, not {seeds}")
    data, columns, scores, costs = {}, [], [], {name: [] for name in COSTS}
    for column, cells, floor in _columns(runs, floors, neurons, tasks):
        first = cells[neurons[0]]
        score = headline_score(first)
        attrs = first[score].attrs
        long_name = f"{first.attrs['title']}: {attrs['long_name']}"
        if column != first.attrs["task"]:
            long_name = f"{long_name} ({column.removeprefix(first.attrs['task'] + '_')} inputs)"
        values = np.stack([_per_seed(cells[n][score], "bim") for n in neurons])
        name = f"{column}_{score}"
        short = {"units": attrs["units"], "column": attrs.get("column", score)}
        data[name] = (("neuron", "seed"), values, {**short, "long_name": f"{long_name}, BIM"})
        data[f"{name}_floor"] = (
            ("seed",),
            _per_seed(floor[score], FLOOR),
            {**short, "long_name": f"{long_name}, {first.attrs['floor']}"},
        )
        columns.append((column, first.attrs["sample_name"]))
        scores.append(name)
        for cost in COSTS:
            costs[cost].append(np.stack([_per_seed(cells[n][cost], "bim") for n in neurons]))
    for name, long_name in COSTS.items():
        var = runs[tasks[0], neurons[0]][name]
        data[name] = (
            ("task", "neuron", "seed"),
            np.stack(costs[name]),
            {"units": var.attrs["units"], "long_name": long_name},
        )
    coords = {
        "task": (
            "task",
            [c for c, _ in columns],
            {"units": "1", "long_name": "benchmark task (or a variant of its inputs)"},
        ),
        "neuron": ("neuron", list(neurons), {"units": "1", "long_name": "BIM's neuron model"}),
        "seed": ("seed", seeds, {"units": "1", "long_name": "random seed"}),
        "sample_name": (
            "task",
            [sample for _, sample in columns],
            {"units": "1", "long_name": "what one sample of the task is (the costs are per one)"},
        ),
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        {
            "title": "BIM with each neuron model on every task",
            "scores": " ".join(scores),
            "folds": "a seed's value is the mean over the task's folds",
        }
    )
    return ds
