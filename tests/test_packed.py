"""`hydra/launcher=packed`: folds of one configuration trained as one vmapped network, each as it
would train alone (equivalence to separate runs), every job's dir written as a separate job writes it."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

import lightning as L
import pandas as pd
import pytest
import torch
from helpers import compose_on_release

from mer.preprocess.prepare import INTERRUPTED
from mer.run_dir import FAILED, LAUNCHER_RECORD, METRICS, PREDICTIONS, RUN_CONFIG
from mer.train.fold_run import make_datamodule, make_model
from mer.train.job import fold_cache
from mer.train.packed import PackedFold, train_packed

#: Uneven folds: dropping the clip whose apex is missing leaves sub03 with 4 clips, so the three
#: training folds hold 9, 9 and 10 clips: at batch 3, 3 or 4 batches an epoch, and one last batch of 1.
UNEVEN = ("data.reader.apex_policy=drop", "datamodule.batch_size=3")
#: Dropout off: packed folds draw dropout masks from one generator (equal in distribution only).
EXACT = ("model.dropout=0", "model.width_mult=0.25", "preprocess.size=64")


def folds_of(workspace: Path, *overrides: str) -> list[PackedFold]:
    """The three folds of the small release, each built as a separate job builds it (seeded)."""
    folds = []
    for fold in range(3):
        cfg = compose_on_release(workspace, *EXACT, *UNEVEN, f"data.fold={fold}", *overrides)
        cache = fold_cache(cfg)
        L.seed_everything(cfg.seed, verbose=False)
        dm = make_datamodule(cfg, cache)
        folds.append(PackedFold(dm, make_model(cfg, dm)))
    return folds


def quiet_trainer(**options) -> L.Trainer:
    """A CPU Trainer in float64 that writes and prints nothing. In float32, MobileNetV2's BatchNorm
    over batches of 3 turns the last-bit differences between a grouped convolution (what vmap runs)
    and separate ones into gradients apart by percents, and noise into differing weights within a
    few steps; in float64 the two agree to 1e-10, so an equality that fails is a real difference."""
    return L.Trainer(
        accelerator="cpu",
        precision="64-true",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **options,
    )


def alone(fold: PackedFold, **options) -> torch.nn.Module:
    """A copy of the fold's model, fitted alone by Lightning, as a separate job fits it."""
    model, dm = copy.deepcopy(fold.model), copy.deepcopy(fold.dm)
    dm.x = None  # loaded again by this fit
    quiet_trainer(**options).fit(model, datamodule=dm)
    return model


def test_one_packed_step_gives_each_fold_the_gradient_it_gets_alone(workspace: Path) -> None:
    """Plain SGD (no momentum, no decay): a step moves each weight by -lr × its gradient, so equal
    weights after one step are equal gradients; BatchNorm's statistics are compared too."""
    sgd = ("model/optimizer=sgd", "model.optimizer.lr=0.5", "model.optimizer.weight_decay=0", "model.precise_bn=false")
    folds = folds_of(workspace, *sgd)
    separate = [alone(fold, max_epochs=1, limit_train_batches=1) for fold in folds]
    start = copy.deepcopy(folds[0].model.state_dict())
    train_packed(folds, quiet_trainer(max_epochs=1, limit_train_batches=1))
    for fold, reference in zip(folds, separate):
        moved = max(
            (p - start[n]).abs().max().item() for n, p in fold.model.named_parameters() if n == "classifier.1.weight"
        )
        assert moved > 1e-3  # the step did something: the comparison below can fail
        for name, value in reference.state_dict().items():
            torch.testing.assert_close(fold.model.state_dict()[name], value, atol=1e-10, rtol=1e-9)
        assert fold.steps == 1


def test_uneven_packed_folds_train_and_predict_as_they_do_alone(workspace: Path) -> None:
    """Three epochs of folds of 3, 3 and 4 batches (last batches of 3, 3 and 1) with Adam and
    precise BN: each packed fold takes exactly its own steps and predicts as it does alone."""
    folds = folds_of(workspace)
    assert [len(f.dm.train_index) for f in folds] == [9, 9, 10]
    separate = [alone(fold, max_epochs=3) for fold in folds]
    stats = train_packed(folds, quiet_trainer(max_epochs=3))
    assert [f.steps for f in folds] == [3 * len(f.loader) for f in folds]
    assert stats["steps"] == 12
    for fold, reference in zip(folds, separate):
        fold.model.recompute_batchnorm(fold.loader, contextlib.nullcontext())
        test = fold.dm.x[torch.as_tensor(fold.dm.test_index)]
        fold.model.eval(), reference.eval()
        with torch.no_grad():
            torch.testing.assert_close(fold.model(test), reference(test), atol=1e-5, rtol=1e-5)
        assert len(fold.curves) == 3 and all(torch.isfinite(torch.tensor(r["train/loss"])) for r in fold.curves)


@pytest.mark.parametrize("head", ["softmax", "hinge"])  # the hinge loss of NaN scores reads 0
def test_a_fold_whose_training_turns_nan_fails_alone(workspace: Path, head: str) -> None:
    folds = folds_of(workspace, f"head={head}", "model.precise_bn=false")
    with torch.no_grad():
        folds[1].model.classifier[1].weight.fill_(float("nan"))
    reference = alone(folds[2], max_epochs=2)
    train_packed(folds, quiet_trainer(max_epochs=2))
    assert folds[1].failure.startswith("training diverged in epoch 0: the loss or the scores became NaN")
    assert folds[0].failure is None and folds[2].failure is None
    assert folds[1].steps == len(folds[1].loader)  # stopped after the epoch that found it
    for name, value in reference.state_dict().items():  # the NaN reached no other fold
        torch.testing.assert_close(folds[2].model.state_dict()[name], value, atol=1e-8, rtol=1e-8)


