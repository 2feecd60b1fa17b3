"""Baselines trained by backpropagation through time in torch, on the same inputs as BIM.

Each model reads a signal ``(samples, channels)`` and the sample's features, and outputs class
logits. The sequence models read the signal at a third of its rate (``stride = 3``: 120 Hz for
MIT-BIH), the CNN at the full rate.

* ``cnn``: three 1-D convolutions (16, 32, 32 channels, stride 2, ReLU), global average pooling;
* ``gru``: a GRU of 32 units, its last state;
* ``snn``: a layer of 64 LIF neurons (membrane decay exp(-1/τ) per step, τ = 5 steps, reset by
  subtraction) with a fast-sigmoid surrogate gradient (Zenke & Ganguli 2018), its spike counts;
* ``ssm``: a selective SSM (Mamba-style, diagonal, m = 16 channels, N = 8 states, the discretisation
  of :mod:`bimsim.readout.selective_ssm`) after a linear input projection, its mean output;

each followed by one linear layer on ``[pooled state, features]``. Training: Adam (learning rate
1e-3), minibatches of 64, cross-entropy, ``torch.manual_seed(seed)`` and deterministic kernels, so
the same seed gives the same result on the same machine.
"""

import time

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = ["BASELINES", "train_baseline"]

STRIDE = 3


class CNN(nn.Module):
    def __init__(self, channels, n_features, n_classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(channels, 16, 7, stride=2),
            nn.ReLU(),
            nn.Conv1d(16, 32, 5, stride=2),
            nn.ReLU(),
            nn.Conv1d(32, 32, 5, stride=2),
            nn.ReLU(),
        )
        self.head = nn.Linear(32 + n_features, n_classes)

    def forward(self, x, features):
        z = self.body(x.transpose(1, 2)).mean(dim=2)
        return self.head(torch.cat([z, features], dim=1))

    def macs(self, samples):
        total, length = 0, samples
        for layer in self.body:
            if isinstance(layer, nn.Conv1d):
                length = (length - layer.kernel_size[0]) // layer.stride[0] + 1
                total += length * layer.out_channels * layer.in_channels * layer.kernel_size[0]
        return {"macs": total + self.head.in_features * self.head.out_features, "accumulates": 0}


class GRU(nn.Module):
    def __init__(self, channels, n_features, n_classes, hidden=32):
        super().__init__()
        self.rnn = nn.GRU(channels, hidden, batch_first=True)
        self.head = nn.Linear(hidden + n_features, n_classes)

    def forward(self, x, features):
        _, h = self.rnn(x[:, ::STRIDE])
        return self.head(torch.cat([h[-1], features], dim=1))

    def macs(self, samples):
        steps = len(range(0, samples, STRIDE))
        h, i = self.rnn.hidden_size, self.rnn.input_size
        per_step = 3 * h * (i + h) + 3 * h  # three gates, and the gated sum
        return {"macs": steps * per_step + self.head.in_features * self.head.out_features,
                "accumulates": 0}  # fmt: skip


class _FastSigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad / (1 + 10 * v.abs()) ** 2


class SNN(nn.Module):
    def __init__(self, channels, n_features, n_classes, hidden=64, tau=5.0):
        super().__init__()
        self.input = nn.Linear(channels, hidden)
        self.beta = float(np.exp(-1 / tau))
        self.head = nn.Linear(hidden + n_features, n_classes)
        self.last_spikes = 0.0

    def forward(self, x, features):
        current = self.input(x[:, ::STRIDE])
        v = torch.zeros_like(current[:, 0])
        count = torch.zeros_like(v)
        for t in range(current.shape[1]):
            v = self.beta * v + current[:, t]
            spike = _FastSigmoid.apply(v - 1.0)
            v = v - spike
            count = count + spike
        self.last_spikes = float(count.sum(dim=1).mean().detach())
        return self.head(torch.cat([count / current.shape[1], features], dim=1))

    def macs(self, samples):
        steps = len(range(0, samples, STRIDE))
        h = self.input.out_features
        dense = steps * (self.input.in_features * h + h)  # input current and membrane decay
        return {"macs": dense + self.head.in_features * self.head.out_features,
                "accumulates": self.last_spikes}  # fmt: skip


