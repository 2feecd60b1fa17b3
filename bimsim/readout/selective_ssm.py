"""Selective state-space (Mamba-style) readout, learning by exact RTRL (SPEC eqs. 1 and 5).

For an input ``u_t`` of ``m`` channels (the spiking layer's filtered spike trains), each channel
``d`` has ``N`` diagonal states::

    Δ_t       = softplus(W_Δ u_t + b_Δ)                      (m,)     input-dependent step
    a_t[d,n]  = exp(Δ_t[d] A_c[d,n]),  A_c = -exp(A_log)     (m, N)   stable decay in (0, 1)
    B_t, C_t  = W_B u_t, W_C u_t                             (N,)
    h_t[d,n]  = a_t[d,n] h_{t-1}[d,n] + Δ_t[d] B_t[n] u_t[d]
    y_t[d]    = Σ_n C_t[n] h_t[d,n] + D[d] u_t[d]
    o_t       = W_out y_t + b_out                            (k,)     readout

(the usual Mamba discretisation, with the simplified ``Δ B`` input term). The loss is summed over
time steps, ``L = Σ_t ℓ(o_t, target_t)``.

Learning is online and exact. Because the recurrence is diagonal, the sensitivity of a state to a
recurrent parameter obeys ``S_t = a_t ⊙ S_{t-1} + ∂h_t/∂θ|_direct`` (SPEC eq. 5), elementwise:
the sensitivities to ``A_log`` (m·N numbers), ``W_Δ``, ``b_Δ`` and ``W_B`` (m·N·m, m·N, m·N·m) are
all the memory RTRL needs. They are carried forward step by step, with no stored history and no
backpropagation through time, so memory does not grow with the sequence length. ``W_C``, ``D``,
``W_out`` and ``b_out`` act within a step and take the instantaneous gradient. The gradients equal
those of backpropagation through the whole sequence (tested against torch autograd in float64).

Gradients are of the loss itself; a learning rule that descends it applies ``-η ∂L/∂θ``.
"""

from dataclasses import dataclass

import numpy as np

from bimsim.limits import require_bytes
from bimsim.quantities import require_count, require_real

__all__ = ["LOSSES", "SSMParameters", "SelectiveSSM", "check_target", "require_loss"]

LOSSES = ("mse", "cross_entropy")


