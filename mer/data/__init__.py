"""Dataset readers: each turns a release on disk into the uniform `SampleTable`."""

from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import DictConfig

from mer.data.samples import COLUMNS, SampleTable

__all__ = ["COLUMNS", "SampleTable", "read_samples"]


def read_samples(data_cfg: DictConfig) -> SampleTable:
    """Run the reader that the `data` config group names (`data.reader._target_`)."""
    return instantiate(data_cfg.reader, _convert_="all")
