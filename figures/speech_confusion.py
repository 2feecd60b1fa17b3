"""Draw each model's confusion matrix of spoken digits from a saved speech dataset.

    python figures/speech_confusion.py --input results/speech.nc

writes ``results/figures/speech_confusion.png`` and ``.pdf``: one matrix per model (the first
seed's test predictions, every fold pooled), rows the spoken digit, normalised per row
(:func:`bimsim.plotting.draw_confusion`).
"""

from bimsim.cli import run_command
from bimsim.plotting import CONFUSION_REQUIRES, draw_confusion, figure_main

REQUIRES = CONFUSION_REQUIRES
draw = draw_confusion


def main(argv=None):
    figure_main(
        __doc__,
        draw,
        dataset="speech",
        figure="speech_confusion",
        protocol="python -m bimsim.tasks.speech",
        requires=REQUIRES,
        argv=argv,
    )


if __name__ == "__main__":
    run_command(main)
