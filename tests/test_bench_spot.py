"""`benchmarks/bench_spot.py`: its figures at a tiny size, in this process (the motion pool spawns one worker)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the benchmark scripts import each other as siblings
import bench_spot  # noqa: E402


def test_tiny_run_prints_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """90 frames (3 s of CAS(ME)^2), one repeat: every figure measured, positive, and in the table."""
    argv = ["--frames", "100", "--short-frames", "90", "--repeats", "1", "--data", str(tmp_path)]
    figures = bench_spot.main(argv)
    assert figures["frames"] == 100 and figures["videos"] == 1 and figures["fps"] == 30
    assert figures["frames_per_s_all_cores"] is None  # one video is one process
    for key in ("frames_mb", "frames_per_s_1_worker", "peak_mb_short", "cache_bytes_per_frame", "spot_ms_per_video"):
        assert figures[key] > 0, key
    assert figures["peak_mb_long"] >= figures["peak_mb_short"]  # RUSAGE_CHILDREN keeps the maximum
    assert 24 <= figures["cache_bytes_per_frame"] < 1_000  # a few floats per frame, not a flow field
    assert figures["flow_bytes_per_frame"] == 2 * 112**2 * 2
    assert set(figures["projection"]) == set(bench_spot.RELEASE_FRAMES)
    assert all(p["cache_mb"] > 0 and p["flow_gb"] > 0 for p in figures["projection"].values())
    assert (tmp_path / "casme_sq-1x100").is_dir()  # --data keeps the videos

    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[0] == "| measure | value |" and len(rows) == 1 + 8 + len(bench_spot.RELEASE_FRAMES)
    table = "\n".join(rows)
    assert re.search(r"\| motion stage \(flow \+ signal, .*\), 1 worker, median of 1 \| [\d.]+ frames/s", table)
    assert "not measured: one video is one process" in table
    assert re.search(r"\| motion cache on disk \| [\d.]+ B/frame", table)
    assert re.search(r"\| spotting alone .* \| [\d.]+ ms per video \|", table)
