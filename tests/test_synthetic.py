"""The synthetic CASME II release: exact layout, determinism, real faces, recoverable motion."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from mer.errors import MerError
from mer.preprocess.flow import tvl1_flow
from mer.preprocess.landmarks import detect_landmarks
from mer.synthetic import (
    GROUND_TRUTH_FILE,
    displacement_field,
    expression_profile,
    generate_synthetic,
    load_ground_truth,
    read_synthetic,
)
from mer.synthetic.layouts import CASME2_RAW_DIR as RAW_DIR
from mer.synthetic.layouts import CASME2_SHEET as SHEET_FILE

SMALL = dict(n_subjects=3, clips_per_subject=6, frames_per_clip=(9, 15))
EXPECTED_COLUMNS = [
    "Subject",
    "Filename",
    "Unnamed: 2",
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    "Unnamed: 6",
    "Action Units",
    "Estimated Emotion",
]
FIVE = {"happiness", "disgust", "repression", "surprise", "others"}


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative path and bytes: equal iff two releases are identical."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def clip_dir(root: Path, clip: dict) -> Path:
    """A clip's frame folder in the release."""
    return root / RAW_DIR / clip["folder"] / clip["filename"]


def grey_frame(root: Path, clip: dict, frame: int) -> np.ndarray:
    """One frame of a clip as uint8 grey."""
    image = cv2.imread(str(clip_dir(root, clip) / f"img{frame}.jpg"), cv2.IMREAD_GRAYSCALE)
    assert image is not None, f"cannot read frame {frame} of {clip['filename']}"
    return image


def generate_small(folder: Path, seed: int = 0) -> Path:
    """A small release (3 subjects × 6 clips) in `folder`/synthetic."""
    return generate_synthetic(folder / "synthetic", **SMALL, seed=seed, progress=False)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small release with seed 0, shared by the module."""
    return generate_small(tmp_path_factory.mktemp("a"))


@pytest.fixture(scope="module")
def truth(release: Path) -> dict:
    """The release's ground-truth record."""
    return load_ground_truth(release)


@pytest.fixture(scope="module")
def sheet(release: Path) -> pd.DataFrame:
    """The coding sheet as pandas reads it."""
    return pd.read_excel(release / SHEET_FILE)


@pytest.fixture(scope="module")
def flows(release: Path, truth: dict) -> dict[str, tuple[np.ndarray, tuple[int, int]]]:
    """TV-L1 onset→apex flow per sheet clip, on a face crop, minus the recorded head drift."""
    subjects = {s["subject"]: s for s in truth["subjects"]}
    result = {}
    for clip in truth["clips"]:
        landmarks = np.asarray(subjects[clip["subject"]]["landmarks"])
        x0, y0 = (landmarks.min(axis=0) - [50, 90]).astype(int)
        x1, y1 = (landmarks.max(axis=0) + 40).astype(int)
        onset = grey_frame(release, clip, clip["onset"])[y0:y1, x0:x1]
        apex = grey_frame(release, clip, clip["apex"])[y0:y1, x0:x1]
        flow = tvl1_flow(onset, apex)
        fraction = (clip["apex"] - clip["onset"]) / (clip["offset"] - clip["onset"])
        flow -= np.asarray(clip["head_drift"], dtype=np.float32) * fraction
        result[f"{clip['folder']}/{clip['filename']}"] = (flow, (x0, y0))
    return result


# --- layout ---------------------------------------------------------------------------------


