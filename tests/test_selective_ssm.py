"""The selective SSM readout: exact RTRL equals backpropagation through time (torch autograd)."""

import numpy as np
import pytest

from bimsim.readout import SelectiveSSM, SSMParameters

torch = pytest.importorskip("torch")


def torch_bptt(params, inputs, targets, loss):
    """The same model written independently in torch; gradients by autograd through all steps."""
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    m, n = p["A_log"].shape
    h = torch.zeros(m, n, dtype=torch.float64)
    total = torch.zeros((), dtype=torch.float64)
    u_all = torch.tensor(inputs, dtype=torch.float64, requires_grad=True)
    for t in range(len(inputs)):
        u = u_all[t]
        delta = torch.nn.functional.softplus(p["W_delta"] @ u + p["b_delta"])
        a = torch.exp(delta[:, None] * -torch.exp(p["A_log"]))
        h = a * h + (delta * u)[:, None] * (p["W_B"] @ u)[None, :]
        y = h @ (p["W_C"] @ u) + p["D"] * u
        o = p["W_out"] @ y + p["b_out"]
        if targets[t] is None:
            continue
        if loss == "mse":
            total = total + 0.5 * ((o - torch.tensor(targets[t])) ** 2).sum()
        else:
            total = total + torch.nn.functional.cross_entropy(o[None], torch.tensor([targets[t]]))
    total.backward()
    return float(total.detach()), {k: v.grad.numpy() for k, v in p.items()}, u_all.grad.numpy()


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rtrl_gradients_equal_bptt(loss, seed):
    rng = np.random.default_rng(seed)
    m, n, k, steps = 5, 4, 3, 60
    params = SSMParameters.initial(m, n, k, rng)
    for value in params.as_dict().values():  # random parameters, not just the initial ranges
        value += rng.normal(0, 0.3, value.shape)
    inputs = rng.normal(0, 1, (steps, m))
    if loss == "mse":
        targets = [rng.normal(0, 1, k) if rng.random() < 0.7 else None for _ in range(steps)]
    else:
        targets = [int(rng.integers(k)) if rng.random() < 0.7 else None for _ in range(steps)]
    reference_loss, reference, _ = torch_bptt(params.as_dict(), inputs, targets, loss)
    model = SelectiveSSM(params, loss=loss)
    total = sum(model.step(u, target)[1] for u, target in zip(inputs, targets, strict=True))
    assert total == pytest.approx(reference_loss, rel=1e-12)
    for name, grad in reference.items():
        error = np.linalg.norm(model.grads[name] - grad) / np.linalg.norm(grad)
        assert error <= 1e-8, (name, error)


def test_learning_signal_is_the_gradient_of_the_current_loss_with_respect_to_the_input():
    rng = np.random.default_rng(5)
    m, n, k, steps = 4, 3, 2, 20
    params = SSMParameters.initial(m, n, k, rng)
    inputs = rng.normal(0, 1, (steps, m))
    model = SelectiveSSM(params)
    for u in inputs[:-1]:
        model.step(u)
    target = rng.normal(0, 1, k)
    *_, signal = model.step(inputs[-1], target)
    targets = [None] * (steps - 1) + [target]
    _, _, input_grad = torch_bptt(params.as_dict(), inputs, targets, "mse")
    np.testing.assert_allclose(signal, input_grad[-1], rtol=1e-9, atol=1e-12)


def test_memory_does_not_grow_with_sequence_length():
    rng = np.random.default_rng(0)
    model = SelectiveSSM(SSMParameters.initial(8, 4, 2, rng))
    sizes = []
    for steps in (10, 1000):
        model.reset_state()
        for u in rng.normal(0, 1, (steps, 8)):
            model.step(u, rng.normal(0, 1, 2))
        sizes.append(model.memory_bytes())
    assert sizes[0] == sizes[1]


