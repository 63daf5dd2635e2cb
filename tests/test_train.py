"""Training: the real config composed, every input × head, LOSO hygiene, losses and metrics."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import compose_on_release
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from mer.config import CONFIG_DIR
from mer.errors import MerError
from mer.evaluate.metrics import pooled_metrics
from mer.preprocess.prepare import prepare
from mer.run_dir import METRICS, PREDICTIONS
from mer.train.datamodule import LosoDataModule
from mer.train.heads import HingeHead, make_head
from mer.train.job import train

INPUTS = ["apex", "u", "v", "uv", "uvm", "uvs"]
HEADS = ["softmax", "hinge", "svm"]


def compose_small(workspace: Path, *overrides: str):
    """The real `train` config on the small release, at 32²."""
    return compose_on_release(workspace, "preprocess.size=32", *overrides)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("input_name", INPUTS)
def test_fast_dev_run_every_input_and_head(workspace: Path, tmp_path: Path, input_name, head) -> None:
    cfg = compose_small(workspace, f"input={input_name}", f"head={head}", "+trainer.fast_dev_run=1", "data.fold=1")
    metrics = train(cfg, tmp_path)
    predictions = pd.read_csv(tmp_path / PREDICTIONS)
    classes = ["happiness", "disgust", "repression", "surprise", "others"]
    assert list(predictions.columns) == ["sample_id", "subject", "label", "pred", *[f"score_{c}" for c in classes]]
    assert set(predictions["subject"]) == {metrics["test_subject"]} == {"sub02"}
    saved = json.loads((tmp_path / METRICS).read_text())
    assert saved["n"] == len(predictions) and saved["input"] == input_name and saved["head"] == head
    assert saved["timing"]["train_steps"] == 1 and saved["timing"]["fit_s"] > 0  # fast_dev_run: 1 step
    expected = pooled_metrics(predictions["label"], predictions["pred"], classes)
    assert saved["accuracy"] == pytest.approx(expected["accuracy"])


def test_full_disk_while_writing_predictions_leaves_no_half_file(workspace: Path, tmp_path: Path, monkeypatch) -> None:
    real_to_csv = pd.DataFrame.to_csv

    def to_csv_until_the_disk_fills(frame, path=None, *args, **kwargs):
        if PREDICTIONS in str(path):  # half the table reaches the disk, then it is full
            real_to_csv(frame.head(1), path, *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_to_csv(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv_until_the_disk_fills)
    cfg = compose_small(workspace, "+trainer.fast_dev_run=1")
    with pytest.raises(MerError) as err:
        train(cfg, tmp_path)
    assert str(err.value) == (
        f"no space left on the disk of {tmp_path} while writing {PREDICTIONS}: "
        "nothing half-written was kept; free space there (or write elsewhere) and run again"
    )
    assert not [p.name for p in tmp_path.iterdir() if PREDICTIONS in p.name or p.name == METRICS]


def test_no_test_subject_sample_reaches_training(workspace: Path) -> None:
    cache = prepare(compose_small(workspace))
    subjects = sorted(cache.samples["subject"].unique())
    for fold, subject in enumerate(subjects):
        dm = LosoDataModule(cache, ["u", "v"], fold=fold, val_subjects=1, seed=fold)
        dm.setup()
        test_ids = set(cache.samples.loc[cache.samples["subject"] == subject, "sample_id"])
        seen = set()
        for _, _, index in dm.train_dataloader():
            seen |= set(cache.samples["sample_id"].iloc[index.numpy()])
        for _, _, index in dm.val_dataloader():
            assert not set(cache.samples["sample_id"].iloc[index.numpy()]) & test_ids
        assert seen == set(dm.train_ids) and not seen & test_ids
        assert set(dm.test_ids) == test_ids and dm.test_subject == subject
        x, y = dm.train_tensors()
        assert len(x) == len(dm.train_ids)


def test_standardisation_uses_the_training_fold_only(workspace: Path) -> None:
    cache = prepare(compose_small(workspace))
    dm = LosoDataModule(cache, ["u"], fold=0, normalization="train_standardize")
    dm.setup()
    train_x = dm.x[torch.as_tensor(dm.train_index)]
    assert train_x.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert train_x.std().item() == pytest.approx(1.0, abs=1e-2)
    assert abs(dm.x[torch.as_tensor(dm.test_index)].mean().item()) > 1e-4  # test not used


def test_the_datamodule_serves_the_flow_at_the_networks_input_size(workspace: Path) -> None:
    cache = prepare(compose_small(workspace, "preprocess.size=32"))
    dm = LosoDataModule(cache, ["u", "strain"], fold=0, normalization="none", input_size=28)
    dm.setup()
    assert tuple(dm.x.shape[1:]) == (2, 28, 28)
    # Each sample's mean displacement in the network's pixels is its cached one × 28/32; strain keeps its values.
    u, strain = (torch.from_numpy(cache.array(c).astype(np.float32)) for c in ("u", "strain"))
    torch.testing.assert_close(dm.x[:, 0].mean((1, 2)), u.mean((1, 2)) * 28 / 32, atol=2e-3, rtol=0.02)
    torch.testing.assert_close(dm.x[:, 1].mean((1, 2)), strain.mean((1, 2)), atol=2e-3, rtol=0.02)


def test_hinge_loss_is_eq12_on_hand_values() -> None:
    scores = torch.tensor([[2.0, 1.5, -1.0], [0.2, 0.1, 0.9]])
    target = torch.tensor([0, 1])
    # sample 1 (y=0): j=1 max(0, 1 − 2 + 1.5) = 0.5; j=2 max(0, 1 − 2 − 1) = 0
    # sample 2 (y=1): j=0 max(0, 1 − 0.1 + 0.2) = 1.1; j=2 max(0, 1 − 0.1 + 0.9) = 1.8
    # MultiMarginLoss averages each sample's sum over the 3 classes, then over samples.
    p1 = ((0.5 + 0.0) / 3 + (1.1 + 1.8) / 3) / 2
    p2 = ((0.5**2) / 3 + (1.1**2 + 1.8**2) / 3) / 2
    assert HingeHead(p=1, margin=1.0, weight_decay=None).loss(None)(scores, target).item() == pytest.approx(p1)
    assert HingeHead(p=2, margin=1.0, weight_decay=None).loss(None)(scores, target).item() == pytest.approx(p2)


def test_pooled_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    classes = ["happiness", "disgust", "repression", "surprise", "others"]
    y_true = rng.choice(classes, 200, p=[0.1, 0.25, 0.1, 0.1, 0.45])
    y_pred = np.where(rng.random(200) < 0.5, y_true, rng.choice(classes[:4], 200))
    got = pooled_metrics(y_true, y_pred, classes)
    assert got["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert got["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert got["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    # A class absent from a fold neither crashes nor counts: one fold with two classes only.
    fold = pooled_metrics(["others", "others", "disgust"], ["others", "disgust", "disgust"], classes)
    assert fold["uf1"] == pytest.approx(
        f1_score(["others", "others", "disgust"], ["others", "disgust", "disgust"], average="macro")
    )


def test_bad_choices_are_one_clear_message(workspace: Path, tmp_path: Path) -> None:
    cache = prepare(compose_small(workspace))
    with pytest.raises(MerError, match=r"data.fold=7 is out of range: this dataset has 3 subjects"):
        LosoDataModule(cache, ["u"], fold=7)
    with pytest.raises(MerError, match=r"data.test_subject='sub99' is not a subject"):
        LosoDataModule(cache, ["u"], test_subject="sub99")
    with pytest.raises(MerError, match=r"unknown head 'knn'"):
        make_head({"name": "knn"})
    with pytest.raises(MerError, match=r"was built at 32×32 but preprocess.size=64"):
        train(compose_small(workspace, f"cache={cache.path}", "preprocess.size=64"), tmp_path)
    with pytest.raises(
        MerError,
        match=r"model.cuda_graph=true needs a CUDA GPU, but training runs "
        r"on cpu: add trainer=gpu, or set model.cuda_graph=false",
    ):
        train(compose_small(workspace, "model.cuda_graph=true", "trainer.max_epochs=1"), tmp_path)
    with pytest.raises(MerError, match=r"model.compile=true and model.cuda_graph=true: choose one"):
        train(compose_small(workspace, "model.cuda_graph=true", "model.compile=true"), tmp_path)


def test_precise_bn_and_the_svm_features_run_at_the_training_precision(workspace: Path) -> None:
    """bf16 training: the BatchNorm re-estimate and the post-hoc SVM's training features are bf16
    too, as the training steps and the test features are (not a float32 pass of their own)."""
    import lightning as L

    from mer.train.module import MerModule

    dm = LosoDataModule(prepare(compose_small(workspace)), ["u", "v"], fold=0, batch_size=4)
    model = MerModule(
        2,
        dm.classes,
        {"name": "svm", "kernel": "linear", "C": 1.0, "class_weight": None},
        width_mult=0.5,
        optimizer=partial(torch.optim.Adam, lr=1e-4),
    )
    dtypes: list[torch.dtype] = []
    model.trunk.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    trainer = L.Trainer(
        accelerator="cpu",
        precision="bf16-mixed",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    assert len(dtypes) == 3 + 3  # 3 training batches, then 3 for precise BN
    trainer.predict(model, datamodule=dm)
    assert len(dtypes) == 6 + 1 + 2  # the SVM's training features (one batch), 5 test clips (two)
    assert set(dtypes) == {torch.bfloat16}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
def test_cuda_graph_replay_gives_the_eager_gradients_and_keeps_batchnorm_statistics() -> None:
    from mer.train.backbone import mobilenet_v2_features
    from mer.train.cuda_graph import GraphedTraining

    torch.manual_seed(0)
    trunk, width = mobilenet_v2_features(2, width_mult=0.5)
    net = torch.nn.Sequential(trunk, torch.nn.Linear(width, 5)).cuda()
    x, y = torch.randn(8, 2, 64, 64, device="cuda"), torch.randint(0, 5, (8,), device="cuda")
    stats = [b.clone() for b in net.buffers()]
    graphed = GraphedTraining(torch.nn.Sequential(*net), x)
    assert all(torch.equal(a, b) for a, b in zip(stats, net.buffers()))  # warm-up left no trace

    def gradients(forward, inputs):
        net.zero_grad()
        torch.nn.functional.cross_entropy(forward(inputs), y).backward()
        return [p.grad.clone() for p in net.parameters()]

    for inputs in (x, torch.randn_like(x)):  # a new batch: the replay reads its inputs, not the sample
        eager, replayed = gradients(net, inputs), gradients(graphed, inputs)
        for e, r in zip(eager, replayed):
            torch.testing.assert_close(r, e, rtol=1e-3, atol=1e-5)
    with pytest.raises(ValueError, match=r"replays batches of shape \(8, 2, 64, 64\), not \(3,"):
        graphed(x[:3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_training_steps_never_wait_for_the_gpu(workspace: Path) -> None:
    """On the fast path a step only queues work: no host-device sync from batch start to end."""
    import warnings

    import lightning as L

    from mer.train.module import MerModule

    class SyncWatch(L.Callback):
        """Warn on every synchronising CUDA call inside a training step (after the first epoch,
        whose batches of 4 and of 2 capture the graphs)."""

        def on_train_batch_start(self, trainer, *args) -> None:
            if trainer.current_epoch > 0:
                torch.cuda.set_sync_debug_mode("warn")

        def on_train_batch_end(self, *args) -> None:
            torch.cuda.set_sync_debug_mode("default")

    dm = LosoDataModule(prepare(compose_small(workspace)), ["u", "v"], fold=0, batch_size=4)
    model = MerModule(
        2,
        dm.classes,
        {"name": "hinge", "p": 1, "margin": 1.0, "weight_decay": 1e-3},
        width_mult=0.5,
        optimizer=partial(torch.optim.Adam, lr=1e-4),
        channels_last=True,
        cuda_graph=True,
    )
    trainer = L.Trainer(
        accelerator="gpu",
        devices=1,
        precision="bf16-mixed",
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[SyncWatch()],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 9  # 10 training samples: batches of 4, 4 and 2 per epoch
    assert sorted(model._graphs) == [(2, 2, 32, 32), (4, 2, 32, 32)]
    synced = [str(w.message) for w in caught if "synchronizing CUDA operation" in str(w.message)]
    assert not synced, synced[:3]


def mer_train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the real `mer-train` console script."""
    exe = Path(sys.executable).with_name("mer-train")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.parametrize(
    "args, message",
    [
        (["input=flow3d"], "error: unknown input 'flow3d': choose one of apex, u, uv, uvm, uvs, v"),
        (["-m", "head=softmax,knn"], "error: unknown head 'knn': choose one of hinge, multilabel, softmax, svm"),
    ],
)
@pytest.mark.slow
def test_unknown_group_option_is_one_line(workspace: Path, args, message) -> None:
    result = mer_train(*args, cwd=workspace)
    assert result.returncode == 2
    group = args[-1].split("=")[0]
    folder = Path(CONFIG_DIR) / group  # the installed configs, where a wheel user finds them
    assert result.stderr.strip().splitlines() == [
        f"{message} ({group}=... on the command line; options live in {folder}/)"
    ]


