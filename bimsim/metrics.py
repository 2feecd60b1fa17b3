"""Scores of classifiers (scikit-learn underneath) and energy estimates of their operations.

Energy per operation follows Horowitz (2014), 45 nm, 32-bit float: an accumulate (a spike arriving
at a synapse adds its weight) costs 0.9 pJ, a multiply-accumulate 4.6 pJ.

scikit-learn is imported when a score is first computed, not with the module: it takes about
0.6 s, which every task command would otherwise pay before it prints ``--help`` or refuses a flag.
"""

import numpy as np

__all__ = ["ENERGY_PER_AC_PJ", "ENERGY_PER_MAC_PJ", "binary_scores", "class_scores", "energy_pj"]

ENERGY_PER_AC_PJ = 0.9
ENERGY_PER_MAC_PJ = 4.6


def binary_scores(positive, score):
    """AUC-ROC and AUC-PR (average precision) of ``score`` for the boolean labels ``positive``.

    Raises
    ------
    ValueError
        If the labels hold one class only, or a score is not finite.
    """
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=float)
    if positive.shape != score.shape:
        raise ValueError(f"{positive.shape} labels but {score.shape} scores")
    if not np.all(np.isfinite(score)):
        raise ValueError("scores hold NaN or infinite values")
    if positive.all() or not positive.any():
        raise ValueError("AUC needs both classes among the labels")
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "auc_roc": float(roc_auc_score(positive, score)),
        "auc_pr": float(average_precision_score(positive, score)),
    }


def class_scores(truth, predicted, classes):
    """Per class: sensitivity (recall) and positive predictive value (precision).

    A class absent from ``truth`` has sensitivity 0 by convention here and a class never predicted
    PPV 0; ``support`` and ``predicted`` say which.

    Returns
    -------
    dict of numpy.ndarray
        ``sensitivity``, ``ppv``, ``support`` (true count) and ``predicted`` (predicted count),
        each in the order of ``classes``; ``confusion`` ``(true, predicted)``.
    """
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(truth, predicted, labels=list(classes))
    support, called = matrix.sum(axis=1), matrix.sum(axis=0)
    hits = np.diag(matrix)
    return {
        "sensitivity": np.divide(hits, support, out=np.zeros(len(hits)), where=support > 0),
        "ppv": np.divide(hits, called, out=np.zeros(len(hits)), where=called > 0),
        "support": support,
        "predicted": called,
        "confusion": matrix,
    }


def energy_pj(accumulates, multiply_accumulates):
    """Energy estimate in pJ for the given operation counts (Horowitz 2014)."""
    return ENERGY_PER_AC_PJ * accumulates + ENERGY_PER_MAC_PJ * multiply_accumulates
