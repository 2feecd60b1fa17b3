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

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = ["BASELINES", "TorchBaseline"]

STRIDE = 3


class Baseline(nn.Module):
    """What every baseline has: ``forward(x, features)`` logits and ``macs(samples)``.

    With ``per_step`` a model reads every step (no stride) and gives logits at every step,
    ``(batch, time, classes)``, from what it has read up to that step (causal).
    """

    def __init__(self, per_step):
        super().__init__()
        self.per_step = per_step
        self.stride = 1 if per_step else STRIDE

    def start_counting(self):
        """Start counting the events of the coming test samples (spikes, for the SNN)."""

    def steps(self, samples):
        return len(range(0, samples, self.stride))

    def output(self, pooled_or_sequence, features):
        """The head on ``[state, features]``, pooled (one per sample) or at every step."""
        if self.per_step:
            repeated = features[:, None, :].expand(-1, pooled_or_sequence.shape[1], -1)
            return self.head(torch.cat([pooled_or_sequence, repeated], dim=2))
        return self.head(torch.cat([pooled_or_sequence, features], dim=1))

    def head_macs(self, samples):
        per_sample = self.head.in_features * self.head.out_features
        return per_sample * self.steps(samples) if self.per_step else per_sample


class CNN(Baseline):
    def __init__(self, channels, n_features, n_classes, per_step=False):
        super().__init__(per_step)
        stride = 1 if per_step else 2  # per step: causal, every step kept
        self.body = nn.Sequential(
            nn.Conv1d(channels, 16, 7, stride=stride),
            nn.ReLU(),
            nn.Conv1d(16, 32, 5, stride=stride),
            nn.ReLU(),
            nn.Conv1d(32, 32, 5, stride=stride),
            nn.ReLU(),
        )
        self.head = nn.Linear(32 + n_features, n_classes)

    def forward(self, x, features):
        if not self.per_step:
            z = self.body(x.transpose(1, 2)).mean(dim=2)
            return self.output(z, features)
        z = x.transpose(1, 2)
        for layer in self.body:
            if isinstance(layer, nn.Conv1d):  # pad on the left only: step t sees steps <= t
                z = nn.functional.pad(z, (layer.kernel_size[0] - 1, 0))
            z = layer(z)
        return self.output(z.transpose(1, 2), features)

    def macs(self, samples):
        total, length = 0, samples
        for layer in self.body:
            if isinstance(layer, nn.Conv1d):
                if not self.per_step:
                    length = (length - layer.kernel_size[0]) // layer.stride[0] + 1
                total += length * layer.out_channels * layer.in_channels * layer.kernel_size[0]
        return {"macs": total + self.head_macs(samples), "accumulates": 0}


class GRU(Baseline):
    def __init__(self, channels, n_features, n_classes, hidden=32, per_step=False):
        super().__init__(per_step)
        self.rnn = nn.GRU(channels, hidden, batch_first=True)
        self.head = nn.Linear(hidden + n_features, n_classes)

    def forward(self, x, features):
        sequence, h = self.rnn(x[:, :: self.stride])
        return self.output(sequence if self.per_step else h[-1], features)

    def macs(self, samples):
        h, i = self.rnn.hidden_size, self.rnn.input_size
        per_step = 3 * h * (i + h) + 3 * h  # three gates, and the gated sum
        return {"macs": self.steps(samples) * per_step + self.head_macs(samples),
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


class SNN(Baseline):
    """Per step, the head reads a leaky count of the spikes (decay as the membrane's)."""

    def __init__(self, channels, n_features, n_classes, hidden=64, tau=5.0, per_step=False):
        super().__init__(per_step)
        self.input = nn.Linear(channels, hidden)
        self.beta = float(np.exp(-1 / tau))
        self.head = nn.Linear(hidden + n_features, n_classes)
        self.start_counting()

    def start_counting(self):
        self.spikes_seen, self.samples_seen = 0.0, 0

    def forward(self, x, features):
        current = self.input(x[:, :: self.stride])
        v = torch.zeros_like(current[:, 0])
        count = torch.zeros_like(v)
        trace, traces = torch.zeros_like(v), []
        for t in range(current.shape[1]):
            v = self.beta * v + current[:, t]
            spike = _FastSigmoid.apply(v - 1.0)
            v = v - spike
            count = count + spike
            if self.per_step:
                trace = self.beta * trace + spike
                traces.append(trace)
        if not self.training:  # spike counts of the test samples, for the energy estimate
            self.spikes_seen += float(count.sum().detach())
            self.samples_seen += len(count)
        if self.per_step:
            return self.output(torch.stack(traces, dim=1), features)
        return self.output(count / current.shape[1], features)

    def macs(self, samples):
        steps = self.steps(samples)
        h = self.input.out_features
        dense = steps * (self.input.in_features * h + h)  # input current and membrane decay
        if self.per_step:
            dense += steps * h  # the decay of the spike trace the head reads
        spikes = self.spikes_seen / max(self.samples_seen, 1)  # per test sample
        return {"macs": dense + self.head_macs(samples),
                "accumulates": spikes, "spike_sparsity": 1.0 - spikes / (h * steps)}  # fmt: skip


class SSMNet(Baseline):
    def __init__(self, channels, n_features, n_classes, m=16, n=8, per_step=False):
        super().__init__(per_step)
        self.project = nn.Linear(channels, m)
        self.delta = nn.Linear(m, m)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1).float()).repeat(m, 1))
        self.B = nn.Linear(m, n, bias=False)
        self.C = nn.Linear(m, n, bias=False)
        self.D = nn.Parameter(torch.ones(m))
        self.head = nn.Linear(m + n_features, n_classes)

    def forward(self, x, features):
        u = self.project(x[:, :: self.stride])
        delta = nn.functional.softplus(self.delta(u))
        a = torch.exp(delta[..., None] * -torch.exp(self.A_log))
        b, c = self.B(u), self.C(u)
        h = torch.zeros(u.shape[0], *self.A_log.shape, dtype=u.dtype)
        ys = []
        for t in range(u.shape[1]):
            h = a[:, t] * h + (delta[:, t] * u[:, t])[..., None] * b[:, t, None, :]
            ys.append((h * c[:, t, None, :]).sum(-1) + self.D * u[:, t])
        y = torch.stack(ys, dim=1)
        return self.output(y if self.per_step else y.mean(dim=1), features)

    def macs(self, samples):
        m, n = self.A_log.shape
        per_step = self.project.in_features * m + m * m + 2 * n * m + 3 * m * n + m
        return {"macs": self.steps(samples) * per_step + self.head_macs(samples),
                "accumulates": 0}  # fmt: skip


