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
opens is refused in one line: format 1 (OmegaConf hyperparameters, the SVM pickled) names
`mer-export --upgrade`, which converts it without running any of its code; a file carrying other
objects opens only when the user trusts it on purpose (`mer-predict --trust-checkpoint`).
"""

from __future__ import annotations

import collections
import pickle
import typing
import warnings
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.base import ContainerMetadata, Metadata
from omegaconf.nodes import AnyNode

import mer
from mer.errors import MerError
from mer.preprocess.cache import FlowCache
from mer.train.datamodule import LosoDataModule
from mer.train.svm_record import svm_from_pickle, svm_record

MER_KEY = "mer"
#: Bumped whenever a checkpoint's contents change meaning; a reader accepts its own format only
#: (and format 1 when trusted; `mer-export --upgrade` converts format 1).
CHECKPOINT_FORMAT = 2
#: Format 1 (mer 0.1.0 before safe checkpoints) stored the fitted SVM as a pickle.
PICKLED_SVM_FORMAT = 1
UPGRADE_HINT = "mer-export --upgrade"


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


def global_name(obj: Any) -> str:
    """A class's name as `torch.serialization.get_unsafe_globals_in_checkpoint` lists it."""
    return f"{obj.__module__}.{obj.__qualname__}"


#: The classes format 1 pickled beside tensors: OmegaConf containers in Lightning's
#: hyperparameters, with the builtins and typing names their metadata holds. Constructing them
#: runs no code of the file, so `mer-export --upgrade` allowlists exactly these for its load.
FORMAT1_GLOBALS = [
    DictConfig,
    ListConfig,
    ContainerMetadata,
    Metadata,
    AnyNode,
    typing.Any,
    collections.defaultdict,
    dict,
    list,
    int,
    float,
    str,
    bool,
]
FORMAT1_NAMES = {global_name(obj) for obj in FORMAT1_GLOBALS}


def older_mer_refusal(path: Path) -> MerError:
    """The one line refusing a format-1 checkpoint, naming the command that upgrades it."""
    return MerError(
        f"{path} is a checkpoint of an older mer (format 1, which pickled OmegaConf "
        "objects and the svm head), which mer no longer unpickles: "
        f"`{UPGRADE_HINT} {path}` rewrites it in the safe format {CHECKPOINT_FORMAT}"
    )


def unsafe_refusal(path: Path, foreign: list[str]) -> MerError:
    """The one line refusing a file that only an unsafe load opens: why, and what to do."""
    if set(foreign) <= FORMAT1_NAMES:
        return older_mer_refusal(path)
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


def upgraded(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    """A format-1 checkpoint in the current format: its OmegaConf hyperparameters as plain dicts
    and lists, its pickled SVM read with an unpickler that creates nothing but the SVM
    (`svm_from_pickle`) and stored as plain types."""
    record = checkpoint[MER_KEY]
    svm = svm_from_pickle(record["svm"], str(path)) if record.get("svm") is not None else None
    hyper_parameters = {
        name: OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        for name, value in checkpoint.get("hyper_parameters", {}).items()
    }
    return {
        **checkpoint,
        "hyper_parameters": hyper_parameters,
        MER_KEY: {**record, "format": CHECKPOINT_FORMAT, "svm": svm_record(svm) if svm is not None else None},
    }


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
    if record["format"] not in (PICKLED_SVM_FORMAT, CHECKPOINT_FORMAT):
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
    load can, with a warning (a format-1 record is then converted in memory)."""
    path = Path(path)
    if not path.is_file():
        raise MerError(
            f"checkpoint {path} not found: give the model.ckpt that "
            "`mer-train save_checkpoint=true` writes into its run dir"
        )
    checkpoint = load_checkpoint_file(path, trust)
    record = checked_record(checkpoint, path)
    if record["format"] == PICKLED_SVM_FORMAT:
        if not trust:
            raise older_mer_refusal(path)
        return upgraded(checkpoint, path)
    return checkpoint


def upgrade_checkpoint(source: str | Path, target: str | Path) -> Path:
    """Rewrite a format-1 checkpoint in the current, safe format at `target`, running no code of
    it: a weights-only load that allows format 1's OmegaConf classes only, the SVM read by
    `svm_from_pickle`; the result must open with a plain weights-only load before it is moved in."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise MerError(f"checkpoint {source} not found: give the model.ckpt of an older mer to upgrade")
    try:
        with torch.serialization.safe_globals(FORMAT1_GLOBALS):
            checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        foreign = sorted(set(unsafe_globals(source)) - FORMAT1_NAMES)
        if not foreign:
            raise corrupt(source, err) from None
        raise MerError(
            f"{source} carries {', '.join(foreign)}, which no mer checkpoint holds: "
            "mer does not upgrade it (nor open it, unless you pass "
            "mer-predict --trust-checkpoint)"
        ) from None
    except Exception as err:
        raise corrupt(source, err) from None
    if checked_record(checkpoint, source)["format"] == CHECKPOINT_FORMAT:
        raise MerError(
            f"{source} is already in the safe checkpoint format {CHECKPOINT_FORMAT}: "
            "mer-predict and mer-export take it as it is"
        )
    checkpoint = upgraded(checkpoint, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    torch.save(checkpoint, partial)
    if unsafe_globals(partial):  # a bug of this function, not of the user's file
        partial.unlink()
        raise RuntimeError(f"the upgrade of {source} still needs an unsafe load")
    partial.replace(target)
    return target