class SSMNet(nn.Module):
    def __init__(self, channels, n_features, n_classes, m=16, n=8):
        super().__init__()
        self.project = nn.Linear(channels, m)
        self.delta = nn.Linear(m, m)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1).float()).repeat(m, 1))
        self.B = nn.Linear(m, n, bias=False)
        self.C = nn.Linear(m, n, bias=False)
        self.D = nn.Parameter(torch.ones(m))
        self.head = nn.Linear(m + n_features, n_classes)

    def forward(self, x, features):
        u = self.project(x[:, ::STRIDE])
        delta = nn.functional.softplus(self.delta(u))
        a = torch.exp(delta[..., None] * -torch.exp(self.A_log))
        b, c = self.B(u), self.C(u)
        h = torch.zeros(u.shape[0], *self.A_log.shape, dtype=u.dtype)
        ys = []
        for t in range(u.shape[1]):
            h = a[:, t] * h + (delta[:, t] * u[:, t])[..., None] * b[:, t, None, :]
            ys.append((h * c[:, t, None, :]).sum(-1) + self.D * u[:, t])
        y = torch.stack(ys, dim=1).mean(dim=1)
        return self.head(torch.cat([y, features], dim=1))

    def macs(self, samples):
        steps = len(range(0, samples, STRIDE))
        m, n = self.A_log.shape
        per_step = self.project.in_features * m + m * m + 2 * n * m + 3 * m * n + m
        return {"macs": steps * per_step + self.head.in_features * self.head.out_features,
                "accumulates": 0}  # fmt: skip


BASELINES = {"cnn": CNN, "gru": GRU, "snn": SNN, "ssm": SSMNet}


def train_baseline(
    name, train, test, *, n_classes, epochs, seed, batch=64, lr=1e-3, progress=False
):
    """Train baseline ``name`` on ``train`` = (signals, features, labels); predict ``test``.

    Returns
    -------
    dict
        ``probability`` (test samples, classes), ``train_loss`` per epoch, ``train_time`` (s),
        ``parameters``, ``macs`` and ``accumulates`` per sample.
    """
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    signals, features, labels = (torch.as_tensor(np.asarray(a)) for a in train)
    signals, features = signals.float(), features.float()
    model = BASELINES[name](signals.shape[2], features.shape[1], n_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc=f"{name} train", disable=not progress, leave=False):
        order = torch.randperm(len(labels), generator=generator)
        total = 0.0
        for k in range(0, len(order), batch):
            chosen = order[k : k + batch]
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(signals[chosen], features[chosen]),
                                               labels[chosen])  # fmt: skip
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(chosen)
        losses.append(total / len(order))
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        test_signals = torch.as_tensor(test[0]).float()
        test_features = torch.as_tensor(test[1]).float()
        probability, spikes = [], []
        for k in range(0, len(test_signals), 256):
            logits = model(test_signals[k : k + 256], test_features[k : k + 256])
            probability.append(torch.softmax(logits, dim=1))
            if name == "snn":  # spike counts over the whole test set, for the energy estimate
                spikes.append(model.last_spikes * len(logits))
        probability = torch.cat(probability).double().numpy()
        if name == "snn":
            model.last_spikes = sum(spikes) / len(test_signals)
    ops = model.macs(signals.shape[1])
    return {
        "probability": probability,
        "train_loss": losses,
        "train_time": seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
        "macs": float(ops["macs"]),
        "accumulates": float(ops["accumulates"]),
        "spike_sparsity": (
            1.0
            - model.last_spikes
            / (model.input.out_features * len(range(0, signals.shape[1], STRIDE)))
            if name == "snn"
            else 0.0
        ),
    }
