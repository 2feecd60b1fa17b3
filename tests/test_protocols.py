"""The protocol and figure scripts as users run them: outputs and provenance (refusals of bad
input: ``test_commands.py``)."""

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
    assert refused.returncode == 2 and "argument --scales: must be at least 0" in refused.stderr
