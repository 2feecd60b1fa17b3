"""cuda_standalone: the pairing network's CUDA code is generated and compiled with nvcc; where a GPU
is present it also runs and must match cpp_standalone."""

import shutil

import numpy as np
import pytest
from brian2 import Hz, ms
from conftest import gpu_available

from bimsim.devices import cache_dir
from bimsim.pairing import pairing_schedule, simulate_pairings
from bimsim.plasticity.stdp import PAIR_DEFAULTS, pair_rule, triplet_preset

pytest.importorskip("brian2cuda")
pytestmark = [pytest.mark.cuda, pytest.mark.slow]

RULES = [pair_rule(**PAIR_DEFAULTS), triplet_preset("visual-nearest-full")]


def schedule():
    return pairing_schedule(np.linspace(-100, 100, 41) * ms, 1 * Hz, 60)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (the CUDA compiler)")
def test_pairing_network_compiles_with_nvcc():
    assert (
        simulate_pairings(
            schedule(), RULES, device="cuda_standalone", execute=False, compute_capability=9.0
        )
        is None
    )
    project = cache_dir() / "cuda_standalone" / "pairing-pair-all-triplet-nearest"
    assert (project / "main").is_file()  # nvcc compiled and linked the binary
    assert any(project.glob("code_objects/*.cu"))


@pytest.mark.skipif(not gpu_available(), reason="needs an NVIDIA GPU")
def test_cuda_matches_cpp_standalone():
    cuda = simulate_pairings(schedule(), RULES, device="cuda_standalone")
    cpp = simulate_pairings(schedule(), RULES, device="cpp_standalone")
    np.testing.assert_allclose(cuda, cpp, rtol=1e-9)
