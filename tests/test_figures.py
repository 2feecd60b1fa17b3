"""The figure scripts as users run them: bad datasets and paths refused, PNG and PDF or neither.

Datasets here are small synthetic ones holding what each figure draws; no simulation runs.
"""

import importlib.util
import os
import signal
from pathlib import Path

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from bimsim.cli import run_command
from bimsim.io import write_dataset

ROOT = Path(__file__).resolve().parents[1]

#: A figure from an earlier run, which a refused or failed run must leave byte for byte as it was.
OLD = {".png": b"old png", ".pdf": b"old pdf"}


def var(dims, values, units="1", long_name="synthetic"):
    return (dims, values, {"units": units, "long_name": long_name})


def stdp_pairing():
    delta_t = np.array([-40.0, -20.0, -10.0, 10.0, 20.0, 40.0])
    dw = np.where(delta_t > 0, 0.01 * np.exp(-delta_t / 16.8), -0.005 * np.exp(delta_t / 33.7))
    fit = {"a_plus": 0.01, "tau_plus": 16.8, "a_minus": 0.005, "tau_minus": 33.7}
    return xr.Dataset(
        {
            "dw": var("delta_t", 60 * dw),
            "dw_per_pair": var("delta_t", dw),
            **{f"fit_{key}": var((), value) for key, value in fit.items()},
        },
        coords={"delta_t": var("delta_t", delta_t, "ms")},
        attrs={"rule": "pair-all", "n_pairs": 60, "frequency": "1 Hz", "device": "runtime"},
    )


def stdp_frequency():
    rng = np.random.default_rng(0)
    shape = (5, 2)
    return xr.Dataset(
        {
            "dw": var(("rule", "frequency", "delta_t"), rng.normal(size=(2, *shape))),
            "weighted_error": var("rule", [1.5, 0.4]),
            "data_mean": var(("frequency", "delta_t"), rng.normal(size=shape)),
            "data_sem": var(("frequency", "delta_t"), rng.uniform(0.05, 0.2, size=shape)),
        },
        coords={
            "rule": var("rule", ["pair-all", "triplet-all"]),
            "frequency": var("frequency", [0.1, 10.0, 20.0, 40.0, 50.0], "Hz"),
            "delta_t": var("delta_t", [-10.0, 10.0], "ms"),
        },
        attrs={"n_pairs": 60},
    )


def gradient_window():
    delta_t = np.linspace(-30.0, 30.0, 13)
    update = np.sign(delta_t) * np.exp(-np.abs(delta_t) / 15.0)
    fit = np.ones((2, 2))
    return xr.Dataset(
        {
            "pairing_update": var(("depolarization", "delta_t"), [update, 2 * update]),
            "stdp_window": var("delta_t", 0.01 * update),
            "fit_found": var(("depolarization", "side"), np.array([[1, 1], [1, 0]], np.int8)),
            "fit_start": var(("depolarization", "side"), 5 * fit, "ms"),
            "fit_amplitude": var(("depolarization", "side"), fit),
            "fit_tau": var(("depolarization", "side"), 15 * fit, "ms"),
        },
        coords={
            "depolarization": var("depolarization", [0.0, 5.0], "mV"),
            "delta_t": var("delta_t", delta_t, "ms"),
            "side": var("side", ["positive", "negative"]),
        },
    )


def ecg(classes=("N", "S", "V")):
    rng = np.random.default_rng(1)
    labels = np.array([classes[k % len(classes)] for k in [0, 1, 2, 0] * 5], dtype=object)
    return xr.Dataset(
        {
            "probability": var(("seed", "model", "sample", "class"),
                               rng.dirichlet([1] * len(classes), (1, 2, 20))),
            "label": var("sample", labels),
            "auc_roc": var(("seed", "fold", "model"), [[[0.9, 0.8]]]),
            "auc_pr": var(("seed", "fold", "model"), [[[0.85, 0.7]]]),
        },
        coords={
            "seed": var("seed", [0]),
            "fold": var("fold", ["DS2"]),
            "model": var("model", ["bim", "mlp"]),
            "class": var("class", list(classes)),
            "sample": var("sample", np.arange(len(labels))),
        },
        attrs={"title": "synthetic", "split": "DS1 / DS2"},
    )  # fmt: skip


