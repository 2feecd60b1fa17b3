"""Draw ROC and precision-recall curves (abnormal vs normal beats) from a saved ECG dataset.

    python figures/ecg_roc.py --input results/ecg.nc

writes ``results/figures/ecg_roc.png`` and ``.pdf``: one curve per model, scored on 1 - p(N),
with the AUCs in the legend.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.metrics import precision_recall_curve, roc_curve

from bimsim.cli import run_command
from bimsim.plotting import Requirements, figure_main

REQUIRES = Requirements(
    variables={
        "probability": ("model", "beat", "class"),
        "label": ("beat",),
        "auc_roc": ("model",),
        "auc_pr": ("model",),
    },
    coords=("model", "class"),
    attrs=("title", "split"),
)


def draw(ds):
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    normal = str(ds["class"].values[0])  # N (MIT-BIH) or NORM (PTB-XL)
    abnormal = ds.label.values != normal
    for m in ds.model.values:
        row = ds.sel(model=m)
        score = 1 - row.probability.sel({"class": normal}).values
        fpr, tpr, _ = roc_curve(abnormal, score)
        precision, recall, _ = precision_recall_curve(abnormal, score)
        roc.plot(fpr, tpr, label=f"{m} (AUC {row.auc_roc.item():.3f})")
        pr.plot(recall, precision, label=f"{m} (AUC {row.auc_pr.item():.3f})")
    roc.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
    pr.axhline(abnormal.mean(), color="0.7", lw=0.8, ls="--")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, abnormal")
    pr.set(xlabel="recall", ylabel="precision", title="precision-recall, abnormal")
    for ax in (roc, pr):
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"{ds.attrs['title']}; split: {ds.attrs['split']}", fontsize=8)
    return fig


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
