"""What a `model.ckpt` carries beside the weights, so a trained model predicts on its own.

`mer-train save_checkpoint=true` writes a Lightning checkpoint whose `"mer"` entry holds:

- `format` (this module's `CHECKPOINT_FORMAT`) and `mer_version`, checked when it is read;
- `classes` (score order) and `input` (the config's name and its channels, in order);
- `preprocess`: the cache's parameters exactly as `mer.preprocess.prepare.cache_params` gives
  them (crop size, alignment, flow function and its settings, flow context);
- `normalization`: the method and, for `train_standardize`, the training fold's mean and std;
- `svm`: the fitted scikit-learn SVM of the `svm` head as its state in plain types and tensors
  (`mer.train.svm_record`; None for the other heads);
- provenance: dataset, cache key, held-out subject, library versions the cache was built with.

Every entry is a plain type or a tensor, so the file opens with `torch.load(weights_only=True)`,
which creates no object a file names and so runs no code from it. A file that only an unsafe load
opens is refused in one line; it opens only when the user trusts it on purpose
(`mer-predict --trust-checkpoint`).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

import mer
from mer.errors import MerError
from mer.preprocess.cache import FlowCache
from mer.run_dir import check_checkpoint
from mer.train.datamodule import LosoDataModule
from mer.train.svm_record import svm_record

MER_KEY = "mer"
#: Bumped whenever a checkpoint's contents change meaning; a reader accepts its own format only.
CHECKPOINT_FORMAT = 2


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
        "svm": svm_record(svm) if svm is not None else None,
        "dataset": manifest["dataset"],
        "cache_key": manifest["key"],
        "test_subject": dm.test_subject,
        "versions": manifest["versions"],
    }


def corrupt(path: Path, err: BaseException) -> MerError:
    """The one line for a file that is no readable PyTorch checkpoint."""
    return MerError(
        f"cannot read checkpoint {path} ({type(err).__name__}): the file is corrupt, "
        "truncated or not a PyTorch checkpoint; copy it again or retrain with "
        "save_checkpoint=true"
    )


def unsafe_globals(path: Path) -> list[str]:
    """The classes and functions a checkpoint's pickle names beyond what a weights-only load
    allows, read without creating them; empty when the file cannot even be listed."""
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        return []


def unsafe_refusal(path: Path, foreign: list[str]) -> MerError:
    """The one line refusing a file that only an unsafe load opens: why, and what to do."""
    shown = sorted(foreign, key=lambda name: (name.startswith("builtins."), name))
    named = ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")
    return MerError(
        f"{path} carries objects that only an unsafe load creates ({named}), and "
        "unpickling them could run any code: mer does not open it. Open it with "
        "--trust-checkpoint only if you trust its author"
    )


def load_checkpoint_file(path: Path, trust: bool) -> dict[str, Any]:
    """`torch.load` with `weights_only=True`; an unsafe load only when `trust` says so, warned."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        foreign = unsafe_globals(path)
        if not foreign:
            raise corrupt(path, err) from None
    except Exception as err:
        raise corrupt(path, err) from None
    if not trust:
        raise unsafe_refusal(path, foreign)
    warnings.warn(
        f"{path} is trusted on purpose: opened with an unsafe load, which creates "
        f"{', '.join(foreign)} and runs any code they carry",
        stacklevel=3,
    )
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise corrupt(path, err) from None


def checked_record(checkpoint: Any, path: Path) -> dict[str, Any]:
    """The mer record of a loaded checkpoint, or one line saying why the file is not mer's."""
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise MerError(
            f"{path} is not a Lightning checkpoint: give the model.ckpt that `mer-train save_checkpoint=true` writes"
        )
    record = checkpoint.get(MER_KEY)
    if not isinstance(record, dict) or "format" not in record:
        raise MerError(
            f"{path} holds no mer record (classes, preprocessing, normalisation): it was "
            "not written by mer-train, or by a mer too old to store them; retrain with "
            "save_checkpoint=true"
        )
    if record["format"] != CHECKPOINT_FORMAT:
        version = record.get("mer_version", "?")
        raise MerError(
            f"{path} was written by mer {version} (checkpoint format {record['format']}); "
            f"this mer {mer.__version__} reads format {CHECKPOINT_FORMAT}: use mer {version} "
            "with it, or retrain"
        )
    return record


def read_checkpoint(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """A checkpoint mer-train wrote, loaded safely and checked: one clear error for a missing,
    corrupt, foreign, unsafe or other-format file. `trust=True` also opens what only an unsafe
    load can, with a warning."""
    path = Path(path)
    check_checkpoint(path)
    checkpoint = load_checkpoint_file(path, trust)
    checked_record(checkpoint, path)
    return checkpoint