def test_folders_and_frames_follow_casme2_raw_layout(release: Path, truth: dict) -> None:
    """sub01.., clip folders, unpadded imgN.jpg from onset to offset, 640×480 colour JPEGs."""
    expected = sorted([RAW_DIR, SHEET_FILE, GROUND_TRUTH_FILE])
    assert sorted(p.name for p in release.iterdir()) == expected
    assert sorted(p.name for p in (release / RAW_DIR).iterdir()) == ["sub01", "sub02", "sub03"]
    crossing = 0
    for clip in truth["clips"]:
        names = [p.name for p in clip_dir(release, clip).iterdir()]
        assert all(re.fullmatch(r"img[1-9]\d*\.jpg", n) for n in names), names
        numbers = sorted(int(n[3:-4]) for n in names)
        assert numbers == list(range(clip["onset"], clip["offset"] + 1))
        assert numbers[0] > 1
        assert 9 <= len(numbers) <= 15
        crossing += numbers[0] <= 99 < numbers[-1]
        fraction = (clip["apex"] - clip["onset"]) / (clip["offset"] - clip["onset"])
        assert 0.3 <= fraction <= 0.7
    assert crossing >= 1, "some clip should cross img99 -> img100 (string sort breaks there)"
    first = truth["clips"][0]
    image = cv2.imread(str(clip_dir(release, first) / f"img{first['onset']}.jpg"))
    assert image.shape == (480, 640, 3)
    assert not np.array_equal(image[..., 0], image[..., 2]), "frames should be colour"


def test_sheet_matches_the_20140508_format(release: Path, truth: dict, sheet: pd.DataFrame) -> None:
    """Columns as pandas sees them, one '/' apex, int subjects, irregular names, AU cells."""
    assert list(sheet.columns) == EXPECTED_COLUMNS
    assert sheet["Unnamed: 2"].isna().all() and sheet["Unnamed: 6"].isna().all()
    assert (sheet["ApexFrame"].astype(str) == "/").sum() == 1
    assert sheet["Subject"].dtype.kind == "i" and set(sheet["Subject"]) == {1, 2, 3}
    assert len(sheet) == 3 * 6
    for _, names in sheet.groupby("Subject")["Filename"]:
        assert names.is_unique
    patterns = [r"EP\d\d_\d\df", r"EP\d\d_\d\d", r"EP\d\d_[1-9]", r"EP\d\df", r"EP\d\d_\d\d_\d\d"]
    for pattern in patterns:
        assert any(re.fullmatch(pattern, n) for n in sheet["Filename"]), pattern
    assert all(e == e.lower() for e in sheet["Estimated Emotion"])
    rows = load_workbook(release / SHEET_FILE).active.iter_rows(min_row=2, values_only=True)
    cells = [row[7] for row in rows]
    assert any(isinstance(c, int) for c in cells)
    assert any(isinstance(c, str) and "+" in c for c in cells)
    slash = next(c for c in truth["clips"] if c["sheet_apex"] == "/")
    assert slash["apex"] == (slash["onset"] + slash["offset"]) // 2
    listed = set(zip(sheet["Subject"], sheet["Filename"]))
    unlisted = [c for c in truth["clips"] if (c["subject"], c["filename"]) not in listed]
    assert len(unlisted) == 1 and not unlisted[0]["in_sheet"]
    assert clip_dir(release, unlisted[0]).is_dir()


def test_each_subject_shows_every_class_and_some_fear_or_sadness(sheet: pd.DataFrame) -> None:
    """Per subject the five classes cycle; about 1 in 16 clips overall is fear or sadness."""
    for _, emotions in sheet.groupby("Subject")["Estimated Emotion"]:
        assert len(emotions) == 6
        assert FIVE <= set(emotions)
    assert 1 <= sheet["Estimated Emotion"].isin(["fear", "sadness"]).sum() <= 3


def test_same_seed_is_byte_identical_other_seed_differs(release: Path, tmp_path_factory) -> None:
    """Same seed and parameters → identical frames, sheet and record; another seed → different."""
    again = generate_small(tmp_path_factory.mktemp("b"))
    assert tree_digest(again) == tree_digest(release)
    other = generate_small(tmp_path_factory.mktemp("c"), seed=1)
    assert tree_digest(other) != tree_digest(release)
    rows = [pd.read_excel(r / SHEET_FILE).values.tolist() for r in (release, other)]
    assert rows[0] != rows[1]


# --- faces and motion -----------------------------------------------------------------------


