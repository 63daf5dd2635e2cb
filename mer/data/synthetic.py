"""Synthetic releases: the project's embedded default dataset, in each real release's layout.

Nobody here holds the licensed CASME II, so this module writes a small dataset in its *exact*
raw layout (``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`` and the 20140508 coding sheet) for
the real reader and pipeline to run on end to end; with `layout=` it writes the same plan in
SAMM's, SMIC-HS's or CAS(ME)^3 part A's layout instead (`mer.data.synthetic_layouts`). The faces are the real photo bundled with
scikit-image, one per subject under its own pose, photometry and mild shape change; each clip
moves that subject's face by a sub-pixel micro-motion in the region its action units name, so
onset→apex optical flow recovers a known, class-specific field (saved to ``synthetic.json``).

It proves the pipeline; it never stands in for the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import os
import shutil
import sys
import threading
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from mer.data.samples import SampleTable
from mer.data.synthetic_layouts import LAYOUTS, Layout, frame_file
from mer.errors import MerError

#: Bumped whenever the same parameters would produce different files.
FORMAT_VERSION = 1
GROUND_TRUTH_FILE = "synthetic.json"
CANVAS_HW = (480, 640)  # CASME II raw frames are 640×480
FIVE_CLASSES = ("happiness", "disgust", "repression", "surprise", "others")
DROPPED_CLASSES = ("fear", "sadness")  # in the release, dropped by the 5-class protocol
EXTRA_CLIP_RATE = 1 / 16  # about one clip in 16 is fear or sadness, as in CASME II

# --- the face model -------------------------------------------------------------------------

#: Action unit → bumps, each (landmark indices whose mean is the centre, direction as
#: (outward, down) in the face's own frame, relative weight). "Outward" points away from the
#: facial midline, so one entry describes both sides. Indices are dlib's 0-based 68 points.
AU_BUMPS: dict[str, tuple[tuple[tuple[int, ...], tuple[float, float], float], ...]] = {
    "1": tuple(((i,), (0.0, -1.0), 1.0) for i in (20, 21, 22, 23)),  # inner brow raiser
    "2": tuple(((i,), (0.0, -1.0), 1.0) for i in (17, 18, 19, 24, 25, 26)),  # outer brow raiser
    "4": (((21,), (-0.6, 0.8), 1.0), ((22,), (-0.6, 0.8), 1.0),  # brow lowerer: down + in
          ((20,), (-0.4, 0.6), 0.7), ((23,), (-0.4, 0.6), 0.7)),
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

#: Action-unit codes per emotion, as CASME II writes them ("L"/"R": the subject's left/right).
#: A single plain AU is written to the sheet as an int cell, as in the real release.
CLASS_AUS: dict[str, tuple[str, ...]] = {
    "happiness": ("6+12", "6+12", "12"),
    "disgust": ("4+9", "4+9", "4+9+L10"),
    "repression": ("14", "15", "17", "14+17", "15+17", "14+15"),
    "surprise": ("1+2", "1+2+5"),
    "others": ("4", "7", "4+7", "L10", "R10", "L2"),  # region from the AUs, direction random
    "fear": ("1+2+4+20", "1+4+20"),
    "sadness": ("1+15", "1+4+15"),
}

#: CASME II's irregular clip names; cycled per clip so every subject shows the variety.
FILENAME_PATTERNS: tuple[Callable[[int, int, int], str], ...] = (
    lambda e, k, m: f"EP{e:02d}_{k:02d}f",
    lambda e, k, m: f"EP{e:02d}_{k:02d}",
    lambda e, k, m: f"EP{e:02d}_{k}",
    lambda e, k, m: f"EP{e:02d}f",
    lambda e, k, m: f"EP{e:02d}_{k:02d}_{m:02d}",
)


def synthetic_params(
    n_subjects: int = 8,
    clips_per_subject: int = 8,
    frames_per_clip: Sequence[int] = (9, 15),
    seed: int = 0,
    amplitude: Sequence[float] = (0.5, 2.5),
    noise_sigma: Sequence[float] = (1.5, 2.0),
    head_shift: float = 0.3,
    jpeg_quality: int = 92,
    layout: str = "casme2",
) -> dict[str, Any]:
    """Validated, JSON-plain generator parameters: what `synthetic.json` records and compares."""
    if layout not in LAYOUTS:
        raise MerError(
            f"unknown data.reader.layout={layout!r} for the synthetic release: choose one of "
            f"{', '.join(LAYOUTS)}"
        )
    lo, hi = _int_pair(frames_per_clip, "frames_per_clip")
    params = {
        "format_version": FORMAT_VERSION,
        "layout": layout,
        "n_subjects": _int_in(n_subjects, "n_subjects", 1, 99),
        "clips_per_subject": _int_in(clips_per_subject, "clips_per_subject", 1, 60),
        "frames_per_clip": [lo, hi],
        "seed": _int_in(seed, "seed", 0, 2**63 - 1),
        "amplitude": [float(a) for a in amplitude],
        "noise_sigma": [float(s) for s in noise_sigma],
        "head_shift": float(head_shift),
        "jpeg_quality": _int_in(jpeg_quality, "jpeg_quality", 50, 100),
    }
    if not 5 <= lo <= hi <= 200:
        raise MerError(f"data.reader.frames_per_clip={[lo, hi]}: need 5 <= low <= high <= 200")
    a_lo, a_hi = params["amplitude"]
    if not 0 < a_lo <= a_hi <= 10:
        raise MerError(f"amplitude={params['amplitude']}: need 0 < low <= high <= 10 pixels")
    n_lo, n_hi = params["noise_sigma"]
    if not 0 <= n_lo <= n_hi <= 20:
        raise MerError(f"noise_sigma={params['noise_sigma']}: need 0 <= low <= high <= 20")
    if not 0 <= params["head_shift"] <= 2:
        raise MerError(f"head_shift={head_shift}: need 0 <= head_shift <= 2 pixels")
    return params


def generate_synthetic(
    root: str | Path,
    n_subjects: int = 8,
    clips_per_subject: int = 8,
    frames_per_clip: Sequence[int] = (9, 15),
    seed: int = 0,
    amplitude: Sequence[float] = (0.5, 2.5),
    noise_sigma: Sequence[float] = (1.5, 2.0),
    head_shift: float = 0.3,
    jpeg_quality: int = 92,
    layout: str = "casme2",
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write a synthetic release in `layout` at `root` (atomic, locked) and return its path.

    A release already there with the same parameters is kept; one with other parameters is
    replaced (with a warning); a non-empty folder that is not a synthetic release is refused.
    `workers` and `progress` change speed and output only, never the files.
    """
    from filelock import FileLock

    params = synthetic_params(
        n_subjects, clips_per_subject, frames_per_clip, seed, amplitude, noise_sigma,
        head_shift, jpeg_quality, layout,
    )
    root = Path(root).expanduser().absolute()
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root.parent / f".{root.name}.lock")):
        existing = _refuse_foreign(root)
        if existing == params:
            return root  # another process generated it while we waited for the lock
        if existing is not None:
            warnings.warn(
                f"{root} holds a synthetic release generated with other parameters "
                f"({_param_diff(existing, params)}); regenerating it",
                stacklevel=2,
            )
        _remove_stale_temporaries(root)
        tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            _write_release(tmp, params, workers, progress)
            _swap_into_place(tmp, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def read_synthetic(
    root: str | Path,
    layout: str = "casme2",
    n_subjects: int = 8,
    clips_per_subject: int = 8,
    frames_per_clip: Sequence[int] = (9, 15),
    seed: int = 0,
    label_set: str | None = None,
    **policies: Any,
) -> SampleTable:
    """The synthetic release as a sample table, read by the real reader of its layout.

    Generates the release on first use (or when its parameters changed), so a fresh checkout
    runs the whole pipeline with no download. `label_set` (None: the reader's default) and the
    reader's policies (`apex_policy`, `missing_frames`, ...) pass through to that reader; a
    policy that reader does not have (SMIC has no `apex_policy`) is not passed.
    """
    params = synthetic_params(n_subjects, clips_per_subject, frames_per_clip, seed, layout=layout)
    root = Path(root).expanduser().absolute()
    if _existing_params(root) != params:
        _refuse_foreign(root)
        generate_synthetic(root, n_subjects, clips_per_subject, frames_per_clip, seed,
                           layout=layout)
    reader = _reader(layout)
    accepted = inspect.signature(reader).parameters  # SMIC has no sheet apex: no apex_policy
    options = {k: v for k, v in policies.items() if k in accepted}
    if label_set is not None:
        options["label_set"] = label_set
    table = reader(root, **options)
    provenance = {**table.provenance, "synthetic": params}
    return dataclasses.replace(table, provenance=provenance)


def _reader(layout: str) -> Callable[..., SampleTable]:
    """The real reader of a layout (deferred imports: generating needs no reader)."""
    if layout == "casme2":
        from mer.data.casme2 import read_casme2

        return functools.partial(read_casme2, layout="raw")
    if layout == "samm":
        from mer.data.samm import read_samm

        return read_samm
    if layout == "smic":
        from mer.data.smic import read_smic

        return read_smic
    from mer.data.casme3 import read_casme3

    return read_casme3


def load_ground_truth(root: str | Path) -> dict[str, Any]:
    """The generator's record of a synthetic release (params, subjects, clips with their bumps)."""
    path = Path(root) / GROUND_TRUTH_FILE
    if not path.is_file():
        raise MerError(f"{path} not found: {root} is not a synthetic release")
    return json.loads(path.read_text())


def displacement_field(
    bumps: Sequence[dict[str, Any]], shape: tuple[int, int] = CANVAS_HW
) -> np.ndarray:
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


# --- parameters and folder safety -----------------------------------------------------------


def _int_in(value: Any, key: str, lo: int, hi: int) -> int:
    """An int config value within [lo, hi], or a MerError naming the key."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MerError(f"data.reader.{key}={value!r}: expected an integer") from None
    if number != value or not lo <= number <= hi:
        raise MerError(f"data.reader.{key}={value!r}: expected an integer in [{lo}, {hi}]")
    return number


def _int_pair(value: Any, key: str) -> tuple[int, int]:
    """A (low, high) pair of ints from a list/tuple/ListConfig, or a MerError naming the key."""
    try:
        lo, hi = (int(v) for v in value)
    except (TypeError, ValueError):
        raise MerError(f"data.reader.{key}={value!r}: expected [low, high]") from None
    return lo, hi


def _existing_params(root: Path) -> dict[str, Any] | None:
    """The params recorded in `root/synthetic.json`, or None when there is no readable record."""
    try:
        return json.loads((root / GROUND_TRUTH_FILE).read_text())["params"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _refuse_foreign(root: Path) -> dict[str, Any] | None:
    """Existing synthetic params at `root`; MerError if `root` holds anything else."""
    if root.exists() and not root.is_dir():
        raise MerError(f"{root} is a file, not a folder: point data.root at a folder")
    existing = _existing_params(root)
    if existing is None and root.is_dir() and any(root.iterdir()):
        raise MerError(
            f"{root} is not empty and holds no {GROUND_TRUTH_FILE}: it may be a real release, so "
            "the synthetic generator will not overwrite it. Point data.root at an empty or new "
            "folder (or use data=casme2 to read a real release there)"
        )
    return existing


def _param_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`key: old -> new` for the generator params that differ, for the regeneration warning."""
    keys = sorted(set(old) | set(new))
    return ", ".join(f"{k}: {old.get(k)} -> {new.get(k)}" for k in keys if old.get(k) != new.get(k))


def _remove_stale_temporaries(root: Path) -> None:
    """Delete temp/old siblings left by killed generators (safe: the caller holds the lock)."""
    for stale in root.parent.glob(f".{root.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in root.parent.glob(f".{root.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _swap_into_place(tmp: Path, root: Path) -> None:
    """Rename the finished temp folder to `root`, moving any previous release aside first."""
    if root.exists():
        old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
        root.rename(old)
        tmp.rename(root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(root)


# --- planning: every random choice, before any pixel is drawn -------------------------------


@functools.lru_cache(maxsize=1)
def _base_face() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's astronaut photo (RGB float32) and its 68 dlib landmarks, found once."""
    from skimage import data

    from mer.preprocess.landmarks import detect_landmarks

    rgb = data.astronaut()
    landmarks = detect_landmarks(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    if landmarks is None:  # pragma: no cover - the bundled photo always has a face
        raise RuntimeError("dlib found no face in skimage.data.astronaut()")
    return rgb.astype(np.float32), landmarks.astype(np.float64)


def _plan_subject(subject: int, rng: np.random.Generator, params: dict[str, Any]) -> dict[str, Any]:
    """One subject's pose, photometry, shape change and canvas landmarks (all JSON-plain)."""
    _, src = _base_face()
    jaw_width = float(src[16, 0] - src[0, 0])
    scale = rng.uniform(180.0, 230.0) / jaw_width
    angle = rng.uniform(-6.0, 6.0)
    centre = [320.0 + rng.uniform(-40, 40), 235.0 + rng.uniform(-25, 25)]
    shape_grid = rng.standard_normal((2, 5, 6))
    shape_px = rng.uniform(2.0, 4.0)
    plan = {
        "subject": subject,
        "folder": f"sub{subject:02d}",
        "scale": round(float(scale), 6),
        "rotation_deg": round(float(angle), 6),
        "centre": [round(c, 4) for c in centre],
        "shape_grid": np.round(shape_grid, 6).tolist(),
        "shape_px": round(float(shape_px), 6),
        "gain": round(float(rng.uniform(0.85, 1.15)), 6),
        "bias": round(float(rng.uniform(-12.0, 12.0)), 6),
        "gamma": round(float(rng.uniform(0.85, 1.2)), 6),
        "tint_rgb": np.round(rng.uniform(0.94, 1.06, 3), 6).tolist(),
        "noise_sigma": round(float(rng.uniform(*params["noise_sigma"])), 6),
    }
    landmarks = _canvas_landmarks(plan, src)
    plan["landmarks"] = np.round(landmarks, 3).tolist()
    eyes = landmarks[36:42].mean(axis=0) - landmarks[42:48].mean(axis=0)
    plan["interocular"] = round(float(np.linalg.norm(eyes)), 4)
    return plan


def _similarity(plan: dict[str, Any]) -> np.ndarray:
    """2×3 matrix taking photo coordinates to canvas coordinates (scale, rotation, position)."""
    _, src = _base_face()
    pivot = src.mean(axis=0)
    theta = math.radians(plan["rotation_deg"])
    s = plan["scale"]
    rot = s * np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return np.hstack([rot, (np.asarray(plan["centre"]) - rot @ pivot)[:, None]])


def _shape_field(plan: dict[str, Any]) -> np.ndarray:
    """The subject's smooth shape change: canvas offsets [H, W, 2] float32 of a few pixels."""
    h, w = CANVAS_HW
    grid = np.asarray(plan["shape_grid"], dtype=np.float32)
    field = np.stack([cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) for g in grid], axis=-1)
    peak = float(np.abs(field).max()) or 1.0
    return field * np.float32(plan["shape_px"] / peak)


def _canvas_landmarks(plan: dict[str, Any], src: np.ndarray) -> np.ndarray:
    """Where the photo's landmarks land on the canvas: solve q + f(q) = M·p by fixed point."""
    target = np.hstack([src, np.ones((len(src), 1))]) @ _similarity(plan).T
    field = _shape_field(plan)
    q = target.copy()
    for _ in range(10):
        offsets = cv2.remap(
            field, q[:, 0].astype(np.float32)[None], q[:, 1].astype(np.float32)[None],
            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
        )[0]
        q = target - offsets
    return q


def _plan_clips(
    subject: dict[str, Any], emotions: list[str], rng: np.random.Generator, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Names, frame numbers, action units and motion of one subject's clips."""
    used: set[str] = set()
    clips = []
    for j, emotion in enumerate(emotions):
        name = _clip_name(rng, used, (j + subject["subject"]) % len(FILENAME_PATTERNS))
        clips.append(_plan_clip(subject, name, emotion, j, rng, params))
    return clips


def _clip_name(rng: np.random.Generator, used: set[str], pattern: int) -> str:
    """An irregular CASME II clip name, unique within the subject."""
    while True:
        e, k, m = int(rng.integers(1, 20)), int(rng.integers(1, 10)), int(rng.integers(1, 4))
        name = FILENAME_PATTERNS[pattern](e, k, m)
        if name.lower() not in used:
            used.add(name.lower())
            return name


def _frame_numbers(
    j: int, rng: np.random.Generator, params: dict[str, Any]
) -> tuple[int, int, int]:
    """Onset, apex, offset: unpadded, never from 1; every third clip crosses img99→img100."""
    lo, hi = params["frames_per_clip"]
    n = int(rng.integers(lo, hi + 1))
    if j % 3 == 1:
        onset = int(rng.integers(101 - n, 100))
    else:
        onset = int(rng.integers(2, 400))
    offset = onset + n - 1
    apex = onset + int(round(rng.uniform(0.35, 0.65) * (n - 1)))
    return onset, min(max(apex, onset + 1), offset - 1), offset


def _plan_clip(
    subject: dict[str, Any], name: str, emotion: str, j: int, rng: np.random.Generator,
    params: dict[str, Any],
) -> dict[str, Any]:
    """One clip: its sheet fields plus the ground-truth bumps and head drift."""
    onset, apex, offset = _frame_numbers(j, rng, params)
    aus = CLASS_AUS[emotion][int(rng.integers(len(CLASS_AUS[emotion])))]
    amplitude = round(float(rng.uniform(*params["amplitude"])), 4)
    bumps = _clip_bumps(subject, aus, emotion == "others", amplitude, rng)
    radius = params["head_shift"] * math.sqrt(rng.uniform())
    phi = rng.uniform(0, 2 * math.pi)
    return {
        "subject": subject["subject"],
        "folder": subject["folder"],
        "filename": name,
        "emotion": emotion,
        "action_units": aus,
        "onset": onset,
        "apex": apex,
        "offset": offset,
        "sheet_apex": apex,
        "in_sheet": True,
        "amplitude": amplitude,
        "head_drift": [round(radius * math.cos(phi), 4), round(radius * math.sin(phi), 4)],
        "bumps": bumps,
        "noise_seed": int(rng.integers(0, 2**63 - 1)),
    }


def _clip_bumps(
    subject: dict[str, Any], aus: str, random_direction: bool, amplitude: float,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Gaussian bumps for the clip's AUs, in canvas coordinates, scaled so max |d| = amplitude."""
    landmarks = np.asarray(subject["landmarks"])
    midline = landmarks[27:31, 0].mean()
    theta = math.radians(subject["rotation_deg"])
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    sigma = round(subject["interocular"] / 3.0, 4)
    shared = rng.uniform(0, 2 * math.pi)  # "others": one random direction for the whole clip
    bumps = []
    for au in aus.split("+"):
        side, code = (au[0], au[1:]) if au[0] in "LR" else ("", au)
        for indices, (out, down), weight in AU_BUMPS[code]:
            centre = landmarks[list(indices)].mean(axis=0)
            lateral = 1.0 if centre[0] >= midline else -1.0
            if (side == "L" and lateral < 0) or (side == "R" and lateral > 0):
                continue  # subject's left is the image's right
            if random_direction:
                direction = np.array([math.cos(shared), math.sin(shared)])
            else:
                jitter = math.radians(rng.uniform(-10, 10))
                face = np.array([out * lateral, down]) / math.hypot(out, down)
                c, s = math.cos(jitter), math.sin(jitter)
                direction = rot @ (np.array([[c, -s], [s, c]]) @ face)
            strength = weight * rng.uniform(0.8, 1.2)
            bumps.append({"au": au, "landmarks": list(indices), "centre": centre,
                          "displacement": direction * strength, "sigma": sigma})
    peak = float(np.linalg.norm(displacement_field(bumps), axis=-1).max())
    for bump in bumps:
        bump["centre"] = np.round(bump["centre"], 3).tolist()
        bump["displacement"] = np.round(bump["displacement"] * amplitude / peak, 5).tolist()
    return bumps


def _class_schedule(params: dict[str, Any], rng: np.random.Generator) -> list[list[str]]:
    """Emotion of every clip: each subject cycles through the five classes in its own order,
    and about one clip in 16 overall (taken from slots past the first five) is fear or sadness."""
    n, k = params["n_subjects"], params["clips_per_subject"]
    schedule = []
    for _ in range(n):
        order = [FIVE_CLASSES[i] for i in rng.permutation(len(FIVE_CLASSES))]
        schedule.append([order[j % len(order)] for j in range(k)])
    slots = [(s, j) for s in range(n) for j in range(len(FIVE_CLASSES), k)]
    n_extra = min(len(slots), max(1, round(n * k * EXTRA_CLIP_RATE))) if slots else 0
    for pick in rng.choice(len(slots), size=n_extra, replace=False) if n_extra else []:
        s, j = slots[int(pick)]
        schedule[s][j] = DROPPED_CLASSES[int(rng.integers(len(DROPPED_CLASSES)))]
    return schedule


def _plan_release(params: dict[str, Any]) -> dict[str, Any]:
    """Every random choice of the release (subjects, clips, quirks), as the ground-truth record."""
    seeds = np.random.SeedSequence(params["seed"]).spawn(params["n_subjects"] + 1)
    main = np.random.default_rng(seeds[0])
    schedule = _class_schedule(params, main)
    subjects, clips = [], []
    for s in range(params["n_subjects"]):
        rng = np.random.default_rng(seeds[s + 1])
        subject = _plan_subject(s + 1, rng, params)
        subjects.append(subject)
        clips.extend(_plan_clips(subject, schedule[s], rng, params))
    # The real sheet's quirks: one apex written "/", one clip folder with no sheet row.
    slash = [i for i, c in enumerate(clips) if c["emotion"] in FIVE_CLASSES]
    chosen = clips[slash[int(main.integers(len(slash)))]]
    chosen["apex"] = (chosen["onset"] + chosen["offset"]) // 2
    chosen["sheet_apex"] = "/"
    clips.append(_unlisted_clip(subjects[-1], clips, main, params))
    return {
        "format_version": FORMAT_VERSION,
        "note": "SYNTHETIC data in CASME II's layout: proves the pipeline, "
        "never the paper's numbers",
        "generator": "mer.data.synthetic.generate_synthetic",
        "params": params,
        "face": "skimage.data.astronaut()",
        "subjects": subjects,
        "clips": clips,
    }


def _unlisted_clip(
    subject: dict[str, Any], clips: list[dict[str, Any]], rng: np.random.Generator,
    params: dict[str, Any],
) -> dict[str, Any]:
    """A clip folder with frames but no sheet row, as the real release has."""
    used = {c["filename"].lower() for c in clips if c["subject"] == subject["subject"]}
    name = _clip_name(rng, used, int(rng.integers(len(FILENAME_PATTERNS))))
    clip = _plan_clip(subject, name, "others", 0, rng, params)
    clip.update(in_sheet=False, sheet_apex=None)
    return clip


# --- rendering ------------------------------------------------------------------------------


def _subject_base(subject: dict[str, Any]) -> np.ndarray:
    """The subject's neutral face on the 640×480 canvas, BGR float32 (pose, photometry, shape)."""
    rgb, _ = _base_face()
    photo = 255.0 * (rgb / 255.0) ** subject["gamma"]
    tint = np.asarray(subject["tint_rgb"], dtype=np.float32)
    photo = photo * tint * subject["gain"] + subject["bias"]
    photo = cv2.cvtColor(np.clip(photo, 0, 255).astype(np.float32), cv2.COLOR_RGB2BGR)
    inverse = cv2.invertAffineTransform(_similarity(subject))
    h, w = CANVAS_HW
    qx, qy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    field = _shape_field(subject)
    qx, qy = qx + field[..., 0], qy + field[..., 1]
    map_x = inverse[0, 0] * qx + inverse[0, 1] * qy + inverse[0, 2]
    map_y = inverse[1, 0] * qx + inverse[1, 1] * qy + inverse[1, 2]
    return cv2.remap(photo, map_x.astype(np.float32), map_y.astype(np.float32),
                     cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def _render_clip(
    clip: dict[str, Any], base: np.ndarray, noise_sigma: float, folder: Path, jpeg_quality: int,
    grey: bool = False,
) -> int:
    """Write a clip's frames: base warped by −p(t)·d (so onset→apex flow is +d), plus noise."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = CANVAS_HW
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    d = displacement_field(clip["bumps"])
    rng = np.random.default_rng(clip["noise_seed"])
    encode = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality, cv2.IMWRITE_JPEG_OPTIMIZE, 0,
              cv2.IMWRITE_JPEG_PROGRESSIVE, 0]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
        encode += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    onset, apex, offset = clip["onset"], clip["apex"], clip["offset"]
    for frame in range(onset, offset + 1):
        p = np.float32(expression_profile(frame, onset, apex, offset))
        drift = (frame - onset) / (offset - onset)
        sx, sy = (np.float32(drift * s) for s in clip["head_drift"])
        warped = cv2.remap(base, gx - p * d[..., 0] - sx, gy - p * d[..., 1] - sy,
                           cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
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


def _render_subject(
    subject: dict[str, Any], clips: list[dict[str, Any]], root: Path, jpeg_quality: int,
    layout: Layout, done: Callable[[int], None],
) -> None:
    """Render all of one subject's clips (one base image in memory at a time)."""
    base = _subject_base(subject)
    for clip in clips:
        folder = root / clip["frames_dir"]
        _render_clip(clip, base, subject["noise_sigma"], folder, jpeg_quality, layout.grey)
        done(1)


def _write_release(tmp: Path, params: dict[str, Any], workers: int | None, progress: bool) -> None:
    """Plan, render frames (threads; OpenCV and numpy release the GIL), write sheet and record."""
    from tqdm import tqdm

    layout = LAYOUTS[params["layout"]]
    plan = _plan_release(params)
    plan["clips"] = layout.adapt(plan["clips"])
    plan["note"] = plan["note"].replace("CASME II", layout.title)
    tmp.mkdir(parents=True)
    workers = workers or min(4, os.cpu_count() or 1)
    bar = tqdm(total=len(plan["clips"]), desc=f"synthetic {layout.title}", unit="clip",
               file=sys.stderr, disable=not progress)
    lock = threading.Lock()

    def done(n: int) -> None:
        """Advance the shared progress bar from a worker thread."""
        with lock:
            bar.update(n)

    with bar, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_render_subject, subject,
                        [c for c in plan["clips"] if c["subject"] == subject["subject"]],
                        tmp, params["jpeg_quality"], layout, done)
            for subject in plan["subjects"]
        ]
        for future in as_completed(futures):
            future.result()
    if layout.write_sheet is not None:
        layout.write_sheet(tmp, plan["clips"])
    (tmp / GROUND_TRUTH_FILE).write_text(json.dumps(plan, indent=1) + "\n")
