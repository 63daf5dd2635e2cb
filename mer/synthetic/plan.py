"""The release plan: every random choice (subjects, clips, classes, motion, quirks), no pixel.

`plan_release` turns the parameters into the ground-truth record `synthetic.json` holds, in CASME
II's terms (a layout renames it for another release); rendering then only follows the plan, so the
same seed and parameters give the same files whatever the number of threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mer.synthetic.face import AU_BUMPS, base_face, canvas_landmarks, displacement_field
from mer.synthetic.params import FORMAT_VERSION

FIVE_CLASSES = ("happiness", "disgust", "repression", "surprise", "others")
DROPPED_CLASSES = ("fear", "sadness")  # in the release, dropped by the 5-class protocol
EXTRA_CLIP_RATE = 1 / 16  # about one clip in 16 is fear or sadness, as in CASME II
#: The generator as releases name it in `synthetic.json`: its module before it moved to
#: `mer.synthetic`, kept so a release's bytes stay those of format version 1.
GENERATOR_NAME = "mer.data.synthetic.generate_synthetic"

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


def plan_subject(subject: int, rng: np.random.Generator, params: dict[str, Any]) -> dict[str, Any]:
    """One subject's pose, photometry, shape change and canvas landmarks (all JSON-plain)."""
    _, src = base_face()
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
    landmarks = canvas_landmarks(plan, src)
    plan["landmarks"] = np.round(landmarks, 3).tolist()
    eyes = landmarks[36:42].mean(axis=0) - landmarks[42:48].mean(axis=0)
    plan["interocular"] = round(float(np.linalg.norm(eyes)), 4)
    return plan


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


def _frame_numbers(j: int, rng: np.random.Generator, params: dict[str, Any]) -> tuple[int, int, int]:
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
    subject: dict[str, Any],
    name: str,
    emotion: str,
    j: int,
    rng: np.random.Generator,
    params: dict[str, Any],
) -> dict[str, Any]:
    """One clip: its sheet fields plus the ground-truth bumps and head drift."""
    onset, apex, offset = _frame_numbers(j, rng, params)
    aus = CLASS_AUS[emotion][int(rng.integers(len(CLASS_AUS[emotion])))]
    amplitude = round(float(rng.uniform(*params["amplitude"])), 4)
    bumps = clip_bumps(subject, aus, emotion == "others", amplitude, rng)
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


def clip_bumps(
    subject: dict[str, Any],
    aus: str,
    random_direction: bool,
    amplitude: float,
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
            bumps.append(
                {
                    "au": au,
                    "landmarks": list(indices),
                    "centre": centre,
                    "displacement": direction * strength,
                    "sigma": sigma,
                }
            )
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


def plan_release(params: dict[str, Any]) -> dict[str, Any]:
    """Every random choice of the release (subjects, clips, quirks), as the ground-truth record."""
    seeds = np.random.SeedSequence(params["seed"]).spawn(params["n_subjects"] + 1)
    main = np.random.default_rng(seeds[0])
    schedule = _class_schedule(params, main)
    subjects, clips = [], []
    for s in range(params["n_subjects"]):
        rng = np.random.default_rng(seeds[s + 1])
        subject = plan_subject(s + 1, rng, params)
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
        "note": "SYNTHETIC data in CASME II's layout: proves the pipeline, never the paper's numbers",
        "generator": GENERATOR_NAME,
        "params": params,
        "face": "skimage.data.astronaut()",
        "subjects": subjects,
        "clips": clips,
    }


def _unlisted_clip(
    subject: dict[str, Any],
    clips: list[dict[str, Any]],
    rng: np.random.Generator,
    params: dict[str, Any],
) -> dict[str, Any]:
    """A clip folder with frames but no sheet row, as the real release has."""
    used = {c["filename"].lower() for c in clips if c["subject"] == subject["subject"]}
    name = _clip_name(rng, used, int(rng.integers(len(FILENAME_PATTERNS))))
    clip = _plan_clip(subject, name, "others", 0, rng, params)
    clip.update(in_sheet=False, sheet_apex=None)
    return clip
