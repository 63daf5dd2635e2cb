"""`spot=softnet`: a shallow CNN regresses a per-frame expression score from the regions' optical flow,
trained leave-one-subject-out, and that score is spotted as `spot=flow_peaks` spots its motion.

After SoftNet (Liong, See, Wong and Phan, "Shallow optical flow three-stream CNN for macro- and
micro-expression spotting from long videos", ICIP 2021). Per expression type, one model (the types
differ in k, so in their flow and their labels): its input is each frame's flow patches of the
expressive regions (`mer.spot.motion.region_patches`: u, v and optical strain of the mean flow
against the frames k before and after, the nose ridge's median taken away), the regions stacked one
above the other; three streams, one per channel (u, v, strain: 5×5 convolutions of 3, 5 and 8
filters, ReLU, a 3×3 max pool), concatenated, a 2×2 max pool, a fully connected layer of 400 and a
linear output, trained with the mean squared error against a pseudo-label (1 where the k frames
around the frame overlap an annotated interval of the type, as SoftNet's "IoU > 0", else 0) by Adam.
Leave one subject out: for each subject, a model starts from the same initial weights (as SoftNet
resets them per fold), trains a fixed number of epochs on the other subjects' videos, half their
non-expression frames kept (drawn once, as SoftNet), and scores the subject's videos; the test
subject never selects anything. Each video's score is then smoothed, thresholded, and its peaks made
intervals of 2k + 1 frames by `mer.spot.flow_peaks.spot_video`.

Where it differs from SoftNet: the flow is mer's (DIS on a 64² aligned crop, frame c against c − k and
c + k averaged, where SoftNet takes TV-L1 from frame i to i + k on a 128² face); the regions are mer's
brows, eyes and mouth boxes, each resized to `patch_size`² (16 by default: the boxes are a few dozen
pixels of the 64² crop) and stacked, where SoftNet puts both eyes with their brows above the mouth in
one 42² image and masks the eyes; no augmentation of the micro-expression frames; the inputs are
divided by each channel's standard deviation over the fold's training frames. flow_peaks' noise floor
stays available (`spot.noise_floor`) but is off by default, SoftNet's threshold alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mer.data.long_videos import TYPES, LongVideos
from mer.errors import MerError, plural
from mer.spot.flow_peaks import TypeSignal, spot_video
from mer.spot.motion import PATCH_CHANNELS, VideoMotion
from mer.spot.motion_cache import load_video_motion

log = logging.getLogger(__name__)

#: The smallest patch side the network takes: its pools (3, then 2) must leave a pixel.
MIN_PATCH = 6
#: Frames scored at once when predicting (memory, not results).
PREDICT_BATCH = 1024
#: Frames the channel scale is estimated on, at most.
SCALE_SAMPLE = 4096


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for a while: the network is so small that more threads only wait on one
    another (several times slower per step on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Training:
    """How each fold's model is built and trained (conf/spot/softnet.yaml)."""

    filters: tuple[int, ...]  # each stream's filters, one stream per patch channel
    hidden: int  # the fully connected layer's width
    epochs: int
    batch_size: int
    lr: float
    keep_negatives: float  # share of the non-expression frames kept for training
    seed: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Training:
        """The training settings of the spot config, checked."""
        training = cls(
            filters=tuple(int(f) for f in settings["filters"]),
            hidden=int(settings["hidden"]),
            epochs=int(settings["epochs"]),
            batch_size=int(settings["batch_size"]),
            lr=float(settings["lr"]),
            keep_negatives=float(settings["keep_negatives"]),
            seed=int(settings["seed"]),
        )
        if len(training.filters) != len(PATCH_CHANNELS):
            raise MerError(f"spot.filters needs one count per patch channel ({', '.join(PATCH_CHANNELS)})")
        if not 0.0 < training.keep_negatives <= 1.0:
            raise MerError(f"spot.keep_negatives={training.keep_negatives}: a share in (0, 1]")
        return training


class SoftNet(nn.Module):
    """Flow patches [B, regions, channels, p, p] → one score per frame [B]: a stream per channel over
    the regions stacked vertically, SoftNet's layers; the inputs divided by the training set's
    per-channel scale (a buffer, set before training)."""

    def __init__(self, regions: int, channels: int, patch: int, filters: Sequence[int], hidden: int) -> None:
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(1, f, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 3)) for f in filters
        )
        self.pool = nn.MaxPool2d(2, 2)
        self.register_buffer("scale", torch.ones(channels))
        with torch.no_grad():
            width = self.features(torch.zeros(1, regions, channels, patch, patch)).shape[1]
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The streams' pooled, concatenated feature maps, flattened."""
        b, r, c, p, _ = x.shape
        mosaic = (x / self.scale.view(1, 1, c, 1, 1)).transpose(1, 2).reshape(b, c, r * p, p)
        stacked = torch.cat([stream(mosaic[:, i : i + 1]) for i, stream in enumerate(self.streams)], dim=1)
        return self.pool(stacked).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


@dataclass(frozen=True)
class TrainingSet:
    """One fold's training frames of one type: patches, pseudo-labels, and each frame's video."""

    x: np.ndarray  # float16 [N, regions, channels, p, p]
    y: np.ndarray  # float32 [N]
    video: np.ndarray  # str [N]


def valid(n: int, k: int) -> slice:
    """The frames with a frame k before and after them: those that have flow."""
    return slice(k, max(k, n - k))


def pseudo_labels(frames: np.ndarray, intervals: pd.DataFrame, k: int) -> np.ndarray:
    """SoftNet's pseudo-label per frame [n]: 1 where the k frames around it (±k // 2, the release's
    frame numbers) overlap one of `intervals` (onset, offset inclusive), else 0."""
    half = k // 2
    labels = np.zeros(len(frames), np.float32)
    for onset, offset in intervals[["onset", "offset"]].itertuples(index=False):
        labels[(frames + half >= onset) & (frames - half <= offset)] = 1.0
    return labels