@pytest.mark.slow
def test_fold_out_of_range_is_one_line(workspace: Path) -> None:
    result = mer_train(
        "data=casme2",
        f"data.root={workspace / 'release'}",
        f"paths.output_dir={workspace / 'out'}",
        "preprocess.size=32",
        "data.fold=9",
        cwd=workspace,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: data.fold=9 is out of range: this dataset has 3 subjects, so folds 0–2 "
        "(or sweep them all with folds=all)"
    )


@pytest.mark.slow
def test_two_fold_multirun_end_to_end(workspace: Path) -> None:
    sweep = workspace / "sweep"
    result = mer_train(
        "-m",
        "data=casme2",
        f"data.root={workspace / 'release'}",
        f"paths.output_dir={workspace / 'out'}",
        "preprocess.size=32",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "data.fold=0,2",
        "head=softmax,hinge",
        f"hydra.sweep.dir={sweep}",
        cwd=workspace,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p.parent.name for p in sweep.glob(f"*/{METRICS}"))
    # Named by their overrides (sorted); where a job reads and writes is left out.
    common = "preprocess.size=32,trainer.max_epochs=2"
    assert jobs == [f"data.fold={f},data=casme2,head={h},{common}" for f in (0, 2) for h in ("hinge", "softmax")]
    for job in jobs:
        assert (sweep / job / ".hydra" / "config.yaml").is_file()
        assert (sweep / job / "csv" / "metrics.csv").is_file()
    held_out = {json.loads((sweep / j / METRICS).read_text())["test_subject"] for j in jobs}
    assert held_out == {"sub01", "sub03"}


