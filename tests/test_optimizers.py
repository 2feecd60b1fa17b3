"""Optimisers for online learning: numpy against torch, Brian2's per-synapse code against numpy."""

import numpy as np
import pytest
from brian2 import NetworkOperation
from test_network import in_copies, recall_sequence

from bimsim.network import BIMNetwork
from bimsim.plasticity.optimizers import KINDS, NumpyOptimizer, Optimizer, require_decay


@pytest.mark.parametrize(
    "kwds, match",
    [
        ({"kind": "lion"}, "optimiser must be one of sgd, momentum, rmsprop, adam"),
        ({"beta1": 1.0}, "beta1 must be a finite number in"),
        ({"beta2": -0.1}, "beta2 must be"),
        ({"epsilon": 0.0}, "epsilon must be a finite number > 0"),
        ({"weight_decay": float("nan")}, "weight_decay must be a finite number >= 0"),
        ({"weight_decay": True}, "weight_decay must be"),
    ],
)
def test_bad_settings_are_named(kwds, match):
    with pytest.raises(ValueError, match=match):
        Optimizer(**kwds)


@pytest.mark.parametrize("kind", KINDS)
def test_weight_decay_can_work_only_where_rate_times_decay_is_below_one(kind):
    """Each update multiplies a weight by 1 - η × weight decay (with no direction: nothing
    else): at a product of 1 the weights are forgotten in one update, at 2.5 they grow and flip
    sign; require_decay refuses a product of 1 or more, naming both, and BIMConfig checks both
    of BIM's pairs."""
    from bimsim.tasks.config import BIMConfig

    weights = np.array([0.3, -0.2])
    for product in (0.5, 1.0, 2.5):
        optimizer = NumpyOptimizer(Optimizer(kind, weight_decay=product / 0.01))
        value = weights
        for _ in range(3):
            value = optimizer.new_value("w", value, np.zeros(2), 0.01)
        np.testing.assert_allclose(value, weights * (1 - product) ** 3, atol=1e-15)
    require_decay("eta", 0.01, "weight_decay", 99.99)
    with pytest.raises(ValueError, match=r"weight_decay 100 times eta 0.01 is 1: .* every weight "
                       r"by 1 - rate × decay = 0 .*give weight_decay below 100"):  # fmt: skip
        require_decay("eta", 0.01, "weight_decay", 100.0)
    with pytest.raises(ValueError, match=r"optimizer's weight_decay 1e\+06 times eta"):
        BIMConfig(eta=1e-4, optimizer=Optimizer(kind, weight_decay=1e6))
    with pytest.raises(ValueError, match=r"readout_optimizer's weight_decay 40 times "
                       r"readout_learning_rate 0.05 is 2"):  # fmt: skip
        BIMConfig(readout_optimizer=Optimizer(kind, weight_decay=40.0))
    BIMConfig(eta=0.0, optimizer=Optimizer(kind, weight_decay=1e6))  # η = 0: no update at all


def torch_twin(optimizer, parameter, eta):
    import torch

    o = optimizer
    if o.kind == "sgd":
        return torch.optim.SGD([parameter], lr=eta)
    if o.kind == "momentum":
        return torch.optim.SGD([parameter], lr=eta, momentum=o.beta1)
    if o.kind == "rmsprop":
        return torch.optim.RMSprop([parameter], lr=eta, alpha=o.beta2, eps=o.epsilon)
    betas = (o.beta1, o.beta2)
    return torch.optim.AdamW(
        [parameter], lr=eta, betas=betas, eps=o.epsilon, weight_decay=o.weight_decay
    )


@pytest.mark.parametrize(
    "optimizer",
    [Optimizer(kind) for kind in KINDS]
    + [Optimizer("adam", beta1=0.8, beta2=0.99, epsilon=1e-6, weight_decay=0.1)],
    ids=lambda o: o.describe(),
)
def test_numpy_steps_equal_torch_s_optimisers(optimizer):
    """The direction is the negative gradient torch descends; 30 steps agree to 1e-12."""
    import torch

    rng = np.random.default_rng(0)
    value = rng.normal(size=7)
    parameter = torch.tensor(value.copy(), dtype=torch.float64, requires_grad=True)
    twin = torch_twin(optimizer, parameter, eta=0.05)
    ours = NumpyOptimizer(optimizer)
    for _ in range(30):
        gradient = rng.normal(size=7) * rng.uniform(0.01, 10)
        value = ours.new_value("w", value, -gradient, 0.05)
        parameter.grad = torch.tensor(gradient, dtype=torch.float64)
        twin.step()
    np.testing.assert_allclose(value, parameter.detach().numpy(), rtol=1e-12, atol=1e-14)


