"""The synthetic face and its motion: one photo posed per subject, Gaussian bumps per action unit.

Every subject is scikit-image's astronaut photo under its own similarity (scale, rotation,
position) and a smooth shape change of a few pixels; a clip's apex displaces that face by a sum of
Gaussian bumps centred on the landmarks its action units name, reached along `expression_profile`.
The bumps are the ground truth onset→apex flow recovers (`displacement_field`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

CANVAS_HW = (480, 640)  # CASME II raw frames are 640×480

#: Action unit → bumps, each (landmark indices whose mean is the centre, direction as
#: (outward, down) in the face's own frame, relative weight). "Outward" points away from the
#: facial midline, so one entry describes both sides. Indices are dlib's 0-based 68 points.
AU_BUMPS: dict[str, tuple[tuple[tuple[int, ...], tuple[float, float], float], ...]] = {
    "1": tuple(((i,), (0.0, -1.0), 1.0) for i in (20, 21, 22, 23)),  # inner brow raiser
    "2": tuple(((i,), (0.0, -1.0), 1.0) for i in (17, 18, 19, 24, 25, 26)),  # outer brow raiser
    "4": (
        ((21,), (-0.6, 0.8), 1.0),
        ((22,), (-0.6, 0.8), 1.0),  # brow lowerer: down + in
        ((20,), (-0.4, 0.6), 0.7),
        ((23,), (-0.4, 0.6), 0.7),
    ),
    "5": (((37, 38), (0.0, -1.0), 0.35), ((43, 44), (0.0, -1.0), 0.35)),  # upper lid raiser
    "6": (((1, 31, 41), (0.2, -1.0), 0.8), ((15, 35, 46), (0.2, -1.0), 0.8)),  # cheek raiser
    "7": (((40, 41), (0.0, -1.0), 0.4), ((46, 47), (0.0, -1.0), 0.4)),  # lid tightener
    "9": (((31,), (-0.2, -1.0), 1.0), ((35,), (-0.2, -1.0), 1.0)),  # nose wrinkler
    "10": (((50,), (0.0, -1.0), 1.0), ((52,), (0.0, -1.0), 1.0)),  # upper lip raiser
    "12": (((48,), (0.5, -0.85), 1.0), ((54,), (0.5, -0.85), 1.0)),  # lip corner puller
    "14": (((48,), (-1.0, 0.0), 1.0), ((54,), (-1.0, 0.0), 1.0)),  # dimpler: corners in
    "15": (((48,), (0.0, 1.0), 1.0), ((54,), (0.0, 1.0), 1.0)),  # lip corner depressor
    "17": (((57,), (0.0, -1.0), 1.0), ((8,), (0.0, -1.0), 1.0)),  # chin raiser
    "20": (((48,), (1.0, 0.15), 1.0), ((54,), (1.0, 0.15), 1.0)),  # lip stretcher
}


@functools.lru_cache(maxsize=1)
def base_face() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's astronaut photo (RGB float32) and its 68 dlib landmarks, found once."""
    from skimage import data

    # deferred: reading a release back needs no dlib
    from mer.preprocess.landmarks import detect_landmarks

    rgb = data.astronaut()
    landmarks = detect_landmarks(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    if landmarks is None:  # pragma: no cover - the bundled photo always has a face
        raise RuntimeError("dlib found no face in skimage.data.astronaut()")
    return rgb.astype(np.float32), landmarks.astype(np.float64)


def similarity(subject: dict[str, Any]) -> np.ndarray:
    """2×3 matrix taking photo coordinates to canvas coordinates (scale, rotation, position)."""
    _, src = base_face()
    pivot = src.mean(axis=0)
    theta = math.radians(subject["rotation_deg"])
    s = subject["scale"]
    rot = s * np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return np.hstack([rot, (np.asarray(subject["centre"]) - rot @ pivot)[:, None]])


def shape_field(subject: dict[str, Any]) -> np.ndarray:
    """The subject's smooth shape change: canvas offsets [H, W, 2] float32 of a few pixels."""
    h, w = CANVAS_HW
    grid = np.asarray(subject["shape_grid"], dtype=np.float32)
    field = np.stack([cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) for g in grid], axis=-1)
    peak = float(np.abs(field).max()) or 1.0
    return field * np.float32(subject["shape_px"] / peak)


def canvas_landmarks(subject: dict[str, Any], src: np.ndarray) -> np.ndarray:
    """Where the photo's landmarks land on the canvas: solve q + f(q) = M·p by fixed point."""
    target = np.hstack([src, np.ones((len(src), 1))]) @ similarity(subject).T
    field = shape_field(subject)
    q = target.copy()
    for _ in range(10):
        offsets = cv2.remap(
            field,
            q[:, 0].astype(np.float32)[None],
            q[:, 1].astype(np.float32)[None],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )[0]
        q = target - offsets
    return q


def displacement_field(bumps: Sequence[dict[str, Any]], shape: tuple[int, int] = CANVAS_HW) -> np.ndarray:
    """Apex displacement d(x) = Σ disp·exp(−|x−c|²/2σ²), [H, W, 2] float32: the flow's truth."""
    h, w = shape
    field = np.zeros((h, w, 2), dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    for bump in bumps:
        (cx, cy), (dx, dy), sigma = bump["centre"], bump["displacement"], bump["sigma"]
        gx = np.exp(-((xs - cx) ** 2) / (2 * sigma**2))
        gy = np.exp(-((ys - cy) ** 2) / (2 * sigma**2))
        weight = np.outer(gy, gx)
        field[..., 0] += dx * weight
        field[..., 1] += dy * weight
    return field


def expression_profile(frame: int, onset: int, apex: int, offset: int) -> float:
    """Expression strength p at a frame: 0 at onset, smooth rise to 1 at apex, fall to 0.2."""
    if frame <= apex:
        u = (frame - onset) / max(apex - onset, 1)
        return float(0.5 - 0.5 * math.cos(math.pi * min(max(u, 0.0), 1.0)))
    u = (frame - apex) / max(offset - apex, 1)
    return float(1.0 - 0.8 * (0.5 - 0.5 * math.cos(math.pi * min(u, 1.0))))
