"""Synthetic long videos for spotting, in CAS(ME)^2's or SAMM Long Videos' layout, read by the real readers.

Each subject is the clip releases' face (`mer.synthetic.plan.plan_subject`: the same photo, pose,
photometry and shape change), and each of its long videos shows that face under a slow head drift (a
smooth translation of a few pixels and a rotation under a degree, periods of 20–100 s) with fresh
sensor noise in every frame. Into it are planted expressions, each the plan's Gaussian bumps of its
action units (`mer.synthetic.plan.clip_bumps`) rising from onset to apex and back to rest at offset:
micro-expressions last 0.2–0.5 s at the layout's frame rate and move 1–2 px, macro-expressions
0.6–3 s (as the video leaves room) and 3–6 px. They never overlap, leave at least 0.4 s of rest
between them, and about one video in four (never a subject's first) holds none, for false positives.

Frame rates are the releases' own, since a spotter sizes its windows from them: CAS(ME)^2 30 fps,
SAMM-LV 200 fps (so 600 frames are 20 s of CAS(ME)^2 but 3 s of SAMM-LV: room for one micro and one
macro, the macro up to ~1.5 s; ask for more frames to get more). Frames are rendered at 256×256,
a 448×448 crop of the clip releases' 640×480 canvas scaled down (the face ~120 px wide), to keep a
release small and fast: colour JPEGs for CAS(ME)^2, greyscale for SAMM-LV.

Each layout writes its release's names, sheet and quirks (DESIGN.md): CAS(ME)^2
`CAS(ME)^2/rawpic/s15/15_0503unnyfarting/img001.jpg` with `CAS(ME)^2code_final.xlsx`'s three
headerless sheets (written by the clip layout's `casme_sq_sheet`), the misspelt stimulus, the last
video filed under the previous participant's folder, one offset written 0 and one empty AU cell;
SAMM-LV `SAMM_longvideos/006_1/006_1_0001.jpg` with `SAMM_LongVideos_V1_Release.xlsx`, sheet
`FACS_Movement_Only` below note rows, filenames `006_1_2`, types `Micro - 1/2` and `Macro`, subject
cells as numbers and as text, one offset written 0 and one onset written as a float (`344.5`, read
as 345). An offset written 0 means the apex ends the interval, so the release's first interval has
its apex late (70–80% of its motion): the annotated [onset, apex] still overlaps the motion by IoU ≥ 0.5.
`synthetic.json` records the plan and every interval as the reader must return it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mer.data.long_videos import LongVideos
from mer.errors import MerError
from mer.synthetic.face import displacement_field
from mer.synthetic.layout_base import frame_file, natural_key
from mer.synthetic.meb_layouts import (
    CASME_SQ_EMOTIONS,
    CASME_SQ_FRAMES_DIR,
    CASME_SQ_MISSPELT,
    CASME_SQ_STIMULI,
    MACRO,
    MICRO,
    casme_sq_participant,
    casme_sq_sheet,
)
from mer.synthetic.params import int_in
from mer.synthetic.plan import CLASS_AUS, FIVE_CLASSES, clip_bumps, plan_subject
from mer.synthetic.release import GROUND_TRUTH_FILE, existing_params, publish_release, refuse_foreign
from mer.synthetic.render import jpeg_options, subject_base
from mer.synthetic.xlsx import write_workbook

#: Bumped whenever the same parameters would produce different files.
FORMAT_VERSION = 1
GENERATOR_NAME = "mer.synthetic.long_videos.generate_long_videos"

FRAME_SIZE = 256  # frames are FRAME_SIZE² pixels
#: The canvas square (x, y, side) scaled down to a frame: the face with room for its pose.
CANVAS_CROP = (96, 16, 448)
JPEG_QUALITY = 92

#: Expression type → (duration in seconds, peak displacement in frame pixels), each [low, high].
EXPRESSIONS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "micro": ((0.2, 0.5), (1.0, 2.0)),
    "macro": ((0.6, 3.0), (3.0, 6.0)),
}
REST_S = (0.4, 3.0)  # seconds of rest before the first expression, between two, after the last (at least the low)
MAX_PER_VIDEO = 6  # expressions a video holds at most
EMPTY_RATE = 1 / 4  # about this share of videos (never a subject's first) holds no expression
DRIFT_PX = (0.5, 1.5)  # amplitude of each of a translation component's two sinusoids, pixels
DRIFT_DEG = (0.15, 0.4)  # amplitude of each of the rotation's two sinusoids, degrees
DRIFT_HZ = (0.01, 0.05)  # frequency of each sinusoid (periods of 20–100 s): slow beside any expression
NOISE_SIGMA = (1.5, 2.0)  # per-subject sensor noise, grey levels (as the clip releases)

# --- SAMM Long Videos -----------------------------------------------------------------------

SAMM_LV_FRAMES_DIR = "SAMM_longvideos"
SAMM_LV_SHEET = "SAMM_LongVideos_V1_Release.xlsx"
SAMM_LV_SHEET_NAME = "FACS_Movement_Only"
SAMM_LV_HEADER = (
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset",
    "Apex",
    "Offset",
    "Duration",
    "Type",
    "Action Units",
    "Notes",
)
SAMM_LV_NOTE_ROWS = 9  # note rows above the header
SAMM_LV_TYPES = {"micro": "Micro - 1/2", "macro": "Macro"}
SAMM_LV_FIRST_SUBJECT = 6  # the release's subjects are 006, 007, ...


@dataclass(frozen=True)
class LongLayout:
    """One long-video release: its frame rate, the reader config that reads it, how it is written."""

    name: str  # conf/data/<name>.yaml, whose `videos` node names the reader
    title: str
    fps: int
    grey: bool
    #: (subject number, video index, n_subjects, videos_per_subject) → the video's id, subject (the
    #: person), frames_dir and frame_name
    names: Callable[[int, int, int, int], dict[str, str]]
    #: writes the coding sheet into the root from the planned videos
    write_sheet: Callable[[Path, list[dict[str, Any]]], None]
    #: sets each planned interval (in release order) the fields the reader returns and its `sheet` cells
    annotate: Callable[[list[dict[str, Any]]], None]


def generate_long_videos(
    root: str | Path,
    layout: str = "casme_sq",
    n_subjects: int = 3,
    videos_per_subject: int = 2,
    frames_per_video: int = 600,
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Write synthetic long videos in `layout` (casme_sq | samm_lv) at `root` (atomic, locked); return it.

    The same parameters give the same bytes; a release there with the same parameters is kept, one
    with others is replaced (with a warning), a non-empty folder that is no synthetic release is refused.
    """
    params = long_video_params(layout, n_subjects, videos_per_subject, frames_per_video, seed)
    return publish_release(root, params, lambda tmp: _write_release(tmp, params, workers, progress))


