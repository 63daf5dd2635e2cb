"""mer-spot end to end on synthetic long videos: its files, spotting.json against the metric recomputed
from spots.csv, one plot per video and type, and the command line's help and mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_entry_point
from hydra import compose, initialize_config_dir

from mer.config import CONFIG_DIR
from mer.errors import MerError
from mer.evaluate.spotting import read_spots, spotting_scores
from mer.preflight import check_command_line
from mer.spot.app import PLOTS_DIR, SPOTS_CSV, SPOTTING_JSON, read_videos, spot_release

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def compose_spot(tmp_path: Path, *overrides: str):
    """The real mer-spot config on small synthetic long videos under `tmp_path`."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(
            "spot",
            overrides=[
                f"paths.output_dir={tmp_path / 'out'}",
                f"paths.data_dir={tmp_path / 'data'}",
                "data.videos.n_subjects=2",
                "data.videos.videos_per_subject=1",
                "workers=1",
                *overrides,
            ],
        )


@pytest.mark.parametrize(("layout", "frames"), [("casme_sq", 240), ("samm_lv", 600)])  # 8 s and 3 s of video
def test_spotting_writes_its_files_and_the_json_is_the_metric_of_the_csv(
    tmp_path: Path, layout: str, frames: int
) -> None:
    cfg = compose_spot(tmp_path, f"data.videos.layout={layout}", f"data.videos.frames_per_video={frames}")
    videos = read_videos(cfg)
    run = tmp_path / "run"
    scores = spot_release(cfg, videos, run)
    spots = read_spots(run / SPOTS_CSV)
    assert set(spots["video"]) <= set(videos.videos["video"])
    assert json.loads((run / SPOTTING_JSON).read_text()) == scores == spotting_scores(spots, videos.intervals)
    assert scores["overall"]["tp"] + scores["overall"]["fn"] == len(videos.intervals)
    plots = sorted((run / PLOTS_DIR).glob("*.png"))
    assert len(plots) == 2 * len(videos.videos)
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in plots)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data=casme2", "data.root=/x"], r"^data=casme2 has no long videos to spot in: mer-spot reads data=casme_sq"),
        (
            ["data=samm_lv"],
            r"^data.root is not set: give the folder of the samm_lv release, e.g. mer-spot data=samm_lv",
        ),
        (["spot=flowpeaks"], r"^unknown spot 'flowpeaks': did you mean flow_peaks\?"),
        (["spot.pp.micro=0.2"], r"^unknown key spot.pp.micro: did you mean spot.p.micro or spot.p.macro\? \(`mer-spot"),
    ],
)
def test_a_mistake_is_one_line(args: list[str], message: str) -> None:
    with pytest.raises(MerError, match=message):
        check_command_line("spot", args)


@pytest.mark.slow
def test_help_is_mers_page_without_torch_and_a_mistake_exits_2() -> None:
    result = run_entry_point("mer.spot.app", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mer-spot: find micro- and macro-expression intervals")
    assert "torch imported: False" in result.stdout
    result = run_entry_point("mer.spot.app", "data=casme2", "data.root=/x")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: data=casme2 has no long videos to spot in")
