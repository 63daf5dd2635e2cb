"""Action-unit metrics (MEB's): binary F1 of each AU on predictions pooled over folds, and their
unweighted mean, `au_f1`.

An AU with no true positive, no false positive and no false negative (never present, never
predicted) scores 0, as scikit-learn's `f1_score(zero_division=0)` and torchmetrics score it. The
counts per AU (TP, FP, FN) are kept apart from the F1, so the subject bootstrap resamples summed
counts, as it does confusion matrices for the emotion metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mer.run_dir import AU_F1

#: predictions.csv column suffixes of an AU task: `AU4` (truth 0/1), `AU4_pred` (0/1), `AU4_score` (logit).
PRED_SUFFIX, SCORE_SUFFIX = "_pred", "_score"
#: report.csv's prefix of each AU's F1 (`f1_AU4`; their mean is `AU_F1`, `au_f1`).
F1_PREFIX = "f1_"


def au_columns(table: pd.DataFrame) -> list[str]:
    """The AUs of a predictions table, in its column order: each `AU<n>` with its `_pred` and `_score`."""
    return [
        c
        for c in table.columns
        if c.startswith("AU") and f"{c}{PRED_SUFFIX}" in table.columns and f"{c}{SCORE_SUFFIX}" in table.columns
    ]


def au_counts(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """[..., n_aus, 3] TP, FP, FN per AU of 0/1 arrays [..., n_clips, n_aus]."""
    truth, pred = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)
    tp = (truth & pred).sum(axis=-2)
    fp = (~truth & pred).sum(axis=-2)
    fn = (truth & ~pred).sum(axis=-2)
    return np.stack([tp, fp, fn], axis=-1).astype(float)


def f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """[..., n_aus] F1 = 2TP / (2TP + FP + FN) of `au_counts`, 0 where nothing is present or predicted."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def au_scores(counts: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """`au_f1` (the unweighted mean over AUs) and `f1_AU<n>` of each AU, from pooled counts."""
    f1 = f1_from_counts(np.asarray(counts, dtype=float))
    return {AU_F1: float(f1.mean()), **{f"{F1_PREFIX}{name}": float(v) for name, v in zip(names, f1)}}


def pooled_au_metrics(table: pd.DataFrame, names: Sequence[str] | None = None) -> dict[str, float]:
    """`au_scores` of a predictions table (`AU<n>`, `AU<n>_pred` columns), with the clip count `n`."""
    names = list(names if names is not None else au_columns(table))
    truth = table[names].to_numpy()
    pred = table[[f"{n}{PRED_SUFFIX}" for n in names]].to_numpy()
    return {**au_scores(au_counts(truth, pred), names), "n": len(table)}
