"""Dataset readers: each turns a release on disk into the uniform `SampleTable`."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from mer.data.samples import COLUMNS, SampleTable
from mer.errors import user_error_in

__all__ = ["COLUMNS", "SampleTable", "instantiate_reader", "locate_release", "read_samples"]


def read_samples(data_cfg: DictConfig) -> SampleTable:
    """Run the reader that the `data` config group names (`data.reader._target_`)."""
    return instantiate_reader(data_cfg.reader)


def instantiate_reader(reader_cfg: Any) -> Any:
    """A reader config (`_target_` + arguments) → its table (a `SampleTable`; a spotting reader's
    `LongVideos`); the reader's `MerError` comes out as itself, not wrapped in Hydra's
    InstantiationException."""
    try:
        return instantiate(reader_cfg, _convert_="all")
    except Exception as err:
        cause = user_error_in(err)
        if cause is None:
            raise
        raise cause from None


def locate_release(reader_cfg: Mapping[str, Any]) -> Any:
    """Find a reader config's release on disk as its reader does, without reading it: the
    `find_release` of the reader's module, given the config's arguments it takes (a folder that
    is not the release, such as its parent, raises the reader's one-line error); None for a reader
    without one (the synthetic release, generated on first use)."""
    module = importlib.import_module(reader_cfg["_target_"].rpartition(".")[0])
    find = getattr(module, "find_release", None)
    if find is None:
        return None
    takes = inspect.signature(find).parameters
    return find(**{key: value for key, value in reader_cfg.items() if key in takes})
