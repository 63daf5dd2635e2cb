"""mer-report on fake sweeps in the exact run-dir contract: pooled scores, seeds, McNemar, files, CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.image import imread
from rich.console import Console
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from mer.errors import MerError
from mer.evaluate.report import build_report
from mer.evaluate.report_command import main, push_to_wandb
from mer.evaluate.scores import mcnemar
from mer.evaluate.statistics import Bootstrap, paired_bootstrap, subject_bootstrap
from mer.evaluate.sweep_runs import collect_runs
from mer.evaluate.tables import CONFIGURATIONS, METHODS, TERMINAL, markdown_lines, rich_table

CLASSES = ["happiness", "disgust", "repression", "surprise", "others"]
FOLDS = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MER_REPORT = str(Path(sys.executable).parent / "mer-report")


def fold_samples(fold: int) -> pd.DataFrame:
    """The held-out subject's samples (fixed per fold, like a real dataset); fold 2 has no surprise."""
    rng = np.random.default_rng(100 + fold)
    labels = [c for c in CLASSES if not (fold == 2 and c == "surprise")]
    subject = f"sub{fold + 1:02d}"
    n = 6 + fold
    return pd.DataFrame(
        {
            "sample_id": [f"casme2/{subject}/EP{i:02d}" for i in range(n)],
            "subject": subject,
            "label": rng.choice(labels, size=n),
        }
    )


def write_job(
    sweep: Path,
    dataset: str,
    input_name: str,
    head: str,
    fold: int,
    seed: int = 0,
    finished: bool = True,
    name: str | None = None,
    extra: tuple[str, ...] = (),
    hit: float = 0.5,
    cache: Path | None = None,
    root: str = "${paths.data_dir}/x",
    cwd: Path | None = None,
) -> Path:
    """One job dir exactly as mer-train writes it (or, unfinished, only `.hydra/` and failed.txt);
    `extra` overrides, predictions right with probability `hit`, the cache named in metrics.json,
    `data.root` as the config holds it, and the directory it ran in in Hydra's record (`cwd`)."""
    overrides = [f"data.fold={fold}", "folds=all", f"input={input_name}", f"head={head}", f"seed={seed}", *extra]
    job = sweep / (name or ",".join(sorted(overrides)))
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    config = {
        "data": {"fold": fold, "test_subject": None, "name": dataset, "root": root},
        "seed": seed,
        "input": {"name": input_name, "channels": list(input_name)},
        "head": {"name": head},
    }
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if cwd is not None:
        (job / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"cwd": str(cwd)}}}))
    if not finished:
        (job / "failed.txt").write_text("RuntimeError: CUDA out of memory\ntraceback...\n")
        return job
    table = fold_samples(fold)
    rng = np.random.default_rng(zlib.crc32(f"{input_name}-{head}-{fold}-{seed}-{extra}".encode()))
    keep = rng.random(len(table)) < hit
    table["pred"] = np.where(keep, table["label"], rng.choice(CLASSES, size=len(table)))
    for c in CLASSES:
        table[f"score_{c}"] = rng.standard_normal(len(table))
    table.to_csv(job / "predictions.csv", index=False)
    (job / "metrics.json").write_text(
        json.dumps(
            {
                "accuracy": 0.0,
                "uf1": 0.0,
                "uar": 0.0,
                "n": len(table),
                "test_subject": table["subject"][0],
                "input": input_name,
                "head": head,
                **({"cache": str(cache)} if cache else {}),
            }
        )
    )
    return job


def concatenated(sweep: Path, input_name: str, head: str, seed: int = 0) -> pd.DataFrame:
    """What the report must pool: every finished job's predictions of one configuration and seed."""
    tables = [
        pd.read_csv(d / "predictions.csv")
        for d in sorted(sweep.iterdir())
        if (d / "predictions.csv").is_file()
        and f"input={input_name}," in d.name
        and f"head={head}," in d.name
        and d.name.endswith(f"seed={seed}")
    ]
    return pd.concat(tables, ignore_index=True)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """4 folds × inputs apex, uv × heads softmax, hinge (synthetic); uv/softmax lacks fold 3,
    apex/hinge fold 3 failed."""
    root = tmp_path_factory.mktemp("sweep")
    for input_name in ("apex", "uv"):
        for head in ("softmax", "hinge"):
            for fold in range(FOLDS):
                if (input_name, head, fold) == ("uv", "softmax", 3):
                    continue
                write_job(
                    root, "synthetic", input_name, head, fold, finished=(input_name, head, fold) != ("apex", "hinge", 3)
                )
    return root