def read_synthetic_videos(
    root: str | Path,
    layout: str = "casme_sq",
    n_subjects: int = 3,
    videos_per_subject: int = 2,
    frames_per_video: int = 600,
    seed: int = 0,
    apex_policy: str = "midpoint",
) -> LongVideos:
    """The synthetic long videos, generated on first use (or when the parameters changed) and read by
    the real reader `conf/data/<layout>.yaml`'s `videos` node names, with `apex_policy` passed on."""
    from omegaconf import OmegaConf

    from mer.config import CONFIG_DIR
    from mer.data import instantiate_reader

    params = long_video_params(layout, n_subjects, videos_per_subject, frames_per_video, seed)
    root = Path(root).expanduser().absolute()
    if existing_params(root) != params:
        refuse_foreign(root)
        generate_long_videos(root, layout, n_subjects, videos_per_subject, frames_per_video, seed)
    name = LONG_LAYOUTS[layout].name
    reader = OmegaConf.load(Path(CONFIG_DIR) / "data" / f"{name}.yaml").get("videos")
    if reader is None:  # pragma: no cover - every long-video layout's config has one
        raise MerError(f"conf/data/{name}.yaml has no `videos` node naming its long-video reader")
    reader.root = str(root)
    if "apex_policy" in reader:
        reader.apex_policy = apex_policy
    videos = instantiate_reader(reader)
    return dataclasses.replace(videos, provenance={**videos.provenance, "synthetic": params})


