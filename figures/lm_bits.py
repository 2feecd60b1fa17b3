"""Draw the bits per character of every test sequence, per model, from a saved LM dataset.

    python figures/lm_bits.py --input results/lm.nc

writes ``results/figures/lm_bits.png`` and ``.pdf``: one box per model (the first seed's test
sequences), the overall bpc (mean ± s.d. over the runs) under each, and the uniform distribution
over the vocabulary for reference (:func:`bimsim.plotting.draw_bits`).
"""

from bimsim.cli import run_command
from bimsim.plotting import BITS_REQUIRES, draw_bits, figure_main

REQUIRES = BITS_REQUIRES
draw = draw_bits


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="lm",
        figure="lm_bits",
        protocol="python -m bimsim.tasks.lm",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
