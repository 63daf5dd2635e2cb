"""A trained model's exported forms: its whole scoring path as one network, written as TorchScript or
ONNX, each file read back to check its scores, and the spec of what the files take and return.

`mer.infer.export` (the light entry point) calls these once torch may be imported, and holds the
TorchScript deprecation filter (`torchscript_allowed`) that writing and reading TorchScript run in.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.svm import LinearSVC
from torch import nn

import mer
from mer.errors import MerError
from mer.infer.trained import TrainedModel

INPUT_NAME, OUTPUT_NAME = "input", "scores"
SCORE_MEANING = {
    "softmax": "logits; the label is the argmax",
    "hinge": "multiclass hinge (SVM) scores; the label is the argmax",
    "svm": "linear SVM decision values; the label is the argmax",
    "multilabel": "one logit per action unit; an AU is present where its logit is above 0",
}


class ScoringNetwork(nn.Module):
    """Raw channels [B, C, H, W] → class scores [B, n]: resize, normalisation, the model's trunk, head."""

    def __init__(self, resize: nn.Module, normalization: nn.Module, trunk: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.resize, self.normalization, self.trunk, self.head = resize, normalization, trunk, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(self.normalization(self.resize(x))))


def linear_svm_layer(svm: Any, n_classes: int, width: int) -> nn.Linear:
    """A fitted LinearSVC as the linear layer with its decision function; classes it never saw
    score −inf, as in training. A kernel SVM has no such layer: one clear error."""
    if not isinstance(svm, LinearSVC):
        raise MerError(
            f"this checkpoint's head is an SVM with the {svm.kernel!r} kernel, which has no "
            "exported form (mer-predict uses it as it is); train with head.kernel=linear "
            "or head=hinge to export"
        )
    coef, intercept = np.asarray(svm.coef_, np.float64), np.asarray(svm.intercept_, np.float64)
    if len(svm.classes_) == 2:  # sklearn keeps one column for two classes: score ±decision
        coef, intercept = np.concatenate([-coef, coef]), np.concatenate([-intercept, intercept])
    layer = nn.Linear(width, n_classes)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.fill_(-float("inf"))
        layer.weight[svm.classes_] = torch.from_numpy(coef).float()
        layer.bias[svm.classes_] = torch.from_numpy(intercept).float()
    return layer


def scoring_network(model: TrainedModel) -> ScoringNetwork:
    """The whole scoring path of a trained model as one module (eval mode, no gradients)."""
    module = model.module
    width = module.classifier[-1].in_features
    head = module.classifier if model.svm is None else linear_svm_layer(model.svm, len(model.classes), width)
    network = ScoringNetwork(model.resize, model.normalization, module.trunk, head).eval()
    network.requires_grad_(False)
    return network


def example_input(model: TrainedModel, batch: int = 2) -> torch.Tensor:
    """A fixed random input of the model's shape, for tracing and checking the exported files."""
    size = int(model.preprocess["size"])
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, len(model.channels), size, size, generator=generator)


def export_torchscript(network: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Trace the network to TorchScript (`torch.jit.load` or LibTorch / PyTorch Mobile read it)."""
    traced = torch.jit.trace(network, example, check_trace=False)  # export() checks it after
    traced.save(str(path))
    return path


def export_onnx(network: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export to one self-contained ONNX file with a dynamic batch dimension (needs onnx and
    onnxscript, which `mer.infer.export` checks for before torch is imported)."""
    torch.onnx.export(
        network,
        (example,),
        str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    return path


#: Each format's writer and file suffix.
WRITERS = {"torchscript": (export_torchscript, ".torchscript.pt"), "onnx": (export_onnx, ".onnx")}


def exported_scores(path: Path, x: torch.Tensor) -> np.ndarray | None:
    """Scores of an exported file on `x`; None for ONNX when onnxruntime is not installed."""
    if path.suffix == ".onnx":
        if importlib.util.find_spec("onnxruntime") is None:
            return None
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    with torch.no_grad():
        return torch.jit.load(str(path)).eval()(x).numpy()


def score_gap(got: np.ndarray, expected: np.ndarray) -> float:
    """Largest score difference; −inf scores (classes the SVM never saw) must match exactly."""
    finite = np.isfinite(expected)
    if not np.array_equal(got[~finite], expected[~finite]):
        return float("inf")
    return float(np.abs(got[finite] - expected[finite]).max())


def export_spec(model: TrainedModel, files: dict[str, str]) -> dict[str, Any]:
    """`<name>.json`: what the exported models take and return, and how to make their input."""
    record = model.record
    size = int(model.preprocess["size"])
    return {
        "mer_version": mer.__version__,
        "checkpoint": str(model.path),
        "files": files,
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", len(model.channels), size, size],
            "dtype": "float32",
            "channels": model.channels,
            "units": "flow u, v, magnitude, strain in pixels of the aligned crop; onset, apex "
            "grey in [0, 1]; not normalised (the model does it)",
            "network_size": model.resize.size,
            "resize": "none: the network takes this size"
            if not model.resize.resizes
            else "inside the model: antialiased bilinear to network_size, u, v and magnitude scaled with it",
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": ["batch", len(model.classes)],
            "classes": model.classes,
            "meaning": SCORE_MEANING[model.head],
        },
        "normalization": record["normalization"],
        "preprocess": record["preprocess"],
    }