def test_wandb_logs_each_fold_offline_for_real(workspace: Path, tmp_path: Path, monkeypatch, capfd) -> None:
    """logger=wandb without credentials: a real offline W&B run in the run dir, named by fold,
    written in full when the job returns, also for a second job in one process (a warm worker)."""
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc, so no credentials
    monkeypatch.setenv("WANDB_SILENT", "true")
    for fold, subject in ((1, "sub02"), (2, "sub03")):
        cfg = compose_small(workspace, "logger=wandb", "trainer.max_epochs=1", f"data.fold={fold}")
        train(cfg, tmp_path / f"run{fold}")
        (run,) = (tmp_path / f"run{fold}" / "wandb").glob("offline-run-*")
        assert list(run.glob("run-*.wandb"))
        # Lightning's logger writes the run's name and config into the run files.
        record = b"".join(p.read_bytes() for p in run.glob("run-*.wandb"))
        assert f"fold{fold}-{subject}".encode() in record and b"test/accuracy" in record
        # W&B's own header, history and footer are silenced: one line per run says where it went.
        printed = capfd.readouterr()
        metrics = json.loads((tmp_path / f"run{fold}" / METRICS).read_text())
        assert (
            f"W&B: fold{fold}-{subject}: accuracy {metrics['accuracy']:.3f}, UF1 {metrics['uf1']:.3f}, "
            f"offline in {run}" in printed.out.splitlines()
        )
        assert "anonymous" not in printed.err and "wandb sync" not in printed.out