def test_a_compiled_or_graphed_model_is_refused_in_one_line(workspace: Path) -> None:
    from mer.errors import MerError

    folds = folds_of(workspace, "model.compile=true")
    with pytest.raises(MerError, match=r"hydra/launcher=packed .* model.compile=true .* set model.compile=false"):
        train_packed(folds, quiet_trainer(max_epochs=1))


def test_a_configurations_jobs_are_those_that_differ_only_in_fold_and_seed() -> None:
    from omegaconf import OmegaConf

    from hydra_plugins.mer_launcher._packs import SweepJob, configurations

    cells = [(h, f, s) for h in ("softmax", "hinge") for f in range(3) for s in (0, 1)]
    jobs = [
        SweepJob([f"head={h}", f"data.fold={f}", f"seed={s}"], OmegaConf.create(), i)
        for i, (h, f, s) in enumerate(cells)
    ]
    assert [[j.idx for j in group] for group in configurations(jobs)] == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]


@pytest.mark.slow
def test_a_packed_sweep_writes_each_job_as_a_separate_sweep_does(workspace: Path, tmp_path: Path) -> None:
    """Two configurations (softmax, post-hoc SVM) × three uneven folds, on the default launcher and
    packed two folds at a time. The packed sweep is stopped by Ctrl-C once the second configuration
    has started (one line, exit 130, the first configuration's jobs kept); its rerun, with a fold
    out of range added, skips those, trains the rest, and fails that fold alone. Then every job has
    the same predictions and scores as the separate sweep's, and the same files."""
    from test_sweeps import ctrl_c_sweep, sweep

    settings = ["trainer.max_epochs=2", "trainer.precision=64-true", *EXACT, *UNEVEN, "head=softmax,svm"]
    separate = sweep(workspace, tmp_path / "separate", *settings, "data.fold=0,1,2")
    assert separate.returncode == 0, separate.stderr[-3000:]
    out = tmp_path / "packed"
    packed = [*settings, "hydra/launcher=packed", "hydra.launcher.folds_per_pack=2"]

    def second_configuration_started() -> bool:
        return len(list(out.glob(f"*/{METRICS}"))) == 3 and any(out.glob("*head=svm*/.hydra/config.yaml"))

    code, stderr, _ = ctrl_c_sweep(workspace, out, [*packed, "data.fold=0,1,2"], second_configuration_started, 300)
    assert code == 130 and "Traceback" not in stderr, stderr[-3000:]
    # The sweep's line last; before it, the cache's own if Ctrl-C came while a job loaded it.
    said = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert said[-1] == (
        "interrupted: 3 of 6 jobs ended (the pack in training recorded nothing); rerun the same command "
        "to go on, finished jobs are skipped"
    ), stderr[-3000:]
    assert set(said[:-1]) <= {INTERRUPTED}, stderr[-3000:]
    again = sweep(workspace, out, *packed, "data.fold=0,1,2,7")
    assert again.returncode == 1
    assert "configuration 1/2: 4 jobs, none to train, 3 finished earlier, 1 failed before training" in again.stdout
    assert (
        "configuration 2/2: 4 jobs, 3 to train in 2 pack(s) of up to 2 folds, 1 failed before training" in again.stdout
    )
    assert "8 jobs: 3 ran, 3 skipped, 2 failed" in again.stdout, again.stdout[-2000:]
    failed = sorted(out.glob(f"data.fold=7*/{FAILED}"))
    assert len(failed) == 2 and failed[0].read_text().startswith("MerError: data.fold=7 is out of range")

    job_dirs = sorted(p.parent.name for p in (tmp_path / "separate").glob(f"*/{METRICS}"))
    assert len(job_dirs) == 6
    for name in job_dirs:
        mine, theirs = out / name, tmp_path / "separate" / name
        files = (METRICS, PREDICTIONS, RUN_CONFIG, LAUNCHER_RECORD, ".hydra/config.yaml", ".hydra/overrides.yaml")
        for file in (*files, "csv/metrics.csv"):
            assert (mine / file).is_file(), f"{name}/{file}"
        pd.testing.assert_frame_equal(
            pd.read_csv(mine / PREDICTIONS), pd.read_csv(theirs / PREDICTIONS), atol=1e-6, rtol=1e-6
        )
        ours, reference = json.loads((mine / METRICS).read_text()), json.loads((theirs / METRICS).read_text())
        assert (ours["uf1"], ours["timing"]["train_steps"]) == (reference["uf1"], reference["timing"]["train_steps"])
        fold = int(name.split("data.fold=")[1][0])
        assert ours["timing"]["packed_folds"] == (2 if fold < 2 else 1)
        # the rerun's record: the first configuration's jobs it skipped, the second's it packed
        slot = "untrained" if "head=softmax" in name else "pack1" if fold < 2 else "pack2"
        assert json.loads((mine / LAUNCHER_RECORD).read_text())["slot"] == slot
