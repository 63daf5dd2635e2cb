"""mer-predict: a checkpoint scores a new clip as training scored it; apex spotting; bad input, a
mistyped path answered in one line before torch is imported."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import TrainedRuns, run_entry_point, smooth_texture

from mer.infer.clip_input import read_clip
from mer.infer.predict import main, predict_clip
from mer.infer.trained import TrainedModel, load_trained
from mer.preprocess.cache import load_cache
from mer.preprocess.flow_pictures import DPI, PANEL_INCHES
from mer.run_dir import CHECKPOINT, PREDICTIONS, SCORE_PREFIX
from mer.synthetic import load_ground_truth


@pytest.fixture(scope="module")
def models(trained: TrainedRuns) -> dict[str, TrainedModel]:
    """The trained models, loaded (safely) from their checkpoints alone."""
    return {head: load_trained(run / CHECKPOINT) for head, run in trained.runs.items()}


def sample_rows(trained: TrainedRuns) -> pd.DataFrame:
    """The cache's sample table by sample_id (clip folders, sheet onset and apex)."""
    return load_cache(trained.cache).samples.set_index("sample_id")


@pytest.mark.parametrize("head", ["hinge", "softmax", "svm", "rbf"])
def test_a_clip_folder_scores_as_in_training(trained: TrainedRuns, models, head) -> None:
    """Same frames, same preprocessing from the checkpoint → the scores of predictions.csv."""
    model, samples = models[head], sample_rows(trained)
    predictions = pd.read_csv(trained.runs[head] / PREDICTIONS)
    assert len(predictions) == 5
    for row in predictions.itertuples():
        sample = samples.loc[row.sample_id]
        clip = read_clip([trained.release / sample.clip_dir])
        result = predict_clip(model, clip, onset=sample.onset_frame, apex=sample.apex_frame)
        expected = [getattr(row, f"{SCORE_PREFIX}{c}") for c in model.classes]
        np.testing.assert_allclose(list(result.scores.values()), expected, atol=1e-4)
        assert result.label == row.pred and not result.apex_spotted


def test_two_images_and_a_lossless_video_score_like_the_folder(trained: TrainedRuns, models, tmp_path: Path) -> None:
    model, samples = models["hinge"], sample_rows(trained)
    sample = samples.iloc[0]
    folder = read_clip([trained.release / sample.clip_dir])
    expected = predict_clip(model, folder, onset=sample.onset_frame, apex=sample.apex_frame).scores
    images = read_clip([trained.release / sample.onset_path, trained.release / sample.apex_path])
    assert predict_clip(model, images).scores == expected
    video = tmp_path / "clip.avi"  # FFV1 is lossless, so the video holds the very same pixels
    height, width = folder.frames[0].shape
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 200, (width, height))
    for frame in folder.frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    clip = read_clip([video])
    assert clip.numbers == list(range(len(folder.frames)))
    apex_index = folder.numbers.index(sample.apex_frame) - folder.numbers.index(sample.onset_frame)
    result = predict_clip(model, clip, onset=0, apex=apex_index)
    np.testing.assert_allclose(list(result.scores.values()), list(expected.values()), atol=1e-5)


def test_apex_spotted_within_one_frame_of_every_synthetic_clip(trained: TrainedRuns, models) -> None:
    truth = load_ground_truth(trained.release)["clips"]
    assert len(truth) == 16  # every clip of the release, the one without a sheet row included
    for clip_truth in truth:
        clip = read_clip([trained.release / clip_truth["frames_dir"]])
        result = predict_clip(models["hinge"], clip, progress=False)
        assert result.apex_spotted and clip.numbers[result.onset] == clip_truth["onset"]
        assert abs(clip.numbers[result.apex] - clip_truth["apex"]) <= 1, clip_truth["filename"]
        assert result.apex == max(result.motion, key=result.motion.get)


def test_json_names_the_frames_used_and_show_writes_the_picture(
    trained: TrainedRuns, models, tmp_path: Path, capsys
) -> None:
    sample = sample_rows(trained).iloc[1]
    folder = trained.release / sample.clip_dir
    checkpoint = trained.runs["svm"] / CHECKPOINT
    main([str(checkpoint), str(folder), "--json", "--show", str(tmp_path / "clip.png")])
    result = json.loads(capsys.readouterr().out)
    classes = models["svm"].classes
    assert list(result["scores"]) == classes
    assert result["label"] == max(classes, key=lambda c: result["scores"][c])
    assert result["apex_spotted"] is True and result["source"] == "folder"
    frames = sorted(int(p.stem[3:]) for p in folder.glob("img*.jpg"))
    assert result["onset"] == {"frame": frames[0], "name": f"img{frames[0]}.jpg"}
    motion = {int(k): v for k, v in result["motion"].items()}
    assert sorted(motion) == frames[1:] and result["apex"]["frame"] == max(motion, key=motion.get)
    picture = cv2.imread(str(tmp_path / "clip.png"))
    # One row: onset, apex, flow and the colour key.
    assert picture.shape == (round((PANEL_INCHES + 0.5) * DPI), round(4 * PANEL_INCHES * DPI), 3)


