"""flow_peaks' parts on known motion: head motion taken away, the apex of a planted expression found
as the signal's peak, MDMD's threshold, intervals of 2k + 1 frames, and the motion cache's reuse."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from helpers import smooth_texture

from mer.data.long_videos import LongVideos
from mer.preprocess.align import centre_alignment
from mer.preprocess.flow import dis_flow
from mer.spot.flow_peaks import relative_threshold, spot_video
from mer.spot.motion import REGIONS, VideoMotion, numbered_frame_files, region_boxes, region_motion, video_motion
from mer.spot.motion_cache import build_motion_cache, load_video_motion, steps_for

BOXES = region_boxes(centre_alignment((64, 64), 64))


def test_head_motion_is_taken_away_and_a_regions_own_motion_is_kept() -> None:
    flow = np.zeros((64, 64, 2), np.float32)
    flow[...] = (1.5, -0.5)  # the whole head moves
    np.testing.assert_allclose(region_motion(flow, BOXES), 0.0, atol=1e-6)
    x0, y0, x1, y1 = BOXES["mouth"]
    flow[y0:y1, x0:x1] += (0.0, 2.0)  # and the mouth moves 2 px more
    motion = dict(zip(REGIONS, region_motion(flow, BOXES)))
    assert motion["mouth"] == pytest.approx(2.0) and motion["brows"] == pytest.approx(0.0, abs=1e-6)


def test_steps_are_half_a_typical_expression_in_frames() -> None:
    assert steps_for(30, {"micro": 0.3, "macro": 1.5}) == {"micro": 4, "macro": 22}
    assert steps_for(200, {"micro": 0.3, "macro": 1.5}) == {"micro": 30, "macro": 150}
    assert steps_for(10, {"micro": 0.05}) == {"micro": 1}


def test_the_threshold_is_mdmds_share_of_each_videos_range() -> None:
    signal = np.array([0.0, 1.0, 2.0, 5.0])
    assert relative_threshold(signal, 0.0) == pytest.approx(2.0)  # the mean
    assert relative_threshold(signal, 0.5) == pytest.approx(3.5)
    assert relative_threshold(signal, 1.0) == pytest.approx(5.0)


def test_peaks_become_intervals_of_2k_plus_1_frames_around_the_apex() -> None:
    n = 200
    frames = np.arange(1001, 1001 + n)
    micro = np.zeros((n, len(REGIONS)), np.float32)
    micro[60, 2], micro[150, 0] = 3.0, 2.0  # two apexes, in the mouth and the brows
    macro = np.zeros((n, len(REGIONS)), np.float32)
    motion = VideoMotion(frames, {"micro": micro, "macro": macro}, True)
    spots, signals = spot_video(
        "v1", motion, {"micro": 3, "macro": 10}, {"micro": 0.3, "macro": 0.3}, smooth_fraction=0
    )
    micro_spots = spots[spots["type"] == "micro"].reset_index(drop=True)
    assert micro_spots[["onset", "offset"]].to_numpy().tolist() == [[1058, 1064], [1148, 1154]]
    assert micro_spots["score"].tolist() == pytest.approx([3.0, 2.0])
    assert signals["micro"].threshold == pytest.approx(relative_threshold(signals["micro"].signal, 0.3))
    assert spots[spots["type"] == "macro"].empty  # a flat signal has no peak above its own threshold


def write_video(folder: Path, n: int, apex: int, k: int, amplitude: float, drift: float) -> Path:
    """A textured face-sized frame sequence: the whole image drifts by `drift` px per frame, and its
    lower middle (the fallback mouth box) rises to `amplitude` px at frame `apex` and back, over ±k."""
    folder.mkdir(parents=True)
    texture = smooth_texture((96, 96), seed=3)
    for i in range(n):
        shift = drift * i
        lift = amplitude * max(0.0, 1 - abs(i - apex) / k)
        frame = cv2.warpAffine(texture, np.float32([[1, 0, shift], [0, 1, 0]]), (96, 96), borderMode=cv2.BORDER_REFLECT)
        moved = cv2.warpAffine(
            texture, np.float32([[1, 0, shift], [0, 1, -lift]]), (96, 96), borderMode=cv2.BORDER_REFLECT
        )
        frame[62:86, 24:72] = moved[62:86, 24:72]
        assert cv2.imwrite(str(folder / f"img{i + 1:03d}.png"), frame)
    return folder


def test_a_planted_expression_peaks_at_its_apex_despite_head_drift(tmp_path: Path) -> None:
    files = numbered_frame_files(
        write_video(tmp_path / "v", 60, apex=30, k=6, amplitude=2.0, drift=0.15), r"^img(\d+)$"
    )
    motion = video_motion(files, {"micro": 6}, dis_flow, size=64)
    assert not motion.face_found  # a texture: the fallback boxes
    mouth = motion.motion["micro"][:, list(REGIONS).index("mouth")]
    assert abs(int(mouth.argmax()) - 29) <= 1  # index 29 is frame 30, the apex
    assert mouth.max() > 0.5 and np.median(mouth[6:-6]) < 0.1 * mouth.max()  # the 2 px lift is 1.3 px at 64²


def test_the_motion_cache_computes_each_video_once(tmp_path: Path) -> None:
    write_video(tmp_path / "release" / "v1", 30, apex=15, k=4, amplitude=2.0, drift=0.0)
    videos = LongVideos(
        dataset="toy",
        root=tmp_path / "release",
        fps=30.0,
        videos=pd.DataFrame(
            [{"video": "v1", "subject": "s1", "frames_dir": "v1", "first_frame": 1, "last_frame": 30, "n_frames": 30}]
        ),
        intervals=pd.DataFrame(
            [
                {
                    "video": "v1",
                    "subject": "s1",
                    "onset": 11,
                    "apex": 15,
                    "offset": 19,
                    "type": "micro",
                    "action_units": "",
                    "emotion": "",
                }
            ]
        ),
        frame_regex=r"^img(\d+)$",
    )
    params = {
        "size": 64,
        "margin": 0.2,
        "upsample": 0,
        "flow_context": 0.1,
        "flow": "dis",
        "typical_seconds": {"micro": 0.27, "macro": 0.6},
    }
    out = build_motion_cache(videos, params, dis_flow, tmp_path / "cache", workers=1)
    stored = load_video_motion(out, "v1")
    assert stored.frames.tolist() == list(range(1, 31)) and set(stored.motion) == {"micro", "macro"}
    mtime = (out / "v1.npz").stat().st_mtime_ns
    assert build_motion_cache(videos, params, dis_flow, tmp_path / "cache", workers=1) == out
    assert (out / "v1.npz").stat().st_mtime_ns == mtime  # reused, not recomputed
    other = build_motion_cache(videos, {**params, "size": 48}, dis_flow, tmp_path / "cache", workers=1)
    assert other != out  # another working size is another cache
