"""The gradient window: online traces equal BPTT, and what the window looks like, with reasons."""

import numpy as np
import pytest
from brian2 import ms, mV

from bimsim.gradient_window import gradient_window
from bimsim.io import read_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def window():
    return gradient_window(np.arange(-60, 61, 5) * ms, depolarization=[0, 7.5] * mV)


def test_online_traces_equal_bptt_at_every_delta_t(window):
    assert np.all(window.max_relative_error < 1e-8)
    np.testing.assert_allclose(window.gradient, window.gradient_bptt, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(window.unpaired_gradient, window.unpaired_gradient_bptt, rtol=1e-8)


def test_at_rest_a_post_spike_before_the_pre_spike_changes_nothing(window):
    """At rest the reset takes v to v_rest, where it was anyway: an acausal pairing leaves the
    gradient exactly that of the presynaptic spike alone."""
    rest = window.sel(depolarization=0)
    acausal = rest.pairing_update.where(rest.delta_t < 0, drop=True)
    assert np.abs(acausal).max() <= 1e-9 * np.abs(rest.pairing_update).max()
    assert rest.fit_found.values.tolist() == [1, 0]
    causal = rest.pairing_update.where(rest.delta_t > 0, drop=True)
    assert np.abs(causal).max() > 1e3 * max(np.abs(acausal).max(), 1e-300)


def test_depolarised_acausal_side_decays_with_the_membrane_time_constant(window):
    """After the reset v recovers towards its baseline as exp(-t/tau_m), so the acausal update is
    an exact exponential in |Δt| with tau_m = 20 ms."""
    fit = window.sel(depolarization=7.5, side="negative")
    assert fit.fit_found.item() == 1
    assert fit.fit_tau.item() == pytest.approx(20.0, rel=1e-3)


def test_the_causal_extremum_follows_the_psp(window):
    """The causal lobe peaks where the presynaptic PSP (alpha kernel, tau_syn = 5 ms, through the
    membrane) is largest, some milliseconds after the pre spike, and then decays."""
    for dep in (0, 7.5):
        fit = window.sel(depolarization=dep, side="positive")
        assert 5 <= fit.fit_start.item() <= 20
        assert 10 < fit.fit_tau.item() < 30


@pytest.mark.parametrize(
    ("kwds", "message"),
    [
        ({"depolarization": [15] * mV}, r"depolarization must lie in \[0"),
        ({"delta_t": [0.05, 1] * ms}, "multiple of dt"),
        ({"w": 1.0}, r"channel 0 fired \d+ times, not 1: lower w"),
        ({"t_pre": 20 * ms}, r"t_pre \(20. ms\) must exceed"),
        ({"w": -0.1}, "w must be a finite number above 0"),
    ],
)
def test_bad_parameters_are_named(kwds, message):
    kwds = {"delta_t": [-30, 10, 30] * ms, "bptt": False, **kwds}
    with pytest.raises(ValueError, match=message):
        gradient_window(kwds.pop("delta_t"), **kwds)


def test_protocol_and_figure(run_script, tmp_path):
    out = tmp_path / "gw.nc"
    result = run_script(
        "protocols/gradient_window.py", "--points", 9, "--dt-min=-40ms", "--dt-max", "40ms",
        "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "traces vs BPTT max rel. error" in result.stdout
    ds = read_dataset(out)
    assert ds.pairing_update.dims == ("depolarization", "delta_t")
    assert ds.attrs["param_points"] == 9 and ds.attrs["device"] == "runtime"
    figure = run_script("figures/gradient_window.py", "--input", out, "--out", tmp_path / "fig")
    assert figure.returncode == 0, figure.stderr
    assert (tmp_path / "fig.png").stat().st_size > 0


def test_protocol_refuses_cpp_standalone(run_script, tmp_path):
    result = run_script("protocols/gradient_window.py", "--device", "cpp_standalone")
    assert result.returncode == 2 and "invalid choice: 'cpp_standalone'" in result.stderr
