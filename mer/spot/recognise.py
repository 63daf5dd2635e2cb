"""Spot then recognise (`mer-spot recognise=…`): each spotted micro-expression interval labelled by a
`mer-train` model, and that recognition scored on the intervals spotted correctly.

Which model labels which spot: `recognise=` names one checkpoint (`model.ckpt`), used for every
subject, or a sweep dir of LOSO jobs (each job dir's `model.ckpt` beside the `metrics.json` that names
its `test_subject`): a spot of subject S is labelled by the model that held S out, so no model labels
a clip of a subject it trained on; a subject no job held out gets no label (one warning names them).
A single checkpoint is LOSO-clean only if it never saw these subjects (trained on another release, or
with them held out), and the protocol in spotting.json says so.

A spot's clip is two frames: its first frame (the onset) and its apex: the spots' `apex` where they
carry one, else the interval's centre, which for `spot=flow_peaks`' [peak − k, peak + k] intervals is
the peak (except where a video's first or last k frames clip the interval), each the nearest frame
file that exists. Only those two files are read (`read_clip([onset, apex])`, the "images" source of
`mer.infer.predict.predict_clip`), never the whole video.

The metric is spot-then-recognise (STR), proposed with its STRS by Liong, See and Chan, "Spot-then-
recognize: a micro-expression analysis network for seamless evaluation of long videos", Signal Processing:
Image Communication, 116875, 2023, and run as MEGC2025's ME-STR task (MEGC2022 and MEGC2023 had no STR task):
spotting is scored as ever (`mer.evaluate.spotting`); recognition on the micro true positives whose hit
annotation has an emotion among the model's classes, the predicted label against that emotion: accuracy,
UF1 and UAR (`mer.evaluate.metrics`), and STRS = micro spotting F1 × that UF1. Unconfirmed: STRS as that
product is recalled from Liong et al., and which recognition F1 enters it (UF1 here) was not checked
against the paper or MEGC's scoring code.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mer.atomic import write_atomically
from mer.data.long_videos import LongVideos
from mer.errors import MerError, plural
from mer.evaluate.metrics import pooled_metrics, scores_from_confusion
from mer.evaluate.spotting import SPOT_COLUMNS, match_spots
from mer.run_dir import CHECKPOINT, METRICS
from mer.spot.motion import numbered_frame_files

if TYPE_CHECKING:
    from mer.infer.trained import TrainedModel

RECOGNISED_CSV = "recognised.csv"
#: Columns of `recognised.csv`: the micro spots, each with what labelled it and how it scored.
RECOGNISED_COLUMNS: tuple[str, ...] = (
    *SPOT_COLUMNS,
    "subject",
    "apex",  # the frame the flow ran to (the onset is the interval's first frame)
    "label",  # the predicted class; "" where no model held the subject out, or the clip could not be read
    "model",  # the checkpoint chosen for its subject ("" where no job held the subject out)
    "tp",  # the spot hit an annotated micro-expression (the MEGC rule)
    "emotion",  # the hit annotation's emotion ("" for a false positive)
)
METRIC = (
    "MEGC spot-then-recognise (Liong et al. 2023; MEGC2025 ME-STR): accuracy, UF1 and UAR of the predicted "
    "labels of the micro true positives against their annotated emotion (those with a label and an emotion "
    "among the classes); STRS = micro spotting F1 x UF1 (unconfirmed: the product as recalled from Liong et "
    "al., UF1 as its recognition F1)"
)


@dataclass(frozen=True)
class ModelChoice:
    """Which checkpoint labels which subject's spots: one for every subject, or a sweep's, by held-out subject."""

    path: Path  # the checkpoint, or the sweep dir
    by_subject: dict[str, Path] | None = None  # held-out subject → its job's checkpoint (None: `path` for all)

    def checkpoint_for(self, subject: str) -> Path | None:
        """The checkpoint that labels this subject's spots; None when no job held the subject out."""
        return self.path if self.by_subject is None else self.by_subject.get(subject)