def test_the_progress_bar_hides_the_wandb_run_id(workspace: Path, tmp_path: Path, monkeypatch) -> None:
    """logger=wandb (offline) beside the CSV logger, as mer-train builds them: Lightning would show
    W&B's run id in the progress bar as `v_num`; mer's bar shows no `v_num`."""
    import lightning as L
    from lightning.pytorch.callbacks.progress.progress_bar import get_standard_metrics
    from lightning.pytorch.loggers import WandbLogger
    from omegaconf import OmegaConf

    from mer.train.loggers import close_loggers, make_loggers
    from mer.train.module import MerModule

    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc, so no credentials: offline
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = compose_small(workspace, "logger=wandb", "trainer.enable_progress_bar=true")
    dm = LosoDataModule(prepare(cfg), ["u", "v"], fold=0, batch_size=4)
    head = OmegaConf.to_container(cfg.head, resolve=True)
    model = MerModule(2, dm.classes, head, width_mult=0.5, optimizer=partial(torch.optim.Adam, lr=1e-4))
    loggers = make_loggers(cfg, tmp_path, dm)
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, logger=loggers, enable_checkpointing=False, log_every_n_steps=1
    )
    try:
        trainer.fit(model, datamodule=dm)
        (wandb_logger,) = [logger for logger in loggers if isinstance(logger, WandbLogger)]
        assert get_standard_metrics(trainer) == {"v_num": wandb_logger.version[-4:]}  # Lightning's own bar
        assert trainer.progress_bar_callback.get_metrics(trainer, model) == {}
    finally:
        close_loggers(loggers, {"accuracy": 0.0, "uf1": 0.0})


