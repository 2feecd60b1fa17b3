"""The same model code on every device; network operations refused where they cannot run."""

import numpy as np
import pytest
from brian2 import Hz, Network, NetworkOperation, NeuronGroup, ms

from bimsim.devices import cache_dir, simulation_device
from bimsim.pairing import pairing_schedule, simulate_pairings
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule, triplet_preset

RULES = [
    pair_rule(**PAIR_DEFAULTS, pairing="all"),
    pair_rule(**PAIR_DEFAULTS, pairing="nearest"),
    triplet_preset("visual-all-minimal"),
    triplet_preset("hippocampal-nearest-full"),
]


def bi_poo_schedule():
    return pairing_schedule(np.linspace(-100, 100, 41) * ms, 1 * Hz, 60)


@pytest.mark.standalone
def test_runtime_and_cpp_standalone_agree():
    schedule = bi_poo_schedule()
    runtime = simulate_pairings(schedule, RULES, device="runtime")
    standalone = simulate_pairings(schedule, RULES, device="cpp_standalone")
    np.testing.assert_allclose(standalone, runtime, rtol=1e-9, atol=0)
    # and the runtime device is usable again afterwards
    np.testing.assert_array_equal(simulate_pairings(schedule, RULES, device="runtime"), runtime)


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        simulate_pairings(bi_poo_schedule(), RULES, device="gpu")


@pytest.mark.standalone
def test_network_operations_are_refused_on_standalone():
    with simulation_device("cpp_standalone", "network-operation-check") as sim:
        group = NeuronGroup(1, "v : 1")
        net = Network(group, NetworkOperation(lambda: None, name="readout_error"))
        with pytest.raises(RuntimeError, match=r"readout_error.*device='runtime'"):
            sim.run(net, 1 * ms)


@pytest.mark.standalone
def test_standalone_rebuild_in_one_process_reuses_compiled_objects():
    """Warm runs do not recompile: a second identical build leaves every object file untouched."""
    schedule = bi_poo_schedule()
    first = simulate_pairings(schedule, RULES[:1], device="cpp_standalone")
    objects = sorted((cache_dir() / "cpp_standalone" / "pairing-pair-all").rglob("*.o"))
    assert objects
    stamps = [path.stat().st_mtime_ns for path in objects]
    second = simulate_pairings(schedule, RULES[:1], device="cpp_standalone")
    assert [path.stat().st_mtime_ns for path in objects] == stamps
    np.testing.assert_array_equal(second, first)


def test_curand_link_follows_a_moved_environment(tmp_path, monkeypatch):
    pytest.importorskip("nvidia")
    from bimsim.devices import cuda_toolkit_flags

    monkeypatch.setenv("BIMSIM_CACHE", str(tmp_path))
    link = tmp_path / "cuda-lib" / "libcurand.so"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "old-venv" / "libcurand.so.10")  # dangling
    flags = cuda_toolkit_flags()
    assert link.resolve().exists() and str(link.parent) in flags["library_dirs"]
