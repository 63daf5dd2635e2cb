"""Helpers the tests import (fixtures live in conftest.py): the real config composed, a band-limited
texture for flow, and what the session's trained models are."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch


def compose_train(*overrides: str, hydra_config: bool = False):
    """The real `train` config with these overrides (and Hydra's own section with `hydra_config`)."""
    from hydra import compose, initialize_config_dir

    from mer.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_config)


def compose_on_release(workspace: Path, *overrides: str):
    """The real `train` config on the small synthetic release in `workspace / "release"`, writing
    under `workspace / "out"`, as the training and model tests compose it."""
    return compose_train(
        "data=casme2",
        f"data.root={workspace / 'release'}",
        f"paths.output_dir={workspace / 'out'}",
        "trainer.enable_progress_bar=false",
        *overrides,
    )


def smooth_texture(shape: tuple[int, int], seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """A band-limited random grey texture: every pixel carries gradient, as flow needs."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return np.clip(128 + noise / noise.std() * 40, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class TrainedRuns:
    """A small synthetic release, its cache, and the run dirs of four models trained on it."""

    release: Path
    cache: Path
    # head → run dir: "hinge" (train_standardize), "softmax", "svm" (post-hoc LinearSVC), "rbf" (SVC)
    runs: dict[str, Path]


def cache_inputs(trained: TrainedRuns, channels: list[str]) -> torch.Tensor:
    """Every sample of the trained models' cache as raw network input (what mer-predict feeds it)."""
    import torch

    from mer.preprocess.cache import load_cache

    cache = load_cache(trained.cache)
    return torch.from_numpy(np.stack([cache.array(c) for c in channels], axis=1).astype(np.float32))


def run_entry_point(module: str, *args: str, unimportable: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Start an entry point's `main` in a fresh interpreter, the `unimportable` packages made
    unimportable as on an install without them; its last stdout line says whether torch had been
    imported by the time it exited."""
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({list(unimportable)!r}))\n"
        f"sys.argv = ['mer', *{list(args)!r}]\n"
        f"from {module} import main\n"
        "try:\n    main()\n"
        "finally:\n    print('torch imported:', 'torch' in sys.modules, flush=True)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


def as_from_a_terminal() -> None:
    """In a command's process, before it starts (`preexec_fn`): a process group of its own, as a
    terminal gives a command, and Ctrl-C at its default (a shell's background job, e.g. `make test &`,
    ignores it, and children inherit that: the command would never see the test's Ctrl-C)."""
    import os
    import signal

    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def replaced_cells(rows: Sequence[Sequence], index: int, positions: dict[str, int], **cells) -> list[list]:
    """A copy of a test sheet's rows with some cells of row `index` replaced, each named by its
    column (`positions`: name → position in the reader's column order)."""
    copied = [list(r) for r in rows]
    for name, value in cells.items():
        copied[index][positions[name]] = value
    return copied