def test_tensorboard_event_files_are_written_and_readable(workspace: Path, tmp_path: Path) -> None:
    """logger=tensorboard: Lightning's event files in the run dir, read back with TensorBoard's own
    reader: a training loss per epoch and the fold's test metrics."""
    pytest.importorskip("tensorboard", reason="the tensorboard extra (pip install -e '.[test]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    metrics = train(compose_small(workspace, "logger=tensorboard", "trainer.max_epochs=2"), tmp_path)
    # Lightning closes the writer after fit; the test metrics then go into a second file.
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 2
    reader = EventAccumulator(str(tmp_path / "tensorboard"))  # reads a folder's files in order
    reader.Reload()
    assert [e.step for e in reader.Scalars("train/loss")] == [0, 1]  # one value per epoch
    assert reader.Scalars("test/accuracy")[-1].value == pytest.approx(metrics["accuracy"])
    assert reader.Scalars("test/uf1")[-1].value == pytest.approx(metrics["uf1"])


def test_debug_smoke_is_tiny_and_runs(workspace: Path, tmp_path: Path) -> None:
    """debug=smoke: 32² crops and 2 epochs, through the whole job to its predictions."""
    cfg = compose_small(workspace, "debug=smoke")
    assert cfg.preprocess.size == 32 and cfg.trainer.max_epochs == 2
    metrics = train(cfg, tmp_path)
    assert metrics["timing"]["train_steps"] == 2  # 2 epochs of one batch (12 training clips)
    assert len(pd.read_csv(tmp_path / PREDICTIONS)) == metrics["n"] > 0


@pytest.mark.parametrize(
    "size, epochs, warned", [(224, 200, True), (32, 2, False), (112, 200, False), (112, 500, True)]
)
def test_a_long_cpu_run_says_so(size: int, epochs: int, warned: bool, caplog) -> None:
    """A run that will take more than about 10 minutes on a CPU says so in one line, with the
    quick alternative; a short one says nothing."""
    import lightning as L

    from mer.train.job import warn_if_long_on_cpu

    trainer = L.Trainer(accelerator="cpu", max_epochs=epochs, logger=False, enable_progress_bar=False)
    with caplog.at_level(logging.WARNING, logger="mer.train.job"):
        warn_if_long_on_cpu(trainer, 52, size)
    said = [r.getMessage() for r in caplog.records if r.name == "mer.train.job"]
    minutes = round(52 * epochs * 0.15 * (size / 224) ** 2 / 60)
    expected = (
        f"this run trains 52 samples for {epochs} epochs at {size}² on a CPU: about {minutes} "
        "minutes (per job); for a first check use debug=smoke (under a minute), or a GPU (trainer=gpu)"
    )
    assert said == ([expected] if warned else [])


def test_pretrained_weights_load_from_a_file_or_say_where_to_put_them(tmp_path: Path, monkeypatch) -> None:
    from torchvision.models import mobilenet_v2

    from mer.train.backbone import mobilenet_v2_features

    reference = mobilenet_v2()
    torch.save(reference.state_dict(), tmp_path / "mnv2.pth")
    trunk, width = mobilenet_v2_features(2, pretrained=str(tmp_path / "mnv2.pth"))
    assert width == 1280
    # The 2-channel first conv starts from the mean of the RGB kernels (scaled by 3/2).
    expected = reference.features[0][0].weight.mean(dim=1, keepdim=True).repeat(1, 2, 1, 1) * 1.5
    torch.testing.assert_close(trunk[0][0][0].weight, expected)
    torch.testing.assert_close(trunk[0][5].conv[1][0].weight, reference.features[5].conv[1][0].weight)
    torch.save({"not": "weights"}, tmp_path / "junk.pth")
    with pytest.raises(MerError, match=r"junk.pth.*the state dict lacks"):
        mobilenet_v2_features(2, pretrained=str(tmp_path / "junk.pth"))
    # No file in the torch cache and no network (the tests never download): one message naming the
    # file, where it goes, and the offline command.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    hub = tmp_path / "empty-torch-home" / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    with pytest.raises(
        MerError,
        match=rf"put https://\S+mobilenet_v2-b0353104.pth at {hub} "
        r"\(on an offline machine: `mer-weights --install FILE`\)",
    ):
        mobilenet_v2_features(2, pretrained="imagenet")


def _offline(url: str, dst: str, **_) -> None:
    """torch.hub's download as it fails on a machine without a network."""
    raise OSError(f"network is unreachable: {url}")
