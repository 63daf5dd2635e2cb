"""The MEGC2019 composite and cross-dataset protocols on generated CASME II, SAMM and SMIC-HS trees."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from sklearn.metrics import balanced_accuracy_score, f1_score

from mer.config import CONFIG_DIR
from mer.data import read_samples
from mer.data.composite import restrict_to_list
from mer.errors import MerError
from mer.evaluate.report import build_report
from mer.evaluate.report_files import SOURCES_CSV
from mer.evaluate.scores import source_scores
from mer.preprocess.prepare import prepare
from mer.run_dir import PREDICTIONS
from mer.train.datamodule import LosoDataModule
from mer.train.job import train

SMALL = ["data.size.n_subjects=2", "data.size.clips_per_subject=5"]


def compose_cfg(base: Path, *overrides: str, name: str = "train"):
    """The real config with the synthetic composite under `base`."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(
            name,
            overrides=[
                "data=synthetic_composite",
                f"paths.data_dir={base / 'data'}",
                f"paths.output_dir={base / 'out'}",
                "preprocess.size=32",
                *SMALL,
                *(["trainer.enable_progress_bar=false"] if name == "train" else []),
                *overrides,
            ],
        )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the three synthetic releases (2 subjects × 5 clips each) are generated once."""
    return tmp_path_factory.mktemp("composite")


@pytest.fixture(scope="module")
def table(base: Path):
    """The composite sample table of the three generated releases."""
    return read_samples(compose_cfg(base, name="prepare").data)


def test_sources_joined_with_prefixed_subjects(table) -> None:
    """MEGC2019's three classes; subjects prefixed by dataset; every path resolves; counts per source."""
    assert table.dataset == "synthetic_composite"
    assert table.classes == ("negative", "positive", "surprise")
    assert set(table.rows["dataset"]) == {"casme2", "samm", "smic"}
    assert table.subjects == ["casme2_sub01", "casme2_sub02", "samm_006", "samm_007", "smic_s1", "smic_s2"]
    for row in table.rows.itertuples():
        assert row.subject == f"{row.dataset}_{row.sample_id.split('/')[1]}"
        assert table.path(row.onset_path).is_file() and table.path(row.apex_path).is_file()
    counts = table.counts()
    assert counts["dataset"] == table.rows["dataset"].value_counts().to_dict()
    assert sum(counts["label"].values()) == len(table)
    assert set(table.provenance["sources"]) == {"casme2", "samm", "smic"}


def test_sample_list_restricts_and_reports(table, tmp_path: Path, caplog) -> None:
    """An official list keeps only its clips; clips it lacks are dropped, clips not read are named."""
    keep = table.rows["sample_id"].iloc[::2].tolist()
    listed = tmp_path / "megc2019.csv"
    pd.DataFrame({"sample_id": keep + ["samm/006/006_9_9", "smic/s9/s9_po_01"]}).to_csv(listed, index=False)
    with (
        caplog.at_level(logging.INFO),
        pytest.warns(
            UserWarning,
            match=r"megc2019\.csv: 2 clip\(s\) "
            r"not in the releases: samm/006/006_9_9, smic",
        ),
    ):
        kept = restrict_to_list(table, listed)
    assert kept.rows["sample_id"].tolist() == keep
    info = kept.provenance["sample_list"]
    assert info["not_found"] == ["samm/006/006_9_9", "smic/s9/s9_po_01"]
    assert info["dropped"] == sorted(set(table.rows["sample_id"]) - set(keep))
    assert f"{len(keep) + 2} listed, {len(keep)} kept, {len(info['dropped'])} read but not listed" in caplog.text


def test_sample_list_by_dataset_subject_clip(table, tmp_path: Path) -> None:
    """A list may name clips by dataset (as written, e.g. "CASME II"), subject and filename."""
    rows = table.rows.iloc[:3]
    names = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC-HS"}
    listed = tmp_path / "list.csv"
    pd.DataFrame(
        {
            "Dataset": rows["dataset"].map(names),
            "Subject": rows["sample_id"].str.split("/").str[1],
            "Filename": rows["clip"],
        }
    ).to_csv(listed, index=False)
    assert restrict_to_list(table, listed).rows["sample_id"].tolist() == rows["sample_id"].tolist()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, r"sample list .*nope\.csv \(data\.reader\.sample_list\) does not exist"),
        ("clip,label\nEP01,x\n", r"needs a header with a sample_id column .* found clip, label"),
        ("dataset,subject,clip\nVIS,s1,c1\n", r"line 2: unknown dataset 'VIS'; use one of 4dme, casme1, casme2"),
    ],
)
def test_bad_sample_list(table, tmp_path: Path, content: str | None, message: str) -> None:
    """A missing or malformed sample list is one message naming the file and what it needs."""
    path = tmp_path / "nope.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(MerError, match=message):
        restrict_to_list(table, path)