def test_text_output_says_which_apex_was_picked(trained: TrainedRuns, capsys) -> None:
    sample = sample_rows(trained).iloc[2]
    main(
        [
            str(trained.runs["hinge"] / CHECKPOINT),
            str(trained.release / sample.clip_dir),
            "--onset",
            str(sample.onset_frame),
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"onset: img{sample.onset_frame}.jpg"
    assert lines[1].startswith("apex:  img") and "(spotted: the frame of greatest facial motion" in lines[1]
    assert lines[2].startswith("label: ") and len(lines) == 3 + 5


def bad_inputs(trained: TrainedRuns, tmp: Path) -> dict[str, tuple[list[str], str]]:
    """Each bad input: the mer-predict arguments and the start of its one-line message."""
    checkpoint = trained.runs["hinge"] / CHECKPOINT
    clip = str(trained.release / sample_rows(trained).iloc[0].clip_dir)
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    saved["mer"].update(format=99, mer_version="9.0.0")
    torch.save(saved, tmp / "future.ckpt")
    (tmp / "corrupt.ckpt").write_bytes(checkpoint.read_bytes()[:100_000])
    torch.save({"state_dict": {}, "hyper_parameters": {}}, tmp / "plain.ckpt")
    (tmp / "no_face").mkdir()
    for n in (1, 2):
        cv2.imwrite(str(tmp / "no_face" / f"img{n}.png"), smooth_texture((240, 320), seed=n))
    (tmp / "one_frame").mkdir()
    (tmp / "one_frame" / "img7.jpg").write_bytes((Path(clip) / sorted(Path(clip).iterdir())[0]).read_bytes())
    (tmp / "clip.avi").write_bytes(b"not a video at all")
    ckpt = str(checkpoint)
    return {
        "other version": (
            [str(tmp / "future.ckpt"), clip],
            f"{tmp / 'future.ckpt'} was written by mer 9.0.0 (checkpoint format 99); this mer 0.1.0 reads format 2",
        ),
        "corrupt": ([str(tmp / "corrupt.ckpt"), clip], f"cannot read checkpoint {tmp / 'corrupt.ckpt'} ("),
        "not mer's": ([str(tmp / "plain.ckpt"), clip], f"{tmp / 'plain.ckpt'} holds no mer record"),
        "no face": ([ckpt, str(tmp / "no_face")], f"no face found in the onset frame img1.png of {tmp / 'no_face'}: "),
        "one frame": (
            [ckpt, str(tmp / "one_frame")],
            f"{tmp / 'one_frame'} holds 1 numbered image file(s): a prediction needs at least two frames",
        ),
        "unreadable video": (
            [ckpt, str(tmp / "clip.avi")],
            f"cannot read video {tmp / 'clip.avi'}: OpenCV decodes no frame",
        ),
    }


def test_each_bad_input_is_one_clear_line(trained: TrainedRuns, tmp_path: Path, capsys) -> None:
    for case, (argv, message) in bad_inputs(trained, tmp_path).items():
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert exit_.value.code == 2, case
        assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), (case, lines)
        assert captured.out == ""


def test_a_model_trained_with_centred_crops_uses_one_where_no_face_is_found(
    trained: TrainedRuns, tmp_path: Path
) -> None:
    saved = torch.load(trained.runs["hinge"] / CHECKPOINT, map_location="cpu", weights_only=True)
    saved["mer"]["preprocess"]["align"]["no_face"] = "center"
    torch.save(saved, tmp_path / "center.ckpt")
    for n in (1, 2):
        cv2.imwrite(str(tmp_path / f"img{n}.png"), smooth_texture((240, 320), seed=n))
    with pytest.warns(
        UserWarning,
        match=r"no face found in the onset frame img1.png .* used the "
        r"centred crop, as this model's training did",
    ):
        result = predict_clip(load_trained(tmp_path / "center.ckpt"), read_clip([tmp_path]))
    assert result.apex == 1 and np.isfinite(list(result.scores.values())).all()


@pytest.mark.slow
def test_help_answers_without_torch() -> None:
    result = run_entry_point("mer.infer.predict", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mer-predict [-h]")
    assert result.stdout.splitlines()[-1] == "torch imported: False"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["{tmp}/missing.ckpt", "{tmp}"],
            "checkpoint {tmp}/missing.ckpt not found: give the model.ckpt that `mer-train "
            "save_checkpoint=true` writes into its run dir",
        ),
        (
            ["{tmp}/model.ckpt", "{tmp}/onset.jpg", "{tmp}/apex.jpg"],
            "{tmp}/onset.jpg does not exist: give a clip folder, a video, or an onset and an apex image",
        ),
        (
            ["{tmp}/model.ckpt", "{tmp}", "--show", "{tmp}/model.ckpt/clip.png"],
            "cannot write into {tmp}/model.ckpt: {tmp}/model.ckpt is a file; give --show a PNG path in a "
            "folder you can write to",
        ),
    ],
    ids=["missing checkpoint", "missing clip", "show under a file"],
)
def test_a_wrong_path_is_one_line_before_torch(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "model.ckpt").touch()  # the checks before torch only look at the paths
    result = run_entry_point("mer.infer.predict", *(arg.format(tmp=tmp_path) for arg in args))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {message.format(tmp=tmp_path)}"]
    assert result.stdout.splitlines() == ["torch imported: False"]
