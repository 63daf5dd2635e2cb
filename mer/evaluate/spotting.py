"""MEGC spotting: spotted intervals matched to annotated ones (IoU >= 0.5, same video and type),
precision/recall/F1 per type and overall, `spots.csv` read and written, and a per-video plot of the
spotting signal. Pure functions over pandas tables; frames are the release's numbers, inclusive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mer.atomic import write_atomically
from mer.errors import MerError

#: Columns of `spots.csv`: one row per spotted interval, the release's frame numbers, inclusive.
SPOT_COLUMNS: tuple[str, ...] = (
    "video",  # a long video's id, as `LongVideos.videos` names it
    "onset",  # int, first frame of the interval
    "offset",  # int, last frame of the interval (>= onset)
    "type",  # "micro" | "macro"
    "score",  # float, the spotter's confidence: higher first when matching
)

#: The interval types, in report order (as `mer.data.long_videos.TYPES`).
TYPES: tuple[str, ...] = ("micro", "macro")

#: The MEGC hit rule: IoU with an annotated interval of at least this (exactly 0.5 counts).
IOU_THRESHOLD = 0.5

#: The annotation columns matching reads.
_ANNOTATION_COLUMNS: tuple[str, ...] = ("video", "onset", "offset", "type")


def iou(a_onset: int, a_offset: int, b_onset: int, b_offset: int) -> float:
    """Intersection over union of two inclusive frame intervals (length = offset - onset + 1)."""
    inter = max(0, min(a_offset, b_offset) - max(a_onset, b_onset) + 1)
    union = (a_offset - a_onset + 1) + (b_offset - b_onset + 1) - inter
    return inter / union if union > 0 else 0.0


def _overlaps(onset: int, offset: int, onsets: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer intersection and union of one inclusive interval with many: the hit test is then
    `inter >= 0.5 * union`, exact (halving an integer rounds nothing), so IoU exactly 0.5 counts."""
    inter = np.maximum(0, np.minimum(offset, offsets) - np.maximum(onset, onsets) + 1)
    union = (offset - onset + 1) + (offsets - onsets + 1) - inter
    return inter, union