@pytest.fixture(scope="module")
def report(sweep: Path, tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """The report of `sweep`, written to a separate dir."""
    out = tmp_path_factory.mktemp("report")
    return build_report(sweep, out).report, out


def row(report: pd.DataFrame, input_name: str, head: str) -> pd.Series:
    """One configuration's report.csv row."""
    return report[(report["input"] == input_name) & (report["head"] == head)].iloc[0]


def test_pooled_metrics_match_sklearn(sweep, report):
    frame, out = report
    written = pd.read_csv(out / "report.csv")
    assert len(written) == 4 and set(written["dataset"]) == {"synthetic"}
    for input_name in ("apex", "uv"):
        for head in ("softmax", "hinge"):
            p = concatenated(sweep, input_name, head)
            r = row(written, input_name, head)
            assert r["n_samples"] == len(p)
            assert r["accuracy"] == pytest.approx(accuracy_score(p["label"], p["pred"]))
            assert r["uf1"] == pytest.approx(f1_score(p["label"], p["pred"], average="macro"))
            assert r["uar"] == pytest.approx(balanced_accuracy_score(p["label"], p["pred"]))


def test_per_fold_mean_is_labelled_and_not_the_pooled_score(sweep, report):
    frame, out = report
    r = row(frame, "apex", "softmax")
    per_fold = [
        accuracy_score(t["label"], t["pred"]) for _, t in concatenated(sweep, "apex", "softmax").groupby("subject")
    ]
    assert r["n_folds"] == FOLDS
    assert r["per_fold_mean_accuracy"] == pytest.approx(np.mean(per_fold))
    assert r["per_fold_std_accuracy"] == pytest.approx(np.std(per_fold, ddof=1))
    assert r["per_fold_mean_accuracy"] != pytest.approx(r["accuracy"])
    assert "per-fold mean accuracy % ± std" in (out / "report.md").read_text()


def test_missing_fold_and_failed_job_are_listed(report):
    frame, out = report
    assert row(frame, "uv", "softmax")["missing_folds"] == "3"
    assert row(frame, "apex", "hinge")["missing_folds"] == "3"
    failed = row(frame, "apex", "hinge")["failed_jobs"]
    assert "data.fold=3" in failed and "input=apex" in failed
    assert row(frame, "uv", "hinge")["missing_folds"] == ""
    md = (out / "report.md").read_text()
    assert "## Failed or unfinished jobs" in md and "CUDA out of memory" in md and failed in md


def test_markdown_has_paper_numbers_and_synthetic_warning(report):
    md = (report[1] / "report.md").read_text()
    assert "53.01 / 0.5231" in md and "34.54 / 0.2384" in md and "38.55 / 0.3360" in md
    assert "synthetic data: proves the pipeline; these are NOT the paper's numbers" in md
    assert "Table 2 style" in md and "Table 3 style" in md and "extension" in md
    assert "paper % correct" in md and "64.29" in md  # Table 5 beside uv + hinge


def test_confusion_pngs_are_valid_and_linked(report):
    out = report[1]
    pngs = sorted((out / "confusion").glob("*.png"))
    assert len(pngs) == 4
    md = (out / "report.md").read_text()
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_SIGNATURE
        image = imread(png)
        assert image.ndim == 3 and image.shape[0] > 100
        assert f"](confusion/{png.name})" in md


def test_samples_csv_is_the_union(sweep, report):
    samples = pd.read_csv(report[1] / "samples.csv")
    expected = pd.concat([fold_samples(f) for f in range(FOLDS)])
    assert list(samples.columns) == ["sample_id", "subject", "label"]
    assert set(samples["sample_id"]) == set(expected["sample_id"])
    assert "configurations differ in their sample sets" in (report[1] / "report.md").read_text()


def test_mcnemar_against_hand_count_and_scipy():
    a = np.array([1] * 7 + [0] * 2 + [1] * 5 + [0] * 3, dtype=bool)
    b = np.array([0] * 7 + [1] * 2 + [1] * 5 + [0] * 3, dtype=bool)
    result = mcnemar(a, b)
    # b = 7, c = 2: two-sided exact p = 2 · P(X ≤ 2), X ~ Bin(9, 1/2) = 2 · (1 + 9 + 36) / 512.
    assert (result["n"], result["b"], result["c"]) == (17, 7, 2)
    assert result["p"] == pytest.approx(2 * 46 / 512)
    assert result["p"] == pytest.approx(binomtest(7, 9, 0.5).pvalue)
    assert mcnemar([True, False], [True, False]) == {"n": 2, "b": 0, "c": 0, "p": 1.0}


def test_report_mcnemar_pairs_heads_on_the_same_samples(sweep, report):
    soft, hinge = concatenated(sweep, "apex", "softmax"), concatenated(sweep, "apex", "hinge")
    both = soft.merge(hinge, on="sample_id")
    right_soft, right_hinge = both["pred_x"] == both["label_x"], both["pred_y"] == both["label_y"]
    b, c = int((right_soft & ~right_hinge).sum()), int((~right_soft & right_hinge).sum())
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    md = (report[1] / "report.md").read_text()
    assert f"| synthetic | apex | — | 0 | softmax | hinge | {len(both)} |" in md
    assert f"| {b} | {c} | {p:.4f} |" in md


def test_every_configuration_has_subject_bootstrap_intervals(sweep, report, capsys):
    frame, out = report
    written = pd.read_csv(out / "report.csv")
    for input_name, head in (("apex", "softmax"), ("uv", "hinge")):
        r = row(written, input_name, head)
        ci = subject_bootstrap(concatenated(sweep, input_name, head).assign(seed=0), CLASSES)
        for metric in ("accuracy", "uf1", "uar"):
            assert (r[f"{metric}_ci_low"], r[f"{metric}_ci_high"]) == pytest.approx(ci[metric])
            assert r[f"{metric}_ci_low"] <= r[metric] <= r[f"{metric}_ci_high"]
    r = row(written, "uv", "hinge")
    cell = f"{100 * r['accuracy']:.2f} [{100 * r['accuracy_ci_low']:.2f}, {100 * r['accuracy_ci_high']:.2f}]"
    md = (out / "report.md").read_text()
    assert cell in md and "95 % subject-level bootstrap interval" in md and "2000 times (seed 0)" in md
    main([str(sweep), "--out", str(out / "cli"), "--bootstrap", "500", "--bootstrap-seed", "4", "--confidence", "0.9"])
    said = capsys.readouterr().out
    again = row(pd.read_csv(out / "cli" / "report.csv"), "uv", "hinge")
    ci = subject_bootstrap(concatenated(sweep, "uv", "hinge").assign(seed=0), CLASSES, Bootstrap(500, 0.9, seed=4))
    assert (again["uf1_ci_low"], again["uf1_ci_high"]) == pytest.approx(ci["uf1"])
    assert f"{again['uf1']:.4f} [{again['uf1_ci_low']:.4f}, {again['uf1_ci_high']:.4f}]" in said
    assert "with its 90 % subject-bootstrap interval in brackets" in (out / "cli" / "report.md").read_text()


def test_head_pairs_show_the_paired_interval_beside_mcnemar(sweep, report):
    soft, hinge = concatenated(sweep, "uv", "softmax"), concatenated(sweep, "uv", "hinge")
    both = soft.merge(hinge, on="sample_id")
    base = both[["sample_id"]].assign(seed=0, subject=both["subject_x"])
    diff = paired_bootstrap(
        base.assign(label=both["label_x"], pred=both["pred_x"]),
        base.assign(label=both["label_y"], pred=both["pred_y"]),
        CLASSES,
    )
    d, low, high = (100 * v for v in diff["accuracy"])
    assert f"| {d:+.2f} [{low:+.2f}, {high:+.2f}] |" in (report[1] / "report.md").read_text()


def test_sensitivity_table_against_the_paper_recipe(tmp_path, capsys):
    settings = {"paper": 0.5, "hinge_p2": 0.5, "epochs_50": 0.95}
    for setting, hit in settings.items():
        for seed in (0, 1):
            for fold in range(FOLDS):
                write_job(
                    tmp_path, "casme2", "uv", "hinge", fold, seed=seed, hit=hit, extra=(f"sensitivity={setting}",)
                )
    main([str(tmp_path), "--out", str(tmp_path / "out"), "--bootstrap", "300"])
    said = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "out" / "report_sensitivity.csv")
    assert list(table["setting"]) == ["paper", "epochs_50", "hinge_p2"]  # the reference first
    better = table.set_index("setting").loc["epochs_50"]
    assert better["accuracy_diff"] > 0.2 and better["accuracy_diff_ci_low"] > 0  # a real effect: CI off 0
    assert pd.isna(table.set_index("setting").loc["paper", "accuracy_diff"])
    paper_row = table.set_index("setting").loc["paper"]
    report = pd.read_csv(tmp_path / "out" / "report.csv")
    assert paper_row["accuracy"] == pytest.approx(
        report[report["configuration"].str.contains("sensitivity=paper")]["accuracy"].iloc[0]
    )
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Sensitivity: the choices the paper leaves open" in md and "| `epochs_50` |" in md
    assert "sensitivity: one open choice changed at a time" in said and "reference" in said


