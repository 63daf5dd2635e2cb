"""MER metrics (DESIGN.md): accuracy, UF1 and UAR from one confusion matrix over pooled predictions."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts [true, predicted] in `classes` order; a class absent from both is a zero row/column."""
    return confusion_matrix(list(y_true), list(y_pred), labels=list(classes))


def scores_from_confusion(matrix: np.ndarray) -> dict[str, float]:
    """accuracy; UF1 = mean_c 2TP/(2TP+FP+FN); UAR = mean_c TP/N_c, over classes that occur.

    A class with no true sample and no prediction has no F1 or recall: it is left out of the means
    rather than counted as 0 or 1 (it cannot crash, and cannot silently vanish from the matrix).
    """
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=present)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    n = matrix.sum()
    return {
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "uf1": float(f1[present].mean()) if present.any() else float("nan"),
        "uar": float(recall[support > 0].mean()) if (support > 0).any() else float("nan"),
        "n": int(n),
    }


def pooled_metrics(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> dict:
    """Metrics of predictions pooled over folds (the protocol's score)."""
    return scores_from_confusion(confusion(y_true, y_pred, classes))
