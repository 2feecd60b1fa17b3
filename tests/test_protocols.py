"""The protocol and figure scripts as users run them: outputs, provenance, refusals."""

import pytest

from bimsim.io import read_dataset


def test_pairing_protocol_writes_dataset_and_figure(run_script, tmp_path):
    """The README's main job as written: protocol then figure, default paths."""
    result = run_script("protocols/stdp_pairing.py", "--seed", 7)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "results" / "stdp_pairing.nc"
    ds = read_dataset(out)
    assert ds.delta_t.attrs["units"] == "ms" and len(ds.delta_t) == 41
    assert ds.fit_tau_plus.attrs["units"] == "ms"
    assert ds.fit_tau_plus.item() == pytest.approx(16.8, rel=0.01)
    for name in ("bimsim_version", "brian2_version", "device", "command_line", "param_pairs"):
        assert name in ds.attrs, name
    assert ds.attrs["seed"] == 7 and ds.attrs["param_tau_plus"] == "None"
    assert ds.attrs["rule_tau_plus"] == "16.8 ms"
    figure = run_script("figures/stdp_curve.py")
    assert figure.returncode == 0, figure.stderr
    for suffix in ("png", "pdf"):
        assert (tmp_path / "results" / "figures" / f"stdp_curve.{suffix}").stat().st_size > 0


@pytest.mark.slow
def test_frequency_protocol_writes_dataset_and_figure(run_script, tmp_path):
    out = tmp_path / "freq.nc"
    result = run_script("protocols/stdp_frequency.py", "--out", out)
    assert result.returncode == 0, result.stderr
    ds = read_dataset(out)
    assert set(ds.dw.dims) == {"rule", "frequency", "delta_t"}
    assert list(ds.frequency.values) == [0.1, 10, 20, 40, 50]
    assert "Sjostrom" in ds.attrs["data_source"]
    figure = run_script("figures/stdp_frequency.py", "--input", out, "--out", tmp_path / "fig")
    assert figure.returncode == 0, figure.stderr
    assert (tmp_path / "fig.png").exists() and (tmp_path / "fig.pdf").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tau-plus", "16.8"], "--tau-plus: .*has no units"),
        (["--frequency", "1"], "--frequency: .*has no units"),
        (["--dt-min=50ms", "--dt-max=-50ms"], "--dt-min 50. ms is greater than --dt-max"),
        (["--pairs", "0"], "--pairs must be at least 1"),
        (["--frequency", "20Hz"], "consecutive pairings overlap"),
        (["--rule", "triplet-all", "--preset", "visual-cortex"], "invalid choice: 'visual-cortex'"),
        (["--rule", "triplet-all", "--preset", "visual-nearest-full"], "fitted for 'nearest'"),
        (["--preset", "visual-all-full"], "--preset selects triplet parameters"),
        (["--a-plus", "-1"], "a2_plus must be a finite number >= 0"),
        (["--time-step", "0.3ms"], "not a multiple of the time step"),
    ],
)
def test_bad_input_is_refused_before_simulating(run_script, tmp_path, args, message):
    out = tmp_path / "never.nc"
    result = run_script("protocols/stdp_pairing.py", "--out", out, *args)
    assert result.returncode == 2
    assert __import__("re").search(message, result.stderr), result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_figure_without_dataset_says_so(run_script, tmp_path):
    result = run_script("figures/stdp_curve.py", "--input", tmp_path / "missing.nc")
    assert result.returncode == 2 and "run protocols/stdp_pairing.py first" in result.stderr


@pytest.mark.slow
def test_eligibility_error_protocol(run_script, tmp_path):
    out = tmp_path / "err.nc"
    args = ("--scales", 0, 0.003, "--seeds", 1, "--steps", 200, "--out", out)
    result = run_script("protocols/eligibility_error.py", *args)
    assert result.returncode == 0, result.stderr
    assert "|BPTT| / |traces|" in result.stdout
    ds = read_dataset(out)
    assert ds.input_norm_relative.dims == ("scale", "seed")
    assert ds.input_norm_relative.sel(scale=0).item() < 1e-9
    assert ds.rate.attrs["units"] == "Hz" and ds.attrs["param_scales"] == "[0.0, 0.003]"
    refused = run_script("protocols/eligibility_error.py", "--scales", -1, "--out", out)
    assert refused.returncode == 2 and "--scales must be finite and >= 0" in refused.stderr
