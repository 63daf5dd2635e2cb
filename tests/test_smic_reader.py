"""SMIC-HS reader on generated releases in the real layout: label folders, non_micro, apex, errors."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mer.data.smic import read_smic
from mer.errors import MerError
from mer.synthetic import generate_synthetic, load_ground_truth

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "smic.yaml"
SMALL = dict(n_subjects=3, clips_per_subject=6, frames_per_clip=(5, 7), layout="smic", progress=False)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic SMIC-HS release (`SMIC_all_raw/HS/sN/micro/<label>/<clip>/imageN.bmp`)."""
    return generate_synthetic(tmp_path_factory.mktemp("smic") / "SMIC", **SMALL)


def copy_release(release: Path, tmp_path: Path) -> Path:
    """A private copy of the release that a test may break."""
    return Path(shutil.copytree(release, tmp_path / "SMIC"))


def hs(root: Path) -> Path:
    """The release's HS folder."""
    return root / "SMIC_all_raw" / "HS"


def test_labels_from_folders_non_micro_skipped_apex_is_middle(release: Path) -> None:
    """Every micro clip is read with its folder's label; onset/offset first/last, apex middle."""
    truth = load_ground_truth(release)
    micro = [c for c in truth["clips"] if c["emotion"] != "non_micro"]
    table = read_smic(release)
    assert table.classes == ("negative", "positive", "surprise")
    assert len(table) == len(micro)
    rows = table.rows.set_index("sample_id")
    for clip in micro:
        row = rows.loc[f"smic/{clip['folder']}/{clip['filename']}"]
        assert row["label"] == row["emotion"] == clip["emotion"]
        assert (row["onset_frame"], row["apex_frame"], row["offset_frame"]) == (
            clip["onset"],
            clip["apex"],
            clip["offset"],
        )
        assert row["onset_path"] == f"{clip['frames_dir']}/image{clip['onset']:06d}.bmp"
    skipped = sum(c["emotion"] == "non_micro" for c in truth["clips"])
    assert skipped > 0 and table.provenance["non_micro_skipped"] == skipped
    assert table.counts()["label"] == {label: sum(c["emotion"] == label for c in micro) for label in table.classes}


@pytest.mark.parametrize("position, expected", [(0.0, "onset"), (1.0, "offset")])
def test_apex_position_is_configurable(release: Path, position: float, expected: str) -> None:
    """apex_position=0 puts the apex on the first frame, 1 on the last."""
    rows = read_smic(release, apex_position=position).rows
    assert (rows["apex_frame"] == rows[f"{expected}_frame"]).all()


def test_root_may_be_the_hs_folder(release: Path) -> None:
    """data.root may point at HS/ itself; paths are then relative to it."""
    table = read_smic(hs(release))
    assert len(table) == len(read_smic(release))
    assert table.rows["onset_path"].iloc[0].startswith("s1/micro/")


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    """conf/data/smic.yaml builds the reader with data.root filled in."""
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    table = instantiate(cfg.data.reader, _convert_="all")
    assert table.dataset == "smic" and len(table) == len(read_smic(release))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"apex_position": 1.5}, r"data\.reader\.apex_position=1\.5: .* in \[0, 1\]"),
        ({"label_set": "5class"}, r"unknown label set '5class' for smic: choose one of \['all', 'composite3'\]"),
        ({"missing_frames": "skip"}, r"unknown data\.reader\.missing_frames='skip': choose one of error, drop"),
    ],
)
def test_bad_options(release: Path, options: dict, message: str) -> None:
    """A bad option value is one message naming the key and the choices."""
    with pytest.raises(MerError, match=message):
        read_smic(release, **options)


def test_unknown_label_folder(release: Path, tmp_path: Path) -> None:
    """A label folder SMIC does not have is named, with the known labels."""
    root = copy_release(release, tmp_path)
    (hs(root) / "s1" / "micro" / "negative").rename(hs(root) / "s1" / "micro" / "anger")
    with pytest.raises(
        MerError,
        match=r"s1/micro/anger: unknown SMIC-HS label folder 'anger'; "
        r"the labels are negative, positive, surprise",
    ):
        read_smic(root)


def test_clip_with_one_frame_error_or_drop(release: Path, tmp_path: Path) -> None:
    """A clip folder with fewer than two frames stops the read, or is dropped with a warning."""
    root = copy_release(release, tmp_path)
    clip = hs(root) / "s2" / "micro" / "positive" / "s2_po_01"
    for frame in sorted(clip.iterdir())[1:]:
        frame.unlink()
    with pytest.raises(MerError, match=r"s2_po_01 holds 1 frame\(s\); a clip needs at least two"):
        read_smic(root)
    with pytest.warns(UserWarning, match=r"fewer than 2 frames, dropped: .*s2_po_01 \(1\)"):
        table = read_smic(root, missing_frames="drop")
    assert "smic/s2/s2_po_01" not in set(table.rows["sample_id"])
    assert {"sample_id": "smic/s2/s2_po_01", "reason": "1 frame(s)"} in table.provenance["dropped"]


def test_valid_release_warns_nothing(release: Path) -> None:
    """A clean release reads without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_smic(release)


def test_no_hs_folder(tmp_path: Path) -> None:
    """A root without HS clips says where it looked."""
    (tmp_path / "other").mkdir()
    with pytest.raises(MerError, match=r"no SMIC-HS clips in .*: looked for SMIC_all_raw/HS/"):
        read_smic(tmp_path)


def test_root_that_does_not_exist(tmp_path: Path) -> None:
    """A wrong data.root is one message naming it."""
    with pytest.raises(MerError, match=r"SMIC-HS root .*nowhere does not exist .*\(data\.root\)"):
        read_smic(tmp_path / "nowhere")
