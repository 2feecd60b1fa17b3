"""Draw ROC and precision-recall curves (abnormal vs normal beats) from a saved ECG dataset.

    python figures/ecg_roc.py --input results/ecg.nc

writes ``results/figures/ecg_roc.png`` and ``.pdf``: one curve per model (the first seed's test
predictions, every fold), scored on 1 - p(N), with the AUCs' mean ± s.d. over the runs in the
legend (:func:`bimsim.plotting.draw_roc`).
"""

from bimsim.cli import run_command
from bimsim.plotting import ROC_REQUIRES, draw_roc, figure_main

REQUIRES = ROC_REQUIRES
draw = draw_roc


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="ecg",
        figure="ecg_roc",
        protocol="python -m bimsim.tasks.ecg",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