def long_video_params(
    layout: str, n_subjects: int, videos_per_subject: int, frames_per_video: int, seed: int
) -> dict[str, Any]:
    """Validated, JSON-plain parameters: what `synthetic.json` records and a later call compares."""
    if layout not in LONG_LAYOUTS:
        raise MerError(
            f"unknown long-video layout data.videos.layout={layout!r}: choose one of {', '.join(LONG_LAYOUTS)}"
        )
    fps = LONG_LAYOUTS[layout].fps
    node = "data.videos"  # as conf/data/synthetic_spot.yaml names the arguments
    return {
        "format_version": FORMAT_VERSION,
        "kind": "long_videos",
        "layout": layout,
        "n_subjects": int_in(n_subjects, "n_subjects", 1, 99, node),
        "videos_per_subject": int_in(videos_per_subject, "videos_per_subject", 1, len(CASME_SQ_STIMULI), node),
        "frames_per_video": int_in(frames_per_video, "frames_per_video", 3 * fps, 60000, node),
        "seed": int_in(seed, "seed", 0, 2**63 - 1, node),
    }


# --- the plan -------------------------------------------------------------------------------


def frame_transform() -> tuple[float, np.ndarray]:
    """(scale, canvas offset): a frame pixel is scale·(canvas point − offset)."""
    x, y, side = CANVAS_CROP
    return FRAME_SIZE / side, np.array([x, y], dtype=np.float64)


def _plan(params: dict[str, Any]) -> dict[str, Any]:
    """Every random choice of the release: subjects, videos, expressions, drift and noise seeds."""
    layout = LONG_LAYOUTS[params["layout"]]
    n, k = params["n_subjects"], params["videos_per_subject"]
    seeds = np.random.SeedSequence([params["seed"], 0x5107]).spawn(n + 1)
    main = np.random.default_rng(seeds[0])
    candidates = [(s, v) for s in range(1, n + 1) for v in range(1, k)]
    n_empty = max(1, round(len(candidates) * EMPTY_RATE)) if candidates else 0
    picks = main.choice(len(candidates), size=n_empty, replace=False) if n_empty else []
    empty = {candidates[int(i)] for i in picks}
    subjects, videos = [], []
    for s in range(1, n + 1):
        rng = np.random.default_rng(seeds[s])
        subject = _frame_subject(plan_subject(s, rng, {"noise_sigma": NOISE_SIGMA}))
        subjects.append(subject)
        for v in range(k):
            video = {**layout.names(s, v, n, k), "subject_number": s, "index": v}
            video.update(_plan_video(subject, (s, v) in empty, s == 1 and v == 0, layout.fps, rng, params))
            for interval in video["intervals"]:
                interval.update(video=video["video"], subject=video["subject"])
            videos.append(video)
    intervals = [i for video in videos for i in video["intervals"]]
    layout.annotate(intervals)
    return {
        "format_version": FORMAT_VERSION,
        "note": f"SYNTHETIC long videos in {layout.title}'s layout, for spotting: prove the pipeline, never a result",
        "generator": GENERATOR_NAME,
        "params": params,
        "face": "skimage.data.astronaut()",
        "fps": layout.fps,
        "frame_size": [FRAME_SIZE, FRAME_SIZE],
        "subjects": subjects,
        "videos": videos,
    }


def _frame_subject(subject: dict[str, Any]) -> dict[str, Any]:
    """The planned subject with its landmarks and inter-ocular distance also in frame pixels."""
    scale, offset = frame_transform()
    landmarks = (np.asarray(subject["landmarks"]) - offset) * scale
    return {
        **subject,
        "frame_landmarks": np.round(landmarks, 3).tolist(),
        "frame_interocular": round(subject["interocular"] * scale, 4),
    }