def require_loss(loss):
    """Check that ``loss`` is one of :data:`LOSSES` and return it."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def check_target(target, loss, n_outputs, batch=None):
    """``target`` as an array of one row per copy: ``(B, k)`` values for ``'mse'`` (finite),
    ``(B,)`` class indices in ``[0, k)`` for ``'cross_entropy'``; ``B`` is the batch (1
    unbatched, ``batch`` None). A ``ValueError`` saying what a target must be otherwise."""
    k = n_outputs
    rows = batch or 1
    per_copy = "" if batch is None else f" for each of {rows} copies"
    values = np.asarray(target)
    numeric = values.dtype.kind in "iuf"  # not a bool, a string or a None among numbers
    if loss == "mse":
        if not numeric or values.size != rows * k:
            raise ValueError(f"an mse target is {k} numbers{per_copy}, got {target!r}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"an mse target must be finite, got {target!r}")
        return values.astype(float).reshape(rows, k)
    if (
        not numeric
        or values.size != rows
        or np.any(values % 1 != 0)
        or np.any((values < 0) | (values >= k))
    ):
        raise ValueError(f"class target must be an index in [0, {k}){per_copy}, got {target!r}")
    return values.astype(int).reshape(rows)


def check_targets(targets, loss, n_outputs, batch=None):
    """Each of ``targets`` (one per readout step, None where a step has none) checked with
    :func:`check_target`: a list of their rows (None kept), or a ``TypeError`` for something
    that is not a sequence and a ``ValueError`` naming the first bad target by its position."""
    if targets is None or isinstance(targets, str) or not hasattr(targets, "__iter__"):
        raise TypeError(
            f"targets must be a sequence of one target (or None) per readout step, got {targets!r}"
        )
    rows = []
    for step, target in enumerate(targets):
        try:
            rows.append(None if target is None else check_target(target, loss, n_outputs, batch))
        except ValueError as err:
            raise ValueError(f"targets[{step}]: {err}") from None
    return rows


@dataclass
class SSMParameters:
    """The readout's parameters (float64 arrays)."""

    W_delta: np.ndarray  # (m, m)
    b_delta: np.ndarray  # (m,)
    A_log: np.ndarray  # (m, N)
    W_B: np.ndarray  # (N, m)
    W_C: np.ndarray  # (N, m)
    D: np.ndarray  # (m,)
    W_out: np.ndarray  # (k, m)
    b_out: np.ndarray  # (k,)

    @classmethod
    def initial(cls, n_inputs, n_states, n_outputs, rng):
        """Random parameters in the usual Mamba ranges (``A_c[d,n] = -(n + 1)``, Δ ≈ 0.01 to 0.1).

        Parameters
        ----------
        n_inputs, n_states, n_outputs : int
            ``m``, ``N`` and ``k``.
        rng : numpy.random.Generator
        """
        m = require_count("n_inputs", n_inputs)
        n = require_count("n_states", n_states)
        k = require_count("n_outputs", n_outputs)
        require_bytes(
            f"a readout of {m} inputs, {n} states and {k} outputs",
            8 * cls.values(m, n, k) + 8 * m * m,  # and a draw the size of W_delta
        )
        delta = np.exp(rng.uniform(np.log(1e-2), np.log(1e-1), m))
        return cls(
            W_delta=rng.normal(0, 0.1 / np.sqrt(m), (m, m)),
            b_delta=np.log(np.expm1(delta)),  # softplus^-1
            A_log=np.log(np.tile(np.arange(1, n + 1, dtype=float), (m, 1))),
            W_B=rng.normal(0, 1 / np.sqrt(m), (n, m)),
            W_C=rng.normal(0, 1 / np.sqrt(m), (n, m)),
            D=np.ones(m),
            W_out=rng.normal(0, 1 / np.sqrt(m), (k, m)),
            b_out=np.zeros(k),
        )

    @staticmethod
    def values(n_inputs, n_states, n_outputs):
        """Numbers the parameters hold (``W_delta`` has ``m²``)."""
        m, n, k = n_inputs, n_states, n_outputs
        return m * m + m + m * n + 2 * n * m + m + k * m + k

    @property
    def shapes(self):
        """``(m, N, k)``."""
        return self.W_delta.shape[0], self.A_log.shape[1], self.W_out.shape[0]

    def as_dict(self):
        return dict(vars(self))

    def check(self):
        """Check shapes and finiteness, naming the culprit."""
        m, n, k = self.shapes
        expected = {
            "W_delta": (m, m),
            "b_delta": (m,),
            "A_log": (m, n),
            "W_B": (n, m),
            "W_C": (n, m),
            "D": (m,),
            "W_out": (k, m),
            "b_out": (k,),
        }
        for name, shape in expected.items():
            value = getattr(self, name)
            if value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name} holds NaN or infinite values")


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class SelectiveSSM:
    """A selective SSM readout that learns online by exact RTRL.

    Parameters
    ----------
    params : SSMParameters
    loss : {'mse', 'cross_entropy'}
        ``ℓ = ½ ‖o - target‖²`` (target: k values) or softmax cross-entropy (target: class index).

    Attributes
    ----------
    h : numpy.ndarray
        The state ``(m, N)`` (``(batch, m, N)`` after ``reset_state(batch)``).
    grads : dict of numpy.ndarray
        ``∂L/∂θ`` accumulated since the last :meth:`zero_grad`.
    """

    def __init__(self, params, loss="mse"):
        require_loss(loss)
        if not isinstance(params, SSMParameters):
            raise TypeError(f"params must be SSMParameters, got {params!r}")
        params.check()
        self.params = params
        self.loss = loss
        self.reset_state()
        self.zero_grad()

    @staticmethod
    def state_bytes(n_inputs, n_states, batch=1):
        """Bytes of the state and sensitivities :meth:`reset_state` allocates (before any work).

        Exact RTRL keeps ``batch·m·N·m`` sensitivities for each of ``W_delta`` and ``W_B``, so
        the memory grows as ``m²`` with the readout's inputs ``m``.
        """
        m, n, b = n_inputs, n_states, batch
        return 8 * b * m * n * (2 * m + 3)

    @staticmethod
    def require_memory(n_inputs, n_states, batch=1):
        """Refuse a readout whose state and sensitivities, with the temporaries of one
        :meth:`step` (as large again, measured), would exceed :data:`bimsim.limits.MAX_BYTES`."""
        require_bytes(
            f"a readout of {n_inputs} inputs x {n_states} states for {batch} copies (exact RTRL "
            "keeps inputs² x states sensitivities per copy)",
            2 * SelectiveSSM.state_bytes(n_inputs, n_states, batch),
        )

    def reset_state(self, batch=None):
        """Zero the state and its sensitivities (start of a new sequence).

        Parameters
        ----------
        batch : int, optional
            Number of independent copies stepped together (their inputs ``(batch, m)``); None for
            one unbatched sequence.
        """
        m, n, _ = self.params.shapes
        self.batch = None if batch is None else require_count("batch", batch)
        b = self.batch or 1
        self.require_memory(m, n, b)
        self._h = np.zeros((b, m, n))
        self._sens = {
            "A_log": np.zeros((b, m, n)),
            "W_delta": np.zeros((b, m, n, m)),
            "b_delta": np.zeros((b, m, n)),
            "W_B": np.zeros((b, m, n, m)),
        }

    @property
    def h(self):
        """The state, ``(m, N)`` or ``(batch, m, N)``."""
        return self._h[0] if self.batch is None else self._h

    def zero_grad(self):
        self.grads = {name: np.zeros_like(value) for name, value in self.params.as_dict().items()}

    def check_target(self, target):
        """``target`` as an array of one row per copy (:func:`check_target` with this readout's
        loss, outputs and batch)."""
        return check_target(target, self.loss, self.params.shapes[2], self.batch)

    def _loss_gradient(self, o, target):
        """Per-copy losses ``(B,)`` and ``∂ℓ/∂o`` ``(B, k)`` for outputs ``o`` ``(B, k)``."""
        target = self.check_target(target)
        if self.loss == "mse":
            error = o - target
            return 0.5 * (error**2).sum(axis=1), error
        shifted = o - o.max(axis=1, keepdims=True)
        total = np.exp(shifted).sum(axis=1)
        p = np.exp(shifted) / total[:, None]
        rows = np.arange(len(o))
        loss = np.log(total) - shifted[rows, target]
        p[rows, target] -= 1.0
        return loss, p

    def step(self, u, target=None):
        """Advance one time step; with a target, add this step's loss gradient to :attr:`grads`.

        Parameters
        ----------
        u : array_like
            Input, shape ``(m,)``, or ``(batch, m)`` after ``reset_state(batch)``.
        target : optional
            Target of this step (none: no loss at this step): k values or a class index, or one
            per copy when batched.

        Returns
        -------
        o : numpy.ndarray
            Output ``(k,)`` (``(batch, k)``).
        loss : float
            This step's loss (0 without a target), the mean over copies when batched.
        signal : numpy.ndarray
            ``∂ℓ_t/∂u_t`` ``(m,)`` (``(batch, m)``, each copy's own loss): how this step's loss
            depends on this step's input, the learning signal sent back to the layer that
            produced ``u``.

        Notes
        -----
        Batched copies share the parameters; their gradients are pooled as the mean over copies.
        """
        p = self.params
        m = p.shapes[0]
        u = np.asarray(u, dtype=float)
        expected = (m,) if self.batch is None else (self.batch, m)
        if u.shape != expected:
            raise ValueError(f"input has shape {u.shape}, expected {expected}")
        if not np.all(np.isfinite(u)):
            raise ValueError("input holds NaN or infinite values")
        U = u.reshape(-1, m)
        A_c = -np.exp(p.A_log)
        z = U @ p.W_delta.T + p.b_delta
        delta = _softplus(z)
        a = np.exp(delta[:, :, None] * A_c)
        B, C = U @ p.W_B.T, U @ p.W_C.T
        h_prev = self._h
        # ∂h_t/∂z_t[d], the route of W_Δ and b_Δ into the state
        dh_dz = (a * A_c * h_prev + B[:, None, :] * U[:, :, None]) * _sigmoid(z)[:, :, None]
        s = self._sens
        s["A_log"] = a * s["A_log"] + a * delta[:, :, None] * A_c * h_prev
        s["W_delta"] = a[..., None] * s["W_delta"] + dh_dz[..., None] * U[:, None, None, :]
        s["b_delta"] = a * s["b_delta"] + dh_dz
        s["W_B"] = a[..., None] * s["W_B"] + (delta * U)[:, :, None, None] * U[:, None, None, :]
        self._h = a * h_prev + (delta * U)[:, :, None] * B[:, None, :]
        y = np.einsum("bdn,bn->bd", self._h, C) + p.D * U
        o = y @ p.W_out.T + p.b_out
        single = self.batch is None
        if target is None:
            o = o[0] if single else o
            return o, 0.0, np.zeros_like(u)
        loss, g_o = self._loss_gradient(o, target)
        g_y = g_o @ p.W_out
        g_h = g_y[:, :, None] * C[:, None, :]
        weight = 1.0 / len(U)
        g = self.grads
        g["A_log"] += weight * (g_h * s["A_log"]).sum(axis=0)
        g["W_delta"] += weight * np.einsum("bdn,bdnj->dj", g_h, s["W_delta"])
        g["b_delta"] += weight * (g_h * s["b_delta"]).sum(axis=(0, 2))
        g["W_B"] += weight * np.einsum("bdn,bdnj->nj", g_h, s["W_B"])
        g_C = np.einsum("bdn,bd->bn", self._h, g_y)
        g["W_C"] += weight * g_C.T @ U
        g["D"] += weight * (g_y * U).sum(axis=0)
        g["W_out"] += weight * g_o.T @ y
        g["b_out"] += weight * g_o.sum(axis=0)
        signal = (
            (g_h * dh_dz).sum(axis=2) @ p.W_delta
            + (g_h * (delta * U)[:, :, None]).sum(axis=1) @ p.W_B
            + (g_h * B[:, None, :]).sum(axis=2) * delta
            + g_C @ p.W_C
            + g_y * p.D
        )
        if single:
            return o[0], float(loss[0]), signal[0]
        return o, float(loss.mean()), signal

    def apply(self, learning_rate, max_norm=None, optimizer=None):
        """Descend the accumulated gradient, ``θ ← θ - η ∂L/∂θ``, then zero it.

        Parameters
        ----------
        learning_rate : float
        max_norm : float, optional
            Clip the step: where the gradient's global norm (all parameters together) exceeds
            ``max_norm``, scale it down to that norm first.
        optimizer : NumpyOptimizer, optional
            Turns the direction ``-∂L/∂θ`` (clipped) into the step instead of SGD, its state kept
            per parameter (:mod:`bimsim.plasticity.optimizers`).

        Raises
        ------
        ValueError
            For a learning rate that is not a finite number >= 0, or a ``max_norm`` not above 0.
        FloatingPointError
            If the step leaves a parameter non-finite (learning diverged); the parameters are
            left as they were before the step.
        """
        require_real("learning_rate", learning_rate)
        if max_norm is not None:
            require_real("max_norm", max_norm, above=True)
        scale = 1.0
        if max_norm is not None:
            norm = np.sqrt(sum(float((grad**2).sum()) for grad in self.grads.values()))
            if norm > max_norm:
                scale = max_norm / norm
        if optimizer is None:
            updated = {
                name: getattr(self.params, name) - learning_rate * scale * grad
                for name, grad in self.grads.items()
            }
        else:
            updated = {
                name: optimizer.new_value(
                    name, getattr(self.params, name), -scale * grad, learning_rate
                )
                for name, grad in self.grads.items()
            }
        for name, value in updated.items():
            if not np.all(np.isfinite(value)):
                raise FloatingPointError(
                    f"readout learning diverged: {name} would become non-finite; "
                    "lower the learning rate"
                )
        for name, value in updated.items():
            getattr(self.params, name)[...] = value
        self.zero_grad()

    def learn_step(self, u, target, learning_rate, max_norm=None, optimizer=None):
        """One online learning step: :meth:`step`, then, where the step has a target and the
        rate is not 0, :meth:`apply` (else the step's gradient is dropped, :meth:`zero_grad`).

        Parameters
        ----------
        u, target
            As in :meth:`step`.
        learning_rate, max_norm, optimizer
            As in :meth:`apply`.

        Returns
        -------
        output, loss, signal
            As :meth:`step` returns them (computed before the parameters change).
        """
        output, loss, signal = self.step(u, target)
        if learning_rate and target is not None:
            self.apply(learning_rate, max_norm, optimizer)
        else:
            self.zero_grad()
        return output, loss, signal

    def memory_bytes(self):
        """Bytes held by the state, its sensitivities and the gradients (constant in time)."""
        arrays = [self._h, *self._sens.values(), *self.grads.values()]
        return sum(array.nbytes for array in arrays)
