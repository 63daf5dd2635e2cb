"""Dataset readers: each turns a release on disk into the uniform `SampleTable`."""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from mer.data.samples import COLUMNS, SampleTable
from mer.errors import user_error_in

__all__ = ["COLUMNS", "SampleTable", "instantiate_reader", "read_samples"]


def read_samples(data_cfg: DictConfig) -> SampleTable:
    """Run the reader that the `data` config group names (`data.reader._target_`)."""
    return instantiate_reader(data_cfg.reader)


def instantiate_reader(reader_cfg: Any) -> SampleTable:
    """A reader config (`_target_` + arguments) → its table; the reader's `MerError` comes out as
    itself, not wrapped in Hydra's InstantiationException."""
    try:
        return instantiate(reader_cfg, _convert_="all")
    except Exception as err:
        cause = user_error_in(err)
        if cause is None:
            raise
        raise cause from None
