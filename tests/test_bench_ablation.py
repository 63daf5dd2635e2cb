"""`benchmarks/bench_ablation.py`: fold parts, its ledger of commands, and its CPU dry run end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mer.errors import MerError

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the benchmark scripts import each other as siblings
import bench_ablation  # noqa: E402


def test_fold_parts_are_disjoint_consecutive_ranges_covering_every_fold() -> None:
    assert bench_ablation.fold_parts(26, 2) == [list(range(0, 13)), list(range(13, 26))]
    assert bench_ablation.fold_parts(26, 3) == [list(range(0, 9)), list(range(9, 18)), list(range(18, 26))]
    assert bench_ablation.fold_parts(4, 1) == [[0, 1, 2, 3]]
    with pytest.raises(MerError, match=r"--parts 5: choose 1 to 4 \(the dataset has 4 folds\)"):
        bench_ablation.fold_parts(4, 5)


def test_a_part_counts_as_finished_only_when_its_last_command_ran_to_its_end() -> None:
    ledger = {
        "commands": [
            {"part": 1, "returncode": 124},
            {"part": 2, "returncode": 0},
            {"part": 1, "returncode": 0},
            {"part": 2, "returncode": 124},
        ]
    }
    assert bench_ablation.part_finished(ledger, 1)
    assert not bench_ablation.part_finished(ledger, 2)  # cut off when it ran again
    assert not bench_ablation.part_finished(ledger, 3)  # never ran


def test_a_job_belongs_to_the_last_command_started_before_it() -> None:
    commands = [{"part": 1, "start": 100.0}, {"part": 1, "start": 200.0}, {"part": 2, "start": 300.0}]
    assert bench_ablation.command_of({"start": 150.0}, commands) is commands[0]
    assert bench_ablation.command_of({"start": 250.0}, commands) is commands[1]
    assert bench_ablation.command_of({"start": 301.0}, commands) is commands[2]
    assert bench_ablation.command_of({"start": 50.0}, commands) is None


def test_the_ledger_refuses_a_sweep_dir_run_with_other_settings_or_parts(tmp_path: Path) -> None:
    settings, parts = ["experiment=paper_ablation", "trainer.max_epochs=2"], [[0, 1], [2, 3]]
    fresh = bench_ablation.read_ledger(tmp_path, settings, parts)
    assert fresh == {"settings": settings, "parts": parts, "commands": []}
    fresh["commands"].append({"part": 1, "folds": [0, 1], "start": 1.0, "end": 2.0, "returncode": 0})
    bench_ablation.write_ledger(tmp_path, fresh)
    assert bench_ablation.read_ledger(tmp_path, settings, parts) == fresh
    with pytest.raises(MerError, match="run with other settings or parts; give the same flags as before, or --fresh"):
        bench_ablation.read_ledger(tmp_path, settings, [[0, 1, 2, 3]])
    (tmp_path / bench_ablation.LEDGER).write_text("{not json")
    with pytest.raises(MerError, match="not a bench-ablation ledger .*; rerun with --fresh"):
        bench_ablation.read_ledger(tmp_path, settings, parts)


def test_a_part_with_a_failed_job_is_not_done_though_its_command_ended() -> None:
    done = [
        {"overrides": [f"ablation={cell}", f"data.fold={fold}"], "metrics": {"accuracy": 0.5}}
        for cell in bench_ablation.CELLS
        for fold in (0, 1)
    ]
    failed = {"overrides": ["ablation=uv_hinge", "data.fold=2"], "metrics": None}
    missing = bench_ablation.unfinished_jobs([*done, failed], [0, 1, 2])
    assert missing == [f"{cell} fold 2" for cell in bench_ablation.CELLS]
    assert bench_ablation.unfinished_jobs([*done, failed], [1]) == []
    ran = {"commands": [{"part": 1, "returncode": 0}, {"part": 2, "returncode": 0}]}
    assert bench_ablation.part_done(ran, 1, [0, 1], [*done, failed])
    assert not bench_ablation.part_done(ran, 2, [2], [*done, failed])  # its command ended, a job failed


@pytest.mark.slow
def test_small_dry_run_resumes_over_two_invocations_then_reports(tmp_path: Path) -> None:
    """Part 2 alone, then the script again: it runs part 1 only, adds up both commands' wall
    clocks and the report's, and mer-predict on the CPU matches a job's predictions.csv. Packed
    (each cell's folds as one network): the GPU command's path, and the quickest on a CPU."""
    script = [sys.executable, str(BENCHMARKS / "bench_ablation.py"), "--small", "--packed", f"--out={tmp_path}"]
    first = subprocess.run([*script, "--part", "2"], capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Not finished: 10 of 15 jobs (apex_hinge fold 0, " in first.stdout
    assert "in part(s) 1. No figure yet" in first.stdout
    second = subprocess.run(script, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "part 2: every job already finished" in second.stdout
    assert "== part 1: folds 0–1 (10 jobs)" in second.stdout and "== part 2:" not in second.stdout

    ledger = json.loads((tmp_path / "ablation-48px-2ep-packed" / bench_ablation.LEDGER).read_text())
    assert [(c["part"], c["folds"], c["returncode"]) for c in ledger["commands"]] == [(2, [2], 0), (1, [0, 1], 0)]
    rows = [line for line in second.stdout.splitlines() if re.match(r"\| [12] \| \w+ fold \d \|", line)]
    assert len(rows) == 15 and all(row.split(" | ")[5] == "0" for row in rows)  # every job exited 0
    figure = re.search(
        r"Whole ablation, 5 cells × 3 folds = 15 jobs, 48², 2 epochs, packed folds: "
        r"([\d.]+) s = [\d.]+ min from the commands' starts to the report: "
        r"([\d.]+) s \(part 2\) \+ ([\d.]+) s \(part 1\), then mer-report ([\d.]+) s",
        second.stdout,
    )
    assert figure, second.stdout[-3000:]
    total, *summands = map(float, figure.groups())
    walls = [c["end"] - c["start"] for c in ledger["commands"]]
    assert summands[:2] == pytest.approx(walls, abs=0.051)
    assert total == pytest.approx(sum(summands), abs=0.2)
    assert "head=hinge, input=uv" in second.stdout  # mer-report's pooled table (wrapped at commas)
    assert re.search(
        r"mer-predict: (\w+), predictions.csv: \1; largest score difference \S+ "
        r"\(allowed 0.001\): ok",
        second.stdout,
    )
