"""Spot then recognise: a tiny 3-class model (synthetic CAS(ME)^2 clips, 32², one epoch) labels hand-made
micro spots on synthetic CAS(ME)^2 long videos from two frames each; the STR scores equal
`mer.evaluate.metrics` on the true positives recomputed by hand; a sweep dir labels each subject with
the model that held it out and warns about a subject none did; mer-spot recognise= writes it all."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_train

from mer.data.long_videos import LongVideos
from mer.errors import MerError
from mer.evaluate.metrics import pooled_metrics
from mer.evaluate.spotting import SPOT_COLUMNS
from mer.infer.trained import TrainedModel, load_trained
from mer.run_dir import CHECKPOINT, METRICS
from mer.spot import recognise
from mer.spot.recognise import (
    RECOGNISED_COLUMNS,
    ModelChoice,
    choose_models,
    clip_files,
    label_spots,
    recognise_spots,
    with_matches,
)
from mer.synthetic.long_videos import read_synthetic_videos

#: The long videos: 3 subjects (s15, s16, s19) × 1 video × 200 frames, one micro-expression each.
LONG = {"n_subjects": 3, "videos_per_subject": 1, "frames_per_video": 200, "seed": 0}


@dataclass(frozen=True)
class Setup:
    """The long videos, a trained checkpoint (fold 0: s15 held out), and its run dir."""

    videos: LongVideos
    checkpoint: Path
    model: TrainedModel


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """A softmax model trained through the real config on synthetic CAS(ME)^2 clips (negative, positive,
    surprise; the long videos' subjects), and the synthetic long videos."""
    from mer.train.job import train

    base = tmp_path_factory.mktemp("recognise")
    cfg = compose_train(
        "data=synthetic",
        "data.reader.layout=casme_sq",
        f"data.root={base / 'release'}",
        "data.reader.n_subjects=3",
        "data.reader.clips_per_subject=6",
        f"paths.output_dir={base / 'out'}",
        "preprocess.size=32",
        "preprocess.workers=1",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "save_checkpoint=true",
        "data.fold=0",
    )
    train(cfg, base / "fold0")
    videos = read_synthetic_videos(base / "long", **LONG)
    checkpoint = base / "fold0" / CHECKPOINT
    return Setup(videos, checkpoint, load_trained(checkpoint))


def hand_spots(videos: LongVideos) -> pd.DataFrame:
    """Every annotated interval as a spot (the micro ones hit), a micro false positive and a macro spot."""
    hits = videos.intervals[list(SPOT_COLUMNS[:-1])].assign(score=1.0)
    video = videos.videos["video"].iloc[0]
    extra = pd.DataFrame([(video, 100, 110, "micro", 0.5)], columns=list(SPOT_COLUMNS))
    return pd.concat([hits, extra], ignore_index=True)


def test_classes_and_layout_fit_the_long_videos(setup: Setup) -> None:
    assert setup.model.classes == ["negative", "positive", "surprise"]
    assert setup.model.record["test_subject"] == "s15"
    micro = setup.videos.intervals[setup.videos.intervals["type"] == "micro"]
    assert sorted(micro["subject"]) == ["s15", "s16", "s19"]


def test_clip_files_pick_the_first_frame_and_the_one_nearest_the_apex() -> None:
    files = {n: Path(f"img{n:03d}.jpg") for n in (10, 11, 13, 16, 20)}
    assert clip_files(files, 10, 14, 20) == (files[10], files[13])  # 13 is nearer than 16
    assert clip_files(files, 9, 9, 20) == (files[10], files[11])  # onset 9 missing: the first inside; apex after it
    assert clip_files(files, 12, 30, 30) == (files[13], files[20])
    assert clip_files(files, 14, 15, 19) is None  # one frame inside: no flow


def test_micro_spots_are_labelled_from_two_frames(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    from mer.infer import clip_input

    read = []
    real = clip_input.read_clip
    monkeypatch.setattr(clip_input, "read_clip", lambda paths: read.append(list(paths)) or real(paths))
    spots = hand_spots(setup.videos)
    labelled = label_spots(setup.videos, spots, setup.model)
    assert len(labelled) == int((spots["type"] == "micro").sum())  # micro only
    assert set(labelled["label"]) <= set(setup.model.classes) and (labelled["label"] != "").all()
    assert (labelled["model"] == str(setup.checkpoint)).all()
    assert (labelled["apex"] == (labelled["onset"] + labelled["offset"]) // 2).all()
    assert len(read) == len(labelled) and all(len(paths) == 2 for paths in read)
    first = labelled.iloc[0]
    assert [p.name for p in read[0]] == [f"img{first.onset:03d}.jpg", f"img{first.apex:03d}.jpg"]


def test_an_apex_column_is_preferred(setup: Setup) -> None:
    micro = setup.videos.intervals[setup.videos.intervals["type"] == "micro"]
    spots = micro[list(SPOT_COLUMNS[:-1])].assign(score=1.0, apex=micro["apex"].to_numpy())
    labelled = label_spots(setup.videos, spots, setup.model)
    assert labelled["apex"].tolist() == micro["apex"].tolist()


def test_str_scores_are_the_metrics_on_the_true_positives(setup: Setup, tmp_path: Path) -> None:
    spots = hand_spots(setup.videos)
    out = tmp_path / "recognised.csv"
    scores = recognise_spots(setup.videos, spots, choose_models(setup.checkpoint), 0.5, out)
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == list(RECOGNISED_COLUMNS)
    # By hand: the micro annotations are each hit by their own spot; the false positive is none.
    micro = setup.videos.intervals[setup.videos.intervals["type"] == "micro"]
    tp = table[table["tp"]]
    assert len(tp) == len(micro) == 3 and not table.loc[~table["tp"], "emotion"].any()
    assert sorted(tp["emotion"]) == sorted(micro["emotion"])
    usable = tp[tp["emotion"].isin(setup.model.classes)]  # "others" is no class
    expected = pooled_metrics(usable["emotion"], usable["label"], setup.model.classes)
    assert scores["tp"] == 3 and scores["tp_scored"] == len(usable) == 2
    assert scores["tp_not_scored"] == {"unlabelled": 0, "emotion_not_a_class": 1}
    assert scores["accuracy"] == pytest.approx((usable["emotion"] == usable["label"]).mean())
    for key in ("accuracy", "uf1", "uar"):
        assert scores[key] == pytest.approx(expected[key])
    assert scores["strs"] == pytest.approx(0.5 * expected["uf1"])
    assert "not LOSO-clean" in scores["protocol"] and "s15" in scores["protocol"]
    json.dumps(scores, allow_nan=False)


def sweep_dir(setup: Setup, root: Path, held_out: dict[str, str]) -> Path:
    """A sweep dir of job dirs (job name → held-out subject), each with the checkpoint and a metrics.json."""
    for job, subject in held_out.items():
        (root / job).mkdir(parents=True)
        shutil.copy(setup.checkpoint, root / job / CHECKPOINT)
        (root / job / METRICS).write_text(json.dumps({"test_subject": subject, "accuracy": 0.0}))
    return root


def test_a_sweep_labels_each_subject_with_the_model_that_held_it_out(setup: Setup, tmp_path: Path) -> None:
    sweep = sweep_dir(setup, tmp_path / "sweep", {"data.fold=0": "s15", "data.fold=1": "s16"})
    choice = choose_models(sweep)
    assert choice.by_subject == {"s15": sweep / "data.fold=0" / CHECKPOINT, "s16": sweep / "data.fold=1" / CHECKPOINT}
    with pytest.warns(UserWarning, match=r"no model held out 1 subject \(s19\)"):
        scores = recognise_spots(setup.videos, hand_spots(setup.videos), choice, 1.0, tmp_path / "r.csv")
    table = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    for subject, job in (("s15", "data.fold=0"), ("s16", "data.fold=1")):
        rows = table[table["subject"] == subject]
        assert len(rows) and (rows["model"] == str(sweep / job / CHECKPOINT)).all() and (rows["label"] != "").all()
    s19 = table[table["subject"] == "s19"]
    assert len(s19) == 1 and (s19["label"] == "").all() and (s19["model"] == "").all()
    assert scores["tp_not_scored"]["unlabelled"] == 1 and scores["tp_scored"] == 1  # s16's positive
    assert scores["protocol"].startswith("LOSO by subject")


def test_a_sweep_refuses_two_models_for_one_subject_and_an_empty_dir(setup: Setup, tmp_path: Path) -> None:
    sweep = sweep_dir(setup, tmp_path / "twice", {"a": "s15", "b": "s15"})
    with pytest.raises(MerError, match="held out by several jobs"):
        choose_models(sweep)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MerError, match="no model.ckpt under it"):
        choose_models(tmp_path / "empty")
    with pytest.raises(MerError, match="no such checkpoint or sweep dir"):
        choose_models(tmp_path / "missing")


def test_a_holdout_of_several_subjects_covers_each(setup: Setup, tmp_path: Path) -> None:
    sweep = sweep_dir(setup, tmp_path / "holdout", {"h": "s16,s19"})
    assert sorted(choose_models(sweep).by_subject) == ["s16", "s19"]


def test_nothing_scored_is_null_not_nan(setup: Setup, tmp_path: Path) -> None:
    choice = ModelChoice(tmp_path, {})  # no job held out any subject
    with pytest.warns(UserWarning, match="no model held out 3 subjects"):
        scores = recognise_spots(setup.videos, hand_spots(setup.videos), choice, 0.5, tmp_path / "r.csv")
    assert scores["tp_scored"] == 0 and scores["uf1"] is None and scores["strs"] is None
    json.dumps(scores, allow_nan=False)


def test_with_matches_names_the_hit_emotion(setup: Setup) -> None:
    spots = hand_spots(setup.videos).assign(subject="", apex=0, label="", model="")
    matched = with_matches(spots, setup.videos.intervals)
    macro = matched[matched["type"] == "macro"]
    assert macro["tp"].all() and (macro["emotion"] != "").all()
    assert recognise.RECOGNISED_CSV == "recognised.csv"


@pytest.mark.slow
def test_mer_spot_recognise_writes_recognised_csv(setup: Setup, tmp_path: Path) -> None:
    """The app end to end: spotting, then the micro spots labelled, recognised.csv and the scores."""
    import subprocess

    run = tmp_path / "run"
    overrides = [f"data.videos.{key}={value}" for key, value in LONG.items()]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mer.spot.app",
            f"data.root={setup.videos.root}",
            *overrides,
            f"recognise={setup.checkpoint}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"hydra.run.dir={run}",
            "workers=1",
            "plots=false",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "recognise TP" in result.stdout
    report = json.loads((run / "spotting.json").read_text())
    assert report["recognition"]["micro_spots"] == len(pd.read_csv(run / "recognised.csv"))
    assert report["recognition"]["spotting_f1"] == report["micro"]["f1"]
