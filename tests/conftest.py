"""Shared fixtures: real face images built from the photo scikit-image ships."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    """A 1024² grey frame holding the astronaut photo's face at ~200 px, like a CASME II frame."""
    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


def smooth_texture(shape: tuple[int, int], seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """A band-limited random grey texture: every pixel carries gradient, as flow needs."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).standard_normal(shape).astype(np.float32),
                             (0, 0), sigma)
    return np.clip(128 + noise / noise.std() * 40, 0, 255).astype(np.uint8)
