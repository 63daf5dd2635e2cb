"""spot=softnet on tiny synthetic long videos: SoftNet's pseudo-labels, the motion stage's flow patches
(and the cache key that tells them apart), leave-one-subject-out training that never sees the test
subject, and a run that writes spots for every video."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from mer.config import CONFIG_DIR
from mer.data.long_videos import LongVideos
from mer.evaluate.spotting import read_spots
from mer.preprocess.flow import dis_flow
from mer.spot import softnet
from mer.spot.app import MOTION_KEYS, PLOTS_DIR, SPOTS_CSV, SPOTTING_JSON, motion_params, spot_release
from mer.spot.motion import PATCH_CHANNELS, REGIONS, numbered_frame_files, video_motion
from mer.spot.motion_cache import cache_dir, load_video_motion, steps_for
from mer.synthetic.long_videos import read_synthetic_videos


def spot_config(method: str, *overrides: str) -> DictConfig:
    """mer-spot's config with `spot=<method>`."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("spot", overrides=[f"spot={method}", *overrides])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three subjects of one 200-frame CAS(ME)^2 video each, spotted once by `spot=softnet` through the
    app's own `spot_release` (one motion worker)."""
    base = tmp_path_factory.mktemp("softnet")
    videos = read_synthetic_videos(
        base / "release", layout="casme_sq", n_subjects=3, videos_per_subject=1, frames_per_video=200
    )
    cfg = spot_config("softnet", f"paths.cache_dir={base / 'cache'}", "workers=1")
    scores = spot_release(cfg, videos, base / "run")
    cache = cache_dir(videos, motion_params(cfg.spot), cfg.paths.cache_dir)
    return {"videos": videos, "cfg": cfg, "scores": scores, "cache": cache, "run_dir": base / "run"}


def test_pseudo_labels_are_one_inside_an_interval_and_zero_far_outside() -> None:
    frames = np.arange(101, 201)
    labels = softnet.pseudo_labels(frames, pd.DataFrame({"onset": [140], "offset": [150]}), k=6)
    on = frames[labels == 1]
    assert on.min() == 137 and on.max() == 153  # the interval, widened by k // 2: its k frames touch it
    assert set(np.unique(labels)) == {0.0, 1.0}
    none = softnet.pseudo_labels(frames, pd.DataFrame({"onset": [], "offset": []}), k=6)
    assert not none.any()


def test_the_cache_key_holds_patch_size_only_when_a_method_asks_for_patches(run: dict[str, Any]) -> None:
    plain = motion_params(spot_config("flow_peaks").spot)
    assert tuple(plain) == MOTION_KEYS  # flow_peaks' key is what it was before patches existed
    patched = motion_params(run["cfg"].spot)
    assert patched == {**plain, "patch_size": 16}
    other = motion_params(spot_config("softnet", "spot.patch_size=8").spot)
    keys = {cache_dir(run["videos"], params, "/c") for params in (plain, patched, other)}
    assert len(keys) == 3


def test_the_motion_stage_keeps_each_regions_flow_patches_when_asked(run: dict[str, Any]) -> None:
    videos: LongVideos = run["videos"]
    row = videos.videos.iloc[0]
    steps = steps_for(videos.fps, dict(run["cfg"].spot.typical_seconds))
    stored = load_video_motion(run["cache"], row.video, patches=True)
    for kind, k in steps.items():
        patches = stored.patches[kind]
        assert patches.shape == (row.n_frames, len(REGIONS), len(PATCH_CHANNELS), 16, 16)
        assert patches.dtype == np.float16
        assert not patches[:k].any() and not patches[-k:].any() and patches[k:-k].any()  # flow only inside
    assert load_video_motion(run["cache"], row.video).patches is None  # not loaded unless asked

    files = numbered_frame_files(videos.root / row.frames_dir, videos.frame_regex)[:20]
    without = video_motion(files, {"micro": 4}, dis_flow)
    with_patches = video_motion(files, {"micro": 4}, dis_flow, patch_size=8)
    assert without.patches is None and with_patches.patches["micro"].shape == (20, len(REGIONS), 3, 8, 8)
    np.testing.assert_array_equal(without.motion["micro"], with_patches.motion["micro"])  # motion unchanged


def test_the_test_subjects_videos_never_enter_training(run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    videos: LongVideos = run["videos"]
    subject_of = dict(zip(videos.videos["video"], videos.videos["subject"]))
    motions = {video: load_video_motion(run["cache"], video, patches=True) for video in subject_of}
    steps = steps_for(videos.fps, dict(run["cfg"].spot.typical_seconds))
    training = softnet.Training.from_settings({**run["cfg"].spot, "epochs": 1})
    trained_on: list[set[str]] = []
    real = softnet.train_model

    def spy(data: softnet.TrainingSet, settings: softnet.Training) -> softnet.SoftNet:
        trained_on.append({subject_of[video] for video in data.video})
        return real(data, settings)

    monkeypatch.setattr(softnet, "train_model", spy)
    subjects = set(subject_of.values())
    for subject in sorted(subjects):
        trained_on.clear()
        scores = softnet.fold_scores(videos, motions, steps, training, subject)
        assert {subject_of[video] for video in scores} == {subject}  # it scores the test subject's videos
        assert trained_on == [subjects - {subject}] * 2  # a model per type, on every other subject, never this one


def test_a_run_writes_spots_and_plots_for_every_video(run: dict[str, Any]) -> None:
    spots = read_spots(run["run_dir"] / SPOTS_CSV)
    videos = set(run["videos"].videos["video"])
    assert set(spots["video"]) == videos
    assert (run["run_dir"] / SPOTTING_JSON).is_file() and {"micro", "macro", "overall"} <= set(run["scores"])
    plots = {path.name for path in (run["run_dir"] / PLOTS_DIR).glob("*.png")}
    assert plots == {f"{video}-{kind}.png" for video in videos for kind in ("micro", "macro")}