def choose_models(path: str | Path) -> ModelChoice:
    """`recognise=`'s checkpoint or sweep dir (cheap: no model is loaded, so a wrong path fails before spotting)."""
    path = Path(path).expanduser()
    if path.is_file():
        return ModelChoice(path)
    if not path.is_dir():
        raise MerError(
            f"recognise={path}: no such checkpoint or sweep dir; give the model.ckpt that "
            "`mer-train save_checkpoint=true` writes, or the sweep dir of such LOSO jobs"
        )
    return ModelChoice(path, sweep_checkpoints(path))


def sweep_checkpoints(sweep_dir: Path) -> dict[str, Path]:
    """Held-out subject → the checkpoint of the job that held it out, over every job under a sweep dir;
    a subject held out by two jobs (two configurations or seeds) is refused: which should label it?"""
    found: dict[str, list[Path]] = {}
    for checkpoint in sorted(sweep_dir.rglob(CHECKPOINT)):
        for subject in held_out_subjects(checkpoint.parent):
            found.setdefault(subject, []).append(checkpoint)
    if not found:
        raise MerError(f"recognise={sweep_dir}: no {CHECKPOINT} under it; train the sweep with save_checkpoint=true")
    twice = sorted((s, paths) for s, paths in found.items() if len(paths) > 1)
    if twice:
        subject, paths = twice[0]
        raise MerError(
            f"recognise={sweep_dir}: {plural(len(twice), 'subject')} held out by several jobs ({subject}: "
            f"{paths[0].parent} and {paths[1].parent}); point recognise= at the sweep dir of one configuration"
        )
    return {subject: paths[0] for subject, paths in found.items()}


def held_out_subjects(job_dir: Path) -> list[str]:
    """The subjects a job held out: its metrics.json's `test_subject` (a holdout's joined by commas)."""
    path = job_dir / METRICS
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise MerError(f"{path}: cannot read which subject the job's {CHECKPOINT} held out ({err})") from None
    test_subject = metrics.get("test_subject") if isinstance(metrics, dict) else None
    if not test_subject:
        raise MerError(f"{path}: no test_subject, so its {CHECKPOINT} cannot be matched to a subject")
    return [s.strip() for s in str(test_subject).split(",") if s.strip()]


def load_models(choice: ModelChoice, subjects: Sequence[str]) -> TrainedModel | dict[str, TrainedModel]:
    """The one model, or subject → model for those of `subjects` a job held out (each checkpoint loaded
    once); a sweep's models must share their classes, or their labels could not be scored together."""
    from mer.infer.trained import load_trained

    if choice.by_subject is None:
        return load_trained(choice.path)
    loaded: dict[Path, TrainedModel] = {}
    models = {}
    for subject in sorted(set(subjects)):
        checkpoint = choice.checkpoint_for(subject)
        if checkpoint is None:
            continue
        if checkpoint not in loaded:
            loaded[checkpoint] = load_trained(checkpoint)
        models[subject] = loaded[checkpoint]
    classes = {tuple(model.classes) for model in models.values()}
    if len(classes) > 1:
        raise MerError(f"recognise={choice.path}: its models differ in their classes ({sorted(classes)})")
    return models


def subjects_of(videos: LongVideos, spots: pd.DataFrame) -> pd.Series:
    """Each spot's subject: the person its video shows."""
    return spots["video"].map(videos.videos.set_index("video")["subject"]).astype(str)


def model_classes(model: TrainedModel | Mapping[str, TrainedModel]) -> list[str]:
    """The classes the labels are in (none when no subject has a model)."""
    if isinstance(model, Mapping):
        return next(iter(model.values())).classes if model else []
    return model.classes


