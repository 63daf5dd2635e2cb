"""The generator's parameters: checked config values as the JSON-plain dict a release records.

`synthetic.json` stores this dict under `params`; a release is regenerated exactly when the
parameters asked for differ from the recorded ones, so every key here is part of the release.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mer.errors import MerError
from mer.synthetic.layouts import LAYOUTS

#: Bumped whenever the same parameters would produce different files.
FORMAT_VERSION = 1


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
            f"unknown data.reader.layout={layout!r} for the synthetic release: choose one of {', '.join(LAYOUTS)}"
        )
    lo, hi = _int_pair(frames_per_clip, "frames_per_clip")
    params = {
        "format_version": FORMAT_VERSION,
        "layout": layout,
        "n_subjects": int_in(n_subjects, "n_subjects", 1, 99),
        "clips_per_subject": int_in(clips_per_subject, "clips_per_subject", 1, 60),
        "frames_per_clip": [lo, hi],
        "seed": int_in(seed, "seed", 0, 2**63 - 1),
        "amplitude": [float(a) for a in amplitude],
        "noise_sigma": [float(s) for s in noise_sigma],
        "head_shift": float(head_shift),
        "jpeg_quality": int_in(jpeg_quality, "jpeg_quality", 50, 100),
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


def param_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`key: old -> new` for the generator params that differ, for the regeneration warning."""
    keys = sorted(set(old) | set(new))
    return ", ".join(f"{k}: {old.get(k)} -> {new.get(k)}" for k in keys if old.get(k) != new.get(k))


def int_in(value: Any, key: str, lo: int, hi: int, node: str = "data.reader") -> int:
    """An int config value within [lo, hi], or a MerError naming the key (under config `node`)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MerError(f"{node}.{key}={value!r}: expected an integer") from None
    if number != value or not lo <= number <= hi:
        raise MerError(f"{node}.{key}={value!r}: expected an integer in [{lo}, {hi}]")
    return number


def _int_pair(value: Any, key: str) -> tuple[int, int]:
    """A (low, high) pair of ints from a list/tuple/ListConfig, or a MerError naming the key."""
    try:
        lo, hi = (int(v) for v in value)
    except (TypeError, ValueError):
        raise MerError(f"data.reader.{key}={value!r}: expected [low, high]") from None
    return lo, hi
