import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYNEST_QUIET", "1")


@pytest.fixture(autouse=True)
def _unfreeze():
    """A test that calls ``run_command`` in-process leaves the objects alive then frozen (the
    command's process would end there); unfreeze them, so later tests collect their garbage."""
    yield
    gc.unfreeze()


@pytest.fixture
def run_script(tmp_path):
    """Run a repository script (e.g. ``protocols/stdp_pairing.py``) in a subprocess."""

    def run(script, *args):
        return subprocess.run(
            [sys.executable, str(ROOT / script), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=900,
        )

    return run


def gpu_available():
    return shutil.which("nvidia-smi") is not None and (
        subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    )


@pytest.fixture(scope="session")
def data_root():
    """The real data folder: ``$BIMSIM_DATA`` (CI sets it to ../shared/data)."""
    root = os.environ.get("BIMSIM_DATA") or ROOT.parent / "shared" / "data"
    if not Path(root).is_dir():
        pytest.skip("no data folder: set BIMSIM_DATA")
    return Path(root)
