"""Classifier heads on a trunk's feature layer: softmax, multiclass hinge, post-hoc SVM (emotion
classes), and multi-label (action units)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.svm import SVC, LinearSVC
from torch import nn

from mer.errors import MerError


class Head:
    """A classifier head on the trunk's features: its training loss, how its parameters are
    regularised, and (post-hoc heads) the classifier fitted after training."""

    name: ClassVar[str]
    #: Whether the head fits its own classifier on the training fold's features after training.
    post_hoc: ClassVar[bool] = False
    #: Whether the head scores independent binary targets (`task=au`) rather than one class per clip.
    multilabel: ClassVar[bool] = False

    def loss(self, class_weights: torch.Tensor | None) -> nn.Module:
        """The training loss of the network's scores."""
        return nn.CrossEntropyLoss(weight=class_weights)

    def param_groups(self, trunk: nn.Module, classifier: nn.Module) -> list[dict[str, Any]]:
        """The optimiser's parameter groups: one for the whole network unless the head says otherwise."""
        return [{"params": [*trunk.parameters(), *classifier.parameters()]}]

    def fit(self, features: np.ndarray, labels: np.ndarray, seed: int):
        """The post-hoc classifier of `post_hoc` heads, fitted on the training fold's features."""
        raise NotImplementedError(f"the {self.name} head fits nothing after training")


@dataclass(frozen=True)
class SoftmaxHead(Head):
    """Softmax classifier trained with cross-entropy (the paper's Table 3 baseline)."""

    label_smoothing: float
    name: ClassVar[str] = "softmax"

    def loss(self, class_weights: torch.Tensor | None) -> nn.Module:
        return nn.CrossEntropyLoss(weight=class_weights, label_smoothing=self.label_smoothing)


@dataclass(frozen=True)
class HingeHead(Head):
    """The paper's SVM (eq. 12): the Weston–Watkins multiclass hinge Σ_{j≠y} max(0, margin − x_y + x_j)^p
    averaged over classes (`nn.MultiMarginLoss`, whose defaults p=1, margin=1 are eq. 12 as written;
    p=2 is the squared-hinge L2-SVM of Tang 2013, a variant), with the SVM's ‖W‖² term as weight decay
    on the classifier alone."""

    p: int
    margin: float
    weight_decay: float | None
    name: ClassVar[str] = "hinge"

    def __post_init__(self) -> None:
        if self.p not in (1, 2):
            raise MerError(f"head.p={self.p}: the multiclass hinge takes p=1 or p=2")

    def loss(self, class_weights: torch.Tensor | None) -> nn.Module:
        return nn.MultiMarginLoss(p=self.p, margin=self.margin, weight=class_weights)

    def param_groups(self, trunk: nn.Module, classifier: nn.Module) -> list[dict[str, Any]]:
        if self.weight_decay is None:
            return super().param_groups(trunk, classifier)
        return [
            {"params": list(trunk.parameters())},
            {"params": list(classifier.parameters()), "weight_decay": self.weight_decay},
        ]


@dataclass(frozen=True)
class SvmHead(Head):
    """Post-hoc SVM: the network trains with cross-entropy, then a scikit-learn SVM fitted on the
    training fold's penultimate features replaces its last layer."""

    kernel: str
    C: float
    class_weight: str | None
    name: ClassVar[str] = "svm"
    post_hoc: ClassVar[bool] = True

    def fit(self, features: np.ndarray, labels: np.ndarray, seed: int):
        return fit_svm(features, labels, kernel=self.kernel, C=self.C, class_weight=self.class_weight, seed=seed)


@dataclass(frozen=True)
class MultiLabelHead(Head):
    """One logit per action unit, trained with BCE-with-logits (MEB's AU head); a logit above 0 is
    positive. The datamodule's weights, with `balance=weighted_loss`, are each AU's positive weight
    (negatives / positives of the training fold)."""

    name: ClassVar[str] = "multilabel"
    multilabel: ClassVar[bool] = True

    def loss(self, class_weights: torch.Tensor | None) -> nn.Module:
        return nn.BCEWithLogitsLoss(pos_weight=class_weights)


#: The heads by the `name` their config (conf/head/*.yaml) and a checkpoint's hyperparameters give.
HEADS: dict[str, type[Head]] = {head.name: head for head in (SoftmaxHead, HingeHead, SvmHead, MultiLabelHead)}


def make_head(cfg: dict[str, Any]) -> Head:
    """The head a `head` config describes: its `name` picks the class, the other keys are its settings."""
    settings = dict(cfg)
    name = settings.pop("name", None)
    if name not in HEADS:
        raise MerError(f"unknown head '{name}': choose one of {list(HEADS)} (head=...)")
    try:
        return HEADS[name](**settings)
    except TypeError as err:
        raise MerError(f"head={name}: {err} (its settings are those of conf/head/{name}.yaml)") from None


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
        svm = SVC(C=C, kernel=kernel, class_weight=class_weight, random_state=seed, decision_function_shape="ovr")
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