def _require(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    """Raise when a table lacks a column matching needs, or holds a type outside micro/macro."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} table lacks columns {missing}")
    bad = sorted(set(table["type"]) - set(TYPES))
    if bad:
        raise ValueError(f"{name} interval types {bad} are not among {TYPES}")


def _annotation_groups(annotations: pd.DataFrame) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per (video, type): the annotations' index labels, onsets and offsets, ordered by onset, offset
    and table position, so an IoU tie goes to the earliest annotation."""
    ordered = annotations.assign(_pos=np.arange(len(annotations))).sort_values(["onset", "offset", "_pos"])
    groups = {}
    for (video, kind), rows in ordered.groupby(["video", "type"], sort=False):
        groups[(str(video), str(kind))] = (
            rows.index.to_numpy(),
            rows["onset"].to_numpy(dtype=np.int64),
            rows["offset"].to_numpy(dtype=np.int64),
        )
    return groups


def _spot_order(spots: pd.DataFrame) -> np.ndarray:
    """Positions of the spots in matching order: score descending, then video, onset, offset, and
    table position ascending (fully deterministic)."""
    keys = pd.DataFrame(
        {
            "score": -spots["score"].to_numpy(dtype=float),
            "video": spots["video"].astype(str).to_numpy(),
            "onset": spots["onset"].to_numpy(dtype=np.int64),
            "offset": spots["offset"].to_numpy(dtype=np.int64),
            "pos": np.arange(len(spots)),
        }
    )
    return keys.sort_values(["score", "video", "onset", "offset", "pos"])["pos"].to_numpy()


def match_spots(spots: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """The spots with `tp` (bool) and `matched` (the annotation's index label, or -1), by the MEGC
    rule: a hit is IoU >= 0.5 with an annotation of the same video and type, each annotation matched
    at most once.

    MEGC's own scripts walk the spots in the order they are listed. Here the spots are taken in
    decreasing score (ties: video, onset, offset, position), each claiming the still-unmatched
    annotation of highest IoU >= 0.5 (ties: earliest annotation), as detection metrics do: the result
    does not depend on how the file happens to be sorted. Where a video's spots of a type do not
    overlap one another, nor its annotations of that type (what a spotter emits after merging), the
    counts equal MEGC's: a spot that hits two annotations then contains both, and an annotation hit
    by two spots contains both, so no spot's choice takes away another's only hit."""
    _require(spots, SPOT_COLUMNS, "spots")
    _require(annotations, _ANNOTATION_COLUMNS, "annotations")
    onsets = spots["onset"].to_numpy(dtype=np.int64)
    offsets = spots["offset"].to_numpy(dtype=np.int64)
    if (onsets > offsets).any():
        raise ValueError("spots hold an interval whose onset is after its offset")
    groups = _annotation_groups(annotations)
    videos, kinds = spots["video"].astype(str).to_numpy(), spots["type"].astype(str).to_numpy()
    taken: set = set()
    matched = np.full(len(spots), -1, dtype=object)
    for pos in _spot_order(spots):
        group = groups.get((videos[pos], kinds[pos]))
        if group is None:
            continue
        labels, a_onsets, a_offsets = group
        inter, union = _overlaps(onsets[pos], offsets[pos], a_onsets, a_offsets)
        free = np.array([label not in taken for label in labels], dtype=bool)
        hit = free & (inter >= IOU_THRESHOLD * union)
        if hit.any():
            ratio = np.where(hit, inter / union, -1.0)
            label = labels[int(np.argmax(ratio))]
            taken.add(label)
            matched[pos] = label
    out = spots.copy()
    out["tp"] = np.array([m != -1 for m in matched], dtype=bool)
    integer = pd.api.types.is_integer_dtype(annotations.index)
    out["matched"] = pd.Series(list(matched), index=spots.index, dtype=np.int64 if integer else object)
    return out


def scores_from_counts(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Counts with precision, recall and F1 (each 0 where its denominator is 0)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "precision": precision, "recall": recall, "f1": f1}


def spotting_scores(spots: pd.DataFrame, annotations: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """MEGC scores over all videos of both tables: per type (micro, macro) and overall (the two
    types' counts summed, then scored). A spot in a video without annotations is a false positive,
    an annotation no spot hit a false negative."""
    result = match_spots(spots, annotations)
    counts = {}
    for kind in TYPES:
        of_type = result["type"] == kind
        tp = int(result.loc[of_type, "tp"].sum())
        counts[kind] = (tp, int(of_type.sum()) - tp, int((annotations["type"] == kind).sum()) - tp)
    scores = {kind: scores_from_counts(*counts[kind]) for kind in TYPES}
    scores["overall"] = scores_from_counts(*(sum(c[i] for c in counts.values()) for i in range(3)))
    return scores


def _integer_column(path: Path, table: pd.DataFrame, column: str) -> pd.Series:
    """A column of whole numbers, or one line naming the file, the row and the value."""
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() | (values != values.round())
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise MerError(
            f"{path}: row {row + 2}: {column} {table[column].iloc[row]!r} is not a frame number (a whole number)"
        )
    return values.astype(np.int64)


def read_spots(path: str | Path) -> pd.DataFrame:
    """A `spots.csv`, checked (columns, types micro/macro, onset <= offset, numbers where numbers
    belong); a mistake is one line naming the file and the row (row 2 is the first after the header)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)  # cells as written, for messages
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise MerError(f"{path}: not a readable CSV ({str(err).strip().splitlines()[0]})") from err
    missing = [c for c in SPOT_COLUMNS if c not in table.columns]
    if missing:
        raise MerError(
            f"{path}: missing required columns {', '.join(missing)} (spots.csv has {', '.join(SPOT_COLUMNS)})"
        )
    table["onset"] = _integer_column(path, table, "onset")
    table["offset"] = _integer_column(path, table, "offset")
    score = pd.to_numeric(table["score"], errors="coerce")
    checks = (
        (table["video"].astype(str).str.strip() == "", lambda r: "video is empty"),
        (~table["type"].isin(TYPES), lambda r: f"type {table['type'].iloc[r]!r} is not micro or macro"),
        (
            table["onset"] > table["offset"],
            lambda r: f"onset {table['onset'].iloc[r]} is after offset {table['offset'].iloc[r]}",
        ),
        (score.isna(), lambda r: f"score {table['score'].iloc[r]!r} is not a number"),
    )
    for bad, say in checks:
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise MerError(f"{path}: row {row + 2}: {say(row)}")
    table["score"] = score.astype(float)
    return table[list(SPOT_COLUMNS)]


def write_spots(spots: pd.DataFrame, path: str | Path) -> Path:
    """Write `spots.csv` (the contract's columns, sorted by video and onset) atomically: a reader
    never sees half a file."""
    path = Path(path)
    _require(spots, SPOT_COLUMNS, "spots")
    table = spots[list(SPOT_COLUMNS)].sort_values(["video", "onset", "offset", "type"], kind="mergesort")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: table.to_csv(tmp, index=False))
    return path


#: Plot colours: annotated types (shaded spans) and spotted outcomes (bars below).
ANNOTATION_COLOURS = {"micro": "tab:blue", "macro": "tab:purple"}
SPOT_COLOURS = {True: "tab:green", False: "tab:red", None: "tab:gray"}


def _figure_width(frames: np.ndarray, spots: pd.DataFrame, annotations: pd.DataFrame) -> tuple[float, float, float]:
    """The plotted frame range (with half a frame either side) and a width in inches growing with it."""
    ends = [frames.astype(float)]
    for table in (spots, annotations):
        if len(table):
            ends += [table["onset"].to_numpy(dtype=float), table["offset"].to_numpy(dtype=float)]
    values = np.concatenate(ends) if any(len(e) for e in ends) else np.array([0.0, 1.0])
    low, high = float(values.min()) - 0.5, float(values.max()) + 0.5
    return low, high, float(np.clip((high - low) / 250.0, 14.0, 28.0))


def _spot_legend(spots: pd.DataFrame) -> list:
    """Legend patches for the spotted bars: TP and FP where matching was done, else one grey."""
    from matplotlib.patches import Patch

    if "tp" in spots.columns:
        return [
            Patch(color=SPOT_COLOURS[True], label="spotted TP"),
            Patch(color=SPOT_COLOURS[False], label="spotted FP"),
        ]
    return [Patch(color=SPOT_COLOURS[None], label="spotted")]


def plot_video(
    signal: np.ndarray,
    frame_numbers: np.ndarray,
    threshold: float | np.ndarray,
    spots: pd.DataFrame,
    annotations: pd.DataFrame,
    title: str,
    path: Path,
) -> Path:
    """One video's spotting PNG: the signal against frame number with its threshold, the annotated
    intervals shaded (micro and macro in two colours), the spotted intervals as bars below (TP green,
    FP red when `spots` has `tp`), so a reader sees what was found, missed and invented.
    `spots` and `annotations` are this video's rows."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    signal = np.asarray(signal, dtype=float)
    frames = np.asarray(frame_numbers, dtype=float)
    if signal.shape != frames.shape:
        raise ValueError(f"signal has shape {signal.shape} but frame_numbers {frames.shape}")
    limit = np.broadcast_to(np.asarray(threshold, dtype=float), signal.shape)
    low, high, width = _figure_width(frames, spots, annotations)

    fig = Figure(figsize=(width, 4.6))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1], "hspace": 0.08})
    for row in annotations.itertuples(index=False):
        top.axvspan(row.onset - 0.5, row.offset + 0.5, color=ANNOTATION_COLOURS[row.type], alpha=0.3, lw=0)
    top.plot(frames, signal, color="black", lw=0.8)
    top.plot(frames, limit, color="tab:orange", lw=1.2, ls="--")
    top.set_ylabel("spotting signal")
    top.set_title(title, fontsize=10, loc="left")
    top.grid(axis="y", alpha=0.3)

    rows = {kind: i for i, kind in enumerate(reversed(TYPES))}
    for row in spots.itertuples(index=False):
        colour = SPOT_COLOURS[bool(row.tp)] if "tp" in spots.columns else SPOT_COLOURS[None]
        bottom.broken_barh([(row.onset - 0.5, row.offset - row.onset + 1)], (rows[row.type] - 0.35, 0.7), color=colour)
    bottom.set_yticks(list(rows.values()), [f"spotted {kind}" for kind in rows])
    bottom.set_ylim(-0.6, len(rows) - 0.4)
    bottom.set_xlim(low, high)
    bottom.set_xlabel("frame")
    bottom.grid(axis="x", alpha=0.3)

    handles = [
        Line2D([], [], color="black", lw=0.8, label="signal"),
        Line2D([], [], color="tab:orange", lw=1.2, ls="--", label="threshold"),
        *(Patch(color=ANNOTATION_COLOURS[k], alpha=0.3, label=f"annotated {k}") for k in TYPES),
        *_spot_legend(spots),
    ]
    top.legend(
        handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(handles), fontsize=8, frameon=False
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    return path
