"""The command line every task shares: ``python -m bimsim.tasks.<task>``.

A task module describes itself with a :class:`TaskCommand` (its flags, its checks, how to load its
:class:`~bimsim.tasks.runner.TaskData`, its defaults and its ``--quick`` settings) and calls
:func:`run_command` on ``TASK.main``. The shared flags:

``--models`` (default: BIM, the baselines and the floor; the BIM ablations on request),
``--validate`` (validation folds within the training samples, for choosing settings), ``--seed``
and ``--seeds N`` (seeds ``seed`` to ``seed + N - 1``; the table gives mean ± s.d.), ``--quick``
(a smoke run on at most a few hundred samples per fold, shorter training), ``--data``, ``--out``,
``--no-progress``, BIM's ``--epochs``, ``--hidden``, ``--copies``, ``--lam``, ``--eta``,
``--readout-lr``, ``--readout-scale``, ``--target-rate``, ``--lr-decay``, ``--optimizer``,
``--weight-decay``, ``--readout-optimizer``, ``--readout-weight-decay``, and the baselines'
``--baseline-epochs``. Every flag is checked, and the run's memory bounded, before any data is
read; what the user typed is never replaced by a default, and a flag that acts on none of the
models asked for is refused.
"""

import dataclasses
from dataclasses import dataclass, field

from brian2 import Hz, ms, mV

from bimsim.cli import (
    MAX_SEED,
    ArgumentParser,
    add_run_arguments,
    check_output_path,
    finish_run,
    integer,
    real,
)
from bimsim.limits import require_bytes
from bimsim.neurons import NEURONS
from bimsim.plasticity.optimizers import KINDS, require_decay
from bimsim.tasks.config import (
    MAX_BASELINE_EPOCHS,
    MAX_COPIES,
    MAX_EPOCHS,
    MAX_HIDDEN,
    BaselineConfig,
    BIMConfig,
    as_attrs,
)
from bimsim.tasks.models import DEFAULT_MODELS, MODELS, BIMModel
from bimsim.tasks.runner import (
    VALIDATION_FRACTION,
    ModelFailure,
    TaskData,
    plan_runs,
    run_task,
    table,
    validation_task,
)

__all__ = ["MAX_SEEDS", "Quick", "TaskCommand", "data_folders"]

#: Most seeds of one run.
MAX_SEEDS = 100


@dataclass(frozen=True)
class Quick:
    """What ``--quick`` changes: fields of the BIM and baseline configs, a cap on the training and
    test samples of each fold, and the folds run (the first ``folds``)."""

    bim: dict = field(default_factory=lambda: {"epochs": 1, "copies": 32})
    baseline: dict = field(default_factory=lambda: {"epochs": 1})
    samples: int = 256
    folds: int = 1


def _nothing(*args):
    return None