def speech():
    return ecg(classes=tuple("0123456789"))


def lm():
    rng = np.random.default_rng(2)
    return xr.Dataset(
        {
            "bits": var(("seed", "model", "sample"), rng.uniform(1, 4, (1, 2, 30)), "bit"),
            "bpc": var(("seed", "fold", "model"), [[[2.5, 2.1]]], "bit"),
        },
        coords={
            "seed": var("seed", [0]),
            "fold": var("fold", ["test"]),
            "model": var("model", ["bim", "floor"]),
            "class": var("class", list("abcdefgh")),
            "sample": var("sample", np.arange(30)),
        },
        attrs={"title": "synthetic", "split": "train on valid, test on test"},
    )


def eeg():
    ds = ecg(classes=("non-seizure", "seizure"))
    shared = ds[["label"]]
    per_variant = ds.drop_vars("label").expand_dims(variant=["raw", "normalised"])
    return xr.merge([per_variant, shared], combine_attrs="override").assign_coords(
        variant=var("variant", ["raw", "normalised"])
    )


def delayed_recall():
    rng = np.random.default_rng(0)
    shape = (2, 2, 3, 2)
    dims = ("neuron", "noise_rate", "delay", "seed")
    return xr.Dataset(
        {
            "accuracy": var(dims, rng.uniform(0.5, 1, shape)),
            "rate": var(dims, rng.uniform(10, 40, shape), "Hz"),
        },
        coords={
            "neuron": var("neuron", ["lif", "tc_lif"]),
            "noise_rate": var("noise_rate", [0.1, 2.0], "Hz"),
            "delay": var("delay", [10.0, 100.0, 1000.0], "ms"),
            "seed": var("seed", [0, 1]),
        },
        attrs={"chance": 0.5},
    )


def neuron_table():
    rng = np.random.default_rng(0)
    tasks, neurons = ["ecg", "lm"], ["lif", "elm"]
    return xr.Dataset(
        {
            "ecg_auc_roc": var(("neuron", "seed"), rng.uniform(0.5, 1, (2, 3))),
            "ecg_auc_roc_floor": var("seed", rng.uniform(0.5, 1, 3)),
            "lm_bpc": var(("neuron", "seed"), rng.uniform(2, 4, (2, 3)), "bit"),
            "lm_bpc_floor": var("seed", rng.uniform(2, 4, 3), "bit"),
            "energy_per_sample": var(
                ("task", "neuron", "seed"), rng.uniform(1e3, 1e5, (2, 2, 3)), "pJ"
            ),
        },
        coords={
            "task": var("task", tasks),
            "neuron": var("neuron", neurons),
            "seed": var("seed", [0, 1, 2]),
            "sample_name": var("task", ["beat", "character"]),
        },
        attrs={"scores": "ecg_auc_roc lm_bpc"},
    )


def sweep():
    import json

    rng = np.random.default_rng(0)
    dims = ("lam", "prune_target", "seed", "fold", "model")
    error = np.full((3, 2), "", dtype=object)
    error[2, 1] = "exit 2: a failed point"
    auc = rng.uniform(0.5, 1, (3, 2, 2, 1, 1))
    auc[2, 1] = np.nan
    return xr.Dataset(
        {
            "auc_roc": (dims, auc, {"units": "1", "long_name": "AUC-ROC", "nan_means": "failed"}),
            "energy_per_sample": (dims, rng.uniform(1e5, 1e6, (3, 2, 2, 1, 1)),
                                  {"units": "pJ", "long_name": "energy", "nan_means": "failed"}),
            "error": var(("lam", "prune_target"), error.astype(str)),
        },
        coords={
            "lam": var("lam", [0.0, 0.5, 1.0]),
            "prune_target": var("prune_target", [0.0, 0.5]),
            "seed": var("seed", [0, 1]),
            "fold": var("fold", ["DS2"]),
            "model": var("model", ["bim"]),
        },
        attrs={"scores": "auc_roc auc_pr", "sweep_command": "bimsim.tasks.ecg",
               "sweep_grid": json.dumps({"lam": [0.0, 0.5, 1.0], "prune-target": [0.0, 0.5]})},
    )  # fmt: skip


