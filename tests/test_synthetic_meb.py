"""The synthetic release in MMEW's, 4DME's, CASME's and CAS(ME)^2's layouts, read back by their real readers."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import cv2
import pandas as pd
import pytest
from openpyxl import load_workbook

from mer.data.action_units import DATASET_AUS, parse_action_units
from mer.data.samples import SampleTable
from mer.synthetic import generate_synthetic, load_ground_truth, read_synthetic
from mer.synthetic.layouts import LAYOUTS
from mer.synthetic.meb_layouts import (
    CASME1_SECTIONS,
    CASME_SQ_FRAMES_DIR,
    CASME_SQ_SHEET,
    CASME_SQ_SHEETS,
    FOURDME_FRAMES_DIR,
    FOURDME_HEADER,
    FOURDME_SHEET,
    MMEW_FRAMES_DIR,
    MMEW_HEADER,
    MMEW_SHEET,
)
from mer.synthetic.plan import CLASS_AUS, plan_release

SMALL = dict(n_subjects=3, clips_per_subject=6, frames_per_clip=(5, 6))

#: Planned emotion → the label each reader gives it in its `all` label set (CAS(ME)^2: `all` too).
EXPECTED_LABELS: dict[str, dict[str, str]] = {
    "mmew": {
        "happiness": "happiness",
        "disgust": "disgust",
        "repression": "anger",
        "surprise": "surprise",
        "others": "others",
        "fear": "fear",
        "sadness": "sadness",
    },
    "4dme": {
        "happiness": "positive",
        "disgust": "negative",
        "repression": "repression",
        "surprise": "surprise",
        "others": "others",
        "fear": "negative",
        "sadness": "negative",
    },
    "casme1": {
        "happiness": "happiness",
        "disgust": "disgust",
        "repression": "repression",
        "surprise": "surprise",
        "others": "tense",
        "fear": "fear",
        "sadness": "sadness",
    },
    "casme_sq": {
        "happiness": "positive",
        "disgust": "negative",
        "repression": "negative",
        "surprise": "surprise",
        "others": "others",
        "fear": "negative",
        "sadness": "negative",
    },
}
SUBJECTS = {
    "mmew": ["S01", "S02", "S03"],
    "4dme": ["S01", "S02", "S03"],
    "casme1": ["sub01", "sub02", "sub08"],
    "casme_sq": ["s15", "s16", "s19"],
}


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small release per layout (3 subjects × 6 clips), generated once for the module."""
    base = tmp_path_factory.mktemp("meb")
    return {name: generate_synthetic(base / name, **SMALL, layout=name, progress=False) for name in EXPECTED_LABELS}


def read(root: Path, layout: str, **options) -> SampleTable:
    """The release read by its real reader through `read_synthetic` (no regeneration)."""
    return read_synthetic(root, layout=layout, **SMALL, **options)


def planned_clips(truth: dict) -> dict[int, dict]:
    """The plan before the layout renamed it, by each clip's noise seed (a layout keeps it)."""
    return {clip["noise_seed"]: clip for clip in plan_release(truth["params"])["clips"]}


def rows_with_truth(table: SampleTable, truth: dict, key) -> list[tuple[dict, dict, dict]]:
    """(table row, layout's clip, planned clip) per row, the layout's clip found by `key(clip)` = sample id."""
    clips = {key(clip): clip for clip in truth["clips"]}
    planned = planned_clips(truth)
    rows = table.rows.to_dict("records")
    return [(row, clips[row["sample_id"]], planned[clips[row["sample_id"]]["noise_seed"]]) for row in rows]


def planned_aus(clip: dict) -> set[int]:
    """The AU numbers the plan moves for a clip."""
    return {int(au) for au in re.findall(r"\d+", clip["action_units"])}


def check_labels_and_aus(rows: list[tuple[dict, dict, dict]], layout: str, exceptions: dict[str, str]) -> None:
    """Each row's label is its planned emotion's (or a quirk's, by clip), and its AU cell holds the
    planned AUs in the release's notation."""
    for row, clip, plan in rows:
        expected = exceptions.get(row["sample_id"], EXPECTED_LABELS[layout][plan["emotion"]])
        assert row["label"] == expected, (row["sample_id"], plan["emotion"])
        assert row["action_units"] == clip["action_units"]
        if clip["action_units"]:
            assert parse_action_units(row["action_units"]) == planned_aus(plan), row["sample_id"]