BASELINES = {"cnn": CNN, "gru": GRU, "snn": SNN, "ssm": SSMNet}


class TorchBaseline:
    """A baseline of :data:`BASELINES` behind the task models' interface.

    Parameters
    ----------
    name : str
        A key of :data:`BASELINES`.
    channels, n_features, n_classes : int
    config : BaselineConfig
    seed : int
        Seeds torch's initialisation and the minibatch order (deterministic kernels), so the same
        seed gives the same result on the same machine.
    """

    def __init__(
        self, name, channels, n_features, n_classes, config, seed, per_step=False, tokens=False
    ):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        self.name, self.config = name, config
        self.tokens, self.vocabulary = tokens, channels
        self.model = BASELINES[name](channels, n_features, n_classes, per_step=per_step)
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)
        self.samples = None

    def _inputs(self, signals):
        """Signals as float, or token codes as integers (one-hot coded per minibatch)."""
        if self.tokens:
            return torch.as_tensor(np.asarray(signals, dtype=np.int64))
        return _tensor(signals)

    def _batch(self, inputs):
        if self.tokens:
            return nn.functional.one_hot(inputs, self.vocabulary).float()
        return inputs

    def fit_epoch(self, signals, features, labels, progress=False):
        """One pass over the samples in random minibatches; the mean cross-entropy (over every
        step where every step has a target)."""
        signals, features = self._inputs(signals), _tensor(features)
        labels = torch.as_tensor(np.asarray(labels))
        self.samples = signals.shape[1]
        self.model.train()
        order = torch.randperm(len(labels), generator=self.generator)
        batch, total = self.config.batch, 0.0
        batches = range(0, len(order), batch)
        for k in tqdm(batches, desc=f"{self.name} train", disable=not progress, leave=False):
            chosen = order[k : k + batch]
            self.optimiser.zero_grad()
            logits = self.model(self._batch(signals[chosen]), features[chosen])
            loss = nn.functional.cross_entropy(logits.flatten(0, -2), labels[chosen].flatten())
            loss.backward()
            self.optimiser.step()
            total += float(loss.detach()) * len(chosen)
        return total / len(order)

    def predict_proba(self, signals, features, progress=False):
        """Class probabilities ``(n, classes)``, or ``(n, time, classes)`` per step, in float64,
        without learning."""
        self.model.eval()
        self.model.start_counting()
        signals, features = self._inputs(signals), _tensor(features)
        probability = []
        with torch.no_grad():
            for k in range(0, len(signals), 256):
                logits = self.model(self._batch(signals[k : k + 256]), features[k : k + 256])
                if self.tokens:  # in float64: tiny next-token probabilities enter -log2 p
                    logits = logits.double()
                probability.append(torch.softmax(logits, dim=-1))
        return torch.cat(probability).double().numpy()

    def costs(self):
        """Learned parameters, and multiply-accumulates and accumulates per sample (from the
        last prediction's spikes, for the SNN)."""
        ops = self.model.macs(self.samples)  # per sample, from the training signals' length
        return {
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "macs": float(ops["macs"]),
            "accumulates": float(ops["accumulates"]),
            "spike_sparsity": float(ops.get("spike_sparsity", np.nan)),  # NaN: no spikes
        }


def _tensor(values):
    return torch.as_tensor(np.asarray(values)).float()