def test_dlib_finds_the_face_in_every_frame(release: Path, truth: dict) -> None:
    """Every generated frame is a face dlib's HOG detector and 68-point model accept."""
    subjects = {s["subject"]: s for s in truth["subjects"]}
    for clip in truth["clips"]:
        expected = np.asarray(subjects[clip["subject"]]["landmarks"])
        for frame in range(clip["onset"], clip["offset"] + 1):
            found = detect_landmarks(grey_frame(release, clip, frame))
            assert found is not None, f"no face in {clip['filename']}/img{frame}.jpg"
            assert np.median(np.linalg.norm(found - expected, axis=1)) < 6.0


def test_amplitudes_and_profile(truth: dict) -> None:
    """Peak apex displacement equals the recorded amplitude, drawn in 0.5–2.5 px; p(t) shape."""
    for clip in truth["clips"]:
        assert 0.5 <= clip["amplitude"] <= 2.5
        peak = np.linalg.norm(displacement_field(clip["bumps"]), axis=-1).max()
        assert peak == pytest.approx(clip["amplitude"], rel=0.01)
    assert expression_profile(10, 10, 15, 20) == 0.0
    assert expression_profile(15, 10, 15, 20) == 1.0
    assert expression_profile(20, 10, 15, 20) == pytest.approx(0.2)
    assert 0 < expression_profile(12, 10, 15, 20) < expression_profile(14, 10, 15, 20) < 1


def test_flow_at_every_bump_follows_the_ground_truth(truth: dict, flows: dict) -> None:
    """TV-L1 onset→apex at each bump centre points along the recorded displacement (+d)."""
    for clip in truth["clips"]:
        flow, (x0, y0) = flows[f"{clip['folder']}/{clip['filename']}"]
        field = displacement_field(clip["bumps"])
        for bump in clip["bumps"]:
            x, y = (int(round(c)) for c in bump["centre"])
            expected = field[y, x]
            window = flow[y - y0 - 3 : y - y0 + 4, x - x0 - 3 : x - x0 + 4]
            measured = window.reshape(-1, 2).mean(axis=0)
            gain = float(measured @ expected / (expected @ expected))
            where = f"{clip['filename']} AU {bump['au']}"
            assert 0.5 < gain < 1.5, f"{where}: flow {measured} vs truth {expected}"


def region_v(flow: np.ndarray, origin: tuple[int, int], x: tuple[float, float], y: tuple[float, float]) -> float:
    """Mean vertical flow in a canvas box [x0, x1) × [y0, y1) (flow cropped at `origin`)."""
    ox, oy = origin
    return float(flow[int(y[0]) - oy : int(y[1]) - oy, int(x[0]) - ox : int(x[1]) - ox, 1].mean())


def test_each_class_moves_its_own_region(truth: dict, flows: dict) -> None:
    """Surprise lifts the brows (v < 0 above the eyes, ~0 at the mouth); happiness lifts the lip
    corners; disgust lowers the inner brows."""
    subjects = {s["subject"]: s for s in truth["subjects"]}
    seen = set()
    for clip in truth["clips"]:
        lm = np.asarray(subjects[clip["subject"]]["landmarks"])
        flow, origin = flows[f"{clip['folder']}/{clip['filename']}"]
        a = clip["amplitude"]
        above_eyes = (lm[17:27, 1].min() - 20, lm[36:48, 1].min())
        brow = region_v(flow, origin, (lm[17, 0], lm[26, 0]), above_eyes)
        lips = (lm[48:68, 1].min(), lm[48:68, 1].max())
        mouth = region_v(flow, origin, (lm[48, 0], lm[54, 0]), lips)
        if clip["emotion"] == "surprise":
            assert brow < min(-0.3, -0.5 * a) and abs(mouth) < 0.15, (clip["filename"], brow, mouth)
        if clip["emotion"] == "happiness":
            for corner in (48, 54):
                x, y = lm[corner]
                assert region_v(flow, origin, (x - 3, x + 4), (y - 3, y + 4)) < -0.4 * a
            assert abs(brow) < 0.15
        if clip["emotion"] == "disgust":
            x, y = lm[21:23].mean(axis=0)
            assert region_v(flow, origin, (x - 3, x + 4), (y - 3, y + 4)) > 0.3 * a
        seen.add(clip["emotion"])
    assert {"surprise", "happiness", "disgust"} <= seen


