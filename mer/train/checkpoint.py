"""What a `model.ckpt` carries beside the weights, so a trained model predicts on its own.

`mer-train save_checkpoint=true` writes a Lightning checkpoint whose `"mer"` entry holds:

- `format` (this module's `CHECKPOINT_FORMAT`) and `mer_version`, checked when it is read;
- `classes` (score order) and `input` (the config's name and its channels, in order);
- `preprocess`: the cache's parameters exactly as `mer.preprocess.prepare.cache_params` gives
  them (crop size, alignment, flow function and its settings, flow context);
- `normalization`: the method and, for `train_standardize`, the training fold's mean and std;
- `svm`: the fitted scikit-learn SVM of the `svm` head, pickled (None for the other heads);
- provenance: dataset, cache key, held-out subject, library versions the cache was built with.

A checkpoint is a pickle (Lightning's, and the SVM's): load only checkpoints you trust.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

import mer
from mer.errors import MerError
from mer.preprocess.cache import FlowCache
from mer.train.datamodule import LosoDataModule

MER_KEY = "mer"
#: Bumped whenever a checkpoint's contents change meaning; a reader accepts its own format only.
CHECKPOINT_FORMAT = 1


def inference_record(cache: FlowCache, dm: LosoDataModule, input_name: str, svm: Any) -> dict[str, Any]:
    """The `"mer"` entry of a checkpoint trained on `dm`'s fold of `cache` (after `dm.setup`)."""
    manifest = cache.manifest
    return {
        "format": CHECKPOINT_FORMAT,
        "mer_version": mer.__version__,
        "classes": list(dm.classes),
        "input": {"name": input_name, "channels": list(dm.channels)},
        "preprocess": manifest["params"],
        "normalization": {"method": dm.normalization, **dm.normalization_stats},
        "svm": pickle.dumps(svm) if svm is not None else None,
        "dataset": manifest["dataset"],
        "cache_key": manifest["key"],
        "test_subject": dm.test_subject,
        "versions": manifest["versions"],
    }


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint mer-train wrote, checked: one clear error for a missing, corrupt, foreign or
    other-format file."""
    path = Path(path)
    if not path.is_file():
        raise MerError(f"checkpoint {path} not found: give the model.ckpt that "
                       "`mer-train save_checkpoint=true` writes into its run dir")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise MerError(f"cannot read checkpoint {path} ({type(err).__name__}): the file is corrupt, "
                       "truncated or not a PyTorch checkpoint; copy it again or retrain with "
                       "save_checkpoint=true") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise MerError(f"{path} is not a Lightning checkpoint: give the model.ckpt that "
                       "`mer-train save_checkpoint=true` writes")
    record = checkpoint.get(MER_KEY)
    if not isinstance(record, dict) or "format" not in record:
        raise MerError(f"{path} holds no mer record (classes, preprocessing, normalisation): it was "
                       "not written by mer-train, or by a mer too old to store them; retrain with "
                       "save_checkpoint=true")
    if record["format"] != CHECKPOINT_FORMAT:
        raise MerError(f"{path} was written by mer {record.get('mer_version', '?')} (checkpoint "
                       f"format {record['format']}); this mer {mer.__version__} reads format "
                       f"{CHECKPOINT_FORMAT}: use mer {record.get('mer_version', '?')} with it, or retrain")
    return checkpoint
