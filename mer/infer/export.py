"""`mer-export`: a checkpoint as TorchScript and ONNX, input normalisation and head included.

An exported model takes the clip's raw channels — `[batch, C, size, size]` float32 at the cache's
size, in the order and units the cache stores them (flow u, v in pixels of the aligned crop, grey
frames in [0, 1]) — and returns the class scores `[batch, n_classes]` that `mer-predict` prints; the
label is their argmax. The resize to the network's input size (`model.input_size`) and the
normalisation happen inside. Alignment and flow stay outside (dlib and OpenCV
are not tensor programs): `<name>.json` beside the files records their parameters.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.svm import LinearSVC
from torch import nn

import mer
from mer.errors import MerError, user_facing
from mer.infer.trained import TrainedModel, load_trained

FORMATS = ("torchscript", "onnx")
ONNX_PACKAGES = ("onnx", "onnxscript")  # what torch.onnx.export (the torch.export-based exporter) needs
INPUT_NAME, OUTPUT_NAME = "input", "scores"
SCORE_MEANING = {"softmax": "logits", "hinge": "multiclass hinge (SVM) scores", "svm": "linear SVM decision values"}


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


@contextlib.contextmanager
def torchscript_allowed() -> Iterator[None]:
    """Silence torch's deprecation of TorchScript (for torch.export): LibTorch and PyTorch Mobile
    still load it, which is why mer-export writes it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        yield


def export_torchscript(network: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Trace the network to TorchScript (`torch.jit.load` or LibTorch / PyTorch Mobile read it)."""
    with torchscript_allowed():
        traced = torch.jit.trace(network, example, check_trace=False)  # export() checks it after
    traced.save(str(path))
    return path


def export_onnx(network: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export to one self-contained ONNX file with a dynamic batch dimension."""
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise MerError(
            f"ONNX export needs {', '.join(missing)}: pip install -e '.[onnx]' (or mer-export --format torchscript)"
        )
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


def exported_scores(path: Path, x: torch.Tensor) -> np.ndarray | None:
    """Scores of an exported file on `x`; None for ONNX when onnxruntime is not installed."""
    if path.suffix == ".onnx":
        if importlib.util.find_spec("onnxruntime") is None:
            return None
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    with torch.no_grad(), torchscript_allowed():
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
            "meaning": f"{SCORE_MEANING[model.head]}; the label is the argmax",
        },
        "normalization": record["normalization"],
        "preprocess": record["preprocess"],
    }


def export(model: TrainedModel, out_dir: Path, name: str, formats: Sequence[str]) -> dict[str, Path]:
    """Write the requested formats and the spec; each file is checked against the checkpoint."""
    network = scoring_network(model)
    example = example_input(model)
    expected = model.scores(example)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {"torchscript": (export_torchscript, ".torchscript.pt"), "onnx": (export_onnx, ".onnx")}
    written = {}
    for fmt in formats:
        writer, suffix = writers[fmt]
        path = writer(network, example, out_dir / f"{name}{suffix}")
        got = exported_scores(path, example)
        if got is None:
            print(f"wrote {path} (install onnxruntime to check it against the checkpoint)", flush=True)
        else:
            print(
                f"wrote {path} (scores differ from the checkpoint's by at most {score_gap(got, expected):.1e})",
                flush=True,
            )
        written[fmt] = path
    spec = out_dir / f"{name}.json"
    spec.write_text(json.dumps(export_spec(model, {f: p.name for f, p in written.items()}), indent=2, default=str))
    print(f"wrote {spec} (input, output and preprocessing of the exported model)", flush=True)
    return written


@user_facing
def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `mer-export CHECKPOINT [--out DIR] [--format torchscript|onnx]`."""
    parser = argparse.ArgumentParser(
        prog="mer-export",
        description="Write a mer-train checkpoint as TorchScript and ONNX: raw "
        "channels in, class scores out, normalisation and head inside.",
    )
    parser.add_argument("checkpoint", type=Path, help="model.ckpt from a mer-train run dir")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder to write into (default: the checkpoint's folder)"
    )
    parser.add_argument(
        "--format",
        action="append",
        choices=FORMATS,
        default=None,
        dest="formats",
        help="a format to write (repeatable; default: both)",
    )
    args = parser.parse_args(argv)
    out_dir = args.out if args.out is not None else args.checkpoint.parent
    model = load_trained(args.checkpoint)
    export(model, out_dir, args.checkpoint.stem, args.formats or FORMATS)


if __name__ == "__main__":
    main()