def test_unset_root_and_source_errors(base: Path, tmp_path: Path) -> None:
    """data=composite without a root says which key to set; a source's error says its source."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("prepare", overrides=["data=composite", "data.roots.casme2=/x"])
    with pytest.raises(MerError, match=r"^source casme2: CASME II root /x does not exist"):
        read_samples(cfg.data)
    cfg.data.roots.casme2 = str(base / "data" / "synthetic-composite" / "casme2")
    with pytest.raises(
        MerError,
        match=r"data\.roots\.samm is not set: give the folder of the samm "
        r"release .*or leave samm out of data\.include",
    ):
        read_samples(cfg.data)


def test_different_label_sets_refused(base: Path) -> None:
    """Sources must share one label set."""
    cfg = compose_cfg(base, "data.reader.sources.samm.label_set=5class", name="prepare")
    with pytest.raises(MerError, match=r"sources casme2 and samm have different classes .*same label_set"):
        read_samples(cfg.data)


def test_loso_and_cross_dataset_runs(base: Path, tmp_path: Path, caplog) -> None:
    """LOSO holds out one prefixed subject; cross-dataset trains on CASME II, tests on all of SAMM,
    and its log counts the subjects it really trains on (CASME II's 2, not 2 + 2 - 1)."""
    cfg = compose_cfg(base, "trainer.max_epochs=1", "data.include=[casme2,samm]", "data.test_dataset=samm")
    cache = prepare(cfg)
    cross = LosoDataModule(cache, ["u", "v"], test_dataset="samm")
    samples = cache.samples
    assert set(samples["dataset"].iloc[cross.test_index]) == {"samm"}
    assert set(samples["dataset"].iloc[cross.train_index]) == {"casme2"}
    assert len(cross.test_index) == int((samples["dataset"] == "samm").sum())
    loso = LosoDataModule(cache, ["u", "v"], fold=2)
    assert loso.test_subject == "samm_006" and set(samples["dataset"].iloc[loso.train_index]) == {"casme2", "samm"}
    with pytest.raises(
        MerError,
        match=r"data\.test_dataset='smic': hold out one of several source "
        r"datasets of a composite \(casme2, samm here\)",
    ):
        LosoDataModule(cache, ["u", "v"], test_dataset="smic")
    with caplog.at_level(logging.INFO, logger="mer.train.job"):
        metrics = train(cfg, tmp_path)
    assert (
        f"test subject samm ({len(cross.test_index)} samples), training on {len(cross.train_index)} "
        "samples of 2 subjects"
    ) in caplog.text
    predictions = pd.read_csv(tmp_path / PREDICTIONS)
    assert metrics["test_subject"] == "samm" and metrics["n"] == len(cross.test_index)
    assert predictions["sample_id"].str.startswith("samm/").all()


def test_report_scores_each_source(tmp_path: Path) -> None:
    """report_sources.csv: UF1 and UAR per source dataset, as scikit-learn computes them."""
    classes = ["negative", "positive", "surprise"]
    rng = np.random.default_rng(0)
    sweep = tmp_path / "sweep"
    frames = []
    for fold, source in enumerate(["casme2", "casme2", "samm", "smic"]):
        job = sweep / f"data.fold={fold}"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- data.fold={fold}\n")
        config = {
            "data": {"fold": fold, "test_subject": None, "name": "composite"},
            "seed": 0,
            "input": {"name": "uv"},
            "head": {"name": "hinge"},
        }
        (job / ".hydra" / "config.yaml").write_text(json.dumps(config))
        n = 8
        table = pd.DataFrame(
            {
                "sample_id": [f"{source}/s{fold}/c{i}" for i in range(n)],
                "subject": f"{source}_s{fold}",
                "label": rng.choice(classes, n),
                "pred": rng.choice(classes, n),
            }
        )
        for c in classes:
            table[f"score_{c}"] = rng.standard_normal(n)
        table.to_csv(job / PREDICTIONS, index=False)
        (job / "metrics.json").write_text("{}")
        frames.append(table.assign(source=source))
    build_report(sweep)
    scores = pd.read_csv(sweep / SOURCES_CSV).set_index("source")
    pooled = pd.concat(frames)
    for source, p in pooled.groupby("source"):
        assert scores.loc[source, "n_samples"] == len(p)
        assert scores.loc[source, "uf1"] == pytest.approx(
            f1_score(p["label"], p["pred"], labels=classes, average="macro", zero_division=0)
        )
        assert scores.loc[source, "uar"] == pytest.approx(balanced_accuracy_score(p["label"], p["pred"]))
    assert "### Per source dataset" in (sweep / "report.md").read_text()
    assert source_scores(
        pooled[pooled["source"] == "samm"]
        .drop(columns="source")
        .assign(dataset="composite", input="uv", head="hinge", configuration="x", seed=0),
        {"composite": classes},
    ).empty


@pytest.mark.slow
def test_mer_prepare_names_the_source_in_one_line(tmp_path: Path) -> None:
    """The real mer-prepare: a composite source's error is one `error:` line naming the source, exit 2."""
    exe = Path(sys.executable).with_name("mer-prepare")
    proc = subprocess.run(
        [
            str(exe),
            "data=composite",
            "data.include=[casme2,samm]",
            f"data.roots.casme2={tmp_path}",
            f"data.roots.samm={tmp_path}",
            f"paths.output_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: source casme2: no CASME II coding sheet in")


@pytest.mark.parametrize(
    "experiment, include, test_dataset",
    [("megc2019", ["casme2", "samm", "smic"], None), ("cross_dataset", ["casme2", "samm"], "samm")],
)
def test_experiments_compose(experiment: str, include: list, test_dataset: str | None) -> None:
    """experiment=megc2019 (LOSO over the composite) and experiment=cross_dataset compose."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}"])
    assert cfg.data.name == "composite" and list(cfg.data.include) == include
    assert cfg.data.test_dataset == test_dataset and cfg.input.name == "uv"
    assert cfg.datamodule.test_dataset == test_dataset
