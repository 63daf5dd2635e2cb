"""The svm head's fitted scikit-learn SVM as plain types (no pickle), and back, scoring the same.

A fitted `LinearSVC` or `SVC` is its scikit-learn state (the dict pickle would store: parameters,
`coef_`/`intercept_`/`classes_` for a linear SVM; support vectors, dual coefficients, intercepts
and the kernel's `gamma` for a kernel SVM) with every array as a tensor, so `torch.load(...,
weights_only=True)` reads it and nothing in it names code to run. Only the two classes the head
fits can be rebuilt, and a kernel SVM's arrays are checked for the shapes libsvm reads unchecked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.svm import SVC, LinearSVC

from mer.errors import MerError

#: The estimators the svm head fits (`mer.train.heads.fit_svm`): the only ones a record rebuilds.
ESTIMATORS: dict[str, type] = {"LinearSVC": LinearSVC, "SVC": SVC}
PLAIN = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """A state value as types a weights-only load reads: arrays as tensors, numpy scalars as
    Python ones, tuples as lists."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, PLAIN):
        return value
    raise TypeError(f"an SVM state value of type {type(value).__name__} has no plain form")


def svm_record(svm: LinearSVC | SVC) -> dict[str, Any]:
    """The checkpoint's `svm` entry: the estimator's class name and its state as plain types."""
    name = type(svm).__name__
    if name not in ESTIMATORS:
        raise TypeError(f"the svm head fits {sorted(ESTIMATORS)}, not {name}")
    return {"estimator": name, "state": plain(svm.__getstate__())}


def from_plain(value: Any, where: str) -> Any:
    """The inverse of `plain` (tensors back to arrays); anything else is refused."""
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, list):
        return [from_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {k: from_plain(v, where) for k, v in value.items()}
    if isinstance(value, PLAIN):
        return value
    raise MerError(
        f"{where}: its svm entry holds a {type(value).__name__}, not arrays and numbers: "
        "the checkpoint is damaged; copy it again or retrain with save_checkpoint=true"
    )


def check_kernel_arrays(state: dict[str, Any], where: str) -> None:
    """Refuse a kernel SVM whose arrays disagree in shape: libsvm would read past their ends."""
    try:
        n_classes, n_support = len(state["classes_"]), np.asarray(state["_n_support"])
        vectors, dual = state["support_vectors_"], state["_dual_coef_"]
        consistent = (
            len(n_support) == n_classes
            and int(n_support.sum()) == len(vectors) == len(state["support_"]) == dual.shape[1]
            and dual.shape[0] == n_classes - 1
            and len(state["_intercept_"]) == n_classes * (n_classes - 1) // 2
            and vectors.shape[1] == state["n_features_in_"]
        )
    except (KeyError, TypeError, AttributeError, IndexError):
        consistent = False
    if not consistent:
        raise MerError(
            f"{where}: its kernel SVM's arrays (support vectors, dual coefficients, "
            "intercepts) do not fit together: the checkpoint is damaged; copy it again "
            "or retrain with save_checkpoint=true"
        )


def svm_from_record(record: dict[str, Any], where: str) -> LinearSVC | SVC:
    """The fitted SVM a checkpoint's `svm` entry holds, rebuilt without unpickling anything."""
    name = record.get("estimator") if isinstance(record, dict) else None
    if name not in ESTIMATORS or not isinstance(record.get("state"), dict):
        raise MerError(
            f"{where}: its svm entry is not a {' or '.join(ESTIMATORS)} state: the "
            "checkpoint is damaged; copy it again or retrain with save_checkpoint=true"
        )
    state = from_plain(record["state"], where)
    if name == "SVC":
        check_kernel_arrays(state, where)
    svm = ESTIMATORS[name].__new__(ESTIMATORS[name])
    svm.__setstate__(state)
    return svm
