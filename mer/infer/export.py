"""`mer-export`: a checkpoint as TorchScript and ONNX, input normalisation and head included.

An exported model takes the clip's raw channels — `[batch, C, size, size]` float32 at the cache's
size, in the order and units the cache stores them (flow u, v in pixels of the aligned crop, grey
frames in [0, 1]) — and returns the class scores `[batch, n_classes]` that `mer-predict` prints; the
label is their argmax. The resize to the network's input size (`model.input_size`) and the
normalisation happen inside. Alignment and flow stay outside (dlib and OpenCV
are not tensor programs): `<name>.json` beside the files records their parameters.

This module imports no torch: the arguments, paths and formats are checked first (`--help` or a
mistake answers at once), and the writing itself is `mer.infer.export_formats`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mer.errors import MerError, user_facing
from mer.infer.preflight import check_writable
from mer.run_dir import check_checkpoint

if TYPE_CHECKING:
    from mer.infer.trained import TrainedModel

FORMATS = ("torchscript", "onnx")
#: What each format needs beyond mer's own dependencies, which the extra named after it installs:
#: torch.onnx.export (the torch.export-based exporter) needs onnx and onnxscript (`mer[onnx]` adds
#: onnxruntime, the check).
FORMAT_PACKAGES = {"torchscript": (), "onnx": ("onnx", "onnxscript")}


def missing_packages(fmt: str) -> str | None:
    """Why this install cannot write `fmt` (the packages it lacks and how to add them), or None."""
    missing = [name for name in FORMAT_PACKAGES[fmt] if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    packages = f"the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}"
    return f"needs {packages}: pip install 'mer[{fmt}]'"


def check_formats(requested: Sequence[str] | None) -> None:
    """Each format asked for must be one this install can write, else one clear error (checked
    before torch is imported); by default `export` skips those it cannot write, saying why."""
    for fmt in requested or ():
        reason = missing_packages(fmt)
        if reason is not None:
            raise MerError(f"--format {fmt} {reason}")


@contextlib.contextmanager
def torchscript_allowed() -> Iterator[None]:
    """Silence torch's deprecation of TorchScript (for torch.export): LibTorch and PyTorch Mobile
    still load it, which is why mer-export writes it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        yield


def export(model: TrainedModel, out_dir: Path, name: str, formats: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the formats (default: every one this install can write) and `<name>.json` listing the
    files written; each file is checked against the checkpoint."""
    from mer.infer.export_formats import (
        WRITERS,
        example_input,
        export_spec,
        exported_scores,
        score_gap,
        scoring_network,
    )

    check_formats(formats)
    network = scoring_network(model)  # a kernel SVM is refused here, before anything is written
    example = example_input(model)
    expected = model.scores(example)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in FORMATS if formats is None else formats:
        reason = missing_packages(fmt)
        if reason is not None:
            print(f"{fmt} skipped: {reason}", flush=True)
            continue
        writer, suffix = WRITERS[fmt]
        with torchscript_allowed():
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
        help="a format to write (repeatable; default: every format this install can write, "
        "ONNX with the onnx extra: pip install 'mer[onnx]')",
    )
    args = parser.parse_args(argv)
    out_dir = args.out if args.out is not None else args.checkpoint.parent
    check_checkpoint(args.checkpoint)
    check_writable(out_dir, "give a folder you can write to with --out DIR")
    check_formats(args.formats)
    from mer.infer.trained import load_trained

    export(load_trained(args.checkpoint), out_dir, args.checkpoint.stem, args.formats)


if __name__ == "__main__":
    main()
