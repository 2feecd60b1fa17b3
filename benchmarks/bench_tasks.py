"""Benchmark: each task's training throughput, BIM against the BPTT baselines, measured in the same
run.

Each task runs as a user runs it (``python -m bimsim.tasks.TASK --models ... --quick``, one
process per task, its data under ``$BIMSIM_DATA`` or the folder ``--data`` names, every task's
checked before the first trains), and its own dataset gives every
model's training time (wall clock), training samples and epochs (EEG's two input variants
summed). Throughput is training samples
times epochs per second of training; the ratio is BIM's time per training sample over the first
baseline's (how many times longer BIM takes to learn from one sample). ``--full`` runs the tasks'
defaults instead of ``--quick`` (minutes to hours). Writes ``results/bench_tasks.nc``::

    python benchmarks/bench_tasks.py --tasks ecg eeg speech lm --models bim cnn
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import numpy as np
import xarray as xr

from bimsim.cli import (
    ArgumentParser,
    add_out_argument,
    add_seed_argument,
    distinct,
    end_with_parent,
    run_command,
    temporary_folder,
)
from bimsim.io import labelled, provenance, write_dataset
from bimsim.tasks.command import data_folders
from bimsim.tasks.models import MODELS

TASKS = ("ecg", "eeg", "speech", "lm")


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument("--tasks", nargs="+", action=distinct(), choices=TASKS, default=list(TASKS),
                   help=f"tasks to time (default: {' '.join(TASKS)})")  # fmt: skip
    p.add_argument("--models", nargs="+", action=distinct(), choices=list(MODELS),
                   default=["bim", "cnn"],
                   help="models to train, BIM first, then the baselines it is compared with "
                   "(default: bim cnn)")  # fmt: skip
    p.add_argument("--full", action="store_true",
                   help="the tasks' default runs instead of --quick")  # fmt: skip
    p.add_argument("--data", help="the folder that holds every task's data, as $BIMSIM_DATA "
                   "does (default: $BIMSIM_DATA)")  # fmt: skip
    p.add_input("--data", lambda args: data_folders(args.tasks, args.data), name="a task's data")
    add_seed_argument(p)
    add_out_argument(p, "results/bench_tasks.nc")
    return p


def check_arguments(p, args):
    """Refuse, before any work, what the run could not compare."""
    if args.models[0] != "bim" or len(args.models) < 2:
        p.error("argument --models: give bim first and at least one model to compare it with")
    if args.data is None and not os.environ.get("BIMSIM_DATA"):
        p.error("argument --data: no data folder given and $BIMSIM_DATA is not set")
    if args.data is not None and not Path(args.data).is_dir():
        p.error(f"argument --data: {args.data} is not a folder")


def check_task_data(p, tasks):
    """Refuse, before the first task trains, a task whose data folder ``$BIMSIM_DATA`` lacks."""
    for task in tasks:
        try:
            import_module(f"bimsim.tasks.{task}").TASK.data_dir(None)
        except FileNotFoundError as err:
            p.error(f"argument --tasks: {task}: {err}")


def train_task(task, args, folder):
    """Run ``task`` as a process; return each model's training time and samples × epochs (the
    sum over a task's input variants: EEG trains on raw and normalised signals)."""
    out = folder / f"{task}.nc"
    command = [sys.executable, "-m", f"bimsim.tasks.{task}", "--models", *args.models,
               "--seed", str(args.seed), "--no-progress", "--out", str(out)]  # fmt: skip
    command += [] if args.full else ["--quick"]
    print(f"training {task}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=end_with_parent()
    )
    if done.returncode:
        sys.exit(f"bimsim.tasks.{task} failed: {done.stderr.decode().strip()}")
    with xr.open_dataset(out) as ds:
        ds = ds.sel(seed=args.seed).isel(fold=0).sel(model=args.models)
        samples = ds.train_samples * np.isfinite(ds.train_loss).sum("epoch")
        others = [dim for dim in ds.train_time.dims if dim != "model"]  # EEG's input variants
        return ds.train_time.sum(others).values, samples.sum(others).values


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    check_arguments(p, args)
    if args.data is not None:  # what the tasks read, here and in their processes
        os.environ["BIMSIM_DATA"] = str(Path(args.data).resolve())
    check_task_data(p, args.tasks)
    with temporary_folder(prefix="bench_tasks_") as folder:
        runs = [train_task(task, args, folder) for task in args.tasks]
    seconds = np.array([r[0] for r in runs])
    samples = np.array([r[1] for r in runs], dtype=float)
    throughput = samples / seconds
    ratio = (seconds[:, :1] / samples[:, :1]) / (seconds[:, 1:] / samples[:, 1:])
    print(f"{'task':<8}" + "".join(f"{m + ' samples/s':>20}" for m in args.models))
    for t, task in enumerate(args.tasks):
        print(f"{task:<8}" + "".join(f"{value:>20.1f}" for value in throughput[t]))
    for t, task in enumerate(args.tasks):
        for b, baseline in enumerate(args.models[1:]):
            print(f"{task}: BIM's time per sample / {baseline}'s: {ratio[t, b]:.1f}")
    dims = ("task", "model")
    ds = xr.Dataset(
        {
            "train_time": labelled(dims, seconds, "s", "training time (wall clock)"),
            "samples_trained": labelled(dims, samples, "1", "training samples × epochs"),
            "throughput": labelled(dims, throughput, "Hz", "training samples per second"),
            "ratio": labelled(
                ("task", "baseline"), ratio, "1", "BIM's time per training sample / the baseline's"
            ),
        },
        coords={
            "task": labelled("task", args.tasks, "1", "task"),
            "model": labelled("model", args.models, "1", "model"),
            "baseline": labelled("baseline", args.models[1:], "1", "compared model"),
        },
    )
    parameters = {"tasks": " ".join(args.tasks), "models": " ".join(args.models),
                  "full": args.full, "cpus": os.cpu_count()}  # fmt: skip
    ds.attrs.update(provenance(device="runtime", seed=args.seed, parameters=parameters))
    print(f"wrote {write_dataset(ds, args.out)}")


if __name__ == "__main__":
    run_command(main)
