"""`mer-spot`: a release's long videos → spotted intervals, their MEGC scores and a plot per video
(a Hydra app, its command line checked before the heavy imports, as `mer-prepare` and `mer-train`).

Writes into the run dir: `spots.csv` (video, onset, offset, type, score; the release's frame
numbers), `spotting.json` (`{"micro", "macro", "overall"}`: tp, fp, fn, precision, recall, f1 under
the MEGC rule, `mer.evaluate.spotting`) and `plots/<video>-<type>.png`; with `recognise=` (a checkpoint
or a LOSO sweep dir) also `recognised.csv` and spotting.json's `"recognition"` (`mer.spot.recognise`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer.atomic import write_atomically
from mer.config import CONFIG_DIR
from mer.data import instantiate_reader
from mer.data.long_videos import TYPES, LongVideos
from mer.errors import MerError, plural, user_facing
from mer.evaluate.spotting import SPOT_COLUMNS, match_spots, plot_video, spotting_scores, write_spots
from mer.evaluate.sweep_runs import is_synthetic
from mer.preflight import SPOTTING_APP, check_data_serves, checked_cli
from mer.spot.flow_peaks import TypeSignal, spot_video
from mer.spot.motion_cache import build_motion_cache, load_video_motion, steps_for
from mer.spot.recognise import RECOGNISED_CSV, choose_models, recognise_spots, recognition_line

log = logging.getLogger(__name__)

SPOTS_CSV, SPOTTING_JSON, PLOTS_DIR = "spots.csv", "spotting.json", "plots"
SYNTHETIC_SPOTTING_NOTE = "synthetic long videos: proves the pipeline; these are NOT MEGC's numbers."
#: The spotting keys that change the cached motion (the rest only read it).
MOTION_KEYS = ("size", "margin", "upsample", "flow_context", "flow", "typical_seconds")
#: The key a method that learns from flow patches adds to them (absent or null: no patches, and the key unchanged).
PATCH_KEY = "patch_size"

#: Each video's spots (spots.csv rows) and per-type signals (for its plot), by video.
Spotted = dict[str, tuple[pd.DataFrame, dict[str, TypeSignal]]]
#: A spotting method: (videos, motion cache folder, each type's k, the spot config as plain data) → Spotted.
Spotter = Callable[[LongVideos, Path, Mapping[str, int], Mapping[str, Any]], Spotted]


def read_videos(cfg: DictConfig) -> LongVideos:
    """The release's long videos, read by the reader its `data.videos` names (a dataset without long
    videos is `mer.preflight`'s one line)."""
    check_data_serves(cfg, SPOTTING_APP)
    return instantiate_reader(cfg.data.videos)


def motion_params(spot_cfg: DictConfig) -> dict[str, Any]:
    """The spotting settings that key the motion cache, as plain data (`patch_size` only when set)."""
    settings = OmegaConf.to_container(spot_cfg, resolve=True)
    params = {key: settings[key] for key in MOTION_KEYS}
    if settings.get(PATCH_KEY) is not None:
        params[PATCH_KEY] = int(settings[PATCH_KEY])
    return params


def flow_peaks_spots(videos: LongVideos, cache: Path, steps: Mapping[str, int], settings: Mapping[str, Any]) -> Spotted:
    """`spot=flow_peaks`: each video's spots and signals from its cached motion alone."""
    p = {kind: float(settings["p"][kind]) for kind in TYPES}
    return {
        row.video: spot_video(
            row.video,
            load_video_motion(cache, row.video),
            steps,
            p,
            settings["noise_floor"],
            settings["combine"],
            settings["smooth"],
        )
        for row in videos.videos.itertuples()
    }


def spotter(name: str) -> Spotter:
    """The spotting method `spot.name` names (softnet's torch imported only when asked for)."""
    if name == "flow_peaks":
        return flow_peaks_spots
    if name == "softnet":
        from mer.spot.softnet import softnet_spots

        return softnet_spots
    raise MerError(f"spot.name={name!r}: choose one of flow_peaks, softnet")


