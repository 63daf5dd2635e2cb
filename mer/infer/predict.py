"""`mer-predict`: a trained model on a new clip (a frame folder, a video, or onset + apex images).

The clip is preprocessed exactly as the model's training cache was (the checkpoint carries the
parameters): the onset frame's dlib alignment applied to both frames, the same flow function and
settings, the same channels rounded to the cache's precision, the same normalisation.

The arguments and paths are checked before torch is imported (`--help` or a mistake answers at
once): the heavy imports (torch, OpenCV, matplotlib) wait in the functions that use them.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mer.errors import MerError, user_facing
from mer.infer.preflight import check_clip_paths, check_writable
from mer.run_dir import check_checkpoint

if TYPE_CHECKING:
    import numpy as np

    from mer.infer.clip_input import Clip
    from mer.infer.trained import TrainedModel


@dataclass(frozen=True)
class Prediction:
    """A clip's label and per-class scores (for an action-unit model: the AUs present, and each
    AU's probability), which frames were used, and the channels scored."""

    label: str  # the class; for action units the AUs whose probability is above 0.5, "AU4+AU12" ("none")
    scores: dict[str, float]  # per class its score; per AU its probability, sigmoid of its logit
    multilabel: bool
    onset: int  # index into the clip's frames
    apex: int
    apex_spotted: bool
    motion: dict[int, float] | None  # frame index → facial motion from the onset, when spotted
    channels: dict[str, np.ndarray]


def predict_clip(
    model: TrainedModel, clip: Clip, onset: int | None = None, apex: int | None = None, progress: bool = True
) -> Prediction:
    """Score a clip: onset and apex by frame number (default: its first frame, and the spotted
    apex), aligned and turned into flow as in the model's training."""
    import numpy as np

    from mer.infer.apex import spot_apex
    from mer.preprocess.clip import aligned_channels, clip_alignment, clip_settings

    if clip.source == "images" and (onset is not None or apex is not None):
        raise MerError(
            "--onset and --apex pick frames of a clip folder or a video; with two images "
            "the first is the onset and the second the apex"
        )
    onset_i = clip.index_of(onset, "--onset") if onset is not None else 0
    apex_i = clip.index_of(apex, "--apex") if apex is not None else None
    if clip.source == "images":
        apex_i = 1
    if apex_i is not None and apex_i <= onset_i:
        raise MerError(
            f"--apex {clip.numbers[apex_i]} must come after the onset "
            f"({clip.names[onset_i]}): flow runs from the onset to the apex"
        )
    if apex_i is None and onset_i == len(clip.frames) - 1:
        raise MerError(
            f"the onset {clip.names[onset_i]} is the last frame of {clip.path}: no later "
            "frame to spot the apex in; give an earlier --onset"
        )
    settings = clip_settings(model.preprocess)
    flow_context = settings.pop("flow_context")
    onset_frame = clip.frames[onset_i]
    alignment = clip_alignment(onset_frame, **settings)
    where = f"the onset frame {clip.names[onset_i]} of {clip.path}"
    if alignment is None:
        raise MerError(
            f"no face found in {where}: dlib's frontal face detector needs a visible, "
            "roughly frontal face; crop or enlarge the frames around it"
        )
    if alignment.landmarks is None:
        warnings.warn(
            f"no face found in {where}; used the centred crop, as this model's training "
            "did (preprocess.align.no_face=center)",
            stacklevel=2,
        )
    motion = None
    if apex_i is None:
        spot = spot_apex(clip.frames, onset_i, alignment, model.flow_fn, flow_context, progress)
        apex_i, motion = spot.index, spot.motion
    channels = aligned_channels(onset_frame, clip.frames[apex_i], alignment, model.flow_fn, flow_context)
    scores = model.scores(model.inputs(channels))[0]
    if model.multilabel:  # a logit above 0 is a positive, as mer-train's predictions.csv says
        scores = 1 / (1 + np.exp(-scores))
        label = "+".join(c for c, p in zip(model.classes, scores) if p > 0.5) or "none"
    else:
        label = model.classes[int(scores.argmax())]
    return Prediction(
        label=label,
        scores={c: float(s) for c, s in zip(model.classes, scores)},
        multilabel=model.multilabel,
        onset=onset_i,
        apex=apex_i,
        apex_spotted=motion is not None,
        motion=motion,
        channels=channels,
    )


