"""Benchmark: the scaled Song–Miller–Abbott STDP network built with bimsim's STDP rule against
Brian2's hand-written version of the same network, on the same standalone device, in the same run.

The network is the one brian2cuda benchmarks (``STDPCUDA`` in ``brian2cuda/tests/features/
speed.py``): N Poisson inputs at 15 Hz onto N/1000 LIF neurons, each input onto one neuron
(contiguous blocks of 1000, so every neuron has 1000 plastic synapses), additive pair STDP with
τ₊ = τ₋ = 20 ms, A₋/A₊ = 1.05 and weights clipped to [0, gmax], simulated for ``--duration``
(10 s) at dt = 0.1 ms. The two variants differ only in their synapses: bimsim's
:func:`bimsim.plasticity.stdp.stdp_synapses` (``pair_rule``, hard bounds, ``transmit="ge += w"``)
or the hand-written ``Synapses`` of brian2cuda's benchmark, with two changes that make the
networks the same: the hand-written ``on_pre`` transmits the spike after its weight update (as
bimsim's ``transmit`` does; brian2cuda transmits before), and connections are made with
``j = i // 1000`` in both (brian2cuda's condition over all N²/1000 pairs is slow to build at
large N; the synapses are the same). The neurons start at rest, v = vr (brian2cuda's at 0 mV, far
above threshold).

Each (size, variant) is built and run once, then its compiled binary is run ``--repeats`` - 1
more times without rebuilding; the median of the binary's own simulation time (Brian2's
``device._last_run_time``, no code generation, compilation or process start) is compared.
Target: bimsim / Brian2 at most 1.05 at every size. Both variants run from the same seed and
must end with the same weights (to 1e-12 of gmax; the run fails otherwise); their mean weight and
output rate are recorded. Writes ``results/bench_stdp_network.nc``::

    python benchmarks/bench_stdp_network.py --sizes 1000 10000 100000 --duration 10s
"""

import bimsim  # noqa: F401  (first: refuses a bad MPLBACKEND in one line, before matplotlib)

# isort: split
import os
import statistics
import sys
import time

import brian2
import numpy as np
import xarray as xr
from brian2 import Hz, NeuronGroup, PoissonGroup, SpikeMonitor, Synapses, ms, mV, second

from bimsim.cli import (
    ArgumentParser,
    add_out_argument,
    add_seed_argument,
    check_device_argument,
    distinct,
    integer,
    quantity,
    run_command,
)
from bimsim.devices import SimulationInterrupted, simulation_device
from bimsim.io import labelled, provenance, write_dataset
from bimsim.limits import require_steps
from bimsim.plasticity.stdp import WeightBounds, pair_rule, stdp_synapses

#: Plastic synapses onto each neuron (brian2cuda's K_poisson).
FAN_IN = 1000

#: Largest N: 1e7 synapses take about 1 GiB (weights, traces, indices, spike queue, read-back).
MAX_SIZE = 10**7

#: Most runs of each binary.
MAX_REPEATS = 100

#: The network's parameters (Song, Miller & Abbott 2000, as in Brian2's and brian2cuda's example).
PARAMETERS = {
    "taum": 10 * ms,
    "taupre": 20 * ms,
    "taupost": 20 * ms,
    "Ee": 0 * mV,
    "vt": -54 * mV,
    "vr": -60 * mV,
    "El": -74 * mV,
    "taue": 5 * ms,
    "gmax": 0.01,
}
RATE = 15 * Hz
DT = 0.1 * ms
DAPRE = 0.01 * PARAMETERS["gmax"]
DAPOST = -0.01 * 1.05 * PARAMETERS["gmax"]

NEURONS = """
dv/dt = (ge * (Ee - vr) + El - v) / taum : volt
dge/dt = -ge / taue : 1
"""

VARIANTS = ("bimsim", "brian2")

#: Most bimsim / Brian2 time.
TARGET = 1.05

#: Largest difference of the two variants' final weights, in units of gmax.
WEIGHT_TOLERANCE = 1e-12


def hand_written_synapses(inputs, neurons):
    """brian2cuda's ``STDPCUDA`` synapses, transmitting after the weight update."""
    return Synapses(
        inputs,
        neurons,
        """w : 1
        dApre/dt = -Apre / taupre : 1 (event-driven)
        dApost/dt = -Apost / taupost : 1 (event-driven)""",
        on_pre="""w = clip(w + Apost, 0, gmax)
        Apre += dApre
        ge += w""",
        on_post="""Apost += dApost
        w = clip(w + Apre, 0, gmax)""",
        namespace={"dApre": DAPRE, "dApost": DAPOST, **PARAMETERS},
        name="stdp",
    )


def bimsim_synapses(inputs, neurons):
    """The same synapses from bimsim's STDP rule: W(Δt) = A₊ exp(-Δt/τ₊), -A₋ exp(Δt/τ₋)."""
    rule = pair_rule(DAPRE, -DAPOST, PARAMETERS["taupre"], PARAMETERS["taupost"])
    bounds = WeightBounds("hard", 0.0, PARAMETERS["gmax"])
    return stdp_synapses(inputs, neurons, rule, bounds, transmit="ge += w", name="stdp")


