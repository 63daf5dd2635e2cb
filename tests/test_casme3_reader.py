"""CAS(ME)^3 part A reader on generated releases in the real layout: clips keyed by onset, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mer.data.casme3 import read_casme3
from mer.data.labels import MAPPINGS
from mer.errors import MerError
from mer.synthetic import generate_synthetic, load_ground_truth
from mer.synthetic.layouts import CASME3_SHEET

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "casme3.yaml"
SMALL = dict(n_subjects=3, clips_per_subject=6, frames_per_clip=(5, 7), layout="casme3", progress=False)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic part A release (`spNO.1/b/color/175.jpg`, two clips per video)."""
    return generate_synthetic(tmp_path_factory.mktemp("casme3") / "part_A", **SMALL)


@pytest.fixture(scope="module")
def truth(release: Path) -> dict:
    """The generator's record of the release."""
    return load_ground_truth(release)


def copy_release(release: Path, tmp_path: Path) -> Path:
    """A private copy of the release that a test may break."""
    return Path(shutil.copytree(release, tmp_path / "part_A"))


def edit_sheet(root: Path, row: int, column: int, value: object) -> None:
    """Overwrite one cell (1-based row and column) of the label sheet."""
    book = openpyxl.load_workbook(root / CASME3_SHEET)
    book.active.cell(row=row, column=column, value=value)
    book.save(root / CASME3_SHEET)


def test_clips_keyed_by_video_and_onset(release: Path, truth: dict) -> None:
    """Every sheet row is a clip `spNO.N/<video>_<onset>`; two share each video folder."""
    table = read_casme3(release)
    assert len(table) == len(truth["clips"])
    rows = table.rows.set_index("sample_id")
    for clip in truth["clips"]:
        row = rows.loc[f"casme3/{clip['folder']}/{clip['clip_id']}"]
        assert row["clip_dir"] == f"{clip['folder']}/{clip['filename']}/color"
        assert row["apex_path"] == f"{clip['folder']}/{clip['filename']}/color/{clip['apex']}.jpg"
        assert (row["onset_frame"], row["apex_frame"], row["offset_frame"]) == (
            clip["onset"],
            clip["apex"],
            clip["offset"],
        )
        assert row["label"] == clip["emotion"]
    assert table.rows.groupby(["subject", "clip_dir"]).size().max() == 2


@pytest.mark.parametrize("label_set", ["all", "4class", "composite3"])
def test_label_sets(release: Path, truth: dict, label_set: str) -> None:
    """Each label set maps the sheet's emotions as labels.py says and drops what it maps to None."""
    table = read_casme3(release, label_set=label_set)
    mapping = MAPPINGS["casme3"][label_set]
    expected = [mapping[c["emotion"]] for c in truth["clips"] if mapping[c["emotion"]]]
    assert table.counts()["label"] == {c: expected.count(c) for c in table.classes}


def test_frames_one_level_down(release: Path, tmp_path: Path) -> None:
    """Subject folders may sit in a subfolder of data.root beside the sheet's folder."""
    root = tmp_path / "CASME3"
    shutil.copytree(release, root / "part_A")
    table = read_casme3(root)
    assert table.rows["onset_path"].str.startswith("part_A/spNO.").all()


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    """conf/data/casme3.yaml builds the reader with data.root filled in."""
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    assert len(instantiate(cfg.data.reader)) == len(read_casme3(release))


def test_same_onset_twice_in_a_video(release: Path, tmp_path: Path) -> None:
    """Two rows with the same video and onset would be one clip twice: both rows are named."""
    root = copy_release(release, tmp_path)
    book = openpyxl.load_workbook(root / CASME3_SHEET)
    first = [cell.value for cell in book.active[2]]
    book.active.append(first)
    book.save(root / CASME3_SHEET)
    last = book.active.max_row
    with pytest.raises(MerError, match=rf"rows 2 and {last} both name spNO\.1/a_\d+; delete one"):
        read_casme3(root)


def test_unknown_emotion(release: Path, tmp_path: Path) -> None:
    """An emotion outside the label set's vocabulary names the row and the known labels."""
    root = copy_release(release, tmp_path)
    edit_sheet(root, 3, 8, "contempt")
    with pytest.raises(
        MerError,
        match=r"row 3 \(spNO\.1/.*\): unknown emotion 'contempt'; known "
        r"CAS\(ME\)\^3 labels \(all\): anger, disgust",
    ):
        read_casme3(root)


def test_missing_apex_frame_error_or_drop(release: Path, truth: dict, tmp_path: Path) -> None:
    """A missing apex file stops the read naming the file, or the clip is dropped with a warning."""
    root = copy_release(release, tmp_path)
    clip = truth["clips"][0]
    (root / clip["frames_dir"] / f"{clip['apex']}.jpg").unlink()
    with pytest.raises(MerError, match=rf"apex frame .*color/{clip['apex']}\.jpg does not exist"):
        read_casme3(root)
    with pytest.warns(UserWarning, match="missing onset/apex frames in 1 clip, dropped"):
        table = read_casme3(root, missing_frames="drop")
    assert len(table) == len(truth["clips"]) - 1


def test_no_sheet(release: Path, tmp_path: Path) -> None:
    """Without the label sheet the message names the file looked for."""
    root = copy_release(release, tmp_path)
    (root / CASME3_SHEET).unlink()
    with pytest.raises(
        MerError,
        match=r"no CAS\(ME\)\^3 part A coding sheet in .*looked for "
        r"cas\(me\)3_part_A_ME_label_JpgIndex_v2\.xlsx",
    ):
        read_casme3(root)


def test_no_frames(release: Path, tmp_path: Path) -> None:
    """A sheet without subject folders beside it says what was looked for."""
    root = tmp_path / "sheet_only"
    root.mkdir()
    shutil.copy(release / CASME3_SHEET, root)
    with pytest.raises(MerError, match=r"no CAS\(ME\)\^3 part A frames in .*spNO\.1/"):
        read_casme3(root)
