"""One clip's preprocessing: read onset and apex, align both with one transform, compute flow maps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mer.errors import MerError
from mer.preprocess.align import Alignment, align_face, centre_alignment
from mer.preprocess.flow import flow_magnitude, optical_strain

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ClipResult:
    """The cache rows of one clip: image channels plus the alignment that produced them."""

    channels: dict[str, np.ndarray]  # name → [size, size] float32
    matrix: np.ndarray  # [2, 3] frame → crop
    landmarks: np.ndarray | None  # [68, 2] on the onset frame, None when no face was found


def read_grey(path: Path) -> np.ndarray:
    """A frame as uint8 grey, or a clear error naming the file."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise MerError(f"cannot read image {path}: the file is missing, empty or not an image")
    return image


def clip_settings(params: dict[str, Any]) -> dict[str, Any]:
    """`preprocess_clip`'s keyword arguments (all but the flow function) from the preprocessing
    parameters a cache manifest or a checkpoint records, so both preprocess a clip alike."""
    align = params["align"]
    return dict(
        size=int(params["size"]),
        margin=align["margin"],
        upsample=align["upsample"],
        predictor_path=align["predictor_path"],
        no_face=align["no_face"],
        flow_context=params["flow_context"],
    )


def preprocess_clip(
    onset_path: Path,
    apex_path: Path,
    flow_fn: FlowFn,
    size: int = 224,
    margin: float = 0.2,
    upsample: int = 0,
    predictor_path: str | None = None,
    no_face: str = "error",
    flow_context: float = 0.1,
) -> ClipResult | None:
    """Align onset and apex with the onset's transform, then flow onset→apex and its derived maps.

    Returns None when dlib finds no face and `no_face` is "error" (the caller lists every such
    clip in one message); with "center" the centred square is used instead.
    """
    onset, apex = read_grey(onset_path), read_grey(apex_path)
    if onset.shape != apex.shape:
        raise MerError(f"onset {onset_path} and apex {apex_path} differ in size")
    alignment = clip_alignment(onset, size, margin, upsample, predictor_path, no_face)
    if alignment is None:
        return None
    return ClipResult(
        channels=aligned_channels(onset, apex, alignment, flow_fn, flow_context),
        matrix=alignment.matrix,
        landmarks=alignment.landmarks,
    )


def clip_alignment(
    onset: np.ndarray,
    size: int = 224,
    margin: float = 0.2,
    upsample: int = 0,
    predictor_path: str | None = None,
    no_face: str = "error",
) -> Alignment | None:
    """A clip's one transform, from its onset frame; the centred square when dlib finds no face
    and `no_face` is "center", else None."""
    alignment = align_face(onset, size, margin, upsample, predictor_path)
    if alignment is None and no_face != "error":
        alignment = centre_alignment(onset.shape, size)
    return alignment


def aligned_flow(
    onset: np.ndarray, other: np.ndarray, alignment: Alignment, flow_fn: FlowFn, flow_context: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow onset→other on the aligned crop [size, size, 2], and both aligned crops (uint8).

    Flow is solved on the crop plus a border of context and cut back to the crop, so the
    solver's boundary effects (large spurious vectors at the edges) stay outside the crop.
    """
    size = alignment.size
    pad = round(flow_context * size)
    onset_wide, other_wide = alignment.apply(onset, pad), alignment.apply(other, pad)
    inner = slice(pad, pad + size)
    flow = flow_fn(onset_wide, other_wide)[inner, inner]
    return flow, onset_wide[inner, inner], other_wide[inner, inner]


def aligned_channels(
    onset: np.ndarray, apex: np.ndarray, alignment: Alignment, flow_fn: FlowFn, flow_context: float
) -> dict[str, np.ndarray]:
    """Every channel of `CHANNELS` for one onset/apex pair under the clip's alignment."""
    flow, onset_aligned, apex_aligned = aligned_flow(onset, apex, alignment, flow_fn, flow_context)
    return {
        "u": flow[..., 0],
        "v": flow[..., 1],
        "magnitude": flow_magnitude(flow),
        "strain": optical_strain(flow),
        "onset": onset_aligned.astype(np.float32) / 255.0,
        "apex": apex_aligned.astype(np.float32) / 255.0,
    }
