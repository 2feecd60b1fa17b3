"""Brian2's exact integration kept on disk: the same code as Brian2's, found again in a new
process, and a different key for anything the solution depends on."""

import subprocess
import sys

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, StateMonitor, ms, mV, start_scope
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.stateupdaters.exact import linear
from conftest import ROOT

from bimsim import integration
from bimsim.integration import StoredExact, integrator, solution_key
from bimsim.neurons.lif import lif_neurons

MEMBRANE = """
dv/dt = (v_rest - v + I) / tau : volt
dI/dt = -I / tau_i : volt
tau : second (constant)
"""


class Recorder(StateUpdateMethod):
    """Brian2's exact integration, remembering what Brian2 asked it to solve."""

    def __call__(self, equations, variables=None, method_options=None):
        self.asked = equations, variables
        return linear(equations, variables, method_options)


def group_variables(equations=MEMBRANE, dt=0.1 * ms, **namespace):
    """The equations and variables Brian2 gives a state updater for ``equations`` in a run."""
    start_scope()
    recorder = Recorder()
    group = NeuronGroup(2, equations, method=recorder, namespace=namespace, dt=dt)
    group.tau = 10 * ms
    Network(group).run(dt)
    return recorder.asked


NAMESPACE = {"v_rest": -65 * mV, "tau_i": 5 * ms}


def test_a_stored_solution_is_brian2_s_and_is_read_back(tmp_path):
    equations, variables = group_variables(**NAMESPACE)
    key = solution_key(equations, variables)
    code = StoredExact(tmp_path)(equations, variables)
    assert code == linear(equations, variables)
    (path,) = tmp_path.iterdir()
    assert path.name == f"{key}.txt"
    assert path.read_text() == f"# bimsim exact solution {key}\n{code}\n# end\n"
    # what a second updater returns is the file's
    path.write_text(f"# bimsim exact solution {key}\nv = v  # from the file\n# end\n")
    assert StoredExact(tmp_path)(equations, variables) == "v = v  # from the file"


@pytest.mark.parametrize(
    "text",
    ["", "# bimsim exact solution {key}\n_v = v", "# bimsim exact solution 0\nv = v\n# end\n"],
    ids=["empty", "cut short", "another key"],
)
def test_a_file_cut_short_or_not_its_own_is_solved_again(tmp_path, text):
    equations, variables = group_variables(**NAMESPACE)
    key = solution_key(equations, variables)
    path = tmp_path / f"{key}.txt"
    path.write_text(text.format(key=key))
    assert StoredExact(tmp_path)(equations, variables) == linear(equations, variables)
    assert path.read_text().endswith(f"{linear(equations, variables)}\n# end\n")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize(
    "change",
    [
        {"equations": MEMBRANE.replace("tau_i : volt", "tau_i : volt (unless refractory)")},
        {"equations": MEMBRANE.replace("-I / tau_i", "-I / (3 * tau_i)")},
        {"equations": MEMBRANE.replace("tau : second (constant)", "tau : second (shared)")},
        {"dt": 0.2 * ms},
    ],
    ids=["flag", "equation", "variable", "time step"],
)
def test_what_the_solution_depends_on_changes_the_key(change):
    base = solution_key(*group_variables(**NAMESPACE))
    change = dict(change)
    equations = change.pop("equations", MEMBRANE)
    assert solution_key(*group_variables(equations, **change, **NAMESPACE)) != base


def test_the_key_is_the_same_in_another_process():
    """No set order, object address or hash seed in the key: a new process finds the file."""
    script = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from test_integration import NAMESPACE, group_variables\n"
        "from bimsim.integration import solution_key\n"
        "print(solution_key(*group_variables(**NAMESPACE)))\n"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout.strip()
        for seed in (1, 2)
    }
    assert keys == {solution_key(*group_variables(**NAMESPACE))}
    assert len(next(iter(keys))) == 64


def test_an_unwritable_folder_still_integrates(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    equations, variables = group_variables(**NAMESPACE)
    assert StoredExact(blocked / "integration")(equations, variables) == linear(
        equations, variables
    )


def test_a_layer_integrated_from_the_file_runs_as_with_brian2_s_exact(tmp_path, monkeypatch):
    """A learning LIF layer: Brian2's exact, then the stored solution (solved, then read from
    the file with Brian2's solver out of reach), same voltages to the bit."""
    monkeypatch.setenv("BIMSIM_CACHE", str(tmp_path))
    assert integrator("exact").folder == tmp_path / "integration"
    assert integrator("euler") == "euler"
    traces = []
    for k, method in enumerate(("brian2", "solved", "read")):
        start_scope()
        if method == "read":
            monkeypatch.setattr(integration, "linear", None)  # calling it would fail
        # a name of its own, so that Brian2's in-memory cache of state updates does not answer
        layer = lif_neurons(3, learning=True, tau_m=[15, 20, 30] * ms, name=f"stored_{k}")
        if method == "brian2":
            layer.state_updater.method_choice = "exact"
        layer.I_ext = [0.2, 0.3, 0.4] * layer.neuron_model.weight_unit
        monitor = StateMonitor(layer, "v", record=True)
        Network(layer, monitor).run(50 * ms)
        traces.append(np.asarray(monitor.v))
    assert len(list((tmp_path / "integration").iterdir())) == 1
    assert np.ptp(traces[0]) > 0
    np.testing.assert_array_equal(traces[1], traces[0])
    np.testing.assert_array_equal(traces[2], traces[0])