def _plan_video(
    subject: dict[str, Any],
    empty: bool,
    late_first_apex: bool,
    fps: int,
    rng: np.random.Generator,
    params: dict[str, Any],
) -> dict[str, Any]:
    """One video's drift, noise seed and expressions (none when `empty`)."""
    n = params["frames_per_video"]
    drift = {
        key: [
            [round(float(rng.uniform(*amplitude)), 4), round(float(rng.uniform(*DRIFT_HZ)), 4)]
            + [round(float(rng.uniform(0, 2 * math.pi)), 4)]
            for _ in range(2)
        ]
        for key, amplitude in (("x_px", DRIFT_PX), ("y_px", DRIFT_PX), ("rotation_deg", DRIFT_DEG))
    }
    intervals = [] if empty else _plan_expressions(subject, n, fps, late_first_apex, rng)
    return {
        "first_frame": 1,
        "last_frame": n,
        "n_frames": n,
        "drift": drift,
        "noise_seed": int(rng.integers(0, 2**63 - 1)),
        "intervals": intervals,
    }


def _frames(seconds: tuple[float, float], fps: int) -> tuple[int, int]:
    """A [low, high] span in seconds as whole frames, at least one."""
    return max(1, round(seconds[0] * fps)), max(1, round(seconds[1] * fps))