def simulate(variant, n, duration, device, seed, repeats):
    """Build and run one variant at size ``n``; return its timings and checks."""
    build = {"bimsim": bimsim_synapses, "brian2": hand_written_synapses}[variant]
    with simulation_device(device, f"bench_stdp_{variant}") as sim:
        brian2.defaultclock.dt = DT
        brian2.seed(seed)
        inputs = PoissonGroup(n, rates=RATE, name="inputs")
        neurons = NeuronGroup(
            n // FAN_IN,
            NEURONS,
            threshold="v > vt",
            reset="v = vr",
            method="exact",
            namespace=PARAMETERS,
            name="neurons",
        )
        neurons.v = PARAMETERS["vr"]
        synapses = build(inputs, neurons)
        synapses.connect(j=f"i // {FAN_IN}")
        synapses.w = f"rand() * {PARAMETERS['gmax']!r}"
        spikes = SpikeMonitor(neurons, record=False, name="spikes")
        net = brian2.Network(inputs, neurons, synapses, spikes)
        start = time.perf_counter()
        sim.run(net, duration)
        build_seconds = time.perf_counter() - start
        device_ = brian2.get_device()
        runs = [device_._last_run_time]
        for _ in range(repeats - 1):
            device_.run(str(sim.directory), with_output=False)
            if device_._last_run_completed_fraction < 1:
                raise SimulationInterrupted(f"a rerun of {variant} at N = {n} stopped early")
            runs.append(device_._last_run_time)
        weights = np.array(synapses.w[:]) / PARAMETERS["gmax"]
        rate = spikes.num_spikes / (n // FAN_IN) / float(duration / second)
    return {
        "simulation": statistics.median(runs),
        "build": build_seconds,
        "weights": weights,
        "weight": float(weights.mean()),
        "rate": rate,
    }


def parser():
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--sizes",
        nargs="+",
        action=distinct("size"),
        type=integer(FAN_IN, MAX_SIZE, "1e7 synapses"),
        default=[1000, 10000, 100000],
        help="N, Poisson inputs and plastic synapses, a multiple of 1000 "
        "(default: 1000 10000 100000)",
    )
    p.add_argument(
        "--duration",
        type=quantity("time", positive=True),
        default=10 * second,
        help="simulated time (default: 10s)",
    )
    p.add_argument(
        "--device",
        choices=("cpp_standalone", "cuda_standalone"),
        default="cpp_standalone",
        help="standalone device both variants run on (default: cpp_standalone)",
    )
    p.add_argument(
        "--repeats",
        type=integer(1, MAX_REPEATS),
        default=3,
        help="runs of each compiled binary (default: 3)",
    )
    add_seed_argument(p)
    add_out_argument(p, "results/bench_stdp_network.nc")
    return p


def check_arguments(p, args):
    """Refuse what the run could not do, before any work (a ``p.error``)."""
    if odd := [n for n in args.sizes if n % FAN_IN]:
        p.error(f"argument --sizes: must be multiples of {FAN_IN}, got {odd[0]}")
    steps = float(args.duration / DT)
    if abs(steps - round(steps)) > 1e-9 * steps:
        p.error(f"argument --duration: must be a whole number of {DT} steps, got {args.duration}")
    try:
        require_steps(f"--duration {args.duration}", round(steps), DT)
    except ValueError as err:
        p.error(str(err))
    try:
        check_device_argument(args)  # no GPU, no compiler, a build cache that cannot be written
    except ValueError as err:
        p.error(str(err))


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    check_arguments(p, args)
    sizes = sorted(args.sizes)
    results = {}
    for k, n in enumerate(sizes):
        for variant in VARIANTS[:: (-1) ** k]:  # each goes first at every other size
            results[n, variant] = simulate(
                variant, n, args.duration, args.device, args.seed, args.repeats
            )

    def table(key):
        return [[results[n, v][key] for v in VARIANTS] for n in sizes]

    for n in sizes:
        difference = np.abs(results[n, "bimsim"]["weights"] - results[n, "brian2"]["weights"])
        if not difference.max() <= WEIGHT_TOLERANCE:
            sys.exit(
                f"{p.prog}: error: at N = {n} bimsim's and Brian2's networks ended with different "
                f"weights (by up to {difference.max():.3g} gmax); no result was written"
            )
    seconds = np.array(table("simulation"))
    ratio = seconds[:, 0] / seconds[:, 1]
    print(f"{'N':>9}{'bimsim s':>10}{'brian2 s':>10}{'ratio':>8}  weights/gmax  rates (Hz)")
    for k, n in enumerate(sizes):
        weight = table("weight")[k]
        rate = table("rate")[k]
        print(
            f"{n:>9}{seconds[k, 0]:>10.3f}{seconds[k, 1]:>10.3f}{ratio[k]:>8.3f}"
            f"  {weight[0]:.3f} {weight[1]:.3f}   {rate[0]:.2f} {rate[1]:.2f}"
        )
    verdict = "meets" if (ratio <= TARGET).all() else "misses"
    print(f"bimsim / Brian2: at most {ratio.max():.3f} ({verdict} the target <= {TARGET})")
    dims = ("size", "variant")
    ds = xr.Dataset(
        {
            "seconds": labelled(dims, seconds, "s", "median simulation time of the binary"),
            "build_seconds": labelled(
                dims, table("build"), "s", "code generation, compilation and first run"
            ),
            "ratio": labelled(
                "size", ratio, "1", "bimsim time / Brian2 time", target=f"<= {TARGET}"
            ),
            "mean_weight": labelled(dims, table("weight"), "1", "final mean weight / gmax"),
            "rate": labelled(dims, table("rate"), "Hz", "mean output rate"),
        },
        coords={
            "size": labelled("size", sizes, "1", "Poisson inputs N (plastic synapses)"),
            "variant": labelled("variant", list(VARIANTS), "1", "how the synapses were written"),
        },
    )
    parameters = {
        "sizes": " ".join(map(str, sizes)),
        "duration": args.duration,
        "repeats": args.repeats,
        "dt": DT,
        "cpus": os.cpu_count(),
    }
    ds.attrs.update(provenance(device=args.device, seed=args.seed, parameters=parameters))
    print(f"wrote {write_dataset(ds, args.out)}")


if __name__ == "__main__":
    run_command(main)
