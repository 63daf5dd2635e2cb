"""The MEGC spotting metric on hand-made intervals (exact counts and scores), spots.csv's reader and
writer, and the per-video plot."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer.errors import MerError
from mer.evaluate.spotting import (
    SPOT_COLUMNS,
    iou,
    match_spots,
    plot_video,
    read_spots,
    spotting_scores,
    write_spots,
)


def spots(*rows: tuple) -> pd.DataFrame:
    """A spots table from (video, onset, offset, type, score) rows."""
    return pd.DataFrame(list(rows), columns=list(SPOT_COLUMNS))


def annotations(*rows: tuple) -> pd.DataFrame:
    """An annotation table (the long-video intervals' columns) from (video, onset, offset, type) rows."""
    table = pd.DataFrame(list(rows), columns=["video", "onset", "offset", "type"])
    table["subject"] = "s1"
    table["apex"] = (table["onset"] + table["offset"]) // 2
    table["action_units"], table["emotion"] = "", ""
    return table


def test_iou_inclusive_frames():
    assert iou(1, 10, 1, 10) == 1.0
    assert iou(1, 10, 6, 15) == pytest.approx(5 / 15)  # 5 shared frames, 15 in all
    assert iou(1, 10, 11, 20) == 0.0  # adjacent, no shared frame
    assert iou(5, 5, 5, 5) == 1.0  # a one-frame interval has length 1
    assert iou(1, 10, 10, 10) == pytest.approx(1 / 10)


def test_iou_exactly_half_is_a_hit_and_just_below_is_not():
    truth = annotations(("v1", 1, 10, "micro"))
    # 1..5 inside 1..10: IoU 5/10 = 0.5 exactly.
    assert iou(1, 5, 1, 10) == 0.5
    hit = spotting_scores(spots(("v1", 1, 5, "micro", 0.9)), truth)["micro"]
    assert (hit["tp"], hit["fp"], hit["fn"]) == (1, 0, 0)
    # 1..4 inside 1..10: IoU 4/10, a false positive and a missed annotation.
    assert iou(1, 4, 1, 10) == pytest.approx(0.4)
    miss = spotting_scores(spots(("v1", 1, 4, "micro", 0.9)), truth)["micro"]
    assert (miss["tp"], miss["fp"], miss["fn"]) == (0, 1, 1)
    assert miss["precision"] == 0.0 and miss["recall"] == 0.0 and miss["f1"] == 0.0


def test_just_below_half_by_one_frame_of_union():
    truth = annotations(("v1", 0, 9, "macro"))  # 10 frames
    # 0..20 vs 0..9: 10/21, just below 0.5 by one frame of union, a miss.
    assert iou(0, 20, 0, 9) == pytest.approx(10 / 21)
    below = match_spots(spots(("v1", 0, 20, "macro", 1.0)), truth)
    assert below["tp"].tolist() == [False] and below["matched"].tolist() == [-1]
    # 0..19 vs 0..9: 10/20 exactly 0.5, a hit.
    at = match_spots(spots(("v1", 0, 19, "macro", 1.0)), truth)
    assert at["tp"].tolist() == [True] and at["matched"].tolist() == [0]


def test_one_annotation_hit_by_two_spots_matches_once():
    truth = annotations(("v1", 100, 119, "macro"))
    found = spots(("v1", 100, 118, "macro", 0.4), ("v1", 101, 119, "macro", 0.8))
    result = match_spots(found, truth)
    # The higher score claims the annotation; the other is a false positive.
    assert result["tp"].tolist() == [False, True]
    assert result["matched"].tolist() == [-1, 0]
    scores = spotting_scores(found, truth)["macro"]
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 0)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(1.0)
    assert scores["f1"] == pytest.approx(2 / 3)


def test_tied_scores_go_by_video_then_onset():
    truth = annotations(("v1", 0, 9, "micro"))
    found = spots(("v1", 1, 9, "micro", 0.5), ("v1", 0, 8, "micro", 0.5))
    result = match_spots(found, truth)
    # Same score: the earlier onset (0..8) goes first and takes the annotation.
    assert result["tp"].tolist() == [False, True]