def test_report_repeats_the_caches_data_checks(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    rows = [{"what": "surprise", "paper": 28, "ours": 25}, {"what": "clips", "paper": 249, "ours": 246}]
    (cache / "manifest.json").write_text(
        json.dumps(
            {
                "dataset": "casme2",
                "paper_counts": {"sheet": "CASME2-coding-20140508.xlsx", "rows": rows, "differ": True},
                "degenerate": [{"sample_id": "casme2/sub04/EP12_01f", "why": "flow is zero everywhere"}],
            }
        )
    )
    for fold in range(2):
        write_job(tmp_path / "sweep", "casme2", "uv", "hinge", fold, cache=cache)
    build_report(tmp_path / "sweep")
    md = (tmp_path / "sweep" / "report.md").read_text()
    assert "**Data check (casme2): the counts differ from the paper's** (`CASME2-coding-20140508.xlsx` read)" in md
    assert "| surprise | 28 | 25 | -3 |" in md and "| clips | 249 | 246 | -3 |" in md
    assert "`casme2/sub04/EP12_01f` (flow is zero everywhere)" in md
    shutil.rmtree(cache)
    build_report(tmp_path / "sweep")
    assert (
        "Not shown: the cache these runs trained on is not readable here"
        in (tmp_path / "sweep" / "report.md").read_text()
    )


def test_a_partial_sweep_says_so_and_is_not_compared_with_the_paper(tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()  # the cache's manifest knows the dataset's 4 subjects; only 2 folds ran
    (cache / "manifest.json").write_text(
        json.dumps({"dataset": "casme2", "counts": {"subject": {f"sub{i:02d}": 6 for i in range(1, FOLDS + 1)}}})
    )
    for fold in (0, 1):
        for head in ("softmax", "hinge"):
            write_job(tmp_path / "sweep", "casme2", "uv", head, fold, cache=cache)
    main([str(tmp_path / "sweep"), "--bootstrap", "100"])
    said = capsys.readouterr().out
    report = pd.read_csv(tmp_path / "sweep" / "report.csv")
    assert list(report["complete"]) == [False, False] and set(report["missing_folds"]) == {"2, 3"}
    assert set(report["n_subjects_covered"]) == {2} and set(report["n_subjects_tested"]) == {FOLDS}
    md = (tmp_path / "sweep" / "report.md").read_text()
    assert (
        "> **Partial sweep: `head=softmax,input=uv` covers 2 of 4 subjects; `head=hinge,input=uv` covers 2 "
        "of 4 subjects.**"
    ) in md
    assert "| u + v | " in md and "| not comparable: 2 of 4 subjects |" in md and "53.01 / 0.5231" not in md
    assert "pooled over the folds that ran" in md and "pooled over all folds" not in md
    assert "2 of 4" in said and "partial sweep:" in said
    # The other two folds complete it: no banner, the paper's numbers beside ours.
    for fold in (2, 3):
        for head in ("softmax", "hinge"):
            write_job(tmp_path / "sweep", "casme2", "uv", head, fold, cache=cache)
    report = build_report(tmp_path / "sweep").report
    assert list(report["complete"]) == [True, True] and set(report["missing_folds"]) == {""}
    md = (tmp_path / "sweep" / "report.md").read_text()
    assert "Partial sweep" not in md and "53.01 / 0.5231" in md


def test_seeds_give_mean_and_std_of_pooled_scores(tmp_path):
    for seed in (0, 1, 2):
        for fold in range(FOLDS):
            write_job(tmp_path, "casme2", "uv", "hinge", fold, seed=seed)
    frame = build_report(tmp_path, tmp_path / "out").report
    pooled = [
        accuracy_score(p["label"], p["pred"]) for p in (concatenated(tmp_path, "uv", "hinge", s) for s in (0, 1, 2))
    ]
    r = frame.iloc[0]
    assert (r["n_seeds"], r["n_folds"], r["missing_folds"]) == (3, FOLDS, "")
    assert r["accuracy"] == pytest.approx(np.mean(pooled))
    assert r["accuracy_seed_std"] == pytest.approx(np.std(pooled, ddof=1))
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"{100 * np.mean(pooled):.2f} ± {100 * np.std(pooled, ddof=1):.2f}" in md
    assert "NOT the paper's numbers" not in md


def test_markdown_and_terminal_render_one_description_alike():
    """The methods table's one description: report.md and the terminal show the same headers and
    cells; report.md alone puts names in backticks and adds the columns the terminal has no room
    for (each model's preset input and sizes, the subjects), where the terminal shortens a header."""
    row = {"dataset": "casme2", "model": "ststnet", "recipe": "", "head": "hinge", "input": "uvs", "size": 224}
    row |= {"input_size": 28, "n_seeds": 1, "n_parameters": 2485, "fit_s_median": 12.34}
    row |= {"n_subjects_covered": 2, "n_subjects_tested": 4}
    for metric, values in {"accuracy": (0.6, 0.5, 0.7), "uf1": (0.55, 0.4, 0.65), "uar": (0.52, 0.41, 0.63)}.items():
        row |= dict(zip((metric, f"{metric}_ci_low", f"{metric}_ci_high"), values))
    methods = pd.DataFrame([row])
    scores = ["accuracy % [CI]", "UF1 [CI]", "UAR [CI]"]
    cells = ["60.00 [50.00, 70.00]", "0.5500 [0.4000, 0.6500]", "0.5200 [0.4100, 0.6300]"]
    terminal = rich_table(METHODS, methods, confidence="90")
    assert [column.header.plain for column in terminal.columns] == [
        *("dataset", "model", "recipe", "head"),
        *scores,
        *("params", "training time per job"),
    ]
    assert [[cell.plain for cell in column.cells] for column in terminal.columns] == [
        [cell] for cell in ["casme2", "ststnet", "defaults", "hinge", *cells, "2,485", "12.3 s"]
    ]
    header, rule, line = markdown_lines(METHODS, methods)
    headers = ["dataset", "model", "recipe", "head", "input", "flow → network size", *scores, "parameters"]
    assert header == "| " + " | ".join([*headers, "training time per job", "subjects"]) + " |"
    assert rule == "|" + "---|" * 12
    code = ["casme2", "`ststnet`", "`defaults`", "`hinge`", "uvs", "224² → 28²", *cells, "2,485", "12.3 s"]
    assert line == "| " + " | ".join([*code, "2 of 4 subjects"]) + " |"
    console = Console(record=True, width=200)
    console.print(terminal)  # the title's "[...]" is shown, not read as rich markup
    assert "(pooled, [90 % subject-bootstrap interval])" in console.export_text()


def printed_words(printed: str) -> list[list[list[str]]]:
    """The words of a printed rich table as a reader reads them, row by row (the header first),
    column by column: each cell's lines joined, so a word broken across two lines reads as two."""
    rows: list[list[list[str]]] = []
    header = True
    for line in printed.splitlines():
        if line[:1] not in ("┃", "│"):
            continue
        cells = re.split("[┃│]", line)[1:-1]
        starts_a_row = line[0] == "│" and (header or cells[0].strip())  # the first column is never empty
        if not rows or starts_a_row:
            rows.append([[] for _ in cells])
            header = header and line[0] == "┃"
        for words, cell in zip(rows[-1], cells):
            words += cell.split()
    return rows


def test_the_terminal_table_fits_100_columns_without_breaking_a_word(tmp_path):
    """mer-report's table in a 100-column terminal: every line fits, a configuration wraps after its
    commas, and no header, dataset or score word is broken across lines."""
    for fold in range(2):
        write_job(tmp_path, "synthetic", "apex", "softmax", fold)
        write_job(tmp_path, "synthetic", "uv", "hinge", fold, extra=("model.width_mult=0.5", "recipe=paper"))
    data = build_report(tmp_path, tmp_path / "out", Bootstrap(200))
    console = Console(width=100, record=True)
    console.print(rich_table(CONFIGURATIONS, data.report, confidence=data.confidence))
    printed = console.export_text()
    assert max(len(line) for line in printed.splitlines()) <= 100
    header, *rows = printed_words(printed)
    columns = CONFIGURATIONS.shown_in(TERMINAL)
    assert header == [(column.terminal_header or column.header).split() for column in columns]
    assert header[4] == ["accuracy", "%", "[CI]"]
    assert [words[:2] for words in rows] == [
        [["synthetic"], ["head=softmax,", "input=apex"]],
        [["synthetic"], ["head=hinge,", "input=uv,", "model.width_mult=0.5,", "recipe=paper"]],
    ]
    assert rows == [[column.terminal_cell(row).split() for column in columns] for _, row in data.report.iterrows()]
    assert "per-fold mean accuracy % ± std" in (tmp_path / "out" / "report.md").read_text()  # report.md keeps it


def test_single_runs_on_different_data_roots_are_different_configurations(tmp_path):
    """A folder of single runs (`outputs/train`): runs of one dataset on two releases are two rows,
    each named by its root; a relative root reads from where its run ran."""
    train = tmp_path / "train"
    for fold in range(2):
        write_job(train, "casme2", "uv", "hinge", fold, name=f"2024-05-0{fold + 1}_10-00-00", root="/data/CASME2")
        write_job(train, "casme2", "uv", "hinge", fold, name=f"2024-05-0{fold + 1}_11-00-00", root="/data/v2")
    write_job(train, "casme2", "uv", "softmax", 0, name="2024-05-03_10-00-00", root="CASME2", cwd=Path("/data"))
    report = build_report(train, tmp_path / "out", Bootstrap(100)).report
    assert list(report["configuration"]) == [
        "data.root=/data/CASME2,head=softmax,input=uv",
        "data.root=/data/CASME2,head=hinge,input=uv",
        "data.root=/data/v2,head=hinge,input=uv",
    ]
    assert list(report["n_folds"]) == [1, 2, 2] and list(report["n_samples"]) == [6, 13, 13]
    # Runs that all read one release are named as a sweep's jobs are, without their root.
    assert set(collect_runs(train / "2024-05-01_10-00-00")["configuration"]) == {"head=hinge,input=uv"}


def test_of_a_repeated_run_the_newest_finished_one_is_kept_and_the_rest_set_aside(tmp_path):
    """The same configuration, fold and seed run three times (two finished, the newest failed): the
    newer finished run is reported, and each other run is named in a warning of its own."""
    old = write_job(tmp_path, "casme2", "uv", "hinge", 0, name="2024-05-01_10-00-00", root="/data/CASME2")
    new = write_job(tmp_path, "casme2", "uv", "hinge", 0, name="2024-05-01_11-00-00", root="/data/CASME2", hit=0.9)
    broken = write_job(
        tmp_path, "casme2", "uv", "hinge", 0, name="2024-05-01_12-00-00", root="/data/CASME2", finished=False
    )
    for written, hours in (
        (old / "metrics.json", 3),
        (new / "metrics.json", 2),
        (broken / ".hydra" / "config.yaml", 1),
    ):
        os.utime(written, (0, time.time() - 3600 * hours))
    with pytest.warns(UserWarning) as caught:
        data = build_report(tmp_path, tmp_path / "out", Bootstrap(100))
    assert [str(w.message) for w in caught] == [
        f"head=hinge,input=uv fold 0 seed 0 ran 3 times: kept {new.name} (newer), set aside {old.name}",
        f"head=hinge,input=uv fold 0 seed 0 ran 3 times: kept {new.name} (finished), set aside {broken.name}",
    ]
    assert list(data.runs["job"]) == [new.name]
    scored = pd.read_csv(new / "predictions.csv")
    assert data.report["accuracy"].iloc[0] == pytest.approx(accuracy_score(scored["label"], scored["pred"]))


def test_predictions_missing_columns_names_the_file(tmp_path):
    job = write_job(tmp_path, "synthetic", "uv", "hinge", 0)
    pd.read_csv(job / "predictions.csv").drop(columns="pred").to_csv(job / "predictions.csv", index=False)
    with pytest.raises(MerError, match=r"predictions\.csv: missing required columns pred"):
        build_report(tmp_path)


def test_broken_job_files_are_listed_as_failed_and_the_rest_reported(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    jobs = {
        (head, fold): write_job(sweep, "synthetic", "uv", head, fold)
        for head in ("softmax", "hinge")
        for fold in range(FOLDS)
    }
    garbled_csv, garbled_json = jobs["softmax", 1], jobs["hinge", 2]
    (garbled_csv / "predictions.csv").write_bytes(b'sample_id,subject\n\xff\xfe\x00garbled"\n')
    (garbled_json / "metrics.json").write_text('{"accuracy": 0.5, "uf1"')  # cut short
    main([str(sweep)])  # no SystemExit: something could be reported
    out = capsys.readouterr().out
    assert "wrote" in out
    written = pd.read_csv(sweep / "report.csv").set_index("head")
    for head, broken, fold in (("softmax", garbled_csv, 1), ("hinge", garbled_json, 2)):
        r = written.loc[head]
        assert r["failed_jobs"] == broken.name and str(r["missing_folds"]) == str(fold)
        assert r["n_folds"] == FOLDS - 1
        assert r["n_samples"] == sum(len(fold_samples(f)) for f in range(FOLDS) if f != fold)
    csv_reason = (
        f"{garbled_csv / 'predictions.csv'}: not a readable CSV ('utf-8' codec can't decode "
        "byte 0xff in position 0: invalid start byte)"
    )
    json_reason = f"{garbled_json / 'metrics.json'}: not readable JSON (Expecting ':' delimiter: line 1 column 24"
    assert written.loc["softmax", "failure_reasons"] == f"{garbled_csv.name}: {csv_reason}"
    assert written.loc["hinge", "failure_reasons"].startswith(f"{garbled_json.name}: {json_reason}")
    md = (sweep / "report.md").read_text()
    failures = md.split("## Failed or unfinished jobs")[1].strip().splitlines()
    assert len(failures) == 2
    assert f"- `{garbled_csv.name}` (fold 1, seed 0): {csv_reason}" in failures
    assert any(line.startswith(f"- `{garbled_json.name}` (fold 2, seed 0): {json_reason}") for line in failures)


def test_nothing_reportable_is_one_line_and_exit_2(tmp_path, capsys):
    job = write_job(tmp_path, "synthetic", "uv", "hinge", 0)
    (job / "predictions.csv").write_bytes(b"\x00\xff not a csv")
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path)])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"error: nothing to report: no job has readable predictions, e.g. {job.name}: {job / 'predictions.csv'}: "
    )


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`mer-report ARGS` as a user runs it (the console script next to this Python)."""
    return subprocess.run([MER_REPORT, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_cli_on_an_empty_dir_is_one_error_line(tmp_path):
    done = run_cli(str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: no runs under {tmp_path}: expected job dirs with metrics.json (from mer-train -m ...)"
    ]
    assert "Traceback" not in done.stderr


def test_absent_dir_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path / "nope")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sweep dir") and "does not exist" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_cli_wandb_offline_writes_a_run_with_the_table(sweep, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_DIR=str(tmp_path / "wandb-env"), HOME=str(tmp_path), WANDB_SILENT="true")
    out = tmp_path / "out"
    done = run_cli(str(sweep), "--out", str(out), "--wandb", env=env)
    assert done.returncode == 0, done.stderr
    assert "wandb sync" in done.stdout and "accuracy" in done.stdout
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    assert list(runs[0].rglob("report*.table.json")) and list(runs[0].rglob("*.png"))


def test_wandb_without_credentials_says_offline_once(sweep, report, tmp_path, monkeypatch, capsys):
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("WANDB_SILENT", "true")
    frame, out = report
    run_dir = push_to_wandb(frame, sweep, out)
    said = capsys.readouterr().out
    assert said.count("no credentials") == 1 and f"wandb sync {out / 'wandb'}/offline-run-*" in said
    assert run_dir.name.startswith("offline-run-") and list(run_dir.glob("run-*.wandb"))
