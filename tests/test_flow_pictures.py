"""Flow pictures: the Middlebury colour wheel, and mer-show's per-class grid of a cache."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import TrainedRuns

from mer.preprocess.cache import load_cache
from mer.preprocess.flow_pictures import DPI, PANEL_INCHES, colour_wheel, figure_title, flow_to_colour, main


def colour_of(u: float, v: float, max_magnitude: float = 1.0) -> tuple[int, ...]:
    """The colour of one flow vector."""
    return tuple(int(c) for c in flow_to_colour(np.array([[u]]), np.array([[v]]), max_magnitude)[0, 0])


def test_the_wheel_has_baker_et_al_segments() -> None:
    wheel = colour_wheel()
    assert wheel.shape == (55, 3)  # RY 15 + YG 6 + GC 4 + CB 11 + BM 13 + MR 6
    starts = {0: (255, 0, 0), 15: (255, 255, 0), 21: (0, 255, 0), 25: (0, 255, 255), 36: (0, 0, 255), 49: (255, 0, 255)}
    for index, rgb in starts.items():
        assert tuple(wheel[index]) == rgb


def test_directions_and_lengths_map_to_documented_colours() -> None:
    assert colour_of(1, 0) == (255, 0, 0)  # rightward: red
    # leftward: halfway round, between steps 2 and 3 of cyan→blue (11 steps)
    assert colour_of(-1, 0) == (0, round(255 * (1 - 2.5 / 11)), 255)
    assert colour_of(0, 1) == (255, round(255 * 13.75 / 15), 0)  # downward (image y): orange-yellow
    assert colour_of(0, -1) == (round(255 * 5.25 / 13), 0, 255)  # upward: violet
    assert colour_of(0, 0) == (255, 255, 255)  # no motion: white
    assert colour_of(0.5, 0) == (255, 128, 128)  # half length: half way to white
    assert colour_of(2, 0) == (191, 0, 0)  # beyond the scale: the hue darkened to 75 %
    # By default a field is scaled to its own longest vector.
    field = flow_to_colour(np.array([[3.0, -1.5]]), np.array([[0.0, 0.0]]))
    assert field.dtype == np.uint8 and field.shape == (1, 2, 3)
    assert tuple(field[0, 0]) == (255, 0, 0) and tuple(field[0, 1]) == (128, 226, 255)


def test_mer_show_draws_one_row_per_class(trained: TrainedRuns, tmp_path: Path, capsys) -> None:
    out = tmp_path / "fig3.png"
    main([str(trained.cache), "--out", str(out), "--per-class", "2"])
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    picture = cv2.imread(str(out))
    # 5 classes; per class 2 × (onset, apex, flow) and the key column.
    assert picture.shape == (round((5 * PANEL_INCHES + 0.5) * DPI), round(7 * PANEL_INCHES * DPI), 3)
    assert picture.std() > 20  # faces and colours, not a blank page


def test_the_title_names_the_release(trained: TrainedRuns) -> None:
    """A cache of a release read with `data=casme2` is casme2's; the synthetic release (which
    `data=synthetic` reads with the same reader) is named as what it is."""
    manifest = load_cache(trained.cache).manifest
    assert figure_title(manifest) == "casme2: aligned onset, apex and onset→apex flow per class"
    synthetic = {**manifest, "provenance": {**manifest["provenance"], "synthetic": {"seed": 0}}}
    assert figure_title(synthetic) == "synthetic-casme2: aligned onset, apex and onset→apex flow per class"


def show_error(path: Path, capsys) -> tuple[int, list[str]]:
    """mer-show on `path`: its exit code and stderr lines."""
    with pytest.raises(SystemExit) as exit_:
        main([str(path)])
    return exit_.value.code, capsys.readouterr().err.splitlines()


def test_mer_show_on_what_is_no_cache_says_what_to_pass(tmp_path: Path, capsys) -> None:
    """An empty folder, a folder of other things, a file: one line saying it is not a mer cache."""
    empty, other, file = tmp_path / "empty", tmp_path / "other", tmp_path / "notes.txt"
    empty.mkdir()
    other.mkdir()
    (other / "flow.png").write_bytes(b"png")
    file.write_text("notes")
    advice = "pass the directory mer-prepare prints as its last line"
    assert show_error(empty, capsys) == (2, [f"error: {empty} is not a mer cache (no manifest.json): {advice}"])
    assert show_error(other, capsys) == (2, [f"error: {other} is not a mer cache (no manifest.json): {advice}"])
    assert show_error(file, capsys) == (2, [f"error: {file} is not a mer cache (not a directory): {advice}"])
