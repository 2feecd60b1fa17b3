"""The benchmark suite: every benchmark in its own process, merged into one Dataset and one
markdown table of its ratios.

Each benchmark writes its own dataset into the runs folder (``--runs``, default beside ``--out``)
and reports its figures as ``ratio`` (every one measured against a peer in the same run), with its
target where it has one. The suite merges them into one Dataset, each benchmark's variables and
dimensions prefixed with its name (``pairing_ratio``, ``stdp_network_size``), and writes beside it
a markdown table (``--out`` with ``.md``): benchmark, what is compared, ratio, target and verdict.
``--quick`` runs every benchmark small (a few minutes in all; timings noisier), for checking the
suite itself; ``--only`` picks benchmarks; ``--keep`` takes the datasets that a suite that
stopped left in the runs folder (those made by the same command line, ``--quick`` or not) and
runs only the others::

    python benchmarks/run_suite.py --out results/benchmarks.nc
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from bimsim.cli import (
    ArgumentParser,
    add_out_argument,
    check_not_input,
    check_output_path,
    distinct,
    end_with_parent,
    kept_runs,
    run_command,
    runs_folder,
)
from bimsim.io import check_dataset, provenance, replace_together
from bimsim.sweep import recorded_command

HERE = Path(__file__).resolve().parent

#: name: (script, its arguments, its arguments under --quick)
BENCHMARKS = {
    "pairing": ("bench_pairing.py", [], ["--repeats", "1"]),
    "stdp_network": (
        "bench_stdp_network.py",
        [],
        ["--sizes", "1000", "--duration", "1s", "--repeats", "1"],
    ),
    "readout_step": ("bench_readout_step.py", [], ["--hidden", "8", "--repeats", "1"]),
    "memory": ("bench_memory.py", [], ["--steps", "1000"]),
    "sweep": ("bench_sweep.py", [], ["--points", "2"]),
    "tasks": ("bench_tasks.py", [], ["--tasks", "ecg"]),
}

TARGET = re.compile(r"(<=|<|>=|>) *([0-9.eE+-]+)")
COMPARE = {
    "<=": np.less_equal,
    "<": np.less,
    ">=": np.greater_equal,
    ">": np.greater,
}


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument("--only", nargs="+", action=distinct("benchmark"), choices=list(BENCHMARKS),
                   help="benchmarks to run (default: all)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="every benchmark small")
    p.add_argument("--keep", action="store_true",
                   help="take a benchmark's dataset already in the runs folder (from a suite that "
                   "stopped or failed) instead of running it again")  # fmt: skip
    p.add_argument("--runs", help="folder for each benchmark's dataset (default: <out>_runs)")
    # each benchmark's dataset is read back from there (a --runs that is a file is refused later)
    p.add_input("--runs", kept_runs)
    add_out_argument(p, "results/benchmarks.nc")
    return p


def missing_needs(names):
    """What the chosen benchmarks need and this machine lacks (one line), or None."""
    if "pairing" in names and importlib.util.find_spec("nest") is None:
        return "the pairing benchmark needs NEST (pip install 'bimsim[nest]'); or pass --only"
    if "tasks" in names and not os.environ.get("BIMSIM_DATA"):
        return "the tasks benchmark reads its data from $BIMSIM_DATA, which is not set"
    return None


def run_benchmark(name, quick, runs, keep=False):
    """Run one benchmark as a process into ``runs``; return its dataset. With ``keep``, a dataset
    already there is taken instead if the same command line (``--quick`` or not) made it."""
    script, arguments, quick_arguments = BENCHMARKS[name]
    out = runs / f"{name}.nc"
    command = [sys.executable, str(HERE / script), *(quick_arguments if quick else arguments)]
    if keep and out.exists():
        try:
            with xr.open_dataset(out, engine="netcdf4") as ds:
                if recorded_command(ds) == (HERE / script, command[2:]):
                    print(f"== {name}: kept {out}", flush=True)
                    return ds.load()
            print(f"== {name}: {out} was made by another command line; running it again")
        except (OSError, RuntimeError, ValueError) as err:  # netCDF4's and xarray's "unreadable"
            reason = " ".join((getattr(err, "strerror", None) or str(err)).split())
            print(f"== {name}: {out} cannot be read ({reason}); running it again")
    print(f"== {name}: {' '.join([script, *command[2:]])}", flush=True)
    done = subprocess.run([*command, "--out", str(out)], preexec_fn=end_with_parent())
    if done.returncode:
        sys.exit(f"run_suite.py: error: {script} failed (exit status {done.returncode})")
    with xr.open_dataset(out, engine="netcdf4") as ds:
        return ds.load()


def prefixed(name, ds):
    """``ds`` with every variable and dimension named ``<name>_<old name>``, and its provenance
    kept as ``<name>_command_line`` and ``<name>_created``."""
    renamed = ds.rename({key: f"{name}_{key}" for key in [*ds.variables, *ds.dims]})
    renamed.attrs = {f"{name}_{key}": ds.attrs[key] for key in ("command_line", "created")}
    return renamed


def verdict(value, target):
    """'meets', 'misses' or '' for a ratio and its target ('<= 1.05', 'none')."""
    match = TARGET.fullmatch(target.strip())
    if match is None:
        return ""
    return "meets" if COMPARE[match[1]](value, float(match[2])) else "misses"


def table_rows(name, ds):
    """One markdown row per element of ``ds.ratio``: what is compared, ratio, target, verdict."""
    ratio = ds["ratio"]
    rows = []
    for index in np.ndindex(ratio.shape):
        element = ratio[index]
        labels = [f"{dim} {element[dim].item()}" for dim in ratio.dims if dim != "comparison"]
        if "comparison" in ratio.dims:
            labels.insert(0, str(element["comparison"].item()))
        what = ", ".join(labels) or ratio.attrs["long_name"]
        if "target" in element.coords:
            target = str(element["target"].item())
        else:
            target = ratio.attrs.get("target", "none")
        value = float(element)
        rows.append(f"| {name} | {what} | {value:.3g} | {target} | {verdict(value, target)} |")
    return rows


def markdown(datasets):
    """The suite's table: one row per ratio, under a line saying what each benchmark's ratio is."""
    lines = ["| benchmark | compared | ratio | target | verdict |", "|---|---|---|---|---|"]
    for name, ds in datasets.items():
        lines += table_rows(name, ds)
    lines.append("")
    lines += [f"- {name}: {ds['ratio'].attrs['long_name']}" for name, ds in datasets.items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if Path(args.out).suffix == ".md":
        p.error(f"argument --out: give the dataset's file, not the table's, got {args.out}")
    try:
        runs = runs_folder(args.runs, args.out)
        table = check_output_path(Path(args.out).with_suffix(".md"))
        check_not_input(table, p.inputs(args), flag="--out's table")
    except ValueError as err:
        p.error(str(err))
    names = args.only or list(BENCHMARKS)
    if missing := missing_needs(names):
        p.error(missing)
    runs.mkdir(parents=True, exist_ok=True)
    datasets = {name: run_benchmark(name, args.quick, runs, args.keep) for name in names}
    merged = xr.merge([prefixed(name, ds) for name, ds in datasets.items()],
                      combine_attrs="no_conflicts")  # fmt: skip
    merged.attrs.update(
        provenance(
            device="see each benchmark",
            seed=None,
            parameters={"benchmarks": " ".join(names), "quick": args.quick, "cpus": os.cpu_count()},
        )
    )
    text = markdown(datasets)
    print(text, end="")
    check_dataset(merged)
    replace_together(
        {
            args.out: lambda temporary: merged.to_netcdf(temporary, engine="netcdf4"),
            table: lambda temporary: temporary.write_text(text),
        }
    )
    print(f"wrote {args.out} and {table}")


if __name__ == "__main__":
    run_command(main)
