"""mer-export: TorchScript and ONNX give the checkpoint's scores on the synthetic set; a plain install
(no onnx packages) writes what it can; mistakes answer in one line before torch is imported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from helpers import TrainedRuns, cache_inputs, run_entry_point

from mer.infer.export import FORMAT_PACKAGES, export, main, torchscript_allowed
from mer.infer.trained import load_trained
from mer.run_dir import CHECKPOINT


def test_torchscript_and_onnx_score_like_the_checkpoint(trained: TrainedRuns, tmp_path: Path, capsys) -> None:
    checkpoint = trained.runs["hinge"] / CHECKPOINT
    main([str(checkpoint), "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "model.torchscript.pt (scores differ from the checkpoint's by at most" in printed
    model = load_trained(checkpoint)
    x = cache_inputs(trained, model.channels)
    expected = model.scores(x)
    with torch.no_grad(), torchscript_allowed():
        torchscript = torch.jit.load(str(tmp_path / "model.torchscript.pt"))
        np.testing.assert_allclose(torchscript(x).numpy(), expected, atol=1e-4, rtol=0)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["scores"], {"input": x.numpy()})[0], expected, atol=1e-4, rtol=0)
    spec = json.loads((tmp_path / "model.json").read_text())
    assert spec["input"]["shape"] == ["batch", 2, 48, 48] and spec["input"]["channels"] == ["u", "v"]
    assert spec["output"]["classes"] == model.classes
    assert spec["normalization"]["method"] == "train_standardize" and len(spec["normalization"]["mean"]) == 2
    assert not list(tmp_path.glob("*.data"))  # one self-contained ONNX file


def test_the_linear_svm_head_exports_as_its_decision_function(trained: TrainedRuns, tmp_path: Path) -> None:
    model = load_trained(trained.runs["svm"] / CHECKPOINT)
    written = export(model, tmp_path, "svm", ["torchscript"])
    x = cache_inputs(trained, model.channels)
    with torch.no_grad(), torchscript_allowed():
        got = torch.jit.load(str(written["torchscript"]))(x).numpy()
    np.testing.assert_allclose(got, model.scores(x), atol=1e-4, rtol=0)


def test_a_kernel_svm_is_refused_in_one_line(trained: TrainedRuns, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([str(trained.runs["rbf"] / CHECKPOINT), "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: this checkpoint's head is an SVM with the 'rbf' kernel, which has no exported form "
        "(mer-predict uses it as it is); train with head.kernel=linear or head=hinge to export"
    ]


@pytest.mark.slow
def test_a_plain_install_writes_torchscript_and_says_why_onnx_was_skipped(trained: TrainedRuns, tmp_path: Path) -> None:
    checkpoint = trained.runs["hinge"] / CHECKPOINT
    result = run_entry_point(
        "mer.infer.export", str(checkpoint), "--out", str(tmp_path), unimportable=FORMAT_PACKAGES["onnx"]
    )
    assert result.returncode == 0, result.stderr
    torchscript, skipped, spec, torch_line = result.stdout.splitlines()
    prefix = f"wrote {tmp_path / 'model.torchscript.pt'} (scores differ from the checkpoint's by at most "
    assert torchscript.startswith(prefix) and float(torchscript.removeprefix(prefix).rstrip(")")) < 1e-4
    assert skipped == "onnx skipped: needs the onnx and onnxscript packages: pip install 'mer[onnx]'"
    assert spec == f"wrote {tmp_path / 'model.json'} (input, output and preprocessing of the exported model)"
    assert torch_line == "torch imported: True"
    assert json.loads((tmp_path / "model.json").read_text())["files"] == {"torchscript": "model.torchscript.pt"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.torchscript.pt"]


@pytest.mark.slow
def test_help_answers_without_torch() -> None:
    result = run_entry_point("mer.infer.export", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mer-export [-h]")
    assert "default: every format this install can write, ONNX with the onnx extra: pip install 'mer[onnx]'" in (
        " ".join(result.stdout.split())
    )
    assert result.stdout.splitlines()[-1] == "torch imported: False"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, unimportable, message",
    [
        (
            ["{tmp}/missing.ckpt"],
            [],
            "checkpoint {tmp}/missing.ckpt not found: give the model.ckpt that `mer-train "
            "save_checkpoint=true` writes into its run dir",
        ),
        (
            ["{tmp}/model.ckpt", "--out", "{tmp}/model.ckpt/export"],
            [],
            "cannot write into {tmp}/model.ckpt/export: {tmp}/model.ckpt is a file; give a folder you can "
            "write to with --out DIR",
        ),
        (
            ["{tmp}/model.ckpt", "--format", "torchscript", "--format", "onnx"],
            ["onnx", "onnxscript"],
            "--format onnx needs the onnx and onnxscript packages: pip install 'mer[onnx]'",
        ),
        (
            ["{tmp}/model.ckpt", "--format", "onnx"],
            ["onnxscript"],
            "--format onnx needs the onnxscript package: pip install 'mer[onnx]'",
        ),
    ],
    ids=["missing checkpoint", "out under a file", "onnx asked for, not installed", "onnxscript not installed"],
)
def test_each_mistake_is_one_line_before_torch(
    tmp_path: Path, args: list[str], unimportable: list[str], message: str
) -> None:
    (tmp_path / "model.ckpt").touch()  # the checks before torch only look at the paths
    result = run_entry_point("mer.infer.export", *(arg.format(tmp=tmp_path) for arg in args), unimportable=unimportable)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {message.format(tmp=tmp_path)}"]
    assert result.stdout.splitlines() == ["torch imported: False"]