def prediction_json(prediction: Prediction, clip: Clip, checkpoint: Path) -> dict[str, Any]:
    """The `--json` object; a score of −inf (a class the SVM never saw in training) is null."""

    def frame(i: int) -> dict[str, Any]:
        return {"frame": clip.numbers[i], "name": clip.names[i]}

    if prediction.multilabel:
        result = {
            "action_units": [] if prediction.label == "none" else prediction.label.split("+"),
            "probabilities": prediction.scores,
        }
    else:
        scores = {c: s if math.isfinite(s) else None for c, s in prediction.scores.items()}
        result = {"label": prediction.label, "scores": scores}
    return {
        "checkpoint": str(checkpoint),
        "source": clip.source,
        "path": str(clip.path),
        **result,
        "onset": frame(prediction.onset),
        "apex": frame(prediction.apex),
        "apex_spotted": prediction.apex_spotted,
        "motion": None
        if prediction.motion is None
        else {str(clip.numbers[i]): m for i, m in prediction.motion.items()},
    }


def prediction_text(prediction: Prediction, clip: Clip) -> str:
    """What mer-predict prints: frames used (and how the apex was found), label and scores, or
    for an action-unit model the AUs present and each AU's probability."""
    lines = [f"onset: {clip.names[prediction.onset]}"]
    apex = f"apex:  {clip.names[prediction.apex]}"
    if prediction.apex_spotted:
        apex += (
            f" (spotted: the frame of greatest facial motion from the onset, "
            f"{prediction.motion[prediction.apex]:.3f} px, among {len(prediction.motion)} frames)"
        )
    width = max(len(c) for c in prediction.scores)
    if prediction.multilabel:
        lines += [apex, f"action units: {prediction.label} (probability above 0.5)"]
        lines += [f"  {c:<{width}}  {s:6.3f}" for c, s in prediction.scores.items()]
    else:
        lines += [apex, f"label: {prediction.label}"]
        lines += [f"  {c:<{width}}  {s:9.4f}" for c, s in prediction.scores.items()]
    return "\n".join(lines)


def show_prediction(prediction: Prediction, clip: Clip, path: Path) -> Path:
    """The clip's picture, as `mer-show` draws a cache: aligned onset, apex, colour-coded flow."""
    from mer.preprocess.flow_pictures import FlowPanel, flow_figure

    spotted = " (spotted)" if prediction.apex_spotted else ""
    caption = f"{clip.names[prediction.onset]} → {clip.names[prediction.apex]}{spotted}"
    c = prediction.channels
    panel = FlowPanel(caption, c["onset"], c["apex"], c["u"], c["v"])
    return flow_figure(
        [(f"predicted: {prediction.label}", [panel])], path, title=f"{clip.path.name}: {prediction.label}"
    )


@user_facing
def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `mer-predict CHECKPOINT (CLIP_DIR | VIDEO | ONSET APEX) [options]`."""
    parser = argparse.ArgumentParser(
        prog="mer-predict",
        description="Label a clip with a model mer-train saved "
        "(save_checkpoint=true): per-class scores, with the apex spotted when not given.",
    )
    parser.add_argument("checkpoint", type=Path, help="model.ckpt from a mer-train run dir")
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a folder of frames (ordered by the number in their names), a video file, or two images: onset and apex",
    )
    parser.add_argument(
        "--onset",
        type=int,
        default=None,
        metavar="N",
        help="onset frame: the number in its file name (img46 → 46), or a video's "
        "frame index from 0 (default: the first frame)",
    )
    parser.add_argument(
        "--apex",
        type=int,
        default=None,
        metavar="N",
        help="apex frame, numbered as --onset (default: spotted, the frame of greatest facial motion from the onset)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument(
        "--show",
        type=Path,
        default=None,
        metavar="PNG",
        help="also write the aligned onset, apex and colour-coded flow as a PNG",
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="also open a checkpoint that only an unsafe load (unpickling) can, one "
        "carrying objects beyond tensors and plain types; this runs any code the file "
        "holds, so use it only for a file whose author you trust",
    )
    args = parser.parse_args(argv)
    if len(args.inputs) > 2:
        parser.error("give one clip folder or video, or two images (onset and apex)")
    check_checkpoint(args.checkpoint)
    check_clip_paths(args.inputs)
    if args.show is not None:
        check_writable(args.show.parent, "give --show a PNG path in a folder you can write to")
    from mer.infer.clip_input import read_clip
    from mer.infer.trained import load_trained

    model = load_trained(args.checkpoint, trust=args.trust_checkpoint)
    clip = read_clip(args.inputs)
    prediction = predict_clip(model, clip, args.onset, args.apex)
    if args.json:
        print(json.dumps(prediction_json(prediction, clip, args.checkpoint), indent=2), flush=True)
    else:
        print(prediction_text(prediction, clip), flush=True)
    if args.show is not None:
        show_prediction(prediction, clip, args.show)
        if not args.json:
            print(f"wrote {args.show}", flush=True)


if __name__ == "__main__":
    main()
