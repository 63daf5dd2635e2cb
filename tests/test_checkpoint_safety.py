"""Checkpoints open without unpickling: crafted files refused, trusted ones opened on purpose, SVMs as arrays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TrainedRuns, cache_inputs
from omegaconf import OmegaConf

from mer.errors import MerError
from mer.infer import export, predict
from mer.infer.trained import load_trained
from mer.preprocess.cache import load_cache
from mer.run_dir import CHECKPOINT
from mer.train.checkpoint import CHECKPOINT_FORMAT
from mer.train.heads import fit_svm, svm_scores
from mer.train.svm_record import svm_from_record, svm_record


class CreatesMarker:
    """An object whose unpickling creates a file: what a crafted checkpoint could run instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def refusal(entry_point, argv: list[str], capsys) -> str:
    """The one line an entry point prints when it refuses its input with exit code 2."""
    with pytest.raises(SystemExit) as exit_:
        entry_point(argv)
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def with_omegaconf_hyperparameters(path: Path, source: Path) -> Path:
    """`source` with its hyperparameters as OmegaConf containers, as Lightning saves them by default."""
    saved = torch.load(source, map_location="cpu", weights_only=True)
    saved["hyper_parameters"] = {
        name: OmegaConf.create(value) if isinstance(value, (dict, list)) else value
        for name, value in saved["hyper_parameters"].items()
    }
    torch.save(saved, path)
    return path


def test_every_head_writes_a_checkpoint_that_opens_weights_only(trained: TrainedRuns) -> None:
    for head, run in trained.runs.items():
        assert torch.serialization.get_unsafe_globals_in_checkpoint(run / CHECKPOINT) == [], head
        record = torch.load(run / CHECKPOINT, map_location="cpu", weights_only=True)["mer"]
        assert record["format"] == CHECKPOINT_FORMAT == 2
        svm = record["svm"]
        assert (svm is None) == (head not in ("svm", "rbf")), head
        if head == "svm":
            assert svm["estimator"] == "LinearSVC" and svm["state"]["coef_"].shape == (5, 1280)
        if head == "rbf":
            assert svm["estimator"] == "SVC" and svm["state"]["support_vectors_"].shape[1] == 1280


def test_a_crafted_checkpoint_is_refused_and_runs_nothing(trained: TrainedRuns, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    saved = torch.load(trained.runs["hinge"] / CHECKPOINT, map_location="cpu", weights_only=True)
    saved["mer"]["dataset"] = CreatesMarker(marker)
    crafted = tmp_path / "model.ckpt"
    torch.save(saved, crafted)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(crafted) == ["io.open"]
    clip = str(trained.release / load_cache(trained.cache).samples.iloc[0].clip_dir)
    expected = (
        f"error: {crafted} carries objects that only an unsafe load creates (io.open), "
        "and unpickling them could run any code: mer does not open it. Open it with "
        "--trust-checkpoint only if you trust its author"
    )
    assert refusal(predict.main, [str(crafted), clip], capsys) == expected
    assert refusal(export.main, [str(crafted), "--out", str(tmp_path)], capsys) == expected
    assert not marker.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]


def test_a_checkpoint_only_an_unsafe_load_opens_is_refused_unless_trusted_on_purpose(
    trained: TrainedRuns, tmp_path: Path, capsys
) -> None:
    current = trained.runs["svm"] / CHECKPOINT
    unsafe = with_omegaconf_hyperparameters(tmp_path / "model.ckpt", current)
    clip = str(trained.release / load_cache(trained.cache).samples.iloc[0].clip_dir)
    line = refusal(predict.main, [str(unsafe), clip], capsys)
    assert line.startswith(f"error: {unsafe} carries objects that only an unsafe load creates (")
    assert "omegaconf.dictconfig.DictConfig" in line
    assert line.endswith("Open it with --trust-checkpoint only if you trust its author")
    reference = load_trained(current)
    with pytest.warns(UserWarning, match="is trusted on purpose: opened with an unsafe load"):
        trusted = load_trained(unsafe, trust=True)  # a file we wrote ourselves: safe to trust
    x = cache_inputs(trained, reference.channels)
    assert np.array_equal(trusted.scores(x), reference.scores(x))


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_an_svm_stored_as_arrays_scores_exactly_as_fitted(kernel: str, n_classes: int) -> None:
    rng = np.random.default_rng(n_classes)
    features = rng.normal(size=(40, 1280)).astype(np.float32)
    labels = np.array([0, 1, 3, 4])[np.arange(40) % n_classes]  # classes never seen score −inf
    svm = fit_svm(features, labels, kernel=kernel)
    buffer = io.BytesIO()
    torch.save({"svm": svm_record(svm)}, buffer)
    buffer.seek(0)
    rebuilt = svm_from_record(torch.load(buffer, weights_only=True)["svm"], "model.ckpt")
    assert type(rebuilt) is type(svm)
    test = rng.normal(size=(9, 1280)).astype(np.float32)
    expected = svm_scores(svm, test, 5)
    assert np.array_equal(svm_scores(rebuilt, test, 5), expected)
    seen = np.isin(np.arange(5), labels)
    assert np.isfinite(expected[:, seen]).all() and np.isneginf(expected[:, ~seen]).all()


def test_a_damaged_or_foreign_svm_entry_is_refused_in_one_line() -> None:
    rng = np.random.default_rng(0)
    record = svm_record(fit_svm(rng.normal(size=(20, 8)), np.arange(20) % 3, kernel="rbf"))
    record["state"]["support_vectors_"] = record["state"]["support_vectors_"][:-1]
    with pytest.raises(
        MerError,
        match=r"^model.ckpt: its kernel SVM's arrays \(support vectors, dual "
        r"coefficients, intercepts\) do not fit together",
    ):
        svm_from_record(record, "model.ckpt")
    with pytest.raises(MerError, match=r"^model.ckpt: its svm entry is not a LinearSVC or SVC state"):
        svm_from_record({"estimator": "Pipeline", "state": {}}, "model.ckpt")
