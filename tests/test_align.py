"""Face alignment: eyes levelled by the inner eye corners, one transform for both frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mer.errors import MerError
from mer.preprocess.align import align_face, centre_alignment, check_no_face_policy, eye_angle
from mer.preprocess.clip import preprocess_clip
from mer.preprocess.flow import tvl1_flow
from mer.preprocess.landmarks import detect_landmarks, shape_predictor_path


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about a point off the face centre, so alignment must find the face, not the frame."""
    matrix = cv2.getRotationMatrix2D((450.0, 270.0), degrees, 1.0)
    return cv2.warpAffine(image, matrix, image.shape[::-1], borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("degrees", [12.0, -9.0])
def test_rotated_face_comes_back_level(face_frame: np.ndarray, degrees: float) -> None:
    upright = eye_angle(detect_landmarks(face_frame))
    tilted = rotate(face_frame, degrees)
    alignment = align_face(tilted, size=224, margin=0.3)
    assert alignment is not None
    # The measured tilt is the known rotation (OpenCV's positive angle turns the eyes clockwise).
    assert eye_angle(alignment.landmarks) - upright == pytest.approx(-degrees, abs=1.0)
    # dlib, run again on the aligned crop, sees level eyes.
    aligned = alignment.apply(tilted)
    assert aligned.shape == (224, 224)
    again = detect_landmarks(aligned)
    assert again is not None
    assert abs(eye_angle(again)) < 1.0


def test_both_frames_get_the_onset_transform(face_frame: np.ndarray, tmp_path) -> None:
    """Apex = onset shifted 2 px right: one shared transform keeps that shift as flow."""
    onset = rotate(face_frame, 8.0)
    apex = cv2.warpAffine(
        onset,
        np.float32([[1, 0, 2.0], [0, 1, 0]]),
        onset.shape[::-1],
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT,
    )
    cv2.imwrite(str(tmp_path / "onset.png"), onset)
    cv2.imwrite(str(tmp_path / "apex.png"), apex)
    result = preprocess_clip(tmp_path / "onset.png", tmp_path / "apex.png", tvl1_flow, size=112)
    assert result is not None
    expected = result.matrix[:, :2] @ np.array([2.0, 0.0])  # the shift seen through the transform
    centre = slice(28, 84)
    measured = np.array([result.channels["u"][centre, centre].mean(), result.channels["v"][centre, centre].mean()])
    assert np.linalg.norm(measured - expected) < 0.15, (measured, expected)
    assert np.linalg.norm(expected) > 0.5  # a per-frame transform would have cancelled it


def test_no_face_returns_none_or_centre(tmp_path) -> None:
    blank = np.full((240, 320), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "blank.png"), blank)
    path = tmp_path / "blank.png"
    assert preprocess_clip(path, path, tvl1_flow, size=64, no_face="error") is None
    result = preprocess_clip(path, path, tvl1_flow, size=64, no_face="center")
    assert result is not None and result.landmarks is None
    np.testing.assert_allclose(result.matrix, centre_alignment((240, 320), 64).matrix)


def test_bad_policy_and_model_path_messages(tmp_path) -> None:
    with pytest.raises(MerError, match=r"preprocess.align.no_face='skip' is not a policy"):
        check_no_face_policy("skip")
    with pytest.raises(MerError, match=r"landmark model .*nope.dat not found"):
        shape_predictor_path(tmp_path / "nope.dat")
    assert shape_predictor_path().name == "shape_predictor_68_face_landmarks.dat"


def test_unreadable_frame_names_the_file(tmp_path) -> None:
    bad = tmp_path / "img7.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(MerError, match=r"cannot read image .*img7.jpg"):
        preprocess_clip(bad, bad, tvl1_flow)


def test_flow_context_keeps_boundary_effects_out(face_frame: np.ndarray, tmp_path) -> None:
    """A global 1.5 px shift: with context the crop's border rows see the shift, not artefacts."""
    apex = cv2.warpAffine(
        face_frame,
        np.float32([[1, 0, 0], [0, 1, 1.5]]),
        face_frame.shape[::-1],
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT,
    )
    cv2.imwrite(str(tmp_path / "onset.png"), face_frame)
    cv2.imwrite(str(tmp_path / "apex.png"), apex)
    errors = {}
    for context in (0.0, 0.1):
        result = preprocess_clip(
            tmp_path / "onset.png", tmp_path / "apex.png", tvl1_flow, size=96, flow_context=context
        )
        truth = result.matrix[:, :2] @ np.array([0.0, 1.5])
        flow = np.stack([result.channels["u"], result.channels["v"]], axis=-1)
        error = np.linalg.norm(flow - truth, axis=-1)
        edge = np.zeros_like(error, bool)
        edge[:3], edge[-3:], edge[:, :3], edge[:, -3:] = True, True, True, True
        errors[context] = (error[edge].mean(), error[~edge].mean())
    assert errors[0.1][0] < 0.5 * errors[0.0][0], errors  # the border is where context helps
    assert errors[0.1][1] < 0.2, errors
