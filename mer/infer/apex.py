"""Apex spotting for a clip that comes without one: the frame that moved most since the onset.

The heuristic: flow from the onset to every later frame, on the aligned crop and with the flow
function the model was trained with; subtract each field's median vector (the head's global
drift, which otherwise grows over the clip and outweighs a micro-expression confined to a few
facial regions); the apex is the frame whose remaining flow has the greatest mean magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from mer.preprocess.align import Alignment
from mer.preprocess.clip import FlowFn, aligned_flow
from mer.preprocess.flow import facial_motion


@dataclass(frozen=True)
class ApexSpot:
    """The spotted apex (an index into the clip's frames) and the motion of every frame scored."""

    index: int
    motion: dict[int, float]  # frame index → mean flow magnitude from the onset, in crop pixels


def spot_apex(
    frames: Sequence[np.ndarray],
    onset: int,
    alignment: Alignment,
    flow_fn: FlowFn,
    flow_context: float,
    progress: bool = True,
) -> ApexSpot:
    """The frame after `onset` of greatest facial motion from it (see the module's heuristic)."""
    later = range(onset + 1, len(frames))
    motion = {}
    for i in tqdm(later, desc="spotting the apex", unit="frame", disable=not progress or len(later) < 10, leave=False):
        flow, _, _ = aligned_flow(frames[onset], frames[i], alignment, flow_fn, flow_context)
        motion[i] = facial_motion(flow)
    return ApexSpot(index=max(motion, key=motion.get), motion=motion)
