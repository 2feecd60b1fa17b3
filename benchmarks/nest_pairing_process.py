"""The NEST side of ``bench_pairing.py``'s whole-process comparison: one process that does what a
NEST user's script does (import NEST and numpy, build the schedule's network, simulate, save the
weight changes), and no more. It imports neither Brian2 nor xarray; ``bench_pairing.py`` starts it
and gives it the schedule::

    python benchmarks/nest_pairing_process.py SCHEDULE.npz DW.npy

``SCHEDULE.npz`` holds ``pre_steps`` and ``post_steps`` (one array per channel, as ``pre_0``,
``post_0``, ...), ``dt`` and ``longest_tau`` (ms) and ``model`` (the JSON of
:func:`bimsim.nest_peer.nest_model`'s synapse and post-neuron parameters).
"""

import json
import sys

import numpy as np

from bimsim.nest_peer import simulate_spike_pairs_nest


def main(schedule_file, out_file):
    data = np.load(schedule_file)
    synapse, post_params = json.loads(str(data["model"]))
    n = int(data["channels"])
    dw = simulate_spike_pairs_nest(
        [data[f"pre_{c}"] for c in range(n)],
        [data[f"post_{c}"] for c in range(n)],
        float(data["dt"]),
        synapse,
        post_params,
        longest_tau=float(data["longest_tau"]),
    )
    np.save(out_file, dw)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} SCHEDULE.npz DW.npy")
    main(*sys.argv[1:])
