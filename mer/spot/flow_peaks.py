"""`spot=flow_peaks`: training-free spotting on the cached motion, in the line of MEGC2020's MDMD
baseline (He et al. 2020) and SoftNet's post-processing (Liong et al. 2021).

Per video and expression type: the regions' motion against the frames k before and after (`mer.spot.motion`)
is combined into one signal (the largest region's), smoothed over about a third of k, and compared
with a threshold relative to that video's own signal, MDMD's `mean + p × (max − mean)`, or a noise
floor where that is higher (the median plus q median absolute deviations: mer's addition, so that a
video with no expression, whose maximum is only noise, spots nothing). Each peak
above it, at least 2k frames from a higher one, is an expression whose apex is the peak: its
interval is [peak − k, peak + k], 2k + 1 frames, so its length (k is half a typical expression of the
type) is what makes it micro or macro. Its score is the signal at the peak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from mer.data.long_videos import TYPES
from mer.evaluate.spotting import SPOT_COLUMNS
from mer.spot.motion import VideoMotion


@dataclass(frozen=True)
class TypeSignal:
    """One type's spotting signal over a video, its threshold, and the peaks found above it."""

    signal: np.ndarray  # [n_frames]
    threshold: float
    peaks: np.ndarray  # indices into the video's frames


def spotting_signal(motion: np.ndarray, smooth: int, combine: str = "max") -> np.ndarray:
    """Regions' motion [n, regions] → one smoothed signal [n]: the largest region's (`max`) or their
    mean (`mean`), averaged over `smooth` frames."""
    combined = motion.max(axis=1) if combine == "max" else motion.mean(axis=1)
    return uniform_filter1d(combined.astype(np.float64), size=max(1, smooth), mode="nearest")


def relative_threshold(signal: np.ndarray, p: float) -> float:
    """MDMD's threshold: the video's mean plus `p` of the way to its maximum."""
    mean = float(signal.mean())
    return mean + p * (float(signal.max()) - mean)


def noise_floor(signal: np.ndarray, q: float) -> float:
    """The signal's median plus `q` median absolute deviations: above the noise of a still face, so
    a video without any expression, whose maximum is noise too, spots nothing."""
    median = float(np.median(signal))
    return median + q * float(np.median(np.abs(signal - median)))


def spot_type(motion: np.ndarray, k: int, p: float, q: float, combine: str, smooth_fraction: float) -> TypeSignal:
    """One type's signal, threshold (MDMD's, or the noise floor where that is higher) and peaks (at
    least 2k frames apart) in one video."""
    signal = spotting_signal(motion, round(smooth_fraction * k), combine)
    threshold = max(relative_threshold(signal, p), noise_floor(signal, q))
    peaks, _ = find_peaks(signal, height=threshold, distance=max(1, 2 * k))
    return TypeSignal(signal, threshold, peaks)


def spot_video(
    video: str,
    motion: VideoMotion,
    steps: Mapping[str, int],
    p: Mapping[str, float],
    q: float = 0.0,
    combine: str = "max",
    smooth_fraction: float = 0.34,
) -> tuple[pd.DataFrame, dict[str, TypeSignal]]:
    """A video's spotted intervals (spots.csv rows, the release's frame numbers) and each type's
    signal, for its plot."""
    rows, signals = [], {}
    frames = motion.frames
    for kind in TYPES:
        k = steps[kind]
        found = spot_type(motion.motion[kind], k, p[kind], q, combine, smooth_fraction)
        signals[kind] = found
        for peak in found.peaks:
            onset = frames[max(0, peak - k)]
            offset = frames[min(len(frames) - 1, peak + k)]
            rows.append(
                {
                    "video": video,
                    "onset": int(onset),
                    "offset": int(offset),
                    "type": kind,
                    "score": float(found.signal[peak]),
                }
            )
    return pd.DataFrame(rows, columns=list(SPOT_COLUMNS)), signals