def test_spot_takes_the_unmatched_annotation_of_highest_iou():
    truth = annotations(("v1", 0, 9, "macro"), ("v1", 2, 11, "macro"))
    # 2..11 has IoU 1 with annotation 1 and 8/12 with annotation 0: it takes annotation 1.
    result = match_spots(spots(("v1", 2, 11, "macro", 0.9), ("v1", 0, 9, "macro", 0.1)), truth)
    assert result["matched"].tolist() == [1, 0]
    assert result["tp"].tolist() == [True, True]


def test_matched_is_the_annotation_index_label():
    truth = annotations(("v1", 0, 9, "micro"), ("v2", 50, 59, "micro"))
    truth.index = [10, 20]
    result = match_spots(spots(("v2", 50, 58, "micro", 1.0)), truth)
    assert result["matched"].tolist() == [20]
    assert result["matched"].dtype == np.int64


def test_spots_in_a_video_without_annotations_are_false_positives():
    truth = annotations(("v1", 0, 9, "micro"))
    found = spots(("v1", 0, 9, "micro", 0.9), ("v9", 0, 9, "micro", 0.9), ("v9", 30, 60, "macro", 0.3))
    scores = spotting_scores(found, truth)
    assert (scores["micro"]["tp"], scores["micro"]["fp"], scores["micro"]["fn"]) == (1, 1, 0)
    assert (scores["macro"]["tp"], scores["macro"]["fp"], scores["macro"]["fn"]) == (0, 1, 0)
    assert scores["macro"]["precision"] == 0.0 and scores["macro"]["recall"] == 0.0


def test_micro_spot_over_macro_annotation_is_not_a_hit():
    truth = annotations(("v1", 0, 9, "macro"))
    scores = spotting_scores(spots(("v1", 0, 9, "micro", 1.0)), truth)
    assert (scores["micro"]["tp"], scores["micro"]["fp"], scores["micro"]["fn"]) == (0, 1, 0)
    assert (scores["macro"]["tp"], scores["macro"]["fp"], scores["macro"]["fn"]) == (0, 0, 1)
    assert (scores["overall"]["tp"], scores["overall"]["fp"], scores["overall"]["fn"]) == (0, 1, 1)