#: Each figure: its script and a valid dataset for it.
FIGURES = {
    "stdp_curve": ("figures/stdp_curve.py", stdp_pairing),
    "stdp_frequency": ("figures/stdp_frequency.py", stdp_frequency),
    "gradient_window": ("figures/gradient_window.py", gradient_window),
    "ecg_roc": ("figures/ecg_roc.py", ecg),
    "eeg_roc": ("figures/eeg_roc.py", eeg),
    "speech_confusion": ("figures/speech_confusion.py", speech),
    "lm_bits": ("figures/lm_bits.py", lm),
    "delayed_recall": ("figures/delayed_recall.py", delayed_recall),
    "neuron_table": ("figures/neuron_table.py", neuron_table),
    "sweep_heatmap": ("figures/sweep_heatmap.py", sweep),
}


# What each bad-input row puts in the test's folder before the script runs.


def nothing(folder):
    pass


def dataset(make, edit=lambda ds: ds, name="data.nc"):
    def prepare(folder):
        write_dataset(edit(make()), folder / name)

    return prepare


def without_attr(key):
    def edit(ds):
        del ds.attrs[key]
        return ds

    return edit


def without_variable(name):
    return lambda ds: ds.drop_vars(name)


def empty_file(folder):
    (folder / "data.nc").touch()


def text_file(folder):
    (folder / "data.nc").write_text("delta_t,dw\n10,0.1\n")


