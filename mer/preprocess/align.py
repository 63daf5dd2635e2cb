"""Face alignment (paper §3.1): level the inner eye corners, crop around the landmarks, resize."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from mer.errors import MerError
from mer.preprocess.landmarks import detect_landmarks

#: 0-based dlib indices of the inner eye corners (landmarks 40 and 43 in 1-based numbering).
LEFT_INNER_EYE, RIGHT_INNER_EYE = 39, 42

NO_FACE_POLICIES = ("error", "center")


@dataclass(frozen=True)
class Alignment:
    """One clip's transform: `matrix` maps frame pixels to the aligned `size`×`size` crop."""

    matrix: np.ndarray  # [2, 3] float64
    size: int
    landmarks: np.ndarray | None  # [68, 2] in frame pixels, None when no face was found

    def apply(self, image: np.ndarray, pad: int = 0) -> np.ndarray:
        """Warp a frame into the aligned crop, grown by `pad` pixels of context on every side
        (area-averaged when shrinking, to avoid aliasing)."""
        matrix = self.matrix.copy()
        matrix[:, 2] += pad
        out = self.size + 2 * pad
        scale = math.hypot(matrix[0, 0], matrix[0, 1])
        if scale >= 1.0:
            return cv2.warpAffine(image, matrix, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # Warp at native resolution first, then shrink with INTER_AREA.
        side = int(math.ceil(out / scale))
        crop = cv2.warpAffine(
            image, matrix / scale, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return cv2.resize(crop, (out, out), interpolation=cv2.INTER_AREA)


def eye_angle(landmarks: np.ndarray) -> float:
    """Eq. 1: θ = atan2(y2 − y1, x2 − x1) between the inner eye corners, in degrees."""
    (x1, y1), (x2, y2) = landmarks[LEFT_INNER_EYE], landmarks[RIGHT_INNER_EYE]
    return math.degrees(math.atan2(y2 - y1, x2 - x1))


def alignment_from_landmarks(landmarks: np.ndarray, size: int, margin: float) -> Alignment:
    """Eq. 2: rotate by θ about the eye midpoint, then take a square around the landmarks.

    The square is centred on the rotated landmarks' bounding box, its side the box's longer side
    grown by `margin` on each side, so the crop keeps the face's aspect ratio.
    """
    centre = (landmarks[LEFT_INNER_EYE] + landmarks[RIGHT_INNER_EYE]) / 2.0
    rotation = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), eye_angle(landmarks), 1.0)
    rotated = landmarks @ rotation[:, :2].T + rotation[:, 2]
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    side = float((high - low).max()) * (1.0 + 2.0 * margin)
    box_centre = (low + high) / 2.0
    scale = size / side
    # crop = scale · (R·x + t − (box_centre − side/2))
    matrix = rotation.copy()
    matrix[:, 2] -= box_centre - side / 2.0
    matrix *= scale
    return Alignment(matrix=matrix, size=size, landmarks=landmarks)


def centre_alignment(shape: tuple[int, int], size: int) -> Alignment:
    """Fallback when dlib finds no face: the largest centred square, resized."""
    height, width = shape[:2]
    side = min(height, width)
    scale = size / side
    matrix = np.array([[scale, 0.0, -scale * (width - side) / 2.0], [0.0, scale, -scale * (height - side) / 2.0]])
    return Alignment(matrix=matrix, size=size, landmarks=None)


def align_face(
    onset: np.ndarray,
    size: int = 224,
    margin: float = 0.2,
    upsample: int = 0,
    predictor_path: str | None = None,
) -> Alignment | None:
    """Compute a clip's alignment on its onset frame (grey uint8); None if dlib finds no face."""
    landmarks = detect_landmarks(onset, upsample=upsample, predictor_path=predictor_path)
    if landmarks is None:
        return None
    return alignment_from_landmarks(landmarks, size=size, margin=margin)


def check_no_face_policy(policy: str) -> str:
    """Validate `preprocess.align.no_face` early, before any work is done."""
    if policy not in NO_FACE_POLICIES:
        raise MerError(f"preprocess.align.no_face={policy!r} is not a policy: use one of {list(NO_FACE_POLICIES)}")
    return policy