class Recorder:
    """Records, at each readout step, the pooled direction each synapse of copy 0 is about to
    apply (after the gradients are pooled, order 2, before the update, order 3)."""

    def __init__(self, net):
        self.net, self.directions = net, []
        net.network.add(NetworkOperation(self.record, dt=net.readout.operation.clock.dt,
                                         when="end", order=2.5))  # fmt: skip

    def record(self, t):
        s = self.net.synapses
        shared = self.net.n_inputs * self.net.n_hidden
        lam = s.namespace["lam"]
        grad, omega = s.grad[:shared], s.omega[:shared]
        self.directions.append(lam * -np.asarray(grad) + (1 - lam) * np.asarray(omega))


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer",
    [Optimizer(kind) for kind in KINDS] + [Optimizer("adam", weight_decay=0.5)],
    ids=lambda o: o.describe(),
)
def test_synapses_apply_the_optimiser_in_generated_code(optimizer):
    """Replaying the recorded directions through the numpy optimiser gives Brian2's weights; all
    copies hold the same weights; a run that does not learn leaves weights and state alone."""
    rng = np.random.default_rng(7)
    net = BIMNetwork(
        20, 8, 2, lam=0.5, eta=0.004, readout_learning_rate=0.01, w_init=(0.02, 0.1),
        seed=1, copies=3, optimizer=optimizer, readout_optimizer=optimizer,
    )  # fmt: skip
    recorder = Recorder(net)
    reference = NumpyOptimizer(optimizer)
    w = net.shared_weights()
    for label in (0, 1, 1):
        sequence = in_copies([recall_sequence(rng, (label + c) % 2) for c in range(3)], 20)
        recorder.directions.clear()
        net.run_sequence(*sequence)
        for direction in recorder.directions:
            w = reference.new_value("w", w, direction, 0.004)
        np.testing.assert_allclose(net.shared_weights(), w, rtol=1e-10, atol=1e-13)
    assert len(recorder.directions) == 80 and np.any(np.abs(recorder.directions[-1]) > 0)
    weights = np.asarray(net.synapses.w[:]).reshape(3, -1)
    assert np.all(weights == weights[0])
    state = {name: np.array(net.synapses.variables[f"opt_{name}"].get_value())
             for name in optimizer.state}  # fmt: skip
    net.run_sequence(*in_copies([recall_sequence(rng, c % 2) for c in range(3)], 20), learn=False)
    np.testing.assert_array_equal(np.asarray(net.synapses.w[:]).reshape(3, -1), weights)
    for name, value in state.items():
        np.testing.assert_array_equal(net.synapses.variables[f"opt_{name}"].get_value(), value)


@pytest.mark.slow
def test_the_readout_steps_with_its_optimiser():
    """Adam on the readout: its state holds every parameter, and it moves them differently
    from SGD with the same rate."""
    rng = np.random.default_rng(1)
    sequence = recall_sequence(rng, 1)
    nets = {}
    for kind in ("sgd", "adam"):
        nets[kind] = BIMNetwork(
            20, 8, 2, eta=0.0, readout_learning_rate=0.01, w_init=(0.02, 0.1), seed=1,
            readout_optimizer=Optimizer(kind),
        )  # fmt: skip
        nets[kind].run_sequence(*sequence)
    adam = nets["adam"].readout.optimizer
    params = nets["adam"].readout.ssm.params.as_dict()
    assert set(adam.state) == set(params) and all(s["n"] == 20 for s in adam.state.values())
    assert nets["sgd"].readout.optimizer is None
    assert not np.allclose(params["W_out"], nets["sgd"].readout.ssm.params.W_out)


@pytest.mark.slow
def test_the_results_keep_the_schedule_and_the_optimisers_state(tmp_path):
    from brian2 import ms
    from test_runner import synthetic_task

    from bimsim.io import check_dataset, read_dataset, write_dataset
    from bimsim.tasks.config import BIMConfig
    from bimsim.tasks.runner import run_task

    config = BIMConfig(
        epochs=2, hidden=4, copies=8, dt=1 * ms, readout_dt=2 * ms, lr_decay=0.5,
        optimizer=Optimizer("adam"), readout_optimizer=Optimizer("momentum"),
    )  # fmt: skip
    ds = run_task(synthetic_task(), {"bim": config, "floor": None}, [0], first_folds=1,
                  progress=False, log=lambda *a, **k: None)  # fmt: skip
    ds = read_dataset(write_dataset(check_dataset(ds), tmp_path / "state.nc"))
    bim = ds.sel(seed=0, fold="0", model="bim")
    np.testing.assert_allclose(bim.eta, [0.0005, 0.00025])
    np.testing.assert_allclose(bim.readout_learning_rate, [0.05, 0.025])
    assert ds.sizes["synapse"] == 2 * 1 * 4  # up/down inputs of one channel, 4 neurons
    steps = bim.layer_optimizer_n.values
    assert np.all(steps == steps[0]) and steps[0] >= 2 * 7  # >= one step per minibatch
    assert np.all(bim.layer_optimizer_v > 0) and np.all(np.isfinite(bim.layer_weight))
    assert "readout_optimizer_m" in ds and "readout_optimizer_v" not in ds  # momentum: m only
    assert np.all(np.isnan(ds.layer_weight.sel(model="floor")))
    assert ds.layer_optimizer_m.attrs["nan_means"] == "the model keeps no such state"
