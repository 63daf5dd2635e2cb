"""LOSO folds: sweeping every fold without knowing the dataset's subject count."""

from __future__ import annotations

from omegaconf import DictConfig

from mer.data import read_samples


def all_folds(*, _root_: DictConfig) -> str:
    """Hydra sweep range over every subject of the configured dataset, e.g. "range(0,26)"."""
    return f"range(0,{len(read_samples(_root_.data).subjects)})"
