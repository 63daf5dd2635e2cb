"""The paper as written and mer's own recipe, composed by value; ImageNet weights offline; the data
checked against the paper's counts; the sensitivity sweep's size."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import torch
from helpers import compose_train
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from mer import paper
from mer.config import CONFIG_DIR
from mer.data.samples import COLUMNS, SampleTable
from mer.preprocess.data_check import log_data_checks, paper_counts
from mer.preprocess.prepare import prepare
from mer.synthetic import generate_synthetic
from mer.train.backbone import mobilenet_v2_features

PAPER_EXPERIMENTS = ["paper_table2", "paper_table3", "paper_ablation", "paper_sensitivity"]
MER_WEIGHTS = str(Path(sys.executable).with_name("mer-weights"))


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A small synthetic CASME II release (3 subjects × 5 clips) whose clip sub02/1's apex is its onset."""
    base = tmp_path_factory.mktemp("fidelity")
    release = generate_synthetic(base / "release", n_subjects=3, clips_per_subject=5, seed=11, progress=False)
    sheet = release / "CASME2-coding-20140508.xlsx"
    book = openpyxl.load_workbook(sheet)
    rows = list(book.active.iter_rows(min_row=2))
    header = [c.value for c in next(book.active.iter_rows(max_row=1))]
    onset, apex = header.index("OnsetFrame"), header.index("ApexFrame")
    row = next(r for r in rows if r[0].value in (2, "2") and r[8].value != "fear")
    row[apex].value = row[onset].value
    book.save(sheet)
    return release


def head_of(experiment: str, head: str):
    """The head config a paper/mer experiment's `head` cell composes to."""
    cell = {"paper_ablation": f"ablation=uv_{head}", "mer_ablation": f"ablation=uv_{head}"}.get(
        experiment, f"head={head}"
    )
    return compose_train(f"experiment={experiment}", "data.root=/nowhere", cell)


@pytest.mark.parametrize("experiment", PAPER_EXPERIMENTS)
def test_paper_presets_are_the_paper_as_written(experiment: str) -> None:
    cfg = head_of(experiment, "hinge")
    assert (cfg.head.name, cfg.head.p, cfg.head.margin) == ("hinge", 1, 1.0)  # eq. 12 = MultiMarginLoss defaults
    assert cfg.model.pretrained == "imagenet" and cfg.model.width_mult == 1.0  # §3.3
    assert cfg.model.precise_bn is False  # mer's addition, not the paper's
    assert cfg.preprocess.size == 224 and cfg.trainer.max_epochs == 200
    assert (cfg.model.optimizer._target_, cfg.model.optimizer.lr, cfg.model.optimizer.weight_decay) == (
        "torch.optim.Adam",
        1e-4,
        1e-3,
    )
    assert cfg.model.get("scheduler") is None  # constant lr
    assert (cfg.datamodule.normalization, cfg.datamodule.augment, cfg.datamodule.val_subjects) == (
        "sample_minmax",
        False,
        0,
    )
    assert cfg.data.name == "casme2" and cfg.data.reader.label_set == "5class"


def test_the_paper_tables_sweep_the_papers_cells_and_mer_adds_its_own() -> None:
    params = {
        e: compose_train(f"experiment={e}", "data.root=/nowhere", hydra_config=True).hydra.sweeper.params
        for e in ("paper_table2", "paper_table3", "paper_ablation", "mer_ablation")
    }
    assert params["paper_table2"]["input"] == "apex,u,v,uv"
    assert params["paper_table3"]["head"] == "softmax,hinge"  # the post-hoc svm is mer's, not Table 3's
    assert params["paper_ablation"]["ablation"] == "apex_hinge,u_hinge,v_hinge,uv_hinge,uv_softmax"
    assert params["mer_ablation"]["ablation"].endswith(",uv_svm") and params["mer_ablation"]["seed"] == "0,1,2"