def test_planned_aus_cover_each_meb_list_but_4dme_blink() -> None:
    """The plan moves every AU of MEB's per-dataset lists except 4DME's AU45 (blink: no motion for it)."""
    moved = {int(au) for cells in CLASS_AUS.values() for cell in cells for au in re.findall(r"\d+", cell)}
    for dataset, aus in DATASET_AUS.items():
        assert set(aus) - moved == ({45} if dataset == "4dme" else set()), dataset


@pytest.mark.parametrize("layout", list(EXPECTED_LABELS))
def test_sheets_have_stable_bytes(releases: dict[str, Path], layout: str, tmp_path: Path) -> None:
    """Writing a layout's sheets again from the recorded clips gives the same bytes (the cache key's sha256)."""
    release = releases[layout]
    LAYOUTS[layout].write_sheet(tmp_path, load_ground_truth(release)["clips"])
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.xlsx"))
    assert written
    for path in written:
        assert (tmp_path / path).read_bytes() == (release / path).read_bytes(), path


# --- MMEW -----------------------------------------------------------------------------------


def test_mmew_reads_back_with_its_quirks(releases: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    """MMEW: frames 1..n per clip under emotion folders; the first clip's sheet counts frames of the
    original video; one `others` clip filed under `repression/`; seven emotions."""
    root = releases["mmew"]
    truth = load_ground_truth(root)
    sheet = pd.read_excel(root / MMEW_SHEET)
    assert list(sheet.columns) == list(MMEW_HEADER)
    table = read(root, "mmew")
    assert table.provenance["reader"] == "mmew"
    assert len(table) == len(truth["clips"]) == len(sheet) == 18
    assert table.subjects == SUBJECTS["mmew"]
    rows = rows_with_truth(table, truth, lambda c: f"mmew/{c['folder']}/{c['filename']}")
    check_labels_and_aus(rows, "mmew", {})
    assert {"happiness", "surprise", "anger", "disgust", "others"} <= set(table.rows["label"])
    for row, _, plan in rows:
        folder = root / row["clip_dir"]
        numbers = sorted(int(p.stem) for p in folder.iterdir())
        assert numbers == list(range(1, plan["offset"] - plan["onset"] + 2))
        assert (row["onset_frame"], row["apex_frame"]) == (1, plan["apex"] - plan["onset"] + 1)
    absolute = sheet[sheet["OnsetFrame"] > 1]
    assert len(absolute) == 1 and absolute["OnsetFrame"].iloc[0] >= 1000
    counted = f"mmew/S{absolute['Subject'].iloc[0]:02d}/{absolute['Filename'].iloc[0]}"
    assert table.provenance["counted_from_first_frame"] == [counted]
    misfiled = [p for p in (root / MMEW_FRAMES_DIR / "repression").iterdir()]
    assert len(misfiled) == 1
    assert sheet.set_index("Filename").loc[misfiled[0].name, "Estimated Emotion"] == "others"


# --- 4DME -----------------------------------------------------------------------------------


def test_4dme_reads_back_with_its_quirks(releases: dict[str, Path]) -> None:
    """4DME: the `release v1` sheet with tallies and a tally-only row; greyscale frames; a
    `Surprise+Positive` clip, its own class of one; AU cells with `(k)` and L/R prefixes."""
    root = releases["4dme"]
    truth = load_ground_truth(root)
    assert " v1.xlsx" in FOURDME_SHEET and (root / FOURDME_SHEET).is_file()
    sheet = pd.read_excel(root / FOURDME_SHEET)
    assert list(sheet.columns) == list(FOURDME_HEADER)
    assert sheet["sub_ID"].isna().sum() == 1, "one row of tallies only, under the clips"
    table = read(root, "4dme")
    assert table.provenance["reader"] == "4dme"
    assert len(table) == len(truth["clips"]) == 18
    assert table.subjects == SUBJECTS["4dme"]
    combined = [c for c in truth["clips"] if c["emotion"] == "Surprise+Positive"]
    assert len(combined) == 1
    combined_id = f"4dme/{combined[0]['folder']}/{combined[0]['filename']}"
    rows = rows_with_truth(table, truth, lambda c: f"4dme/{c['folder']}/{c['filename']}")
    check_labels_and_aus(rows, "4dme", {combined_id: "surprise+positive"})
    assert "surprise+positive" in table.classes and (table.rows["label"] == "surprise+positive").sum() == 1
    cells = sheet["AUs"].dropna().tolist()
    assert all(cell.startswith("AU") for cell in cells)
    assert any("(k)" in cell for cell in cells)
    assert any(re.search(r"(^AU|\+)[LR]\d", cell) for cell in cells)
    static = next(cell for cell in cells if "(k)" in cell)
    assert parse_action_units(static, "drop") < parse_action_units(static, "keep")
    frame = cv2.imread(str(root / table.rows["onset_path"].iloc[0]), cv2.IMREAD_UNCHANGED)
    assert frame.ndim == 2, "4DME frames are greyscale"
    first = truth["clips"][0]
    folder = root / FOURDME_FRAMES_DIR / first["folder"] / first["filename"]
    assert sorted(p.name for p in folder.iterdir())[0] == f"img{first['onset']}.jpg"
    five = read(root, "4dme", label_set="5class")
    assert len(five) == 17 and "surprise+positive" not in set(five.rows["label"])


# --- CASME (I) ------------------------------------------------------------------------------


def test_casme1_reads_back_with_its_quirks(releases: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    """CASME: both sections, each with its sheet; Section B pads frame numbers to 3 digits; one
    `comtempt`; the plan's '/' apex written in ApexF2 with ApexF1 blank."""
    root = releases["casme1"]
    truth = load_ground_truth(root)
    sheets = {s: pd.read_excel(root / folder / f"Section {s}.xlsx") for s, folder in CASME1_SECTIONS.items()}
    assert set(sheets["A"]["Subject"]) == {1, 2} and set(sheets["B"]["Subject"]) == {8}
    both = pd.concat(sheets.values())
    assert list(both.columns)[3:7] == ["OnsetF", "ApexF1", "ApexF2", "OffsetF"]
    assert (both["Emotion"] == "comtempt").sum() == 1
    with caplog.at_level("INFO", logger="mer.data.casme1"):
        table = read(root, "casme1")
    assert table.provenance["reader"] == "casme1"
    assert len(table) == len(truth["clips"]) == len(both) == 18
    assert table.subjects == SUBJECTS["casme1"]
    misspelt = next(c for c in truth["clips"] if c["emotion"] == "comtempt")
    misspelt_id = f"casme1/{misspelt['folder']}/{misspelt['filename']}"
    rows = rows_with_truth(table, truth, lambda c: f"casme1/{c['folder']}/{c['filename']}")
    check_labels_and_aus(rows, "casme1", {misspelt_id: "contempt"})
    for row, clip, _ in rows:
        names = [p.name for p in (root / row["clip_dir"]).iterdir()]
        digits = r"\d{3}" if clip["section"] == "B" else r"[1-9]\d*"
        assert all(re.fullmatch(rf"{re.escape(clip['filename'])}-{digits}\.jpg", n) for n in names), names
        assert row["apex_frame"] == clip["apex"]
    slash = both[both["ApexF1"].isna()]
    assert len(slash) == 1 and slash["ApexF2"].notna().all()
    assert "apex from ApexF2" in caplog.text


# --- CAS(ME)^2 ------------------------------------------------------------------------------


def casme_sq_id(clip: dict) -> str:
    """A CAS(ME)^2 clip's sample id: the person, the video folder and the onset."""
    return f"casme_sq/{clip['folder']}/{clip['clip_id']}"


def test_casme_sq_reads_back_with_its_quirks(releases: dict[str, Path]) -> None:
    """CAS(ME)^2: three headerless sheets; long videos of several expressions, micro and macro; a
    video in another participant's folder, a misspelt stimulus, an offset 0, an empty AU cell."""
    root = releases["casme_sq"]
    truth = load_ground_truth(root)
    book = load_workbook(root / CASME_SQ_SHEET)
    assert book.sheetnames == list(CASME_SQ_SHEETS)
    intervals = [row for row in book["CASFEcode_final"].iter_rows(values_only=True)]
    assert len(intervals) == len(truth["clips"]) == 18 and isinstance(intervals[0][0], int), "no header row"
    assert {row[7] for row in intervals} == {"micro-expression", "macro-expression"}
    assert sum(row[6] == "others" for row in intervals) >= 1
    assert sum(row[4] == 0 for row in intervals) == 1 and sum(row[5] is None for row in intervals) == 1
    assert all(isinstance(row[0], str) for row in book["naming rule2"].iter_rows(values_only=True)), "codes as text"
    frames = root / CASME_SQ_FRAMES_DIR
    assert (frames / "s15" / "15_0503unnyfarting").is_dir()
    assert [p.relative_to(frames).as_posix() for p in frames.glob("s16/19_*")] == ["s16/19_0401girlcrashing"]
    micro = [c for c in truth["clips"] if c["expression"] == "micro-expression"]
    with pytest.warns(UserWarning, match="leaves out"):
        table = read(root, "casme_sq")
    assert table.provenance["reader"] == "casme_sq"
    assert len(table) == sum(c["emotion"] != "others" for c in micro)
    assert table.subjects == SUBJECTS["casme_sq"]
    everything = read(root, "casme_sq", label_set="all", expression="all")
    assert len(everything) == 18 and set(everything.rows["label"]) == {"negative", "positive", "surprise", "others"}
    rows = rows_with_truth(everything, truth, casme_sq_id)
    check_labels_and_aus(rows, "casme_sq", {})
    for row, clip, _ in rows:
        assert row["clip_dir"].startswith(clip["frames_dir"])
        assert row["offset_frame"] == (clip["apex"] if clip.get("sheet_offset") == 0 else clip["offset"])
    assert sum(row["action_units"] == "" for row, _, _ in rows) == 1
    assert everything.rows["clip_dir"].nunique() < len(everything), "several expressions per video"


# --- configs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(EXPECTED_LABELS))
def test_data_synthetic_reads_each_layout_with_its_default_label_set(releases: dict[str, Path], layout: str) -> None:
    """`data=synthetic data.reader.layout=<layout>` reads with that reader's own default label set
    (the synthetic config's `label_set: null`), not CASME II's 5class, which the others lack."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    data = OmegaConf.load(Path(__file__).parents[1] / "conf" / "data" / "synthetic.yaml")
    cfg = OmegaConf.create({"paths": {"data_dir": "/nowhere"}, "data": data})
    cfg.data.root = str(releases[layout])
    cfg.data.reader.layout = layout
    cfg.data.reader.n_subjects, cfg.data.reader.clips_per_subject = SMALL["n_subjects"], SMALL["clips_per_subject"]
    cfg.data.reader.frames_per_clip = list(SMALL["frames_per_clip"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CAS(ME)^2's 3class counts the others it leaves out
        table = instantiate(cfg.data.reader, _convert_="all")
    default = OmegaConf.load(Path(__file__).parents[1] / "conf" / "data" / f"{layout}.yaml").reader.label_set
    assert table.provenance["reader"] == layout and table.provenance["label_set"] == default


def test_synthetic_meb_joins_the_six_cd6me_sources(tmp_path: Path) -> None:
    """`data=synthetic_meb`: CASME, CASME II, SAMM, 4DME, MMEW and CAS(ME)^3, each a synthetic release in its
    layout read by its reader, joined in MEGC2019's three classes with subjects prefixed by dataset."""
    from hydra import compose, initialize_config_dir

    from mer.config import CONFIG_DIR
    from mer.data import read_samples

    overrides = ["data=synthetic_meb", f"paths.data_dir={tmp_path}", "data.size.n_subjects=2"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("prepare", overrides=[*overrides, "data.size.clips_per_subject=5"])
    sources = ["casme1", "casme2", "samm", "4dme", "mmew", "casme3"]
    assert list(cfg.data.include) == sources
    assert [cfg.data.reader.sources[s].layout for s in sources] == sources
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the readers' notes on the releases' quirks
        table = read_samples(cfg.data)
    assert table.classes == ("negative", "positive", "surprise")
    assert set(table.rows["dataset"]) == set(sources)
    assert all(subject.split("_")[0] in sources for subject in table.subjects)
