"""Dense optical flow between aligned onset and apex frames, and the maps derived from it."""

from __future__ import annotations

import cv2
import numpy as np

from mer.errors import MerError


def tvl1_flow(
    onset: np.ndarray,
    apex: np.ndarray,
    tau: float = 0.25,
    lambda_: float = 0.15,
    theta: float = 0.3,
    nscales: int = 5,
    warps: int = 5,
    epsilon: float = 0.01,
    inner_iterations: int = 30,
    outer_iterations: int = 10,
    scale_step: float = 0.8,
) -> np.ndarray:
    """TV-L1 flow (Zach et al. 2007) onset→apex as [H, W, 2] float32 (u, v) in pixels.

    Defaults are OpenCV's, which match the original TV-L1 paper's settings.
    """
    estimator = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=tau,
        lambda_=lambda_,
        theta=theta,
        nscales=nscales,
        warps=warps,
        epsilon=epsilon,
        innnerIterations=inner_iterations,  # sic: OpenCV's keyword
        outerIterations=outer_iterations,
        scaleStep=scale_step,
    )
    return estimator.calc(_grey_u8(onset), _grey_u8(apex), None)


def farneback_flow(
    onset: np.ndarray,
    apex: np.ndarray,
    pyr_scale: float = 0.5,
    levels: int = 3,
    winsize: int = 15,
    iterations: int = 3,
    poly_n: int = 5,
    poly_sigma: float = 1.2,
) -> np.ndarray:
    """Farneback polynomial-expansion flow onset→apex as [H, W, 2] float32 (a fast baseline)."""
    return cv2.calcOpticalFlowFarneback(
        _grey_u8(onset),
        _grey_u8(apex),
        None,
        pyr_scale,
        levels,
        winsize,
        iterations,
        poly_n,
        poly_sigma,
        0,
    )


DIS_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


def dis_flow(onset: np.ndarray, apex: np.ndarray, preset: str = "medium") -> np.ndarray:
    """DIS (dense inverse search) flow onset→apex as [H, W, 2] float32 (the fastest option)."""
    if preset not in DIS_PRESETS:
        raise MerError(f"preprocess.flow.preset={preset!r}: choose one of {list(DIS_PRESETS)}")
    estimator = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return estimator.calc(_grey_u8(onset), _grey_u8(apex), None)


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    """Per-pixel displacement length sqrt(u² + v²)."""
    return np.hypot(flow[..., 0], flow[..., 1])


def facial_motion(flow: np.ndarray) -> float:
    """Mean flow magnitude after removing the field's median vector: the face's own motion, without
    the global translation of the head (which a micro-expression, confined to a few regions, is not)."""
    residual = flow - np.median(flow.reshape(-1, 2), axis=0)
    return float(flow_magnitude(residual).mean())


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the infinitesimal strain tensor of the flow field (Shreve et al. 2011).

    sqrt(ε_xx² + ε_yy² + 2·ε_xy²) with ε_xx = ∂u/∂x, ε_yy = ∂v/∂y, ε_xy = ½(∂u/∂y + ∂v/∂x):
    it highlights where the skin deforms rather than where the head translates.
    """
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    shear = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx**2 + dv_dy**2 + 2.0 * shear**2)


def _grey_u8(image: np.ndarray) -> np.ndarray:
    """OpenCV's flow functions want one uint8 channel."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)