def test_training_reduces_the_loss_on_a_delayed_recall():
    """Online descent of the RTRL gradient learns to report an input seen 5 steps earlier."""
    rng = np.random.default_rng(3)
    model = SelectiveSSM(SSMParameters.initial(2, 8, 1, rng))

    def epoch(learn):
        total = 0.0
        for _ in range(40):
            model.reset_state()
            bits = rng.choice([-1.0, 1.0], 10)
            for t in range(10):
                target = [bits[t - 5]] if t >= 5 else None
                _, loss, _ = model.step([bits[t], 1.0], target)
                total += loss
            if learn:
                model.apply(0.02)
            else:
                model.zero_grad()
        return total / 200

    before = epoch(learn=False)
    for _ in range(30):
        epoch(learn=True)
    after = epoch(learn=False)
    assert after < 0.5 * before


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p, m: m.step(np.ones(3)), r"input has shape \(3,\), expected \(4,\)"),
        (lambda p, m: m.step([1.0, np.nan, 0.0, 0.0]), "NaN"),
        (lambda p, m: m.step(np.ones(4), 7), None),
        (lambda p, m: SelectiveSSM(p, loss="hinge"), "loss must be one of"),
    ],
)
def test_bad_input_is_refused(change, match):
    params = SSMParameters.initial(4, 2, 2, np.random.default_rng(0))
    model = SelectiveSSM(params, loss="cross_entropy")
    with pytest.raises(ValueError, match=match or "class target"):
        change(params, model)


def test_mismatched_parameters_are_refused():
    params = SSMParameters.initial(4, 2, 2, np.random.default_rng(0))
    params.W_B = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"W_B has shape \(2, 5\), expected \(2, 4\)"):
        SelectiveSSM(params)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_a_batch_of_copies_pools_the_gradients_of_its_sequences_as_their_mean(loss):
    rng = np.random.default_rng(8)
    m, n, k, steps, batch = 4, 3, 3, 25, 5
    params = SSMParameters.initial(m, n, k, rng)
    inputs = rng.normal(0, 1, (steps, batch, m))
    if loss == "mse":
        targets = rng.normal(0, 1, (steps, batch, k))
    else:
        targets = rng.integers(k, size=(steps, batch))
    singles, signals = [], []
    for b in range(batch):
        model = SelectiveSSM(SSMParameters(**{x: v.copy() for x, v in params.as_dict().items()}))
        model.loss = loss
        signals.append([model.step(inputs[t, b], targets[t, b])[2] for t in range(steps)])
        singles.append(model.grads)
    batched = SelectiveSSM(params, loss=loss)
    batched.reset_state(batch)
    out = [batched.step(inputs[t], targets[t]) for t in range(steps)]
    assert out[0][0].shape == (batch, k) and batched.h.shape == (batch, m, n)
    np.testing.assert_allclose(
        np.stack([o[2] for o in out], axis=1), np.array(signals), rtol=1e-12, atol=1e-14
    )
    for name, grad in batched.grads.items():
        np.testing.assert_allclose(grad, np.mean([g[name] for g in singles], axis=0), rtol=1e-10)
    with pytest.raises(ValueError, match=r"expected \(5, 4\)"):
        batched.step(inputs[0, 0], targets[0, 0])


def test_a_scaled_readout_reads_the_scaled_layer_and_signals_through_the_scale():
    from brian2 import ms

    from bimsim.neurons import lif_neurons
    from bimsim.readout import ReadoutInjection

    rng = np.random.default_rng(7)
    m, n, k, scale = 5, 3, 2, 0.125
    params = SSMParameters.initial(m, n, k, rng)
    layer = lif_neurons(m, learning=True)
    copy = SSMParameters(**params.as_dict())
    readout = ReadoutInjection(
        SelectiveSSM(copy, loss="cross_entropy"), layer, dt=1 * ms, input_scale=scale
    )
    plain = SelectiveSSM(SSMParameters(**params.as_dict()), loss="cross_entropy")
    readout.start_sequence([None, 1, 0])
    for step, target in enumerate([None, 1, 0]):
        u = rng.uniform(0, 20, m)  # a layer near its highest rate
        layer.u_out = u
        readout._step(step * ms)
        output, _, signal = plain.step(scale * u, target)
        np.testing.assert_allclose(readout.outputs[-1], output, rtol=1e-12)
        # the learning signal is the derivative with respect to u_out itself
        np.testing.assert_allclose(layer.L[:], scale * signal, rtol=1e-12)
    for bad in (0, -1.0, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="input_scale must be a finite number above 0"):
            ReadoutInjection(SelectiveSSM(params), layer, input_scale=bad)