@dataclass(frozen=True)
class TaskCommand:
    """One task's command.

    Parameters
    ----------
    name : str
        The task (``results/<name>.nc``).
    description : str
        ``--help``'s text (the task module's docstring).
    load : callable
        ``load(args) -> TaskData``; ``FileNotFoundError`` and ``ValueError`` become one-line errors.
    add_arguments : callable, optional
        ``add_arguments(parser)``: the task's own flags.
    check : callable, optional
        ``check(parser, args)``: refusals the parser cannot see; runs before any data is read.
    prepare : callable, optional
        ``prepare(args)``: work after the checks and before loading (e.g. a download).
    data_dir : callable, optional
        ``data_dir(data)``: the folder ``load`` reads for ``--data`` ``data`` (None: the default
        under ``$BIMSIM_DATA``), raising ``FileNotFoundError`` if there is no such folder (the
        files in it are checked by ``load``); None where the default is data shipped with
        bimsim. Lets a caller check that a task's data is there before any work.
    bim, baseline : BIMConfig, BaselineConfig
        The task's defaults.
    quick : Quick
    data_help : str
        What ``--data`` names.
    """

    name: str
    description: str
    load: object
    add_arguments: object = _nothing
    check: object = _nothing
    prepare: object = _nothing
    data_dir: object = _nothing
    bim: BIMConfig = field(default_factory=BIMConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    quick: Quick = field(default_factory=Quick)
    data_help: str = "the dataset's folder"

    def parser(self):
        p = ArgumentParser(description=self.description)
        p.add_argument("--data", help=self.data_help)
        # the folder the task reads: what --data names, or the task's default one
        p.add_input("--data", lambda args: args.data or self.data_dir(None))
        self.add_arguments(p)
        p.add_argument(
            "--models",
            nargs="+",
            choices=list(MODELS),
            default=list(DEFAULT_MODELS),
            metavar="MODEL",
            help="models to train and test, in the table's order, from "
            f"{', '.join(MODELS)} (default: {' '.join(DEFAULT_MODELS)}); the bim_* rows are BIM "
            "with η = 0 (frozen), λ = 0 (STDP), λ = 0.5 (mixed) or λ = 1 (gradient), whatever "
            "--eta or --lam say; the probe_* rows fit a logistic regression to the spikes of the "
            "encoder, the untrained layer or the trained layer",
        )
        add_run_arguments(
            p,
            out=None,
            devices=("runtime",),
            out_help=f"results/{self.name}.nc; results/{self.name}_validation.nc with --validate",
        )
        p.add_argument(
            "--validate",
            action="store_true",
            help="choose settings: train and score on validation folds within each fold's "
            "training samples (the task's own, the next fold's test set for cross-validation, "
            f"or {VALIDATION_FRACTION:g} of them held out), never reading that fold's test "
            f"samples; writes results/{self.name}_validation.nc unless --out says otherwise",
        )
        p.add_argument(
            "--seeds",
            type=integer(1, MAX_SEEDS),
            default=1,
            help="run with seeds SEED .. SEED + N - 1; the table gives mean ± s.d. (default 1)",
        )
        quick_bim, quick_base = self.quick.bim, self.quick.baseline
        p.add_argument(
            "--quick",
            action="store_true",
            help=f"a smoke run: at most {self.quick.samples} training and test samples, the first "
            f"{self.quick.folds} fold(s), shorter training",
        )

        def default(config, changes, key):
            text = f"default {getattr(config, key)}"
            if key in changes:
                text += f", {changes[key]} with --quick"
            return text

        bim = self.bim
        p.add_argument(
            "--epochs",
            type=integer(1, MAX_EPOCHS),
            help=f"BIM's training epochs ({default(bim, quick_bim, 'epochs')})",
        )
        p.add_argument(
            "--hidden",
            type=integer(1, MAX_HIDDEN),
            help=f"BIM's spiking neurons ({default(bim, quick_bim, 'hidden')})",
        )
        p.add_argument(
            "--neuron",
            choices=tuple(NEURONS),
            help="BIM's neuron model: lif; tc_lif, the two-compartment TC-LIF / LSTM-LIF of "
            "Zhang et al.; p_spikessm, the probabilistic spiking SSM neuron of P-SpikeSSM; "
            "elm, the Expressive Leaky Memory neuron of Spieler et al. with a spiking read-out "
            f"(default {bim.neuron})",
        )
        p.add_argument(
            "--copies",
            type=integer(1, MAX_COPIES),
            help=f"samples BIM simulates at once ({default(bim, quick_bim, 'copies')})",
        )
        p.add_argument(
            "--lam",
            type=real(0, 1),
            help=f"BIM's λ, 1: gradient, 0: STDP ({default(bim, quick_bim, 'lam')})",
        )
        p.add_argument(
            "--eta",
            type=real(minimum=0),
            help=f"BIM's η of the spiking layer ({default(bim, quick_bim, 'eta')})",
        )
        p.add_argument(
            "--readout-lr",
            type=real(minimum=0),
            dest="readout_learning_rate",
            help="BIM's readout learning rate "
            f"({default(bim, quick_bim, 'readout_learning_rate')})",
        )
        p.add_argument(
            "--readout-scale",
            type=real(above=0),
            help="BIM's readout reads the layer's filtered spike trains times this "
            f"({default(bim, quick_bim, 'readout_scale')})",
        )
        p.add_argument(
            "--target-rate",
            type=real(minimum=0),
            help="before training, BIM's input weights are scaled so that its layer fires at "
            f"this mean rate, in Hz (0: no scaling; {default(bim, quick_bim, 'target_rate')})",
        )
        low, high = (float(t / ms) for t in bim.tau_m)
        p.add_argument(
            "--tau-m",
            nargs="+",
            type=real(above=0),
            metavar="MS",
            help="BIM's membrane time constant in ms, or LOW HIGH: time constants log-spaced over "
            f"the layer's neurons (default {low:g}" + ("" if low == high else f" {high:g}") + ")",
        )
        p.add_argument(
            "--recurrent",
            type=real(minimum=0),
            metavar="STD",
            help="recurrent synapses within BIM's layer, learning as its input synapses do, "
            "their initial weights normal with mean 0 and this standard deviation "
            f"(default {bim.recurrent:g}: none)",
        )
        p.add_argument(
            "--prune-target",
            type=real(0, below=1),
            metavar="RHO",
            help="ρ, the fraction of BIM's input synapses that adaptive pruning removes during "
            f"training, below 1 (default {bim.prune_target:g}: no pruning)",
        )
        p.add_argument(
            "--adaptation",
            type=real(minimum=0),
            metavar="MV",
            help="BIM's threshold adaptation (ALIF): each spike raises a neuron's threshold by "
            f"this, in mV (default {float(bim.adaptation / mV):g}: plain LIF)",
        )
        p.add_argument(
            "--tau-adaptation",
            type=real(above=0),
            metavar="MS",
            help="decay time of the threshold's adaptation, in ms "
            f"(default {float(bim.tau_adaptation / ms):g})",
        )
        p.add_argument(
            "--lr-decay",
            type=real(maximum=1, above=0),
            help="BIM's schedule: epoch e learns at both rates times LR_DECAY ** e "
            f"({default(bim, quick_bim, 'lr_decay')}: constant)",
        )
        for part, what in (("", "spiking layer's"), ("readout-", "readout's")):
            key = f"{part.replace('-', '_')}optimizer"
            current = getattr(bim, key)
            p.add_argument(
                f"--{part}optimizer",
                choices=KINDS,
                help=f"how BIM's {what} updates are made (default {current.kind})",
            )
            p.add_argument(
                f"--{part}weight-decay",
                type=real(minimum=0),
                help=f"decoupled weight decay of BIM's {what} updates, per unit of its rate "
                f"(default {current.weight_decay:g})",
            )
        p.add_argument("--baseline-epochs", type=integer(1, MAX_BASELINE_EPOCHS),
                       help="the baselines' epochs "
                       f"({default(self.baseline, quick_base, 'epochs')})")  # fmt: skip
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
        return p

    def bim_changes(self, args):
        """The fields of the task's BIM config that ``args`` change: ``--quick``'s changes, then
        what the user typed."""
        bim = dict(self.quick.bim) if args.quick else {}
        for key in (
            "epochs",
            "hidden",
            "neuron",
            "copies",
            "lam",
            "eta",
            "readout_learning_rate",
            "readout_scale",
            "lr_decay",
            "recurrent",
            "prune_target",
        ):
            if getattr(args, key) is not None:
                bim[key] = getattr(args, key)
        if args.target_rate is not None:
            bim["target_rate"] = args.target_rate * Hz
        if args.adaptation is not None:
            bim["adaptation"] = args.adaptation * mV
        if args.tau_adaptation is not None:
            bim["tau_adaptation"] = args.tau_adaptation * ms
        if args.tau_m is not None:
            if len(args.tau_m) > 2:
                raise ValueError(f"--tau-m takes one time or LOW HIGH, not {len(args.tau_m)}")
            low, high = args.tau_m[0], args.tau_m[-1]
            bim["tau_m"] = (low * ms, high * ms)
        for part in ("", "readout_"):
            typed = {
                "kind": getattr(args, f"{part}optimizer"),
                "weight_decay": getattr(args, f"{part}weight_decay"),
            }
            typed = {name: value for name, value in typed.items() if value is not None}
            if typed:
                key = f"{part}optimizer"
                bim[key] = dataclasses.replace(bim.get(key, getattr(self.bim, key)), **typed)
        return bim

    def configs(self, args):
        """The config of every model ``args`` asks for: the task's defaults, ``--quick``'s
        changes, then what the user typed."""
        bim = self.bim_changes(args)
        baseline = dict(self.quick.baseline) if args.quick else {}
        if args.baseline_epochs is not None:
            baseline["epochs"] = args.baseline_epochs
        by_type = {
            BaselineConfig: dataclasses.replace(self.baseline, **baseline),
            type(None): None,
        }
        configs = {}
        for name in args.models:
            spec = MODELS[name]
            if spec.config is BIMConfig:  # with the row's own settings at once (bim_frozen: η = 0)
                configs[name] = dataclasses.replace(self.bim, **{**bim, **spec.changes})
            else:
                configs[name] = spec.configure(
                    by_type[spec.config] if spec.config in by_type else spec.config()  # defaults
                )
        return configs

    def check_arguments(self, p, args):
        """Refuse, before any data is read, what the parser alone cannot see."""
        repeated = sorted({m for m in args.models if args.models.count(m) > 1})
        if repeated:
            p.error(f"--models: {', '.join(repeated)} given more than once")
        if args.seed + args.seeds - 1 > MAX_SEED:
            p.error(
                f"--seed + --seeds - 1 must be at most {MAX_SEED}, got {args.seed + args.seeds - 1}"
            )
        self.check(p, args)
        try:
            changes = self.bim_changes(args)
        except ValueError as err:
            p.error(str(err))
        defaults = {
            item.name: getattr(self.bim, item.name) for item in dataclasses.fields(self.bim)
        }
        for name in args.models:  # each BIM row as it will run (bim_frozen: η = 0)
            if MODELS[name].config is BIMConfig:
                check_decay(p, {**defaults, **changes, **MODELS[name].changes})
        try:
            configs = self.configs(args)
        except ValueError as err:
            p.error(str(err))
        check_effect(p, args, configs)
        bims = [config for config in configs.values() if isinstance(config, BIMConfig)]
        if bims:
            from bimsim.readout import SelectiveSSM

            bim = bims[0]  # sizes are not ablated: every BIM row has the same
            try:
                require_bytes(
                    f"BIM's readout with --hidden {bim.hidden} and --copies {bim.copies}",
                    SelectiveSSM.state_bytes(bim.hidden, bim.states, bim.copies),
                )
            except ValueError as err:
                p.error(str(err))
        return configs

    def main(self, argv=None):
        """Parse, check, load, run every model, write ``--out`` and print the table."""
        p = self.parser()
        args = p.parse_args(argv)
        configs = self.check_arguments(p, args)
        if args.out is None:  # the default, by what the run is
            stem = f"{self.name}_validation" if args.validate else self.name
            try:
                args.out = str(check_output_path(f"results/{stem}.nc"))
            except ValueError as err:
                p.error(f"argument --out: {err}")
            try:
                p.check_outputs(args)
            except ValueError as err:
                p.error(str(err))
        self.prepare(args)
        seeds = list(range(args.seed, args.seed + args.seeds))
        quick = {"quick": self.quick.samples, "first_folds": self.quick.folds} if args.quick else {}
        try:
            tasks = self.load(args)
            if isinstance(tasks, TaskData):
                tasks = {None: tasks}
            if args.validate:
                tasks = {variant: validation_task(task) for variant, task in tasks.items()}
            for task in tasks.values():
                plans = plan_runs(task, seeds, **quick)
                check_copies(configs, plans)
                check_memory(configs, task)
        except (OSError, ValueError) as err:  # OSError: a data file missing or unreadable
            p.error(str(err))
        describe(next(iter(tasks.values())), self.quick if args.quick else None)
        results = {}
        try:
            for variant, task in tasks.items():
                if variant is not None:
                    print(f"inputs: {variant}")
                results[variant] = run_task(
                    task, configs, seeds, progress=not args.no_progress, **quick
                )
        except ModelFailure as err:
            p.exit(1, f"{p.prog}: {err}; no result was written\n")
        ds = results[None] if None in results else stack_variants(results)
        for name, config in configs.items():
            if config is not None:
                ds.attrs.update(as_attrs(config, MODELS[name].prefix or name))
        summary = "\n".join(
            (f"\ninputs: {variant}\n" if variant is not None else "") + table(result)
            for variant, result in results.items()
        )
        finish_run(ds, args, summary=summary)
        return ds


#: The flags that set BIM's config: their ``args`` attribute and the config field each sets.
BIM_FLAGS = {
    "--epochs": ("epochs", "epochs"),
    "--hidden": ("hidden", "hidden"),
    "--neuron": ("neuron", "neuron"),
    "--copies": ("copies", "copies"),
    "--lam": ("lam", "lam"),
    "--eta": ("eta", "eta"),
    "--readout-lr": ("readout_learning_rate", "readout_learning_rate"),
    "--readout-scale": ("readout_scale", "readout_scale"),
    "--target-rate": ("target_rate", "target_rate"),
    "--tau-m": ("tau_m", "tau_m"),
    "--recurrent": ("recurrent", "recurrent"),
    "--prune-target": ("prune_target", "prune_target"),
    "--adaptation": ("adaptation", "adaptation"),
    "--tau-adaptation": ("tau_adaptation", "tau_adaptation"),
    "--lr-decay": ("lr_decay", "lr_decay"),
    "--optimizer": ("optimizer", "optimizer"),
    "--weight-decay": ("weight_decay", "optimizer"),
    "--readout-optimizer": ("readout_optimizer", "readout_optimizer"),
    "--readout-weight-decay": ("readout_weight_decay", "readout_optimizer"),
}


def _inert(config):
    """Fields of a BIM config that do not act, and why: the layer's rule and optimiser where
    η = 0, the readout's optimiser where its rate is 0, the adaptation's decay where there is
    none."""
    inert = {}
    if config.eta == 0:
        inert.update(lam="η = 0", optimizer="η = 0")
    if config.readout_learning_rate == 0:
        inert["readout_optimizer"] = "the readout's rate is 0"
    if config.adaptation == 0 * mV:
        inert["tau_adaptation"] = "adaptation = 0 mV"
    if config.neuron != "lif":
        why = f"they set the lif neuron, not {config.neuron}"
        inert.update(dict.fromkeys(("tau_m", "adaptation", "tau_adaptation"), why))
    return inert


def check_effect(p, args, configs):
    """Refuse a typed flag that acts on none of the models asked for (a BIM flag without BIM,
    ``--lam`` with only rows that fix λ or have η = 0, ``--tau-adaptation`` without adaptation,
    ``--baseline-epochs`` without a baseline): the user would believe a setting that was not
    used."""
    bims = {name: c for name, c in configs.items() if isinstance(c, BIMConfig)}
    for flag, (dest, key) in BIM_FLAGS.items():
        if getattr(args, dest) is None:
            continue
        if not bims:
            p.error(f"{flag} has no effect without a BIM model in --models")
        why = {
            f"they fix {key}"
            if key in MODELS[n].changes
            else {**_inert(c), **MODELS[n].inert}.get(key)
            for n, c in bims.items()
        }
        if None not in why:
            fixed = any(reason.startswith("they fix") for reason in why)
            p.error(
                f"{flag} has no effect on {', '.join(bims)} ({'; '.join(sorted(why))})"
                + ("; add bim to --models" if fixed else "")
            )
    baselines = [c for c in configs.values() if isinstance(c, BaselineConfig)]
    if args.baseline_epochs is not None and not baselines:
        p.error("--baseline-epochs has no effect without a baseline (cnn, gru, snn, ssm)")


#: Each learning rate's flag, its field, and the flag and field of the optimiser whose weight
#: decay acts at that rate.
DECAYS = (
    ("--eta", "eta", "--weight-decay", "optimizer"),
    ("--readout-lr", "readout_learning_rate", "--readout-weight-decay", "readout_optimizer"),
)


def check_decay(p, bim):
    """Refuse a weight decay that cannot work at its rate, naming both flags: decoupled weight
    decay multiplies every weight by ``1 - rate × decay`` at each update, which must stay above
    0 (:func:`~bimsim.plasticity.optimizers.require_decay`); ``bim`` holds BIM's fields as the
    run would have them (the rates of epoch 0, the largest)."""
    for rate_flag, rate_key, decay_flag, key in DECAYS:
        try:
            require_decay(rate_flag, bim[rate_key], decay_flag, bim[key].weight_decay)
        except ValueError as err:
            p.error(str(err))


def data_folders(tasks, root=None):
    """The data folders the commands of ``tasks`` (``"eeg"``, ...) read by default, under
    ``root`` (default ``$BIMSIM_DATA``): those that exist (a task refuses a missing one itself;
    ECG's default is data shipped with bimsim)."""
    import os
    from importlib import import_module

    previous = os.environ.get("BIMSIM_DATA")
    if root is not None:
        os.environ["BIMSIM_DATA"] = str(root)
    try:
        folders = []
        for task in tasks:
            try:
                folder = import_module(f"bimsim.tasks.{task}").TASK.data_dir(None)
            except FileNotFoundError:
                continue
            if folder is not None:
                folders.append(folder)
        return folders
    finally:
        if root is not None:
            if previous is None:
                os.environ.pop("BIMSIM_DATA", None)
            else:
                os.environ["BIMSIM_DATA"] = previous


def check_memory(configs, task):
    """Refuse a BIM network that would take more memory than a run may, with the task's sizes
    (the parser checked the readout's state alone, before the data said how many inputs and
    classes there are)."""
    bims = [config for config in configs.values() if isinstance(config, BIMConfig)]
    if not bims:
        return
    bim = bims[0]  # sizes are not ablated: every BIM row has the same
    require_bytes(
        f"BIM with --hidden {bim.hidden} and --copies {bim.copies} on this task",
        BIMModel.memory_bytes(task, bim),
    )


def check_copies(configs, plans):
    """Refuse more BIM copies than a run has training samples (a minibatch would be empty)."""
    bims = [config for config in configs.values() if isinstance(config, BIMConfig)]
    if not bims:
        return
    bim = bims[0]
    fewest = min(int(train.sum()) for train, _, _ in plans.values())
    if bim.copies > fewest:
        raise ValueError(
            f"--copies {bim.copies} is more than the {fewest} training samples of a fold: BIM "
            "trains on whole minibatches of --copies samples"
        )


def describe(task, quick):
    """Say what the first fold trains and tests on (and how many folds there are)."""
    kind = f"{task.group_kind}s"
    fold = task.folds[0]
    if "split" in task.attrs:
        print(f"split: {task.attrs['split']}")
    for name, mask in (("train", fold.train), ("test", fold.test)):
        groups = sorted(set(task.groups[mask]))
        listed = " ".join(groups) if len(groups) <= 40 else f"({len(groups)})"
        first = f" (fold {fold.name} of {len(task.folds)})" if len(task.folds) > 1 else ""
        print(f"{name}: {mask.sum()} samples of {kind} {listed}{first}")
    if quick is not None:
        print(f"--quick: at most {quick.samples} training and test samples, {quick.folds} fold(s)")


#: Variables that are the same for every variant of a task's inputs.
SHARED = ("label", "target", "group", "test_fold", "train_groups")


def stack_variants(results):
    """One Dataset of the runs on every variant of a task's inputs, over a ``variant`` dim."""
    import pandas as pd
    import xarray as xr

    first = next(iter(results.values()))
    varying = [name for name in first.data_vars if name not in SHARED]
    ds = xr.concat(
        list(results.values()),
        dim=pd.Index(list(results), name="variant"),
        data_vars=varying,
        coords="minimal",
        compat="equals",
        combine_attrs="identical",  # a task's variants share their attributes
    )
    ds["variant"].attrs.update({"units": "1", "long_name": "inputs of the task"})
    return ds