def truncated(make):
    def prepare(folder):
        path = write_dataset(make(), folder / "data.nc")
        content = path.read_bytes()
        path.write_bytes(content[: len(content) // 2])

    return prepare


def without_units(folder):
    ds = stdp_pairing()
    del ds.delta_t.attrs["units"]
    ds.to_netcdf(folder / "data.nc", engine="netcdf4")  # write_dataset would refuse it


def folders(*names):
    def prepare(folder):
        for name in names:
            (folder / name).mkdir()

    return prepare


def regular_file(name):
    def prepare(folder):
        (folder / name).write_text("not a folder\n")

    return prepare


def both(*prepares):
    def prepare(folder):
        for step in prepares:
            step(folder)

    return prepare


READ = "cannot be read as a netCDF dataset"


def bad(name, figure, prepare, expected, *, input_path="data.nc", out="fig"):
    """A row of the table: ``figure`` run on the files ``prepare`` makes must say ``expected``."""
    return pytest.param(figure, prepare, input_path, out, expected, id=f"{figure}-{name}")


BAD = [
    bad("missing", "stdp_curve", nothing, "no dataset at missing.nc: run protocols/stdp_pairing.py"
        " first", input_path="missing.nc"),
    bad("missing", "ecg_roc", nothing, "missing.nc: run python -m bimsim.tasks.ecg first",
        input_path="missing.nc"),
    bad("empty", "stdp_curve", empty_file, f"data.nc {READ} (NetCDF: Unknown file format)"),
    bad("truncated", "stdp_frequency", truncated(stdp_frequency), f"data.nc {READ} (NetCDF: HDF"),
    bad("truncated", "gradient_window", truncated(gradient_window), f"data.nc {READ} (NetCDF"),
    bad("text", "stdp_curve", text_file, f"data.nc {READ}"),
    bad("folder", "gradient_window", folders("data.nc"), "data.nc is a folder, not a dataset"),
    bad("other-kind", "stdp_curve", dataset(stdp_frequency),
        "data.nc is not a stdp_pairing dataset: it has no variable 'dw_per_pair' (written by "
        "protocols/stdp_pairing.py)"),
    bad("other-kind", "stdp_frequency", dataset(stdp_pairing),
        "data.nc is not a stdp_frequency dataset: its variable 'dw' is over (delta_t), not over "
        "(rule, frequency, delta_t)"),
    bad("other-kind", "gradient_window", dataset(ecg),
        "data.nc is not a gradient_window dataset: it has no variable 'pairing_update'"),
    bad("other-kind", "ecg_roc", dataset(gradient_window),
        "data.nc is not an ecg dataset: it has no variable 'probability' (written by python -m "
        "bimsim.tasks.ecg)"),
    bad("no-attribute", "stdp_curve", dataset(stdp_pairing, without_attr("device")),
        "data.nc is not a stdp_pairing dataset: it has no attribute 'device'"),
    bad("no-attribute", "stdp_frequency", dataset(stdp_frequency, without_attr("n_pairs")),
        "it has no attribute 'n_pairs'"),
    bad("no-attribute", "ecg_roc", dataset(ecg, without_attr("split")),
        "it has no attribute 'split'"),
    bad("no-variable", "gradient_window", dataset(gradient_window, without_variable("fit_tau")),
        "it has no variable 'fit_tau'"),
    bad("wrong-dimensions", "stdp_frequency",
        dataset(stdp_frequency, lambda ds: ds.assign(weighted_error=var("delta_t", [1.0, 2.0]))),
        "its variable 'weighted_error' is over (delta_t), not over (rule)"),
    bad("empty-dimension", "ecg_roc", dataset(ecg, lambda ds: ds.isel(sample=slice(0, 0))),
        "its dimension 'sample' is empty"),
    bad("no-label", "gradient_window",
        dataset(gradient_window, lambda ds: ds.assign_coords(side=var("side", ["+", "-"]))),
        "its coordinate 'side' has no label 'positive'"),
    bad("no-units", "stdp_curve", without_units, "its coordinate 'delta_t' has no 'units'"),
    bad("out-folder", "stdp_curve", both(dataset(stdp_pairing), folders("figs")),
        "--out: figs is a folder", out="figs"),
    bad("out-png-folder", "gradient_window",
        both(dataset(gradient_window), folders("plot.png"), regular_file("plot.pdf")),
        "--out: plot.png is a folder", out="plot"),
    bad("out-under-file", "stdp_frequency", both(dataset(stdp_frequency), regular_file("notes")),
        "--out: notes/fig cannot be written: notes is a file, not a folder", out="notes/fig"),
    bad("out-suffix", "stdp_curve", dataset(stdp_pairing),
        "--out: fig.pdf ends in .pdf; give the path without suffix (fig)", out="fig.pdf"),
    bad("out-empty", "gradient_window", dataset(gradient_window),
        "--out: the output path is empty", out=""),
    bad("one-option", "sweep_heatmap",
        dataset(sweep, lambda ds: ds.assign_attrs(sweep_grid='{"lam": [0.0, 0.5, 1.0]}')),
        "data.nc is not a sweep dataset: it sweeps 1 option(s) (lam), not two"),
    bad("no-sweep", "sweep_heatmap", dataset(ecg),
        "data.nc is not a sweep dataset: it has no attribute 'sweep_grid'"),
    bad("no-score", "sweep_heatmap", dataset(sweep, without_variable("auc_roc")),
        "data.nc is not a sweep dataset: it has no variable 'auc_roc'"),
    # --out is checked before the dataset is even looked for
    bad("out-first", "stdp_curve", nothing, "--out: the output path is empty",
        input_path="missing.nc", out=""),
]  # fmt: skip


def write_old_figure(folder):
    for suffix, content in OLD.items():
        (folder / f"fig{suffix}").write_bytes(content)
    return {folder / f"fig{suffix}": content for suffix, content in OLD.items()}


def figure_files(folder):
    """Every PNG and PDF under ``folder``, with its content."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.suffix in OLD and p.is_file()}


def leftovers(folder):
    """Temporary files left under ``folder``."""
    return sorted(p.name for p in folder.rglob("*.tmp"))


@pytest.mark.parametrize(("figure", "prepare", "input_path", "out", "expected"), BAD)
def test_bad_input_is_refused_in_one_line(
    run_script, tmp_path, figure, prepare, input_path, out, expected
):
    write_old_figure(tmp_path)
    prepare(tmp_path)
    before = figure_files(tmp_path)
    result = run_script(FIGURES[figure][0], "--input", input_path, "--out", out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    assert expected in lines[0]
    assert figure_files(tmp_path) == before  # nothing new, nothing changed
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("figure", FIGURES)
def test_valid_dataset_gives_png_and_pdf(run_script, tmp_path, figure):
    script, make = FIGURES[figure]
    write_dataset(make(), tmp_path / "data.nc")
    (tmp_path / "out").mkdir()
    write_old_figure(tmp_path / "out")
    result = run_script(script, "--input", "data.nc", "--out", "out/fig")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wrote", "out/fig.png", "wrote", "out/fig.pdf"]
    assert (tmp_path / "out" / "fig.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "out" / "fig.pdf").read_bytes().startswith(b"%PDF")
    assert leftovers(tmp_path) == []


def load_script(figure):
    """Import a figure script as a module, to call its functions in this process."""
    spec = importlib.util.spec_from_file_location(f"figure_{figure}", ROOT / FIGURES[figure][0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parts(ds):
    """``ds`` without each of its variables, attributes and variables' attributes in turn."""
    for name in ds.variables:
        yield ds.drop_vars(name)
        for key in ds[name].attrs:
            smaller = ds.copy(deep=True)
            del smaller[name].attrs[key]
            yield smaller
    for key in ds.attrs:
        smaller = ds.copy(deep=True)
        del smaller.attrs[key]
        yield smaller


@pytest.mark.parametrize("figure", FIGURES)
def test_requirements_name_all_that_draw_reads(figure):
    """A dataset that passes the figure's check can be drawn, whatever part of it is missing."""
    module = load_script(figure)
    for smaller in parts(FIGURES[figure][1]()):
        if next(module.REQUIRES.problems(smaller), None) is None:
            plt.close(module.draw(smaller))


@pytest.fixture
def failing_pdf(monkeypatch):
    """Arm ``Figure.savefig`` to raise an error for PDF; the paths it saved to are returned."""
    saved = []
    original = matplotlib.figure.Figure.savefig

    def arm(error):
        def savefig(self, fname, *args, **kwargs):
            if kwargs.get("format") == "pdf":
                raise error
            saved.append(Path(fname))
            return original(self, fname, *args, **kwargs)

        monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
        return saved

    return arm


@pytest.fixture
def figure_folder(tmp_path, monkeypatch):
    """The working folder, holding an stdp_pairing dataset and an earlier figure."""
    write_dataset(stdp_pairing(), tmp_path / "data.nc")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_failed_pdf_leaves_earlier_figure(figure_folder, failing_pdf):
    old = write_old_figure(figure_folder)
    saved = failing_pdf(OSError(28, "No space left on device"))
    with pytest.raises(OSError, match=r"no space left on the disk of .*fig.pdf was not written"):
        load_script("stdp_curve").main(["--input", "data.nc", "--out", "fig"])
    assert [p.name for p in saved] == [f".fig.png.{os.getpid()}.tmp"]  # the PNG was saved ...
    assert figure_files(figure_folder) == old  # ... but not renamed into place
    assert leftovers(figure_folder) == []


def test_interrupt_exits_130_in_one_line(figure_folder, failing_pdf, capsys):
    old = write_old_figure(figure_folder)
    failing_pdf(KeyboardInterrupt())
    main = load_script("stdp_curve").main
    sigterm = signal.getsignal(signal.SIGTERM)  # run_command installs its own handler
    try:
        with pytest.raises(SystemExit) as stop:
            run_command(main, ["--input", "data.nc", "--out", "fig"])
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    assert stop.value.code == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted; no result was written" in err
    assert figure_files(figure_folder) == old
    assert leftovers(figure_folder) == []


def test_the_heatmap_refuses_a_model_its_runs_do_not_have(run_script, tmp_path):
    """``--model`` picks a model where the runs hold several; where they hold none it would act
    on nothing, and where they lack it there is nothing to draw: both refused in one line."""
    write_dataset(sweep().isel(model=0, drop=True), tmp_path / "flat.nc")
    write_dataset(sweep(), tmp_path / "models.nc")
    for data, model, expected in (
        ("flat.nc", "cnn", "its runs hold no models, so --model cnn picks nothing"),
        ("models.nc", "cnn", "it holds no model 'cnn'"),
    ):
        result = run_script("figures/sweep_heatmap.py", "--input", data, "--model", model,
                            "--out", "fig")  # fmt: skip
        lines = result.stderr.splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert expected in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.nc", "models.nc"]
