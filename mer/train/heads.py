"""Classifier heads on the 1280-d MobileNetV2 features: softmax, multiclass hinge, post-hoc SVM."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.svm import SVC, LinearSVC
from torch import nn

from mer.errors import MerError

HEADS = ("softmax", "hinge", "svm")


def head_loss(
    name: str,
    class_weights: torch.Tensor | None = None,
    p: int = 1,
    margin: float = 1.0,
    label_smoothing: float = 0.0,
) -> nn.Module:
    """The training loss of a head.

    - softmax: cross-entropy;
    - hinge: the paper's eq. 12, Weston–Watkins Σ_{j≠y} max(0, margin − x_y + x_j)^p averaged
      over classes (`nn.MultiMarginLoss`, whose defaults p=1, margin=1 are eq. 12 as written);
      p=2 is the squared-hinge L2-SVM of Tang (2013), a variant;
    - svm: the backbone trains with cross-entropy, then a scikit-learn SVM replaces the layer.
    """
    if name not in HEADS:
        raise MerError(f"unknown head '{name}': choose one of {list(HEADS)} (head=...)")
    if name == "hinge":
        if p not in (1, 2):
            raise MerError(f"head.p={p}: the multiclass hinge takes p=1 or p=2")
        return nn.MultiMarginLoss(p=p, margin=margin, weight=class_weights)
    return nn.CrossEntropyLoss(weight=class_weights, label_smoothing=label_smoothing)


def fit_svm(
    features: np.ndarray,
    labels: np.ndarray,
    kernel: str = "linear",
    C: float = 1.0,
    class_weight: str | None = None,
    seed: int = 0,
):
    """Fit a scikit-learn SVM on the training fold's features (LinearSVC for "linear", else SVC)."""
    if kernel == "linear":
        svm = LinearSVC(C=C, class_weight=class_weight, random_state=seed, max_iter=20000)
    elif kernel in ("rbf", "poly", "sigmoid"):
        svm = SVC(C=C, kernel=kernel, class_weight=class_weight, random_state=seed,
                  decision_function_shape="ovr")
    else:
        raise MerError(f"head.kernel={kernel!r}: use linear, rbf, poly or sigmoid")
    return svm.fit(features, labels)


def svm_scores(svm, features: np.ndarray, n_classes: int) -> np.ndarray:
    """Decision scores [N, n_classes], with classes absent from the training fold at −inf."""
    decision = svm.decision_function(features)
    if decision.ndim == 1:  # two classes seen in training: sklearn returns one column
        decision = np.stack([-decision, decision], axis=1)
    scores = np.full((len(features), n_classes), -np.inf, dtype=np.float32)
    scores[:, svm.classes_] = decision
    return scores