def spot_apex(spots: pd.DataFrame) -> pd.Series:
    """Each spot's apex: its `apex` where the spots carry one, else the interval's centre (flow_peaks' peak)."""
    if "apex" in spots.columns:
        return spots["apex"].astype("int64")
    return ((spots["onset"] + spots["offset"]) // 2).astype("int64")


def clip_files(files: Mapping[int, Path], onset: int, apex: int, offset: int) -> tuple[Path, Path] | None:
    """The interval's first frame file and the one nearest `apex` after it (within the interval); None
    when the interval holds fewer than two frame files (no flow to compute)."""
    inside = sorted(n for n in files if onset <= n <= offset)
    if len(inside) < 2:
        return None
    nearest = min(inside[1:], key=lambda n: (abs(n - apex), n))
    return files[inside[0]], files[nearest]


def predicted_label(model: TrainedModel, files: Mapping[int, Path], onset: int, apex: int, offset: int) -> str:
    """The model's class for one interval, from its onset and apex frames alone."""
    from mer.infer.clip_input import read_clip
    from mer.infer.predict import predict_clip

    pair = clip_files(files, onset, apex, offset)
    if pair is None:
        raise MerError(f"the interval {onset}–{offset} holds fewer than two frames")
    return predict_clip(model, read_clip(list(pair)), progress=False).label


def label_spots(
    videos: LongVideos, spots: pd.DataFrame, model: TrainedModel | Mapping[str, TrainedModel]
) -> pd.DataFrame:
    """The micro spots with their subject, apex, predicted label and the checkpoint that gave it: `model`
    for all, or by subject (one warning names the subjects without one, and the spots it could not label)."""
    micro = spots[spots["type"] == "micro"].reset_index(drop=True)
    micro = micro.assign(subject=subjects_of(videos, micro), apex=spot_apex(micro))
    table = videos.videos.set_index("video")
    frames: dict[str, dict[int, Path]] = {}
    labels, names, failed = [], [], []
    for row in micro.itertuples():
        chosen = model.get(row.subject) if isinstance(model, Mapping) else model
        label = ""
        if chosen is not None:
            if row.video not in frames:
                folder = videos.root / table.at[row.video, "frames_dir"]
                frames[row.video] = dict(numbered_frame_files(folder, videos.frame_regex))
            try:
                label = predicted_label(chosen, frames[row.video], row.onset, row.apex, row.offset)
            except MerError as err:
                failed.append(f"{row.video} {row.onset}–{row.offset}: {err}")
        labels.append(label)
        names.append("" if chosen is None else str(chosen.path))
    warn_unlabelled(micro, model, failed)
    return micro.assign(label=labels, model=names)


def warn_unlabelled(micro: pd.DataFrame, model: TrainedModel | Mapping[str, TrainedModel], failed: list[str]) -> None:
    """One warning for the subjects no model held out, one for the spots whose clip could not be scored."""
    if isinstance(model, Mapping):
        missing = sorted(set(micro["subject"]) - set(model))
        if missing:
            n = int(micro["subject"].isin(missing).sum())
            warnings.warn(
                f"no model held out {plural(len(missing), 'subject')} ({', '.join(missing)}): their "
                f"{plural(n, 'micro spot')} stay unlabelled (a model that trained on a subject may not label it)",
                stacklevel=3,
            )
    if failed:
        warnings.warn(
            f"{plural(len(failed), 'micro spot')} left unlabelled, the clip could not be scored: {failed[0]}"
            + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""),
            stacklevel=3,
        )


