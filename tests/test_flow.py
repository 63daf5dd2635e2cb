"""Optical flow against known displacements, and the maps derived from it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import smooth_texture

from mer.preprocess.flow import dis_flow, farneback_flow, flow_magnitude, optical_strain, tvl1_flow

SIZE = 160
INTERIOR = slice(16, SIZE - 16)


def warp_by(image: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """The image moved by a displacement field d: out(x + d) = image(x), to first order."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return cv2.remap(
        image, xs - displacement[..., 0], ys - displacement[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )


def endpoint_error(flow: np.ndarray, truth: np.ndarray) -> float:
    """Mean endpoint error over the interior (borders have no correspondence)."""
    return float(np.linalg.norm(flow - truth, axis=-1)[INTERIOR, INTERIOR].mean())


def test_tvl1_recovers_subpixel_translation() -> None:
    image = smooth_texture((SIZE, SIZE))
    truth = np.broadcast_to(np.float32([0.6, -0.35]), (SIZE, SIZE, 2))
    flow = tvl1_flow(image, warp_by(image, truth))
    assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
    assert endpoint_error(flow, truth) < 0.15


def test_tvl1_recovers_smooth_deformation() -> None:
    """A Gaussian bump of 1.5 px upward motion, like a brow raise."""
    image = smooth_texture((SIZE, SIZE), seed=1)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    bump = np.exp(-((xs - 80) ** 2 + (ys - 70) ** 2) / (2 * 25.0**2))
    truth = np.stack([0.4 * bump, -1.5 * bump], axis=-1).astype(np.float32)
    flow = tvl1_flow(image, warp_by(image, truth))
    assert endpoint_error(flow, truth) < 0.15
    assert flow[70, 80, 1] == pytest.approx(-1.5, abs=0.3)


@pytest.mark.parametrize("method", [farneback_flow, dis_flow])
def test_alternative_flows_find_the_translation(method) -> None:
    image = smooth_texture((SIZE, SIZE), seed=2)
    truth = np.broadcast_to(np.float32([1.0, 0.5]), (SIZE, SIZE, 2))
    assert endpoint_error(method(image, warp_by(image, truth)), truth) < 0.3


def test_magnitude_and_strain() -> None:
    ys, xs = np.mgrid[0:32, 0:32].astype(np.float32)
    translation = np.stack([np.full_like(xs, 3.0), np.full_like(xs, 4.0)], axis=-1)
    np.testing.assert_allclose(flow_magnitude(translation), 5.0)
    np.testing.assert_allclose(optical_strain(translation), 0.0, atol=1e-6)  # rigid: no strain
    stretch = np.stack([0.1 * xs, np.zeros_like(xs)], axis=-1)  # u = 0.1·x → ε_xx = 0.1
    np.testing.assert_allclose(optical_strain(stretch), 0.1, atol=1e-5)
    shear = np.stack([0.2 * ys, np.zeros_like(xs)], axis=-1)  # ε_xy = 0.1 → sqrt(2·0.01)
    np.testing.assert_allclose(optical_strain(shear), np.sqrt(0.02), atol=1e-5)