def _plan_expressions(
    subject: dict[str, Any], n: int, fps: int, late_first_apex: bool, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Non-overlapping expressions with rest between: one micro and one macro first (in random
    order), then random types while the video has room."""
    first = ["micro", "macro"] if rng.uniform() < 0.5 else ["macro", "micro"]
    kinds = first + [("micro", "macro")[int(rng.integers(2))] for _ in range(MAX_PER_VIDEO - 2)]
    rest_lo, rest_hi = _frames(REST_S, fps)
    second_lo = _frames(EXPRESSIONS[kinds[1]][0], fps)[0]
    cursor = 1 + int(rng.integers(rest_lo, 2 * rest_lo + 1))
    intervals: list[dict[str, Any]] = []
    for i, kind in enumerate(kinds):
        lo, hi = _frames(EXPRESSIONS[kind][0], fps)
        keep = rest_lo + (rest_lo + second_lo if i == 0 else 0)  # frames left after it
        room = n - keep - cursor + 1
        if room < lo:
            break
        duration = int(rng.integers(lo, min(hi, room) + 1))
        onset, offset = cursor, cursor + duration - 1
        late = late_first_apex and i == 0
        fraction = rng.uniform(0.7, 0.8) if late else rng.uniform(0.3, 0.6)
        apex = min(max(onset + int(round(fraction * (duration - 1))), onset + 1), offset - 1)
        emotion = FIVE_CLASSES[int(rng.integers(len(FIVE_CLASSES)))]
        aus = CLASS_AUS[emotion][int(rng.integers(len(CLASS_AUS[emotion])))]
        amplitude = round(float(rng.uniform(*EXPRESSIONS[kind][1])), 4)
        intervals.append(
            {
                "type": kind,
                "planned_emotion": emotion,
                "planned_action_units": aus,
                "motion": {
                    "onset": onset,
                    "apex": apex,
                    "offset": offset,
                    "amplitude": amplitude,
                    "bumps": _frame_bumps(subject, aus, amplitude, rng),
                },
            }
        )
        gap_hi = max(rest_lo, rest_hi)
        if i == 0:  # leave the second its room
            gap_hi = max(rest_lo, min(gap_hi, n - rest_lo - second_lo - offset))
        cursor = offset + 1 + int(rng.integers(rest_lo, gap_hi + 1))
    return intervals


def _frame_bumps(subject: dict[str, Any], aus: str, amplitude: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """The plan's bumps for `aus` in frame pixels, the peak displacement `amplitude` frame pixels."""
    scale, offset = frame_transform()
    bumps = clip_bumps(subject, aus, False, amplitude / scale, rng)
    return [
        {
            **bump,
            "centre": np.round((np.asarray(bump["centre"]) - offset) * scale, 3).tolist(),
            "displacement": np.round(np.asarray(bump["displacement"]) * scale, 5).tolist(),
            "sigma": round(bump["sigma"] * scale, 4),
        }
        for bump in bumps
    ]


# --- rendering ------------------------------------------------------------------------------


def long_profile(frame: int, onset: int, apex: int, offset: int) -> float:
    """Expression strength at a frame: 0 until onset, smooth rise to 1 at apex, back to 0 at offset."""
    if frame <= onset or frame >= offset:
        return 0.0
    if frame <= apex:
        u = (frame - onset) / max(apex - onset, 1)
    else:
        u = (offset - frame) / max(offset - apex, 1)
    return float(0.5 - 0.5 * math.cos(math.pi * u))


def drift_at(drift: dict[str, list[list[float]]], frame: int, fps: float) -> tuple[float, float, float]:
    """The head's (x px, y px, rotation deg) at a frame: each a sum of two slow sinusoids
    (amplitude, frequency in Hz, phase)."""
    t = (frame - 1) / fps
    x, y, deg = (
        sum(a * math.sin(2 * math.pi * f * t + phase) for a, f, phase in drift[key])
        for key in ("x_px", "y_px", "rotation_deg")
    )
    return x, y, deg


def _frame_base(subject: dict[str, Any], grey: bool) -> np.ndarray:
    """The subject's neutral face as a FRAME_SIZE² float32 image (BGR, or grey)."""
    canvas = subject_base(subject)
    x, y, side = CANVAS_CROP
    base = cv2.resize(canvas[y : y + side, x : x + side], (FRAME_SIZE, FRAME_SIZE), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(base, cv2.COLOR_BGR2GRAY) if grey else base


def _render_video(
    video: dict[str, Any], subject: dict[str, Any], root: Path, layout: LongLayout, done: Callable[[int], None]
) -> None:
    """Write one video's frames: the neutral face posed by the drift, moved by the expressions, plus noise."""
    folder = root / video["frames_dir"]
    folder.mkdir(parents=True, exist_ok=True)
    base = _frame_base(subject, layout.grey)
    size = (FRAME_SIZE, FRAME_SIZE)
    gx, gy = np.meshgrid(np.arange(FRAME_SIZE, dtype=np.float32), np.arange(FRAME_SIZE, dtype=np.float32))
    cx, cy = np.asarray(subject["frame_landmarks"]).mean(axis=0)
    motions = [(i["motion"], displacement_field(i["motion"]["bumps"], size)) for i in video["intervals"]]
    rng = np.random.default_rng(video["noise_seed"])
    encode = jpeg_options(JPEG_QUALITY)
    sigma = np.float32(subject["noise_sigma"])
    batch = 0
    for frame in range(video["first_frame"], video["last_frame"] + 1):
        tx, ty, deg = drift_at(video["drift"], frame, layout.fps)
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        # undo the head pose (rotation about the face centre, then translation) to reach the neutral face
        x0, y0 = gx - np.float32(cx + tx), gy - np.float32(cy + ty)
        ux = np.float32(c) * x0 + np.float32(s) * y0 + np.float32(cx)
        uy = np.float32(-s) * x0 + np.float32(c) * y0 + np.float32(cy)
        for motion, d in motions:
            p = long_profile(frame, motion["onset"], motion["apex"], motion["offset"])
            if p > 0:
                du = cv2.remap(d, ux, uy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                ux, uy = ux - np.float32(p) * du[..., 0], uy - np.float32(p) * du[..., 1]
        warped = cv2.remap(base, ux, uy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
        noise = rng.standard_normal(warped.shape, dtype=np.float32)
        pixels = np.clip(warped + noise * sigma + 0.5, 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", pixels, encode)
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise RuntimeError(f"encoding failed for frame {frame} of {folder}")
        (folder / frame_file(video, frame)).write_bytes(data.tobytes())
        batch += 1
        if batch == 50:
            done(batch)
            batch = 0
    done(batch)


def _write_release(tmp: Path, params: dict[str, Any], workers: int | None, progress: bool) -> None:
    """Plan, render every video (threads: OpenCV and numpy release the GIL), write the sheet and record."""
    from tqdm import tqdm

    layout = LONG_LAYOUTS[params["layout"]]
    plan = _plan(params)
    tmp.mkdir(parents=True)
    subjects = {s["subject"]: s for s in plan["subjects"]}
    total = sum(v["n_frames"] for v in plan["videos"])
    bar = tqdm(total=total, desc=f"synthetic {layout.title}", unit="frame", file=sys.stderr, disable=not progress)
    lock = threading.Lock()

    def done(count: int) -> None:
        """Advance the shared progress bar from a worker thread."""
        with lock:
            bar.update(count)

    with bar, ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        futures = [
            pool.submit(_render_video, video, subjects[video["subject_number"]], tmp, layout, done)
            for video in plan["videos"]
        ]
        for future in as_completed(futures):
            future.result()
    layout.write_sheet(tmp, plan["videos"])
    (tmp / GROUND_TRUTH_FILE).write_text(json.dumps(plan, indent=1) + "\n")


def expected_intervals(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """The intervals the release's reader must return, from its `synthetic.json` (video, subject,
    onset, apex, offset, type, action_units, emotion), in video then onset order."""
    keys = ("video", "subject", "onset", "apex", "offset", "type", "action_units", "emotion")
    return [{key: i[key] for key in keys} for video in truth["videos"] for i in video["intervals"]]


# --- CAS(ME)^2 ------------------------------------------------------------------------------


def _casme_sq_names(subject: int, video: int, n_subjects: int, videos_per_subject: int) -> dict[str, str]:
    """`CAS(ME)^2/rawpic/s15/15_0503unnyfarting/img001.jpg`: a stimulus per video (the first subject's
    first misspelt), the last subject's last video filed under the previous participant's folder."""
    participant = casme_sq_participant(subject)
    code, name, stimulus = CASME_SQ_STIMULI[(subject - 1 + video) % len(CASME_SQ_STIMULI)]
    if subject == 1 and video == 0:
        stimulus = CASME_SQ_MISSPELT
    folder = f"{participant}_{code}{stimulus}"
    misfiled = subject == n_subjects > 1 and video == videos_per_subject - 1
    home = casme_sq_participant(subject - 1) if misfiled else participant
    return {
        "video": folder,
        "subject": f"s{participant}",
        "video_name": name,
        "frames_dir": f"{CASME_SQ_FRAMES_DIR}/s{home}/{folder}",
        "frame_name": "img{n:03d}.jpg",
    }


def _annotate_casme_sq(intervals: list[dict[str, Any]]) -> None:
    """The reader's view of each interval: the first with its offset written 0 (so it ends at the apex),
    the second with an empty AU cell; emotions as CAS(ME)^2's categories."""
    for j, interval in enumerate(intervals):
        motion = interval["motion"]
        aus = "" if j == 1 else interval["planned_action_units"]
        interval.update(
            onset=motion["onset"],
            apex=motion["apex"],
            offset=motion["apex"] if j == 0 else motion["offset"],
            action_units=aus,
            emotion=CASME_SQ_EMOTIONS[interval["planned_emotion"]],
        )
        offset = 0 if j == 0 else motion["offset"]
        interval["sheet"] = {"onset": motion["onset"], "apex": motion["apex"], "offset": offset}


def _casme_sq_sheet(root: Path, videos: list[dict[str, Any]]) -> None:
    """`CAS(ME)^2code_final.xlsx` via the clip layout's writer: one row per interval, clip `happy2_1`."""
    rows = []
    for video in videos:
        for k, interval in enumerate(video["intervals"], start=1):
            rows.append(
                {
                    "subject_id": video["subject_number"],
                    "filename": video["video"],
                    "sheet_clip": f"{video['video_name']}_{k}",
                    "onset": interval["sheet"]["onset"],
                    "apex": interval["sheet"]["apex"],
                    "offset": interval["sheet"]["offset"],
                    "action_units": interval["action_units"],
                    "emotion": interval["emotion"],
                    "expression": MACRO if interval["type"] == "macro" else MICRO,
                    "self_report": interval["planned_emotion"],
                }
            )
    casme_sq_sheet(root, rows)


# --- SAMM Long Videos -----------------------------------------------------------------------


def _samm_lv_names(subject: int, video: int, n_subjects: int, videos_per_subject: int) -> dict[str, str]:
    """`SAMM_longvideos/006_1/006_1_0001.jpg`: subjects from 006, videos numbered from 1, 4-digit frames."""
    person = f"{subject + SAMM_LV_FIRST_SUBJECT - 1:03d}"
    name = f"{person}_{video + 1}"
    return {
        "video": name,
        "subject": person,
        "frames_dir": f"{SAMM_LV_FRAMES_DIR}/{name}",
        "frame_name": f"{name}_{{n:04d}}.jpg",
    }


def _annotate_samm_lv(intervals: list[dict[str, Any]]) -> None:
    """The reader's view of each interval: the first with its offset written 0 (so it ends at the apex),
    the second with its onset written half a frame early (`344.5`, rounded half up to 345); no emotion."""
    for j, interval in enumerate(intervals):
        motion = interval["motion"]
        interval.update(
            onset=motion["onset"],
            apex=motion["apex"],
            offset=motion["apex"] if j == 0 else motion["offset"],
            action_units=interval["planned_action_units"],
            emotion="",
        )
        onset: float | int = motion["onset"] - 0.5 if j == 1 else motion["onset"]
        interval["sheet"] = {"onset": onset, "apex": motion["apex"], "offset": 0 if j == 0 else motion["offset"]}


def _samm_lv_sheet(root: Path, videos: list[dict[str, Any]]) -> None:
    """`SAMM_LongVideos_V1_Release.xlsx`, sheet `FACS_Movement_Only`: note rows, the header, one row per
    interval (`006_1_2`: video 006_1's second), subject cells as numbers and as text in turn."""
    notes = [["SAMM Long Videos FACS movement codes (synthetic)"]] + [
        [f"note {i}: synthetic release for testing mer's SAMM Long Videos reader"] for i in range(1, SAMM_LV_NOTE_ROWS)
    ]
    rows = []
    for video in videos:
        for k, interval in enumerate(video["intervals"], start=1):
            sheet = interval["sheet"]
            rows.append(
                [
                    video["subject"],
                    f"{video['video']}_{k}",
                    video["index"] + 1,
                    sheet["onset"],
                    sheet["apex"],
                    sheet["offset"],
                    interval["offset"] - interval["onset"] + 1,
                    SAMM_LV_TYPES[interval["type"]],
                    interval["action_units"],
                    None,
                ]
            )
    rows.sort(key=lambda row: natural_key(row[1]))
    for i, row in enumerate(rows):
        row[0] = int(row[0]) if i % 2 else row[0]
    write_workbook(root / SAMM_LV_SHEET, {SAMM_LV_SHEET_NAME: [*notes, list(SAMM_LV_HEADER), *rows]})


LONG_LAYOUTS: dict[str, LongLayout] = {
    "casme_sq": LongLayout("casme_sq", "CAS(ME)^2", 30, False, _casme_sq_names, _casme_sq_sheet, _annotate_casme_sq),
    "samm_lv": LongLayout("samm_lv", "SAMM Long Videos", 200, True, _samm_lv_names, _samm_lv_sheet, _annotate_samm_lv),
}
