"""Draw ROC and precision-recall curves (seizure vs non-seizure windows) from a saved EEG dataset.

    python figures/eeg_roc.py --input results/eeg.nc

writes ``results/figures/eeg_roc.png`` and ``.pdf``: one row per variant of the inputs (raw,
normalised), one curve per model (the first seed's test predictions, every fold), scored on
1 - p(non-seizure), with the AUCs' mean ± s.d. over the runs in the legend
(:func:`bimsim.plotting.draw_roc`).
"""

from bimsim.cli import run_command
from bimsim.plotting import VARIANTS_ROC_REQUIRES, draw_roc, figure_main

REQUIRES = VARIANTS_ROC_REQUIRES
draw = draw_roc


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="eeg",
        figure="eeg_roc",
        protocol="python -m bimsim.tasks.eeg",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
