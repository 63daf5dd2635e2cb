"""Rendering: a planned clip's frames as image files, the face warped along its motion plus noise.

Each frame is the subject's neutral face warped by −p(t)·d, so onset→apex flow is +d (the plan's
bumps), with the clip's head drift and seeded sensor noise; encoding options are fixed so the
same plan gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mer.synthetic.face import (
    CANVAS_HW,
    base_face,
    displacement_field,
    expression_profile,
    shape_field,
    similarity,
)
from mer.synthetic.layout_base import Layout, frame_file


def jpeg_options(quality: int) -> list[int]:
    """OpenCV's JPEG options, every one fixed (no optimisation, baseline, 4:2:0) so bytes are stable."""
    options = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 0, cv2.IMWRITE_JPEG_PROGRESSIVE, 0]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
        options += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    return options


def subject_base(subject: dict[str, Any]) -> np.ndarray:
    """The subject's neutral face on the 640×480 canvas, BGR float32 (pose, photometry, shape)."""
    rgb, _ = base_face()
    photo = 255.0 * (rgb / 255.0) ** subject["gamma"]
    tint = np.asarray(subject["tint_rgb"], dtype=np.float32)
    photo = photo * tint * subject["gain"] + subject["bias"]
    photo = cv2.cvtColor(np.clip(photo, 0, 255).astype(np.float32), cv2.COLOR_RGB2BGR)
    inverse = cv2.invertAffineTransform(similarity(subject))
    h, w = CANVAS_HW
    qx, qy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    field = shape_field(subject)
    qx, qy = qx + field[..., 0], qy + field[..., 1]
    map_x = inverse[0, 0] * qx + inverse[0, 1] * qy + inverse[0, 2]
    map_y = inverse[1, 0] * qx + inverse[1, 1] * qy + inverse[1, 2]
    return cv2.remap(
        photo, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )


def _render_clip(
    clip: dict[str, Any],
    base: np.ndarray,
    noise_sigma: float,
    folder: Path,
    jpeg_quality: int,
    grey: bool = False,
) -> int:
    """Write a clip's frames: base warped by −p(t)·d (so onset→apex flow is +d), plus noise."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = CANVAS_HW
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    d = displacement_field(clip["bumps"])
    rng = np.random.default_rng(clip["noise_seed"])
    encode = jpeg_options(jpeg_quality)
    onset, apex, offset = clip["onset"], clip["apex"], clip["offset"]
    for frame in range(onset, offset + 1):
        p = np.float32(expression_profile(frame, onset, apex, offset))
        drift = (frame - onset) / (offset - onset)
        sx, sy = (np.float32(drift * s) for s in clip["head_drift"])
        warped = cv2.remap(
            base, gx - p * d[..., 0] - sx, gy - p * d[..., 1] - sy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
        )
        noise = rng.standard_normal(warped.shape, dtype=np.float32)
        pixels = np.clip(warped + noise * np.float32(noise_sigma) + 0.5, 0, 255).astype(np.uint8)
        if grey:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        name = frame_file(clip, frame)
        suffix = Path(name).suffix
        ok, data = cv2.imencode(suffix, pixels, encode if suffix == ".jpg" else [])
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise RuntimeError(f"encoding failed for {folder / name}")
        (folder / name).write_bytes(data.tobytes())
    return offset - onset + 1


def render_subject(
    subject: dict[str, Any],
    clips: list[dict[str, Any]],
    root: Path,
    jpeg_quality: int,
    layout: Layout,
    done: Callable[[int], None],
) -> None:
    """Render all of one subject's clips (one base image in memory at a time)."""
    base = subject_base(subject)
    for clip in clips:
        folder = root / clip["frames_dir"]
        _render_clip(clip, base, subject["noise_sigma"], folder, jpeg_quality, layout.grey)
        done(1)
