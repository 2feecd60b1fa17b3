"""Optimisers for online learning: how a learning step becomes a parameter change.

A learning rule gives, at every update, a *direction* ``d`` for each parameter (the hybrid rule's
``λ (-∂L/∂w) + (1 - λ) Ω``, the readout's ``-∂L/∂θ``) and a rate ``η``. An :class:`Optimizer`
turns them into the change of the parameter ``w``::

    sgd        w += η d
    momentum   m = β₁ m + d;                                  w += η m
    rmsprop    v = β₂ v + (1 - β₂) d²;                        w += η d / (√v + ε)
    adam       m = β₁ m + (1 - β₁) d;  v = β₂ v + (1 - β₂) d²;  n += 1
               w += η (m / (1 - β₁ⁿ)) / (√(v / (1 - β₂ⁿ)) + ε)

and, with ``weight_decay`` (decoupled, as AdamW), ``w -= η · weight_decay · w`` in the same step:
each update multiplies the weight by ``1 - η · weight_decay`` before adding the step, so learning
can work only where ``η · weight_decay < 1`` (:func:`require_decay`; at 1 every update replaces
the weight by the step alone, above it flips its sign, from 2 on the weights diverge).
The state (``m``, ``v``, ``n``) belongs to each parameter and persists across sequences.

The same formulas exist twice: as Brian2 abstract code for synapses (:func:`synapse_code`, run per
synapse in generated code) and in numpy (:class:`NumpyOptimizer`, for the readout's parameters and
as the reference the synapses are tested against).
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "KINDS",
    "NumpyOptimizer",
    "Optimizer",
    "namespace",
    "require_decay",
    "require_optimizer",
    "synapse_code",
]

#: The optimisers, by name.
KINDS = ("sgd", "momentum", "rmsprop", "adam")


def _real(value):
    number = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    return number and math.isfinite(value)


def _fraction(name, value):
    if not _real(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a finite number in [0, 1), got {value!r}")


@dataclass(frozen=True)
class Optimizer:
    """An optimiser for online learning (see the module docstring).

    Parameters
    ----------
    kind : {'sgd', 'momentum', 'rmsprop', 'adam'}
    beta1 : float
        Decay of the momentum (``momentum`` and ``adam``), in [0, 1).
    beta2 : float
        Decay of the mean squared direction (``rmsprop`` and ``adam``), in [0, 1).
    epsilon : float
        Added to the root mean square, > 0.
    weight_decay : float
        Decoupled weight decay per unit of η, >= 0.
    """

    kind: str = "sgd"
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"optimiser must be one of {', '.join(KINDS)}, got {self.kind!r}")
        _fraction("beta1", self.beta1)
        _fraction("beta2", self.beta2)
        if not _real(self.epsilon) or self.epsilon <= 0:
            raise ValueError(f"epsilon must be a finite number > 0, got {self.epsilon!r}")
        if not _real(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}"
            )

    @property
    def state(self):
        """Names of the state each parameter holds: ``m`` (momentum), ``v`` (mean square),
        ``n`` (steps, for Adam's bias correction)."""
        return {"sgd": (), "momentum": ("m",), "rmsprop": ("v",), "adam": ("m", "v", "n")}[
            self.kind
        ]

    def describe(self):
        """One line for tables and provenance, e.g. ``adam(β₁=0.9, β₂=0.999, wd=0)``."""
        parts = {
            "sgd": [],
            "momentum": [f"β₁={self.beta1:g}"],
            "rmsprop": [f"β₂={self.beta2:g}"],
            "adam": [f"β₁={self.beta1:g}", f"β₂={self.beta2:g}"],
        }[self.kind]
        if self.weight_decay:
            parts.append(f"wd={self.weight_decay:g}")
        return f"{self.kind}({', '.join(parts)})" if parts else self.kind


def require_optimizer(name, value):
    """``value`` if it is an :class:`Optimizer`, SGD for None; a ``TypeError`` naming ``name``
    for anything else."""
    if value is None:
        return Optimizer()
    if not isinstance(value, Optimizer):
        raise TypeError(f"{name} must be an Optimizer, got {value!r}")
    return value


def require_decay(rate_name, rate, decay_name, decay):
    """Check that a decoupled weight decay ``decay`` can work at the learning rate ``rate``.

    Each update multiplies a weight by ``1 - rate · decay`` (see the module docstring), which
    must stay above 0: at 0 every update forgets the weight (only the step is left), below 0 it
    flips the weight's sign, and below -1 the weights grow without bound.

    Parameters
    ----------
    rate_name, decay_name : str
        What the rate and the decay are called where the user set them (``"eta"`` and
        ``"optimizer's weight_decay"``, or the command's flags).
    rate, decay : float

    Raises
    ------
    ValueError
        Naming both, their product and the largest decay that can work at this rate.
    """
    product = float(rate) * float(decay)
    if product >= 1:
        raise ValueError(
            f"{decay_name} {float(decay):g} times {rate_name} {float(rate):g} is {product:g}: "
            f"decoupled weight decay multiplies every weight by 1 - rate × decay = "
            f"{1 - product:g} at each update, which must stay above 0; give {decay_name} below "
            f"{1 / float(rate):g}"
        )


def synapse_code(optimizer, direction, prefix="opt_", *, weight="w", rate="eta", gate=None):
    """Brian2 code of ``optimizer`` for a parameter (a synaptic weight ``w`` by default).

    Parameters
    ----------
    optimizer : Optimizer
    direction : str
        Expression of the direction ``d`` (e.g. ``lam * (-grad) + (1 - lam) * omega``).
    prefix : str
        Prefix of the state variables' names (``opt_m``, ``opt_v``, ``opt_n``) and of the
        direction's temporary (``opt_d``).
    weight, rate : str
        The parameter's and the rate's names.
    gate : str, optional
        An expression that is 1 where this step updates and 0 where it does not: where 0, the
        state and the parameter keep their values (the state's new value is still computed, and
        must be finite, so Adam's bias correction reads its step count as at least 1 there).
        None: every step updates.

    Returns
    -------
    model : str
        Declarations of the state variables (``opt_m : 1`` ...), empty for SGD.
    statements : str
        Statements that update the state, to run before the parameter's update (empty for SGD).
    change : str
        The expression to add to the parameter; it reads ``rate`` and the constants of
        :func:`namespace`.
    """
    m, v, n = (f"{prefix}{name}" for name in ("m", "v", "n"))
    kind = optimizer.kind
    d = f"{prefix}d"
    lines = [] if kind == "sgd" else [(d, direction)]
    count = n if gate is None else f"clip({n}, 1, inf)"
    if kind == "sgd":
        step = f"({direction})"
    elif kind == "momentum":
        lines.append((m, f"beta1 * {m} + {d}"))
        step = m
    elif kind == "rmsprop":
        lines.append((v, f"beta2 * {v} + (1 - beta2) * {d}**2"))
        step = f"{d} / (sqrt({v}) + epsilon)"
    else:
        lines += [
            (m, f"beta1 * {m} + (1 - beta1) * {d}"),
            (v, f"beta2 * {v} + (1 - beta2) * {d}**2"),
            (n, f"{n} + 1"),
        ]
        step = f"({m} / (1 - beta1**{count})) / (sqrt({v} / (1 - beta2**{count})) + epsilon)"
    if optimizer.weight_decay:
        change = f"{rate} * ({step} - weight_decay * {weight})"
    else:
        change = f"{rate} * {step}"
    statements = []
    for target, value in lines:
        if gate is not None and target != d:
            # exact for finite values: 1 * new + 0 * old is new, 0 * new + 1 * old is old
            value = f"{gate} * ({value}) + (1 - {gate}) * {target}"
        statements.append(f"{target} = {value}")
    if gate is not None:
        change = f"{gate} * {change}"
    model = "\n".join(f"{prefix}{name} : 1" for name in optimizer.state)
    return model, "\n".join(statements), change


def namespace(optimizer):
    """The constants :func:`synapse_code`'s statements read."""
    return {
        "beta1": float(optimizer.beta1),
        "beta2": float(optimizer.beta2),
        "epsilon": float(optimizer.epsilon),
        "weight_decay": float(optimizer.weight_decay),
    }


class NumpyOptimizer:
    """:class:`Optimizer` applied to named numpy parameters, state kept per name.

    Parameters
    ----------
    optimizer : Optimizer
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.state = {}

    def new_value(self, name, value, direction, eta):
        """The parameter ``name``'s value after a step along ``direction`` at rate ``eta``.

        The state is updated; the value passed in is not changed.
        """
        o = self.optimizer
        direction = np.asarray(direction, dtype=float)
        state = self.state.setdefault(
            name, {key: np.zeros_like(direction) for key in ("m", "v")} | {"n": 0}
        )
        if o.kind == "sgd":
            step = direction
        elif o.kind == "momentum":
            state["m"] = o.beta1 * state["m"] + direction
            step = state["m"]
        elif o.kind == "rmsprop":
            state["v"] = o.beta2 * state["v"] + (1 - o.beta2) * direction**2
            step = direction / (np.sqrt(state["v"]) + o.epsilon)
        else:
            state["m"] = o.beta1 * state["m"] + (1 - o.beta1) * direction
            state["v"] = o.beta2 * state["v"] + (1 - o.beta2) * direction**2
            state["n"] += 1
            n = state["n"]
            step = (state["m"] / (1 - o.beta1**n)) / (
                np.sqrt(state["v"] / (1 - o.beta2**n)) + o.epsilon
            )
        if o.weight_decay:
            return value + eta * (step - o.weight_decay * value)
        return value + eta * step
