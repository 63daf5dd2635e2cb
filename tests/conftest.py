"""Shared fixtures: a real face frame built from the photo scikit-image ships, ImageNet weights offline,
one small synthetic CASME II release for the session, and four models trained on another."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest
from helpers import TrainedRuns
from skimage import data

if TYPE_CHECKING:
    pass


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    """A 1024² grey frame holding the astronaut photo's face at ~200 px, like a CASME II frame."""
    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="session")
def imagenet_home(tmp_path_factory) -> Iterator[Path]:
    """TORCH_HOME (for the rest of the session) holding MobileNetV2 and ResNet-18 state dicts the tests
    wrote, at the paths of torchvision's ImageNet files, so the paper recipe's `model.pretrained=imagenet` loads
    it in this process and in the sweeps it starts, with no network."""
    import torch
    from torchvision.models import mobilenet_v2, resnet18

    from mer.train.pretrained import RESNET18_IMAGENET, imagenet_file

    home = tmp_path_factory.mktemp("torch-home")
    before = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    imagenet_file().parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(mobilenet_v2().state_dict(), imagenet_file())
    torch.save(resnet18().state_dict(), imagenet_file(RESNET18_IMAGENET))
    yield home
    if before is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = before


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    """A small synthetic CASME II release (3 subjects × 5 clips, `workspace / "release"`) shared by the
    session's training and model tests, which write under `workspace / "out"` (caches included)."""
    from mer.synthetic import generate_synthetic

    base = tmp_path_factory.mktemp("workspace")
    generate_synthetic(base / "release", n_subjects=3, clips_per_subject=5, seed=5, progress=False)
    return base


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TrainedRuns:
    """Four tiny models trained through the real config with save_checkpoint=true (3 subjects,
    48² crops, 1 epoch, fold 0): the hinge head with per-fold standardisation, whose statistics
    the checkpoint must carry, the softmax head, and the post-hoc SVM head with a linear and an
    RBF kernel, whose fitted SVM it must carry as arrays."""
    from hydra import compose, initialize_config_dir

    from mer.config import CONFIG_DIR
    from mer.preprocess.prepare import prepare
    from mer.synthetic import generate_synthetic
    from mer.train.job import train

    base = tmp_path_factory.mktemp("trained")
    release = generate_synthetic(
        base / "release", n_subjects=3, clips_per_subject=5, frames_per_clip=(5, 9), seed=6, progress=False
    )
    heads = {
        "hinge": ["head=hinge", "datamodule.normalization=train_standardize"],
        "softmax": ["head=softmax"],
        "svm": ["head=svm"],
        "rbf": ["head=svm", "head.kernel=rbf"],
    }
    runs = {}
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        for head, overrides in heads.items():
            cfg = compose(
                "train",
                overrides=[
                    "data=casme2",
                    f"data.root={release}",
                    f"paths.output_dir={base / 'out'}",
                    "preprocess.size=48",
                    "trainer.max_epochs=1",
                    "trainer.enable_progress_bar=false",
                    "save_checkpoint=true",
                    "data.fold=0",
                    *overrides,
                ],
            )
            train(cfg, base / head)
            runs[head] = base / head
    return TrainedRuns(release=release, cache=prepare(cfg).path, runs=runs)
