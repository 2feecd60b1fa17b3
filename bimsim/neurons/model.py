"""The contract of a neuron model: what a BIM layer, its eligibility traces, its BPTT reference and
its costs are built from.

A neuron model is a frozen dataclass of its parameters (with units) that subclasses
:class:`NeuronModel` and declares:

- its Brian2 equations, threshold, reset, refractoriness and integration method, and how a
  group starts (:meth:`NeuronModel.equations`, :meth:`~NeuronModel.initialise`, ...);
- its synaptic input variable (:attr:`NeuronModel.input_variable`), where a synapse adds
  ``w * w_unit``, and that variable's unit (:attr:`NeuronModel.weight_unit`, a weight of 1);
- the learning-signal fragment: the pseudo-derivative ``ψ`` of its spike with respect to the
  variable the threshold reads (:meth:`NeuronModel.pseudo_derivative`);
- its eligibility fragment (:class:`Eligibility`): the per-synapse traces of ``∂(state)/∂w`` and
  the eligibility ``e_ij = ∂z_i/∂w_ij`` they give;
- the state that every sequence starts from (:meth:`NeuronModel.rest`);
- its multiply-accumulates per neuron and time step (:meth:`NeuronModel.operations_per_step`);
- a torch reference step, the discrete-time model that Brian2 computes
  (:meth:`NeuronModel.reference`), which :func:`bimsim.surrogate_bptt.layer_bptt` differentiates
  through a whole sequence.

What every learning layer shares is added here, whatever the model (:data:`LEARNING_EQUATIONS`):
the filtered spike train ``u_out`` a readout reads (+1 at each spike, decaying with
``tau_readout``), the learning signal ``L = ∂ℓ/∂u_out`` the readout writes, and ``psi``.
:func:`neuron_group` builds a group from a model and remembers the model on it
(:func:`model_of`).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
from brian2 import Equations, NeuronGroup, check_units, get_dimensions, ms, second
from brian2.units.fundamentalunits import fail_for_dimension_mismatch

from bimsim.integration import integrator
from bimsim.limits import BYTES_PER_VALUE, require_bytes
from bimsim.quantities import require_count, require_positive, require_whole

__all__ = [
    "LEARNING_EQUATIONS",
    "Eligibility",
    "NeuronModel",
    "copies_of",
    "model_of",
    "neuron_bytes",
    "neuron_group",
    "require_learning_layer",
    "require_weight_unit",
    "reset_group",
    "split_settings",
]

#: What every learning layer adds to its model's equations: ``u_out``, ``L`` and ``psi``
#: (``{psi}`` and ``{unit}``: the model's pseudo-derivative and its unit).
LEARNING_EQUATIONS = """
du_out/dt = -u_out / tau_readout : 1
L : 1
psi = {psi} : {unit}
"""


@dataclass(frozen=True)
class Eligibility:
    """A neuron model's eligibility fragment, the per-synapse part of its traces.

    Parameters
    ----------
    model : str
        The synapse's trace variables (Brian2 synaptic equations, ``(clock-driven)`` ODEs or
        plain variables); they may read the postsynaptic neuron's variables (``_post``) and
        constants, and ``w_unit``.
    on_pre : str
        What a presynaptic spike adds to the traces.
    signal : str
        The eligibility ``e_ij = ψ_i ∂(membrane)/∂w_ij`` as an expression of the traces, read
        after the threshold of every step (the ``thresholds`` slot).
    after : str
        Statements run right after the eligibility is read (``{e}``: its expression), e.g. a
        trace that the spike itself feeds.
    step : str
        Statements of a model stepped in discrete time, run every step in the ``groups`` slot
        after the neuron's own step (they may read what it wrote).
    variables : tuple of str
        The trace variables, zeroed at the start of every sequence.
    gradient : str
        What each readout step adds to the synapse's ``grad``: ``L_post * ebar``, the learning
        signal times the filtered eligibility, unless the model's spike also reaches the loss
        through other neurons of its layer (P-SpikeSSM's mixer adds a second signal and trace).
    """

    model: str
    on_pre: str
    signal: str
    variables: tuple
    after: str = ""
    step: str = ""
    gradient: str = "L_post * ebar"


class NeuronModel:
    """Base of the neuron models (subclasses are frozen dataclasses of their parameters).

    Class attributes
    ----------------
    name : str
        What ``--neuron`` calls it.
    input_variable : str
        The variable that a synapse adds ``w * w_unit`` to.
    weight_unit : Quantity
        The default ``w_unit``: the input a weight of 1 adds (its unit is the input variable's).
    external_variable : str
        A variable that holds an external input per neuron (``I_ext``), held over a step.
    per_neuron : tuple of str
        Parameters that may hold one value per neuron.
    stochastic : bool
        Whether the model draws random numbers (Brian2's ``rand()``); its reference then
        replays a run's draws.
    draws : tuple of str
        The variables that hold a stochastic model's random numbers of the step.
    """

    name = None
    input_variable = None
    weight_unit = None
    external_variable = "I_ext"
    per_neuron = ()
    stochastic = False
    draws = ()

    # -- Brian2 ----------------------------------------------------------------------------------

    def check(self, n, learning):
        """Refuse settings that do not fit a group of ``n`` neurons (``learning``: with ψ)."""
        for name in self.per_neuron:
            value = getattr(self, name)
            if np.ndim(value) not in (0, 1) or (np.ndim(value) == 1 and len(value) != n):
                raise ValueError(
                    f"{name} must be one value or {n} values (one per neuron), got {value!r}"
                )

    def equations(self, learning):
        """The model's Brian2 equations (without :data:`LEARNING_EQUATIONS`)."""
        raise NotImplementedError

    def threshold(self):
        """The threshold condition."""
        raise NotImplementedError

    def reset(self):
        """The reset statements, a list (``u_out += 1`` is added for a learning layer)."""
        raise NotImplementedError

    def refractoriness(self):
        """The refractory period (a time), or False."""
        return False

    method = "exact"

    def namespace(self):
        """The constants the equations, the reset and the traces read."""
        raise NotImplementedError

    def initialise(self, group, learning):
        """Set a new group's initial and per-neuron values, add a discrete step."""
        self.start(group)

    def rest(self):
        """The state every sequence starts from, ``{variable: value}`` (variables a group
        lacks are left out)."""
        raise NotImplementedError

    def start(self, group):
        """Put ``group`` at :meth:`rest`."""
        for name, value in self.rest().items():
            if name in group.variables:
                group.variables[name].set_value(value)

    # -- learning --------------------------------------------------------------------------------

    def pseudo_derivative(self):
        """``(expression, unit)`` of ``ψ``, the surrogate of the spike's derivative with respect
        to the variable its threshold reads."""
        raise NotImplementedError

    def eligibility(self):
        """The :class:`Eligibility` fragment of synapses onto this model."""
        raise NotImplementedError

    def operations_per_step(self, channels=1):
        """Multiply-accumulates per neuron and time step of the model's state update, in a layer
        of ``channels`` neurons per copy (only a model that acts between the neurons of a layer,
        as P-SpikeSSM's block, costs more in a wider one)."""
        raise NotImplementedError

    def reference(self, group, draws=None):
        """The torch reference step of ``group`` (a layer of this model; a stochastic model
        replays ``draws``, a run's random numbers): an object with
        ``initial(n)``, ``advance(state, drive)``, ``membrane(state)`` (what the threshold
        compares, the threshold, ψ's height and half-width), ``deliver(state, current)``,
        ``reset(state, z)`` and ``observe(state)`` (the state as the group's variables, SI
        units), and optionally ``spike(state)`` (the spike with the model's own surrogate
        gradient, instead of the triangle on ``membrane``); see
        :func:`bimsim.surrogate_bptt.layer_bptt`."""
        raise NotImplementedError

    # -- provenance ------------------------------------------------------------------------------

    def settings(self):
        """``{parameter: value}``, for provenance."""
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}


def split_settings(kind, settings):
    """Split ``settings`` into a ``kind`` model (its fields) and the rest (for the group).

    Returns
    -------
    (NeuronModel, dict)
    """
    names = {item.name for item in dataclasses.fields(kind)}
    model = kind(**{key: value for key, value in settings.items() if key in names})
    return model, {key: value for key, value in settings.items() if key not in names}


def require_weight_unit(model, name, value):
    """Check that ``value`` has the unit of ``model``'s input variable (that of its
    ``weight_unit``), naming ``name``."""
    fail_for_dimension_mismatch(
        value,
        get_dimensions(model.weight_unit),
        f"{name} must have the unit of the {model.name} model's input ({model.weight_unit!r})",
    )
    return value


def model_of(group):
    """The :class:`NeuronModel` ``group`` was built from (by :func:`neuron_group`)."""
    model = getattr(group, "__dict__", {}).get("neuron_model")
    if model is None:
        raise ValueError(
            f"{getattr(group, 'name', group)!r} was not built from a neuron model: build it "
            "with bimsim.neurons.neuron_group (or lif_neurons, ...)"
        )
    return model


def copies_of(group):
    """The independent copies of a layer that ``group`` holds (see :func:`neuron_group`)."""
    model_of(group)
    return group.__dict__.get("neuron_copies", 1)


def _equations(model, learning):
    """The equations of a group of ``model`` (with :data:`LEARNING_EQUATIONS` where
    ``learning``)."""
    equations = model.equations(learning)
    if learning:
        psi, unit = model.pseudo_derivative()
        equations += LEARNING_EQUATIONS.format(psi=psi, unit=unit)
    return equations


#: What Brian2 stores per neuron besides the model's variables: the index, the spike space, the
#: last spike and the refractory flag.
_BRIAN_VALUES = 4


def neuron_bytes(model, n, learning=False):
    """About the memory of ``n`` neurons of ``model`` (``learning``: a learning layer): the
    numbers its equations store per neuron and Brian2's own, :data:`~bimsim.limits.BYTES_PER_VALUE`
    each."""
    parsed = Equations(_equations(model, learning))
    stored = len(parsed.diff_eq_names) + len(parsed.parameter_names) + _BRIAN_VALUES
    return n * stored * BYTES_PER_VALUE


@check_units(tau_readout=second)
def neuron_group(
    model, n, *, learning=False, tau_readout=10 * ms, copies=1, name=None, **kwds
):  # fmt: skip
    """Build ``n`` neurons of ``model``.

    Parameters
    ----------
    model : NeuronModel
        The neuron model and its parameters.
    n : int
        Number of neurons (within :data:`bimsim.limits.MAX_BYTES`, see :func:`neuron_bytes`).
    copies : int
        The group holds this many independent copies of a layer of ``n / copies`` neurons
        (neuron ``c * n / copies + i`` is neuron ``i`` of copy ``c``); a model that acts between
        the neurons of a layer (P-SpikeSSM's block) acts within each copy.
    learning : bool
        Add ``u_out``, ``L`` and ``psi`` (:data:`LEARNING_EQUATIONS`), for the eligibility
        synapses of :mod:`bimsim.plasticity.eligibility` and a readout.
    tau_readout : Quantity
        Decay time of ``u_out`` (> 0).
    name : str, optional
        Brian2 object name (default: the model's name and ``*``).
    **kwds
        Passed to :class:`brian2.NeuronGroup` (e.g. ``dt``, ``clock``).

    Returns
    -------
    brian2.NeuronGroup
        At the model's rest; :func:`model_of` gives the model back.
    """
    if not isinstance(model, NeuronModel):
        raise TypeError(f"model must be a NeuronModel, got {model!r}")
    n = require_count("n", n)
    copies = require_whole("copies", copies, 1)
    if n % copies:
        raise ValueError(f"{n} neurons do not split into {copies} copies")
    require_positive("tau_readout", tau_readout, "time", scalar=True)
    if "dt" in kwds:
        require_positive("dt", kwds["dt"], "time", scalar=True)
    model.check(n, learning)
    require_bytes(f"{n} neurons of the {model.name} model", neuron_bytes(model, n, learning))
    reset = list(model.reset())
    namespace = model.namespace()
    if learning:
        reset.append("u_out += 1")
        namespace["tau_readout"] = tau_readout
    group = NeuronGroup(
        n,
        _equations(model, learning),
        threshold=model.threshold(),
        reset="\n".join(reset),
        refractory=model.refractoriness(),
        method=integrator(model.method),
        namespace=namespace,
        name=name or f"{model.name}*",
        **kwds,
    )
    object.__setattr__(group, "neuron_model", model)
    object.__setattr__(group, "neuron_copies", copies)
    model.initialise(group, learning)
    return group


def require_learning_layer(group):
    """Check that ``group`` is a learning layer of a neuron model (``neuron_group(...,
    learning=True)``); name what it lacks."""
    model_of(group)
    missing = [var for var in ("L", "psi", "u_out") if var not in group.variables]
    if missing:
        raise ValueError(f"{group.name!r} lacks {', '.join(missing)}: build it with learning=True")
    return group


def reset_group(group):
    """Put a layer at its model's rest, and end any refractory period, as Brian2 makes a group
    (a spike near the end of one sequence must not hold a neuron at the start of the next);
    ``u_out`` and ``L`` to 0."""
    model_of(group).start(group)
    if "lastspike" in group.variables:
        group.variables["lastspike"].set_value(-1e4 * second)
        group.variables["not_refractory"].set_value(True)
    for name in ("u_out", "L"):
        if name in group.variables:
            group.variables[name].set_value(0)
