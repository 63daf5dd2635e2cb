"""The action-unit task (`task=au`): AU cells parsed as MEB parses them, targets from the sheet,
per-AU F1 against scikit-learn, a real training's predictions.csv, mer-report's AU rows, tables and
chart, CD6ME's per-dataset scores, and mer-predict's probabilities."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import compose_on_release, compose_train
from sklearn.metrics import f1_score

from mer.data.action_units import CROSS_AUS, DATASET_AUS, au_targets, parse_action_units, resolve_aus
from mer.errors import MerError
from mer.evaluate.au_metrics import pooled_au_metrics
from mer.evaluate.report import build_report
from mer.evaluate.statistics import Bootstrap
from mer.run_dir import CHECKPOINT, METRICS, PREDICTIONS
from mer.train.fold_run import check_task_head
from mer.train.job import train

AUS = ["AU1", "AU2", "AU4", "AU12"]


@pytest.mark.parametrize(
    ("cell", "static", "expected"),
    [
        ("4+7+L10", "keep", {4, 7, 10}),
        ("R12", "keep", {12}),
        ("AU4(k)+L7", "keep", {4, 7}),
        ("AU4(k)+L7", "drop", {7}),
        ("AUR2+12(k)+45", "keep", {2, 12, 45}),
        ("AUR2+12(k)+45", "drop", {2, 45}),
        ("1+2+", "keep", {1, 2}),
        (" L1 + R2 ", "keep", {1, 2}),
        ("", "keep", set()),
        ("nan", "keep", set()),
        ("/", "keep", set()),
    ],
)
def test_an_au_cell_is_split_on_plus_keeping_each_tokens_number(cell, static, expected) -> None:
    assert parse_action_units(cell, static) == expected


def test_an_au_token_without_a_number_names_the_clip_and_the_cell() -> None:
    with pytest.raises(MerError, match=r"^clip casme2/sub01/EP02: 'blink' in the AU cell '4\+blink' names no"):
        au_targets(["4+blink"], [4], ids=["casme2/sub01/EP02"])
    with pytest.raises(MerError, match=r"task.static_aus='maybe': choose one of keep, drop"):
        parse_action_units("4", "maybe")


def test_targets_follow_the_au_list_and_its_order() -> None:
    targets = au_targets(["4+7", "R12", "", "AU4(k)"], [12, 4], static_aus="drop")
    np.testing.assert_array_equal(targets, [[0, 1], [1, 0], [0, 0], [0, 0]])


def test_au_lists_are_the_datasets_own_the_cross_twelve_or_given() -> None:
    assert resolve_aus("dataset", ["casme2"]) == (1, 2, 4, 7, 12, 14, 15, 17)
    assert resolve_aus("dataset", ["samm", "casme1"]) == (1, 2, 4, 7, 9, 12, 14)
    assert resolve_aus("cross", ["smic"]) == CROSS_AUS == (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17)
    assert resolve_aus([12, 4], ["casme2"]) == (4, 12)
    assert set(DATASET_AUS) == {"casme2", "casme1", "samm", "mmew", "4dme"}
    with pytest.raises(MerError, match=r"^task.aus=dataset: smic has no action-unit list .*set task.aus=cross"):
        resolve_aus("dataset", ["smic"])
    with pytest.raises(MerError, match=r"^task.aus='some': use dataset, cross, or a list"):
        resolve_aus("some", ["casme2"])
    with pytest.raises(MerError, match=r"names an AU twice"):
        resolve_aus([4, 4], ["casme2"])


def test_a_head_that_does_not_score_the_task_is_one_line() -> None:
    with pytest.raises(
        MerError, match=r"^task=au predicts several action units per clip: use head=multilabel, not head=hinge$"
    ):
        check_task_head("au", "hinge")
    with pytest.raises(MerError, match=r"^head=multilabel scores action units: add task=au"):
        check_task_head("emotion", "multilabel")
    check_task_head("au", "multilabel")


def random_au_predictions(rng: np.random.Generator, subjects: list[str], n: int) -> pd.DataFrame:
    """predictions.csv of an AU job: `n` clips per subject, AU4 never present and never predicted."""
    rows = len(subjects) * n
    table = pd.DataFrame(
        {
            "sample_id": [f"casme2/{s}/EP{i:02d}" for s in subjects for i in range(n)],
            "subject": [s for s in subjects for _ in range(n)],
        }
    )
    for au in AUS:
        truth = np.zeros(rows, int) if au == "AU4" else rng.integers(0, 2, rows)
        pred = np.zeros(rows, int) if au == "AU4" else np.where(rng.random(rows) < 0.7, truth, 1 - truth)
        table[au], table[f"{au}_pred"], table[f"{au}_score"] = truth, pred, np.where(pred == 1, 1.0, -1.0)
    return table


def test_pooled_au_metrics_equal_sklearn_with_zero_for_an_absent_au() -> None:
    table = random_au_predictions(np.random.default_rng(0), ["sub01", "sub02"], 9)
    metrics = pooled_au_metrics(table)
    expected = f1_score(
        table[AUS].to_numpy(), table[[f"{a}_pred" for a in AUS]].to_numpy(), average=None, zero_division=0
    )
    assert [metrics[f"f1_{a}"] for a in AUS] == pytest.approx(expected)
    assert metrics["f1_AU4"] == 0.0
    assert metrics["au_f1"] == pytest.approx(expected.mean())
    assert metrics["n"] == 18


def write_au_job(
    sweep: Path, fold: str, predictions: pd.DataFrame, seed: int = 0, test_dataset: str | None = None
) -> Path:
    """One action-unit job dir as mer-train writes it (config, overrides, metrics.json, predictions.csv)."""
    overrides = ["task=au", f"seed={seed}"] + ([f"data.test_dataset={fold}"] if test_dataset else [f"data.fold={fold}"])
    job = sweep / ",".join(overrides)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    data = {"fold": 0 if test_dataset else int(fold), "test_subject": None, "test_dataset": test_dataset}
    config = {
        "data": {**data, "name": "composite" if test_dataset else "casme2", "root": "/x"},
        "task": {"name": "au"},
        "seed": seed,
        "input": {"name": "uv"},
        "head": {"name": "multilabel"},
    }
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    predictions.to_csv(job / PREDICTIONS, index=False)
    (job / METRICS).write_text(json.dumps({**pooled_au_metrics(predictions), "task": "au"}))
    return job


def test_report_scores_pooled_aus_as_sklearn_and_leaves_emotion_scores_empty(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(3)
    subjects = ["sub01", "sub02", "sub03"]
    per_seed = {}
    for seed in (0, 1):
        folds = [random_au_predictions(rng, [s], 4 + i) for i, s in enumerate(subjects)]
        for fold, table in enumerate(folds):
            write_au_job(tmp_path, str(fold), table, seed=seed)
        per_seed[seed] = pd.concat(folds)
    data = build_report(tmp_path, boot=Bootstrap(200))
    row = data.report.iloc[0]
    f1 = {
        seed: f1_score(p[AUS].to_numpy(), p[[f"{a}_pred" for a in AUS]].to_numpy(), average=None, zero_division=0)
        for seed, p in per_seed.items()
    }
    for j, au in enumerate(AUS):
        assert row[f"f1_{au}"] == pytest.approx(np.mean([f1[0][j], f1[1][j]]))
        assert row[f"f1_{au}_ci_low"] <= row[f"f1_{au}_ci_high"]
    assert row["au_f1"] == pytest.approx(np.mean([f1[0].mean(), f1[1].mean()]))
    assert row["au_f1_ci_low"] <= row["au_f1_ci_high"]
    assert row[["accuracy", "uf1", "uar"]].isna().all()
    assert (row["n_samples"], row["n_folds"], row["n_seeds"]) == (15, 3, 2)

    report_csv = pd.read_csv(tmp_path / "report.csv")
    assert {"au_f1", "f1_AU1", "f1_AU12"} <= set(report_csv.columns)
    aus = pd.read_csv(tmp_path / "report_aus.csv")
    assert aus["au"].tolist() == AUS
    assert aus.loc[aus["au"] == "AU4", ["f1", "n_true", "n_pred"]].to_numpy().tolist() == [[0.0, 0, 0.0]]
    png = next((tmp_path / "aus").glob("*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "report.md").read_text()
    assert "### Action units" in markdown and f"![per-AU F1](aus/{png.name})" in markdown
    assert "| AU4 | 0.0000 [0.0000, 0.0000] | 0 | 0.0 | 15 |" in markdown
    assert "Table 2 style" not in markdown  # no emotion configuration: no ablation grid

    from mer.evaluate.terminal import print_report

    print_report(data)
    printed = capsys.readouterr().out
    assert "action units" in printed and f"{row['au_f1']:.4f}" in printed


def test_cd6me_pools_the_held_out_datasets_and_scores_each_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    tables = {}
    for dataset in ("casme1", "samm", "mmew"):
        table = random_au_predictions(rng, [f"{dataset}_s1", f"{dataset}_s2"], 5)
        table["sample_id"] = table["sample_id"].str.replace("casme2/", f"{dataset}/")
        tables[dataset] = table
        write_au_job(tmp_path, dataset, table, test_dataset=dataset)
    data = build_report(tmp_path, boot=Bootstrap(100))
    assert len(data.report) == 1  # the three held-out datasets are the folds of one configuration
    pooled = pd.concat(tables.values())
    assert data.report.iloc[0]["au_f1"] == pytest.approx(pooled_au_metrics(pooled)["au_f1"])
    assert data.report.iloc[0]["missing_folds"] == ""
    sources = data.sources.set_index("source")
    for dataset, table in tables.items():
        assert sources.loc[dataset, "au_f1"] == pytest.approx(pooled_au_metrics(table)["au_f1"])
    assert "#### Per source dataset" in (tmp_path / "report.md").read_text()


def test_an_au_job_trains_and_writes_each_aus_truth_prediction_and_logit(workspace: Path, tmp_path: Path) -> None:
    """A real job on the CASME II-layout release: the AU columns hold the sheet's AUs, and
    metrics.json's F1 is scikit-learn's on the written predictions."""
    cfg = compose_on_release(
        workspace,
        "task=au",
        "preprocess.size=32",
        "+trainer.fast_dev_run=1",
        "data.fold=1",
        "datamodule.balance=weighted_loss",
    )
    metrics = train(cfg, tmp_path)
    predictions = pd.read_csv(tmp_path / PREDICTIONS)
    names = [f"AU{a}" for a in DATASET_AUS["casme2"]]
    assert list(predictions.columns) == [
        "sample_id",
        "subject",
        *[f"{a}{s}" for a in names for s in ("", "_pred", "_score")],
    ]
    samples = pd.read_csv(Path(metrics["cache"]) / "samples.csv", dtype=str).set_index("sample_id")
    for row in predictions.itertuples():
        present = parse_action_units(samples.loc[row.sample_id, "action_units"])
        assert {n for n in names if getattr(row, n) == 1} == {f"AU{a}" for a in present if a in DATASET_AUS["casme2"]}
        assert all(getattr(row, f"{n}_pred") == int(getattr(row, f"{n}_score") > 0) for n in names)
    expected = f1_score(predictions[names], predictions[[f"{n}_pred" for n in names]], average=None, zero_division=0)
    assert metrics["au_f1"] == pytest.approx(expected.mean())
    assert metrics["task"] == "au" and "accuracy" not in metrics


def test_positive_weights_come_from_the_training_fold_only(workspace: Path) -> None:
    from mer.preprocess.prepare import prepare
    from mer.train.datamodule import LosoDataModule

    cfg = compose_on_release(workspace, "task=au", "preprocess.size=32")
    task = {"name": "au", "aus": [4, 12], "static_aus": "keep"}
    dm = LosoDataModule(prepare(cfg), ["u", "v"], fold=0, balance="weighted_loss", task=task)
    train_cells = dm.samples["action_units"].fillna("").iloc[dm.train_index]
    for j, au in enumerate((4, 12)):
        positives = sum(au in parse_action_units(c) for c in train_cells)
        expected = (len(train_cells) - positives) / positives if positives else 1.0
        assert dm.class_weights[j] == pytest.approx(expected)
    assert dm.classes == ("AU4", "AU12")
    with pytest.raises(MerError, match=r"balance=sampler draws clips by class, and task=au has none"):
        LosoDataModule(prepare(cfg), ["u", "v"], fold=0, balance="sampler", task=task)


def test_mer_predict_gives_each_aus_probability(workspace: Path, tmp_path: Path) -> None:
    from mer.infer.clip_input import read_clip
    from mer.infer.predict import predict_clip, prediction_json, prediction_text
    from mer.infer.trained import load_trained

    cfg = compose_on_release(
        workspace, "task=au", "preprocess.size=32", "trainer.max_epochs=1", "data.fold=0", "save_checkpoint=true"
    )
    train(cfg, tmp_path)
    model = load_trained(tmp_path / CHECKPOINT)
    assert model.multilabel and model.classes == [f"AU{a}" for a in DATASET_AUS["casme2"]]
    predictions = pd.read_csv(tmp_path / PREDICTIONS).set_index("sample_id")
    samples = pd.read_csv(Path(json.loads((tmp_path / METRICS).read_text())["cache"]) / "samples.csv", dtype=str)
    sample = samples.set_index("sample_id").loc[predictions.index[0]]
    clip = read_clip([workspace / "release" / sample["clip_dir"]])
    result = predict_clip(model, clip, onset=int(sample["onset_frame"]), apex=int(sample["apex_frame"]))
    logits = predictions.loc[predictions.index[0], [f"{c}_score" for c in model.classes]].to_numpy(float)
    np.testing.assert_allclose(list(result.scores.values()), 1 / (1 + np.exp(-logits)), atol=1e-4)
    present = [c for c in model.classes if predictions.loc[predictions.index[0], f"{c}_pred"] == 1]
    assert result.label == ("+".join(present) or "none")
    text = prediction_text(result, clip)
    assert f"action units: {result.label} (probability above 0.5)" in text
    assert prediction_json(result, clip, tmp_path)["action_units"] == present


CD6ME = ["casme1", "casme2", "samm", "4dme", "mmew", "casme3"]


def test_cd6me_composes_to_six_jobs_one_per_held_out_dataset() -> None:
    cfg = compose_train("experiment=cd6me", hydra_config=True)
    assert cfg.hydra.sweeper.params["data.test_dataset"].split(",") == CD6ME
    assert list(cfg.data.include) == CD6ME
    assert (cfg.task.name, cfg.task.aus, cfg.head.name, cfg.data.reader.label_set) == (
        "au",
        "cross",
        "multilabel",
        "all",
    )


@pytest.mark.slow
def test_a_small_cd6me_run_on_synthetic_releases_goes_through_mer_report(tmp_path: Path) -> None:
    sweep = tmp_path / "cd6me"
    command = [
        str(Path(sys.executable).with_name("mer-train")),
        "-m",
        "experiment=cd6me",
        "data=synthetic_meb",
        "data.size.n_subjects=2",
        "data.size.clips_per_subject=4",
        "debug=smoke",
        "trainer.max_epochs=1",
        f"paths.output_dir={tmp_path / 'out'}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.sweep.dir={sweep}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "6 jobs: 6 ran, 0 skipped, 0 failed" in result.stdout
    pooled = []
    for dataset in CD6ME:
        predictions = pd.read_csv(next(sweep.glob(f"*data.test_dataset={dataset},*")) / PREDICTIONS)
        assert set(predictions["sample_id"].str.split("/").str[0]) == {dataset}  # tested on the held-out one only
        assert [c for c in predictions.columns if c.startswith("AU") and c[2:].isdigit()] == [
            f"AU{a}" for a in CROSS_AUS
        ]
        pooled.append(predictions)
    report = subprocess.run(
        [str(Path(sys.executable).with_name("mer-report")), str(sweep)], capture_output=True, text=True, timeout=300
    )
    assert report.returncode == 0, report.stderr
    table = pd.read_csv(sweep / "report.csv")
    assert len(table) == 1 and table.loc[0, "n_folds"] == 6
    assert table.loc[0, "au_f1"] == pytest.approx(pooled_au_metrics(pd.concat(pooled))["au_f1"])
    sources = pd.read_csv(sweep / "report_sources.csv").set_index("source")
    assert sorted(sources.index) == sorted(CD6ME)
    for dataset, predictions in zip(CD6ME, pooled):
        assert sources.loc[dataset, "au_f1"] == pytest.approx(pooled_au_metrics(predictions)["au_f1"])
