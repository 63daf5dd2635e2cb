"""mer-export: TorchScript and ONNX give the checkpoint's scores on the synthetic set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from helpers import TrainedRuns, cache_inputs

from mer.infer.export import export, main, torchscript_allowed
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
