"""Nested LOSO tuning (`tune=nested`): search expressions in Hydra's grammar mapped onto Optuna, the
inner splits, a tuned job that never lets its test subject into a trial, resuming a study, the
mistakes answered before training, and mer-report's nested rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_on_release, compose_train, run_entry_point
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from mer.errors import MerError
from mer.preflight import check_command_line
from mer.preprocess.prepare import prepare
from mer.train.job import train
from mer.train.nested import CHOSEN_JSON, TUNING_CSV, inner_splits, nested_tuning
from mer.train.search_space import check_tuning, cost_line, flat_params, search_space

LR = '+tune.params.model.optimizer.lr="tag(log, interval(1e-4, 1e-2))"'
EPOCHS = '+tune.params.trainer.max_epochs="choice(1,2)"'


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("choice(50,100,200)", CategoricalDistribution([50, 100, 200])),
        ("choice(adam,sgd)", CategoricalDistribution(["adam", "sgd"])),
        ("range(16,65,16)", IntDistribution(16, 64, step=16)),
        ("range(0.1,0.5,0.1)", FloatDistribution(0.1, 0.4, step=0.1)),
        ("interval(0.0,0.5)", FloatDistribution(0.0, 0.5)),
        ("int(interval(1,10))", IntDistribution(1, 10)),
        ("tag(log, interval(1e-5, 1e-2))", FloatDistribution(1e-5, 1e-2, log=True)),
        ("tag(log, int(interval(8, 256)))", IntDistribution(8, 256, log=True)),
    ],
)
def test_each_search_expression_maps_onto_its_optuna_distribution(expression, expected) -> None:
    cfg = compose_train()
    (dimension,) = search_space({"model.optimizer.lr": expression}, cfg)
    got = dimension.distribution()
    assert type(got) is type(expected)
    if isinstance(expected, CategoricalDistribution):
        assert list(got.choices) == list(expected.choices)
    else:
        assert (got.low, got.high, got.log) == pytest.approx((expected.low, expected.high, expected.log))
        assert got.step == pytest.approx(expected.step) if expected.step is not None else got.step is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model.optimizer.lrr": "choice(1,2)"}, r"^tune.params.model.optimizer.lrr: model.optimizer.lrr is not a key"),
        ({"model.optimizer.lr": "choice(1,2"}, r"^tune.params.model.optimizer.lr='choice\(1,2' does not parse"),
        ({"model.optimizer.lr": "0.1"}, r"^tune.params.model.optimizer.lr='0.1' is not a search expression"),
        ({"model.optimizer.lr": "interval(1, 0)"}, r"an interval's low end must be below its high end"),
        ({"model.optimizer.lr": "tag(log, interval(0, 1))"}, r"a log interval must start above 0"),
        ({"data.fold": "choice(0,1)"}, r"^tune.params.data.fold: data.fold is not a training setting"),
        ({}, r"^tune=nested has an empty search space"),
    ],
)
def test_a_bad_search_space_is_one_line_naming_the_key(params, message) -> None:
    with pytest.raises(MerError, match=message):
        search_space(params, compose_train())


def test_command_line_params_nest_and_preset_params_are_dotted_and_both_read_alike() -> None:
    nested = compose_train("tune=nested", LR, EPOCHS).tune.params
    dotted = {"model.optimizer.lr": "tag(log, interval(1e-4, 1e-2))", "trainer.max_epochs": "choice(1,2)"}
    assert flat_params(nested) == dotted == flat_params(dotted)
    preset = compose_train("tune=nested_paper").tune
    assert set(flat_params(preset.params)) == {
        "model.optimizer.lr",
        "model.optimizer.weight_decay",
        "trainer.max_epochs",
    }
    assert len(check_tuning(compose_train("tune=nested_baselines", "model=ststnet"))) == 3


def test_the_cost_is_said_in_trainings() -> None:
    assert cost_line(26, 20, 4) == "nested tuning: 26 outer folds × (20 trials × 4 inner folds + 1) = 2,106 trainings"
    assert cost_line(1, 1, 2) == "nested tuning: 1 outer fold × (1 trial × 2 inner folds + 1) = 3 trainings"


def test_inner_splits_use_only_training_subjects_each_whole_and_each_validates_once() -> None:
    rng = np.random.default_rng(0)
    subjects = [f"sub{i:02d}" for i in range(1, 27)]
    samples = pd.DataFrame({"subject": [s for s in subjects for _ in range(rng.integers(1, 19))]})
    test_subject = "sub07"
    training = [s for s in subjects if s != test_subject]
    for folds in (2, 4, 5, 25):
        splits = inner_splits(samples, training, folds, seed=3)
        assert len(splits) == folds
        validated = [s for _, val in splits for s in val]
        assert sorted(validated) == training  # every training subject validates exactly once
        for train_subjects, val_subjects in splits:
            assert set(train_subjects) | set(val_subjects) == set(training)  # only the outer fold's training subjects
            assert not set(train_subjects) & set(val_subjects)  # each subject whole in one side
            assert test_subject not in train_subjects + val_subjects
    assert inner_splits(samples, training, 4, seed=3) == inner_splits(samples, training, 4, seed=3)
    assert inner_splits(samples, training, 4, seed=3) != inner_splits(samples, training, 4, seed=4)


def test_a_tuned_job_chooses_on_training_subjects_and_resumes_its_study(workspace: Path, tmp_path: Path) -> None:
    """3 subjects: fold 1 holds out one, tunes on 2 inner folds of the other two, then predicts its
    test subject once; a rerun with more trials resumes the stored study."""
    overrides = ["preprocess.size=32", "tune=nested", "tune.trials=2", "tune.inner_folds=2", LR, EPOCHS, "data.fold=1"]
    cfg = compose_on_release(workspace, *overrides)
    metrics = train(cfg, tmp_path)
    tuning = pd.read_csv(tmp_path / TUNING_CSV)
    test_subject = metrics["test_subject"]
    assert list(tuning.columns) == ["trial", "params", "inner_fold", "train_subjects", "val_subjects", "score"]
    assert sorted(set(tuning["trial"])) == [0, 1] and len(tuning) == 4
    for row in tuning.itertuples():
        seen = json.loads(row.train_subjects) + json.loads(row.val_subjects)
        assert test_subject not in seen and len(seen) == 2
    chosen = json.loads((tmp_path / CHOSEN_JSON).read_text())
    best = tuning.groupby("trial")["score"].mean()
    assert chosen["score"] == pytest.approx(best.max()) and chosen["trial"] == int(best.idxmax())
    assert chosen["params"] == json.loads(tuning.loc[tuning["trial"] == chosen["trial"], "params"].iloc[0])
    assert metrics["tuned"] == chosen
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert set(predictions["subject"]) == {test_subject}

    more = compose_on_release(workspace, *overrides[:2], "tune.trials=3", *overrides[3:])
    resumed = nested_tuning(more, prepare(more), tmp_path)
    again = pd.read_csv(tmp_path / TUNING_CSV)
    assert sorted(set(again["trial"])) == [0, 1, 2]
    pd.testing.assert_frame_equal(again[again["trial"] < 2].reset_index(drop=True), tuning)
    assert resumed.chosen["score"] == pytest.approx(again.groupby("trial")["score"].mean().max())


def test_more_inner_folds_than_training_subjects_is_one_line_before_training(workspace: Path) -> None:
    args = [f"data.root={workspace / 'release'}", "data=casme2", "tune=nested", "tune.inner_folds=3", LR]
    with pytest.raises(MerError, match=r"^tune.inner_folds=3 but an outer fold trains on 2 subjects: use at most 2"):
        check_command_line("train", args)
    with pytest.raises(MerError, match=r"^tune.params.model.optimizer.lrr: model.optimizer.lrr is not a key"):
        check_command_line("train", [*args[:3], "tune.inner_folds=2", LR.replace(".lr=", ".lrr=")])


@pytest.mark.slow
def test_without_optuna_tune_nested_says_how_to_install_it() -> None:
    result = run_entry_point("mer.train.train", "tune=nested", LR, unimportable=["optuna"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: tune=nested needs Optuna: pip install 'mer[tune]' (or pip install optuna)"
    )


@pytest.mark.slow
def test_a_nested_sweep_predicts_every_clip_once_and_no_trial_sees_its_test_subject(
    workspace: Path, tmp_path: Path
) -> None:
    sweep = tmp_path / "nested"
    command = [
        str(Path(sys.executable).with_name("mer-train")),
        "-m",
        "data=casme2",
        f"data.root={workspace / 'release'}",
        f"paths.output_dir={workspace / 'out'}",
        "preprocess.size=32",
        "folds=all",
        "tune=nested",
        "tune.trials=2",
        "tune.inner_folds=2",
        LR,
        EPOCHS,
        f"hydra.sweep.dir={sweep}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    cost = "nested tuning: 3 outer folds × (2 trials × 2 inner folds + 1) = 15 trainings"
    assert cost in result.stdout + result.stderr
    jobs = sorted(p.parent for p in sweep.rglob(TUNING_CSV))
    assert len(jobs) == 3
    predicted = []
    for job in jobs:
        test_subject = json.loads((job / "metrics.json").read_text())["test_subject"]
        tuning = pd.read_csv(job / TUNING_CSV)
        for row in tuning.itertuples():
            assert test_subject not in json.loads(row.train_subjects) + json.loads(row.val_subjects)
        predicted += pd.read_csv(job / "predictions.csv")["sample_id"].tolist()
    samples = pd.read_csv(Path(json.loads((jobs[0] / "metrics.json").read_text())["cache"]) / "samples.csv")
    assert sorted(predicted) == sorted(samples["sample_id"])  # every clip, once

    report = subprocess.run(
        [str(Path(sys.executable).with_name("mer-report")), str(sweep)], capture_output=True, text=True, timeout=300
    )
    assert report.returncode == 0, report.stderr
    table = pd.read_csv(sweep / "report.csv")
    assert table.loc[0, "tuning"] == "nested: 2 inner folds, 2 trials"
    assert (
        table.loc[0, "search_space"]
        == "model.optimizer.lr=tag(log, interval(1e-4, 1e-2)); trainer.max_epochs=choice(1,2)"
    )
    chosen = pd.read_csv(sweep / "report_tuning.csv")
    assert len(chosen) == 3 and set(chosen["metric"]) == {"uf1"}
    markdown = (sweep / "report.md").read_text()
    assert "### Nested tuning" in markdown and "nested: 2 inner folds, 2 trials; search space:" in markdown
    assert "(each fold's choice: report.md)" in report.stdout
