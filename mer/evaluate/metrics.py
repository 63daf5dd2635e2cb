"""MER metrics (docs/paper.md, "Protocol"): accuracy, UF1 and UAR from one confusion matrix over
pooled predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix

SCORE_NAMES = ("accuracy", "uf1", "uar")


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts [true, predicted] in `classes` order; a class absent from both is a zero row/column."""
    return confusion_matrix(list(y_true), list(y_pred), labels=list(classes))


def scores_from_confusions(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """accuracy; UF1 = mean_c 2TP/(2TP+FP+FN); UAR = mean_c TP/N_c, over classes that occur, for a
    stack of confusion matrices [..., C, C] at once (the bootstrap scores thousands).

    A class with no true sample and no prediction has no F1 or recall: it is left out of the means
    rather than counted as 0 or 1 (it cannot crash, and cannot silently vanish from the matrix).
    """
    matrices = np.asarray(matrices, dtype=float)
    tp = np.diagonal(matrices, axis1=-2, axis2=-1)
    support, predicted = matrices.sum(axis=-1), matrices.sum(axis=-2)
    present, seen = (support + predicted) > 0, support > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=present)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=seen)
    n = matrices.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):  # nothing scored: NaN, not a warning
        return {
            "accuracy": tp.sum(axis=-1) / n,
            "uf1": f1.sum(axis=-1) / present.sum(axis=-1),
            "uar": recall.sum(axis=-1) / seen.sum(axis=-1),
        }


def scores_from_confusion(matrix: np.ndarray) -> dict[str, float]:
    """`scores_from_confusions` of one matrix, as plain floats, with the sample count `n`."""
    scores = {name: float(value) for name, value in scores_from_confusions(matrix).items()}
    return {**scores, "n": int(np.asarray(matrix).sum())}


def pooled_metrics(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> dict:
    """Metrics of predictions pooled over folds (the protocol's score)."""
    return scores_from_confusion(confusion(y_true, y_pred, classes))