# --- reading it back ------------------------------------------------------------------------


def test_read_synthetic_goes_through_the_casme2_reader(release: Path, truth: dict) -> None:
    """The table comes from the real reader: fear/sadness dropped in 5class, kept in `all`."""
    listed = [c for c in truth["clips"] if c["in_sheet"]]
    extra = sum(c["emotion"] in ("fear", "sadness") for c in listed)
    before = tree_digest(release)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader warns about the '/' apex, as it should
        five = read_synthetic(release, **SMALL)
        everything = read_synthetic(release, **SMALL, label_set="all")
    assert tree_digest(release) == before, "matching parameters must not regenerate"
    assert len(five) == len(listed) - extra and len(everything) == len(listed)
    assert set(five.rows["label"]) == FIVE
    assert five.subjects == ["sub01", "sub02", "sub03"]
    assert five.provenance["synthetic"]["seed"] == 0
    assert five.provenance["synthetic"]["n_subjects"] == 3
    slash = next(c for c in listed if c["sheet_apex"] == "/")
    row = everything.rows.set_index("clip").loc[slash["filename"]]
    assert row["apex_frame"] == slash["apex"]


@pytest.mark.filterwarnings("ignore:apex")
def test_read_synthetic_generates_then_regenerates_on_new_params(tmp_path: Path) -> None:
    """First use generates; other params regenerate with one warning."""
    root = tmp_path / "fresh"
    tiny = dict(n_subjects=1, clips_per_subject=5, frames_per_clip=(5, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(read_synthetic(root, **tiny, seed=0)) == 5
    with pytest.warns(UserWarning, match="regenerating"):
        table = read_synthetic(root, **tiny, seed=3)
    assert load_ground_truth(root)["params"]["seed"] == 3 and len(table) == 5
    assert not [p.name for p in tmp_path.iterdir() if re.match(r"\.fresh\.(tmp|old)-", p.name)]


@pytest.mark.filterwarnings("ignore:apex")
def test_the_data_config_instantiates_the_reader(tmp_path: Path) -> None:
    """conf/data/synthetic.yaml resolves and its reader target builds a table (lists from YAML)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    data = OmegaConf.load(Path(__file__).parents[1] / "conf" / "data" / "synthetic.yaml")
    cfg = OmegaConf.create({"paths": {"data_dir": str(tmp_path)}, "data": data})
    assert cfg.data.root == str(tmp_path / "synthetic-casme2")
    cfg.data.reader.n_subjects, cfg.data.reader.clips_per_subject = 1, 5
    cfg.data.reader.frames_per_clip = [5, 5]
    table = instantiate(cfg.data.reader)
    assert len(table) == 5 and table.provenance["synthetic"]["frames_per_clip"] == [5, 5]


def test_refuses_a_foreign_folder(tmp_path: Path) -> None:
    """A non-empty folder without synthetic.json may be a real release: never overwritten."""
    foreign = tmp_path / "CASME2"
    (foreign / "CASME2_RAW_selected").mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    for call in (read_synthetic, generate_synthetic):
        with pytest.raises(MerError, match=r"CASME2 is not empty.*synthetic.json.*data.root"):
            call(foreign, n_subjects=1, clips_per_subject=1)
    assert (foreign / "notes.txt").read_text() == "mine"


def _generate_tiny(root: str) -> str:
    """Subprocess body for the concurrency test."""
    tiny = dict(n_subjects=1, clips_per_subject=2, frames_per_clip=(5, 5))
    return str(generate_synthetic(root, **tiny, progress=False))


def test_concurrent_generators_produce_one_release(tmp_path: Path) -> None:
    """Two processes asking for the same release: one writes it, both get it, nothing left over."""
    root = tmp_path / "shared"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_generate_tiny, [str(root)] * 2)
    assert results == [str(root)] * 2
    record = json.loads((root / GROUND_TRUTH_FILE).read_text())
    assert len(record["clips"]) == 3  # two listed + one unlisted folder
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".shared.lock") == ["shared"]
