"""The table of neuron models on every task: BIM with each neuron model on ECG, EEG, speech and
LM, over seeds, beside each task's non-neural floor. Example::

    python protocols/neuron_table.py --quick --seeds 3

Each cell is one run of the task's own command (``python -m bimsim.tasks.<task> --models bim
--neuron <neuron>``), kept in ``--runs`` (default: ``<out>_runs/``); a run already kept with the
same settings is not run again, so a table stopped midway goes on where it stopped. The table
(``results/neuron_table.nc``) is written once every run is there; ``figures/neuron_table.py``
draws it. See :mod:`bimsim.neuron_table`.
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import shlex
import subprocess

from tqdm.auto import tqdm

from bimsim.cli import (
    MAX_SEED,
    ArgumentParser,
    add_run_arguments,
    finish_run,
    integer,
    kept_runs,
    real,
    run_command,
    runs_folder,
    tied_to_this_process,
)
from bimsim.io import read_dataset
from bimsim.neuron_table import FLOOR, TASKS, check_run, run_path, table_dataset, task_command
from bimsim.neurons import NEURONS
from bimsim.tasks.command import data_folders
from bimsim.tasks.config import MAX_EPOCHS
from bimsim.tasks.runner import mean_sd

#: Most seeds of one table.
MAX_SEEDS = 20


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS),
                   help="tasks, in the table's order (default: all)")  # fmt: skip
    p.add_argument("--neurons", nargs="+", choices=tuple(NEURONS), default=list(NEURONS),
                   help="neuron models, in the table's order (default: all)")  # fmt: skip
    p.add_argument("--seeds", type=integer(1, MAX_SEEDS), default=3,
                   help="seeds --seed, --seed + 1, ... (default 3)")  # fmt: skip
    p.add_argument("--quick", action="store_true",
                   help="every run with the task's --quick (a smoke-sized budget)")  # fmt: skip
    p.add_argument("--epochs", type=integer(1, MAX_EPOCHS),
                   help="BIM's training epochs (default: each task's own)")  # fmt: skip
    p.add_argument("--target-rate", type=real(minimum=0), metavar="HZ",
                   help="scale every neuron's input weights to this layer rate before training "
                   "(0: no scaling; default: each task's own)")  # fmt: skip
    p.add_argument("--runs", help="folder of the runs (default: the --out path with _runs)")
    # the runs kept there are read back (a --runs that is a file is refused later)
    p.add_input("--runs", kept_runs)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_input("--tasks", lambda args: data_folders(args.tasks), name="a task's data")
    add_run_arguments(p, out="results/neuron_table.nc", devices=("runtime",))
    p.add_check(check_flags)
    return p


def check_flags(args):
    """Refuse, after parsing: a task or neuron given twice, seeds beyond the largest."""
    for name in ("tasks", "neurons"):
        values = getattr(args, name)
        if len(set(values)) < len(values):
            raise ValueError(f"--{name}: a value is given twice")
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise ValueError(
            f"--seed + --seeds - 1 must be at most {MAX_SEED}, got {args.seed + args.seeds - 1}"
        )


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)  # and check_flags
    try:
        folder = runs_folder(args.runs, args.out, p.inputs(args))  # not in a task's data
    except ValueError as err:
        p.error(str(err))
    args.runs = str(folder)  # recorded as used
    settings = {"seed": args.seed, "seeds": args.seeds, "quick": args.quick,
                "epochs": args.epochs, "target_rate": args.target_rate}  # fmt: skip
    cells = [(t, n) for t in args.tasks for n in [*args.neurons, FLOOR]]
    # a kept run with other settings is an error before any work, not something to overwrite
    kept = {}
    for task, neuron in cells:
        path = run_path(folder, task, neuron)
        if path.exists():
            try:
                ds = read_dataset(path)
            except (OSError, ValueError) as err:
                p.error(f"{path} cannot be read ({err}): remove it")
            problem = check_run(ds, task, neuron, **settings)
            if problem:
                p.error(f"{path} was made with other settings ({problem}): remove it, or give "
                        "another --runs folder")  # fmt: skip
            kept[task, neuron] = ds
    todo = [cell for cell in cells if cell not in kept]
    print(f"{len(cells) - len(todo)} of {len(cells)} runs kept in {folder}; {len(todo)} to run",
          flush=True)  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for task, neuron in tqdm(todo, desc="neuron table", disable=args.no_progress):
        path = run_path(folder, task, neuron)
        command = task_command(task, neuron, out=path, **settings)
        done = subprocess.run(tied_to_this_process(command), capture_output=True, text=True)
        if done.returncode != 0:
            log = path.with_suffix(".log")
            log.write_text(f"$ {shlex.join(command)}\n{done.stdout}\n{done.stderr}")
            raise SystemExit(
                f"the {task} run of {neuron} failed (exit {done.returncode}); its output is in "
                f"{log}, the finished runs are kept in {folder}.\n$ {shlex.join(command)}\n"
                f"{done.stderr[-3000:]}"
            )
        kept[task, neuron] = read_dataset(path)
    runs = {(t, n): kept[t, n] for t in args.tasks for n in args.neurons}
    floors = {t: kept[t, FLOOR] for t in args.tasks}
    ds = table_dataset(runs, floors, args.neurons, args.tasks)
    finish_run(ds, args, summary=table_text(ds))
    return ds


def table_text(ds):
    """Mean ± s.d. over seeds: each task's headline score per neuron, its energy and spikes,
    and the floor."""
    lines = []
    for task, score in zip(ds.task.values, ds.attrs["scores"].split(), strict=True):
        var = ds[score]
        sample = ds.sample_name.sel(task=task).item()
        lines.append(f"{task}: {var.attrs['long_name']} ({var.attrs['units']})")
        for neuron in ds.neuron.values:
            energy = ds.energy_per_sample.sel(task=task, neuron=neuron) / 1e3
            spiking = 1 - ds.spike_sparsity.sel(task=task, neuron=neuron)
            lines.append(f"  {neuron:<11} {mean_sd(var.sel(neuron=neuron)):>15}   energy "
                         f"{mean_sd(energy, 1):>15} nJ/{sample}   spikes in "
                         f"{mean_sd(spiking)} of neuron-steps")  # fmt: skip
        lines.append(f"  {'floor':<11} {mean_sd(ds[f'{score}_floor']):>15}")
    return "\n".join(lines)


if __name__ == "__main__":
    run_command(main)
