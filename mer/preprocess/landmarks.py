"""dlib face detection and the 68-point shape predictor."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from mer.errors import MerError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def shape_predictor_path(configured: str | Path | None = None) -> Path:
    """The 68-landmark model: a configured path, else the file `face-recognition-models` ships.

    The package is located with `find_spec`, without importing its `__init__` (which needs
    pkg_resources, gone from recent setuptools).
    """
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise MerError(
                f"landmark model {path} not found: point preprocess.align.predictor_path at "
                f"dlib's {PREDICTOR_FILE}, or set it to null to use face-recognition-models'"
            )
        return path
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = Path(folder) / "models" / PREDICTOR_FILE
            if path.is_file():
                return path
    raise MerError(
        f"dlib's {PREDICTOR_FILE} not found: `pip install face-recognition-models`, "
        "or set preprocess.align.predictor_path=/path/to/" + PREDICTOR_FILE
    )


@functools.lru_cache(maxsize=4)
def dlib_models(predictor_path: str | None = None):
    """dlib's HOG frontal face detector and 68-point predictor, loaded once per process."""
    import dlib  # deferred: workers load it in their own process

    path = shape_predictor_path(predictor_path)
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))


def detect_landmarks(gray: np.ndarray, upsample: int = 0, predictor_path: str | None = None) -> np.ndarray | None:
    """68 (x, y) landmarks of the largest face in a uint8 grey image, or None if dlib finds none."""
    import dlib

    detector, predictor = dlib_models(predictor_path)
    image = np.ascontiguousarray(gray, dtype=np.uint8)
    faces = detector(image, upsample)
    if len(faces) == 0:
        return None
    face = max(faces, key=lambda r: r.width() * r.height())
    shape = predictor(image, dlib.rectangle(face.left(), face.top(), face.right(), face.bottom()))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