def with_matches(labelled: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """The labelled spots with `tp` and the hit annotation's `emotion` (lower case; "" for a false positive)."""
    matched = match_spots(labelled, annotations)
    emotion = annotations["emotion"].astype(str).str.strip().str.lower()
    matched["emotion"] = [emotion.loc[m] if tp else "" for m, tp in zip(matched["matched"], matched["tp"])]
    return matched.drop(columns="matched")


def recognition_scores(matched: pd.DataFrame, classes: Sequence[str], spotting_f1: float) -> dict[str, Any]:
    """MEGC's STR scores of labelled, matched micro spots: accuracy, UF1, UAR on the true positives with a
    label and an emotion among `classes`, how many TPs were left out and why, and STRS = spotting F1 × UF1."""
    tp = matched[matched["tp"]]
    labelled = tp["label"] != ""
    usable = labelled & tp["emotion"].isin(classes)
    scores = tp_metrics(tp.loc[usable, "emotion"], tp.loc[usable, "label"], classes)
    if labelled.any() and not usable.any():
        emotions = ", ".join(sorted(set(tp.loc[labelled, "emotion"])))
        warnings.warn(
            f"none of the {plural(int(labelled.sum()), 'labelled true positive')} is scored: the classes "
            f"{list(classes)} hold none of their annotated emotions ({emotions})",
            stacklevel=2,
        )
    return {
        "classes": list(classes),
        "micro_spots": len(matched),
        "labelled": int((matched["label"] != "").sum()),
        "tp": len(tp),
        "tp_scored": int(usable.sum()),
        "tp_not_scored": {
            "unlabelled": int((~labelled).sum()),
            "emotion_not_a_class": int((labelled & ~usable).sum()),
        },
        "accuracy": finite(scores["accuracy"]),
        "uf1": finite(scores["uf1"]),
        "uar": finite(scores["uar"]),
        "spotting_f1": float(spotting_f1),
        "strs": finite(spotting_f1 * scores["uf1"]),
    }


def tp_metrics(y_true: pd.Series, y_pred: pd.Series, classes: Sequence[str]) -> dict[str, float]:
    """`pooled_metrics`, or NaN scores when no true positive is scored (sklearn refuses an empty confusion)."""
    if len(y_true):
        return pooled_metrics(y_true, y_pred, classes)
    return scores_from_confusion(np.zeros((len(classes), len(classes)), dtype=np.int64))


def finite(value: float) -> float | None:
    """A score for spotting.json: NaN (nothing to score) as null, which JSON has and NaN is not."""
    return None if math.isnan(value) else float(value)


def protocol(choice: ModelChoice, model: TrainedModel | Mapping[str, TrainedModel]) -> str:
    """What labelled what, for spotting.json: LOSO by subject, or one checkpoint for all (and its caveat)."""
    if isinstance(model, Mapping):
        return (
            f"LOSO by subject: each micro spot of subject S labelled by the model of the job under {choice.path} "
            "that held S out (its metrics.json test_subject), so no model labels a clip of a subject it trained "
            "on; a subject no job held out is left unlabelled"
        )
    record = model.record
    return (
        f"one checkpoint, {choice.path} (trained on {record.get('dataset')}, test subject "
        f"{record.get('test_subject')}), labelled every subject's micro spots: not LOSO-clean unless it never "
        "saw these subjects (trained on another release, or with them held out)"
    )


def recognise_spots(
    videos: LongVideos, spots: pd.DataFrame, choice: ModelChoice, spotting_f1: float, out: Path
) -> dict[str, Any]:
    """Label the micro spots, write them to `out` (recognised.csv) and return spotting.json's "recognition"."""
    model = load_models(choice, subjects_of(videos, spots[spots["type"] == "micro"]).tolist())
    matched = with_matches(label_spots(videos, spots, model), videos.intervals)
    write_atomically(out, lambda tmp: matched[list(RECOGNISED_COLUMNS)].to_csv(tmp, index=False))
    scores = recognition_scores(matched, model_classes(model), spotting_f1)
    return {"protocol": protocol(choice, model), "metric": METRIC, **scores}


def recognition_line(scores: dict[str, Any]) -> str:
    """spotting.json's "recognition" as the terminal shows it: the scores on the true positives and STRS."""

    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    return (
        f"recognise TP {scores['tp']:>4}  scored {scores['tp_scored']:>4}  accuracy {show(scores['accuracy'])}  "
        f"UF1 {show(scores['uf1'])}  UAR {show(scores['uar'])}  STRS {show(scores['strs'])}"
    )