def training_set(
    videos: LongVideos, motions: Mapping[str, VideoMotion], kind: str, k: int, train: Sequence[str]
) -> TrainingSet:
    """The `train` videos' frames that have flow, with their pseudo-labels from those videos' intervals
    of the type."""
    xs, ys, names = [], [], []
    of_type = videos.intervals[videos.intervals["type"] == kind]
    for video in train:
        motion = motions[video]
        keep = valid(len(motion.frames), k)
        labels = pseudo_labels(motion.frames, of_type[of_type["video"] == video], k)
        xs.append(motion.patches[kind][keep])
        ys.append(labels[keep])
        names.append(np.full(len(ys[-1]), video, dtype=object))
    return TrainingSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(names))


def channel_scale(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each channel's standard deviation over (a sample of) the training patches: u, v and strain
    brought to one scale, from the training frames only."""
    sample = x[np.sort(rng.choice(len(x), min(len(x), SCALE_SAMPLE), replace=False))].astype(np.float32)
    return np.maximum(sample.std(axis=(0, 1, 3, 4)), 1e-6)


def train_model(data: TrainingSet, training: Training) -> SoftNet:
    """A fresh SoftNet (the same initial weights every fold) trained a fixed number of epochs by Adam
    on the MSE against the pseudo-labels, on the positives and a share of the negatives drawn once."""
    if not len(data.y):
        raise MerError("spot=softnet: the training subjects' videos have no frame with flow (videos shorter than 2k)")
    rng = np.random.default_rng(training.seed)
    torch.manual_seed(training.seed)
    negatives = np.flatnonzero(data.y == 0)
    drawn = rng.choice(negatives, round(training.keep_negatives * len(negatives)), replace=False)
    kept = np.concatenate([np.flatnonzero(data.y > 0), drawn])
    model = SoftNet(data.x.shape[1], data.x.shape[2], data.x.shape[3], training.filters, training.hidden)
    model.scale.copy_(torch.from_numpy(channel_scale(data.x[kept], rng)))
    optimiser = torch.optim.Adam(model.parameters(), lr=training.lr)
    model.train()
    for _ in range(training.epochs):
        order = rng.permutation(kept)
        for start in range(0, len(order), training.batch_size):
            batch = np.sort(order[start : start + training.batch_size])
            loss = nn.functional.mse_loss(
                model(torch.from_numpy(data.x[batch].astype(np.float32))), torch.from_numpy(data.y[batch])
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


@torch.no_grad()
def predict(model: SoftNet, patches: np.ndarray, k: int) -> np.ndarray:
    """A video's score per frame [n] (0 within k of either end, where there is no flow)."""
    scores = np.zeros(len(patches), np.float32)
    keep = valid(len(patches), k)
    inner = patches[keep]
    for start in range(0, len(inner), PREDICT_BATCH):
        chunk = torch.from_numpy(inner[start : start + PREDICT_BATCH].astype(np.float32))
        scores[keep.start + start : keep.start + start + len(chunk)] = model(chunk).numpy()
    return scores


def fold_scores(
    videos: LongVideos, motions: Mapping[str, VideoMotion], steps: Mapping[str, int], training: Training, subject: str
) -> dict[str, dict[str, np.ndarray]]:
    """One LOSO fold: per type, a model trained on every other subject's videos scores this
    subject's; the scores by video, then type."""
    table = videos.videos
    test = table.loc[table["subject"] == subject, "video"].tolist()
    train = table.loc[table["subject"] != subject, "video"].tolist()
    if not train:
        raise MerError(f"spot=softnet trains leave-one-subject-out: {videos.dataset} has one subject only")
    scores: dict[str, dict[str, np.ndarray]] = {video: {} for video in test}
    for kind in TYPES:
        data = training_set(videos, motions, kind, steps[kind], train)
        log.info(
            "softnet %s, test subject %s: training on %s (%s of an expression)",
            kind,
            subject,
            plural(len(data.y), "frame"),
            int((data.y > 0).sum()),
        )
        model = train_model(data, training)
        for video in test:
            scores[video][kind] = predict(model, motions[video].patches[kind], steps[kind])
    return scores


def softnet_spots(
    videos: LongVideos, cache: Path, steps: Mapping[str, int], settings: Mapping[str, Any]
) -> dict[str, tuple[pd.DataFrame, dict[str, TypeSignal]]]:
    """`spot=softnet` over a release: each video's spots and per-type score signals, its score from the
    model of the fold that left its subject out."""
    patch = settings.get("patch_size")
    if patch is None or int(patch) < MIN_PATCH:
        raise MerError(f"spot=softnet needs spot.patch_size of at least {MIN_PATCH} (got {patch})")
    training = Training.from_settings(settings)
    motions = {video: load_video_motion(cache, video, patches=True) for video in videos.videos["video"]}
    scores: dict[str, dict[str, np.ndarray]] = {}
    with one_thread():
        for subject in videos.videos["subject"].unique():
            scores.update(fold_scores(videos, motions, steps, training, subject))
    p = {kind: float(settings["p"][kind]) for kind in TYPES}
    return {
        video: spot_video(
            video,
            VideoMotion(
                motions[video].frames,
                {kind: score[:, None] for kind, score in scores[video].items()},
                motions[video].face_found,
            ),
            steps,
            p,
            float(settings["noise_floor"]),
            "max",
            float(settings["smooth"]),
        )
        for video in videos.videos["video"]
    }