def spot_release(cfg: DictConfig, videos: LongVideos, run_dir: Path) -> dict[str, Any]:
    """Spot every video, write spots.csv, spotting.json and the plots (and recognised.csv); the scores."""
    choice = choose_models(cfg.recognise) if cfg.get("recognise") else None  # a wrong path fails before spotting
    spot_cfg = cfg.spot
    method = spotter(spot_cfg.name)
    params = motion_params(spot_cfg)
    cache = build_motion_cache(videos, params, instantiate(spot_cfg.flow), cfg.paths.cache_dir, cfg.workers)
    steps = steps_for(videos.fps, params["typical_seconds"])
    spotted = method(videos, cache, steps, OmegaConf.to_container(spot_cfg, resolve=True))
    found = [video_spots for video_spots, _ in spotted.values()]
    spots = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=list(SPOT_COLUMNS))
    write_spots(spots, run_dir / SPOTS_CSV)
    scores = spotting_scores(spots, videos.intervals)
    if choice is not None:
        micro_f1 = scores["micro"]["f1"]
        scores["recognition"] = recognise_spots(videos, spots, choice, micro_f1, run_dir / RECOGNISED_CSV)
    write_atomically(run_dir / SPOTTING_JSON, lambda tmp: tmp.write_text(json.dumps(scores, indent=2)))
    if cfg.plots:
        signals = {video: video_signals for video, (_, video_signals) in spotted.items()}
        frames = {video: load_video_motion(cache, video).frames for video in spotted}
        plot_videos(videos, spots, signals, frames, run_dir / PLOTS_DIR)
    return scores


def plot_videos(videos: LongVideos, spots: pd.DataFrame, signals: dict, frames: dict, folder: Path) -> None:
    """One PNG per video and type: its signal, threshold, spots (hits and misses) and annotations."""
    matched = match_spots(spots, videos.intervals)
    for row in videos.videos.itertuples():
        for kind in TYPES:
            signal = signals[row.video][kind]
            plot_video(
                signal.signal,
                frames[row.video],
                signal.threshold,
                matched[(matched["video"] == row.video) & (matched["type"] == kind)],
                videos.intervals[videos.intervals["video"] == row.video],  # both types: what a spot may hit or miss
                f"{videos.dataset} · {row.video} · {kind}",
                folder / f"{row.video}-{kind}.png",
            )


def score_lines(scores: dict[str, Any]) -> list[str]:
    """spotting.json as the terminal shows it: one line per type and overall (and the recognition's)."""
    lines = [
        f"{kind:<8} TP {s['tp']:>4}  FP {s['fp']:>5}  FN {s['fn']:>4}  "
        f"precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}"
        for kind, s in scores.items()
        if kind != "recognition"
    ]
    return lines + ([recognition_line(scores["recognition"])] if "recognition" in scores else [])


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="spot")
@user_facing
def hydra_main(cfg: DictConfig) -> float:
    """Entry point of `mer-spot`; returns the overall F1 (what a sweeper would maximise)."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    videos = read_videos(cfg)
    log.info(
        "%s: %s, %s (%s)",
        videos.dataset,
        plural(len(videos.videos), "video"),
        plural(int(videos.videos["n_frames"].sum()), "frame"),
        ", ".join(f"{plural(int((videos.intervals['type'] == t).sum()), t)}" for t in TYPES),
    )
    scores = spot_release(cfg, videos, run_dir)
    print("\n".join(score_lines(scores)), flush=True)
    if is_synthetic(str(cfg.data.name)):
        print(f"{cfg.data.name}: {SYNTHETIC_SPOTTING_NOTE}", flush=True)
    print(
        f"wrote {run_dir / SPOTS_CSV}, {SPOTTING_JSON}" + (f" and {PLOTS_DIR}/*.png" if cfg.plots else ""), flush=True
    )
    return float(scores["overall"]["f1"])


def main() -> None:
    """Console script: check the command line, then run the Hydra app."""
    checked_cli("spot", "mer.spot.app")


if __name__ == "__main__":
    main()