def test_overall_sums_the_counts_then_scores():
    truth = annotations(
        ("v1", 0, 9, "micro"),
        ("v1", 100, 109, "micro"),
        ("v1", 200, 259, "macro"),
        ("v2", 0, 59, "macro"),
        ("v2", 300, 359, "macro"),
    )
    found = spots(
        ("v1", 0, 8, "micro", 0.9),  # TP (9/10)
        ("v1", 500, 510, "micro", 0.8),  # FP
        ("v1", 200, 259, "macro", 0.7),  # TP
        ("v2", 0, 40, "macro", 0.6),  # TP (41/60)
        ("v2", 100, 150, "macro", 0.5),  # FP
        ("v2", 600, 700, "macro", 0.4),  # FP
    )
    scores = spotting_scores(found, truth)
    micro, macro, overall = scores["micro"], scores["macro"], scores["overall"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (1, 1, 1)
    assert (macro["tp"], macro["fp"], macro["fn"]) == (2, 2, 1)
    assert (overall["tp"], overall["fp"], overall["fn"]) == (3, 3, 2)
    # By hand: micro P 1/2, R 1/2, F1 1/2; macro P 2/4, R 2/3, F1 2*(1/2)(2/3)/(1/2+2/3) = 4/7.
    assert micro["precision"] == pytest.approx(0.5) and micro["recall"] == pytest.approx(0.5)
    assert micro["f1"] == pytest.approx(0.5)
    assert macro["precision"] == pytest.approx(0.5) and macro["recall"] == pytest.approx(2 / 3)
    assert macro["f1"] == pytest.approx(4 / 7)
    # Overall from the summed counts, not the mean of the two F1s: P 3/6, R 3/5, F1 6/11.
    assert overall["precision"] == pytest.approx(0.5) and overall["recall"] == pytest.approx(0.6)
    assert overall["f1"] == pytest.approx(6 / 11)
    assert overall["f1"] != pytest.approx((micro["f1"] + macro["f1"]) / 2)
    assert all(isinstance(s[k], int) for s in scores.values() for k in ("tp", "fp", "fn"))


def test_no_spots_scores_zero_and_counts_every_annotation_missed():
    truth = annotations(("v1", 0, 9, "micro"), ("v1", 50, 99, "macro"), ("v2", 0, 40, "macro"))
    scores = spotting_scores(spots(), truth)
    assert scores["micro"] == {"tp": 0, "fp": 0, "fn": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert scores["macro"] == {"tp": 0, "fp": 0, "fn": 2, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert scores["overall"]["fn"] == 3 and scores["overall"]["f1"] == 0.0
    empty = match_spots(spots(), truth)
    assert list(empty.columns) == [*SPOT_COLUMNS, "tp", "matched"] and len(empty) == 0


def test_no_annotations_of_a_type_gives_zero_recall_not_an_error():
    truth = annotations(("v1", 0, 9, "micro"))
    scores = spotting_scores(spots(("v1", 0, 9, "micro", 1.0)), truth)
    assert scores["micro"] == {"tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert scores["macro"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_match_keeps_the_spots_order_and_index():
    truth = annotations(("v1", 0, 9, "micro"))
    found = spots(("v1", 300, 310, "micro", 0.1), ("v1", 0, 9, "micro", 0.2))
    found.index = [7, 3]
    result = match_spots(found, truth)
    assert result.index.tolist() == [7, 3]
    assert result["tp"].tolist() == [False, True]


def test_write_then_read_round_trips(tmp_path: Path):
    found = spots(("006_1", 30, 40, "macro", 0.25), ("006_1", 10, 12, "micro", 0.75))
    path = write_spots(found, tmp_path / "out" / "spots.csv")
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))
    back = read_spots(path)
    assert list(back.columns) == list(SPOT_COLUMNS)
    assert back.values.tolist() == [["006_1", 10, 12, "micro", 0.75], ["006_1", 30, 40, "macro", 0.25]]
    assert back["onset"].dtype == np.int64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("video,onset,offset,score\nv1,1,2,0.5\n", "missing required columns type"),
        (
            "video,onset,offset,type,score\nv1,1,2,micro,0.5\nv1,3,4,meso,0.5\n",
            "row 3: type 'meso' is not micro or macro",
        ),
        ("video,onset,offset,type,score\nv1,9,2,macro,0.5\n", "row 2: onset 9 is after offset 2"),
        ("video,onset,offset,type,score\nv1,1.5,2,macro,0.5\n", "row 2: onset '1.5' is not a frame number"),
        ("video,onset,offset,type,score\nv1,1,2,macro,high\n", "row 2: score 'high' is not a number"),
        ("", "not a readable CSV"),
    ],
)
def test_read_spots_errors_name_the_file_and_the_row(tmp_path: Path, text: str, message: str):
    path = tmp_path / "spots.csv"
    path.write_text(text)
    with pytest.raises(MerError) as err:
        read_spots(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_read_spots_missing_file(tmp_path: Path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(MerError, match="not a readable CSV"):
        read_spots(path)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("with_match", [True, False])
def test_plot_video_writes_a_wide_png(tmp_path: Path, with_match: bool):
    frames = np.arange(1000, 4000)
    signal = np.abs(np.sin(frames / 50.0))
    truth = annotations(("v1", 1200, 1215, "micro"), ("v1", 2000, 2100, "macro"))
    found = spots(("v1", 1201, 1214, "micro", 0.9), ("v1", 3000, 3050, "macro", 0.4))
    if with_match:
        found = match_spots(found, truth)
    threshold = 0.8 if with_match else np.full(len(frames), 0.8)
    path = plot_video(signal, frames, threshold, found, truth, "v1", tmp_path / "plots" / "v1.png")
    assert path == tmp_path / "plots" / "v1.png"
    width, height = png_size(path)
    assert width > 2.5 * height  # a long video gets a wide figure
    assert not list(path.parent.glob(".*tmp*"))


def test_plot_video_rejects_mismatched_lengths(tmp_path: Path):
    with pytest.raises(ValueError, match="frame_numbers"):
        plot_video(np.zeros(5), np.arange(6), 0.5, spots(), annotations(), "v", tmp_path / "v.png")