def test_mers_recipe_is_the_paper_plus_precise_bn() -> None:
    hinge, svm = head_of("mer_ablation", "hinge"), head_of("mer_ablation", "svm")
    assert hinge.model.precise_bn is True and hinge.model.pretrained == "imagenet"
    assert (hinge.head.p, hinge.head.margin, hinge.trainer.max_epochs, hinge.preprocess.size) == (1, 1.0, 200, 224)
    assert svm.head.name == "svm" and "p" not in svm.head  # a recipe never leaks a hinge key into another head
    softmax = head_of("paper_ablation", "softmax")
    assert softmax.head.name == "softmax" and "p" not in softmax.head


def test_the_sensitivity_sweep_changes_one_choice_each_and_is_7_x_3_x_folds_jobs(release: Path) -> None:
    cfg = compose_train("experiment=paper_sensitivity", f"data.root={release}", hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    (jobs,) = BasicSweeper.split_arguments(parsed, None)  # Hydra's own expansion of the sweep
    assert len(jobs) == 7 * 3 * 3  # settings × seeds × the release's 3 subjects
    reference = compose_train("experiment=paper_sensitivity", f"data.root={release}", "sensitivity=paper")
    changed = {
        "pretrained_none": ("model.pretrained", "none"),
        "hinge_p2": ("head.p", 2),
        "precise_bn": ("model.precise_bn", True),
        "norm_train_standardize": ("datamodule.normalization", "train_standardize"),
        "norm_none": ("datamodule.normalization", "none"),
        "epochs_50": ("trainer.max_epochs", 50),
    }
    flat = _flat(reference)
    for setting, (key, value) in changed.items():
        mine = _flat(compose_train("experiment=paper_sensitivity", f"data.root={release}", f"sensitivity={setting}"))
        assert {k for k in flat if flat[k] != mine.get(k)} == {key} and mine[key] == value, setting


def _flat(cfg) -> dict:
    """A composed config as {dotted.key: value} (interpolations left as they are)."""
    return pd.json_normalize(OmegaConf.to_container(cfg, resolve=False), sep=".").iloc[0].to_dict()


def test_imagenet_weights_come_from_the_torch_cache(imagenet_home: Path) -> None:
    from torchvision.models import mobilenet_v2

    reference = mobilenet_v2()
    reference.load_state_dict(
        torch.load(imagenet_home / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth", weights_only=True)
    )
    trunk, _ = mobilenet_v2_features(2, pretrained="imagenet")
    torch.testing.assert_close(trunk[0][7].conv[1][0].weight, reference.features[7].conv[1][0].weight)


@pytest.mark.slow
def test_mer_weights_installs_a_carried_copy_and_refuses_other_files(tmp_path: Path) -> None:
    from torchvision.models import mobilenet_v2

    env = {"TORCH_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    torch.save({"features.0.0.weight": torch.zeros(1)}, tmp_path / "junk.pth")
    junk = subprocess.run(
        [MER_WEIGHTS, "--install", str(tmp_path / "junk.pth")], capture_output=True, text=True, env=env, timeout=120
    )
    assert junk.returncode == 2 and junk.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'junk.pth'} is not torchvision's MobileNetV2 state dict (first wrong or "
        "missing key: features.0.0.weight)"
    ]
    torch.save(mobilenet_v2().state_dict(), tmp_path / "copy.pth")
    done = subprocess.run(
        [MER_WEIGHTS, "--install", str(tmp_path / "copy.pth")], capture_output=True, text=True, env=env, timeout=120
    )
    target = tmp_path / "home" / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"
    assert done.returncode == 0 and done.stdout.strip() == str(target)
    assert "not torchvision's published file" in done.stderr  # our copy's hash is not theirs
    assert target.read_bytes() == (tmp_path / "copy.pth").read_bytes()


def test_counts_against_the_paper_warn_on_a_synthetic_casme2(release: Path, tmp_path: Path, caplog) -> None:
    cfg = compose_train("data=casme2", f"data.root={release}", f"paths.output_dir={tmp_path}", "preprocess.size=32")
    manifest = prepare(cfg).manifest
    check = manifest["paper_counts"]
    assert check["sheet"] == "CASME2-coding-20140508.xlsx" and check["differ"] is True
    rows = {r["what"]: (r["paper"], r["ours"]) for r in check["rows"]}
    assert rows["clips"] == (249, 15) and rows["subjects"] == (26, 3) and rows["surprise"][0] == 28
    with caplog.at_level(logging.INFO):
        log_data_checks(manifest, logging.getLogger("test"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "differ from the paper's (249 clips of 26 subjects; CASME2-coding-20140508.xlsx read)" in warnings[0]
    assert "  clips           249     15  -234   ← differs" in warnings[0].splitlines()
    (sample,) = [d["sample_id"] for d in manifest["degenerate"]]
    assert sample.startswith("casme2/sub02/") and "onset = apex" in manifest["degenerate"][0]["why"]
    assert sample in warnings[1] and "1 degenerate clip(s)" in warnings[1]


def test_counts_that_match_the_paper_give_no_warning(caplog) -> None:
    labels = [label for label, n in paper.CLASS_COUNTS.items() for _ in range(n)]
    rows = pd.DataFrame({c: "x" for c in COLUMNS}, index=range(len(labels)))
    rows["label"] = labels
    rows["subject"] = [f"sub{i % 26 + 1:02d}" for i in range(len(labels))]
    rows["sample_id"] = [f"casme2/{s}/EP{i}" for i, s in enumerate(rows["subject"])]
    table = SampleTable("casme2", Path("/nowhere"), rows, paper.CLASSES, {"label_set": "5class", "sheet": "s.xlsx"})
    check = paper_counts(table)
    assert check["differ"] is False and all(r["paper"] == r["ours"] for r in check["rows"])
    with caplog.at_level(logging.INFO):
        log_data_checks({"dataset": "casme2", "paper_counts": check, "degenerate": []}, logging.getLogger("t"))
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "counts match the paper's: 249 clips of 26 subjects (s.xlsx read)" in caplog.records[0].getMessage()
    # Another label set, or another dataset, is not the paper's setting: no comparison at all.
    assert paper_counts(SampleTable("casme2", Path("/x"), rows, paper.CLASSES, {"label_set": "all"})) is None
    assert paper_counts(SampleTable("samm", Path("/x"), rows, paper.CLASSES, {"label_set": "5class"})) is None


def test_flow_that_is_zero_everywhere_is_degenerate() -> None:
    from mer.preprocess.data_check import degenerate_clips

    rows = pd.DataFrame({"sample_id": ["a", "b", "c"], "onset_frame": [1, 5, 3], "apex_frame": [4, 5, 9]})
    u = np.zeros((3, 4, 4), np.float16)
    v = np.zeros((3, 4, 4), np.float16)
    u[0, 1, 1] = 0.5
    assert degenerate_clips(rows, u, v) == [
        {"sample_id": "b", "why": "onset = apex = frame 5"},
        {"sample_id": "c", "why": "flow is zero everywhere"},
    ]


def test_every_paper_recipe_value_says_whether_the_paper_states_it() -> None:
    """Each value of conf/recipe/paper.yaml is labelled PAPER or GAP on its line; the four readings the
    paper does not make (ImageNet weights, the first conv's RGB mean, the grey apex, min–max with no
    ImageNet statistics) are GAP, there and in docs/paper.md."""
    text = (Path(CONFIG_DIR) / "recipe" / "paper.yaml").read_text()
    values = [ln for ln in text.splitlines() if ":" in ln.split("#")[0] and ln.split("#")[0].split(":")[1].strip()]
    assert len(values) >= 15
    for line in values:
        assert "# PAPER" in line or "# GAP" in line, line
    labelled = {ln.split(":")[0].strip().lstrip("- "): ln.split("#", 1)[1] for ln in values}
    assert labelled["pretrained"].startswith(" GAP") and labelled["normalization"].startswith(" GAP")
    assert "no ImageNet mean/std" in labelled["normalization"]
    assert "#   GAP: the first convolution takes" in text and "#   GAP: the apex frame enters in grey" in text
    docs = (Path(__file__).parents[1] / "docs" / "paper.md").read_text()
    for choice in ("initial weights", "first convolution", "apex frame", "flow normalisation"):
        row = next(ln for ln in docs.splitlines() if ln.startswith(f"| {choice}"))
        assert "GAP" in row, row
