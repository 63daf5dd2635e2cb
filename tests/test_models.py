"""model=: MobileNetV2, STSTNet, OFF-ApexNet and ResNet-18, each with every head, through training,
checkpoint, mer-predict and export; experiment=baselines through mer-report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd
import pytest
import torch
from helpers import compose_on_release
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from mer.architectures import ARCHITECTURES
from mer.config import CONFIG_DIR
from mer.errors import user_error_in
from mer.infer.clip_input import read_clip
from mer.infer.export import export, torchscript_allowed
from mer.infer.predict import predict_clip
from mer.infer.trained import load_trained
from mer.preprocess.cache import load_cache
from mer.run_dir import CHECKPOINT, METRICS, PREDICTIONS, SCORE_PREFIX
from mer.train.job import train
from mer.train.registry import registered_trunks
from mer.train.ststnet import STSTNet

CLASSES = ["happiness", "disgust", "repression", "surprise", "others"]
HEADS = ["softmax", "hinge", "svm"]
MODEL_PRESETS = Path(CONFIG_DIR) / "model"
#: Per model: its preset's input channels and network input side, its feature width, and its parameter
#: count with a 5-class head (trunk + classifier), worked out by hand from each network's layers:
#: STSTNet (the authors' main.py) 3·(3·9+1) + 5·(27+1) + 8·(27+1) = 448 in the convolutions + 2·16 = 32
#: in BatchNorm + 400·5+5 = 2,005 in the linear layer = 2,485;
#: OFF-ApexNet 2·(6·25+6 + 16·6·25+16) = 5,144 + 1568·1024+1024 + 1024·1024+1024 + 1024·5+5 = 2,666,525.
MODELS = {
    "mobilenetv2": (["u", "v"], 224, 1280, 2_229_989),
    "ststnet": (["u", "v", "strain"], 28, 400, 2_485),
    "offapexnet": (["u", "v"], 28, 1024, 2_666_525),
    "resnet18": (["u", "v"], 224, 512, 11_175_941),
}


def tiny(model: str) -> list[str]:
    """Every model on flow at 32² (a CPU test): the 224² networks take it as it is, the 28² ones resized."""
    return [f"model={model}", "preprocess.size=32"]


@pytest.mark.parametrize("model", MODELS)
def test_each_preset_is_its_papers_network_on_its_papers_input(workspace: Path, model: str) -> None:
    channels, size, width, n_parameters = MODELS[model]
    cfg = compose_on_release(workspace, f"model={model}")
    # One cache per dataset: every model's flow at the working size, the 28² networks resized from it.
    assert list(cfg.input.channels) == channels and cfg.preprocess.size == 224
    assert (cfg.model.input_size or cfg.preprocess.size) == size and cfg.datamodule.input_size == cfg.model.input_size
    network = instantiate(
        cfg.model, in_channels=len(channels), classes=CLASSES, head=OmegaConf.to_container(cfg.head), _convert_="all"
    ).eval()
    assert network.n_parameters == n_parameters
    x = torch.randn(3, len(channels), size, size)
    with torch.no_grad():
        assert tuple(network.features(x).shape) == (3, width)
        assert tuple(network(x).shape) == (3, len(CLASSES))


def test_every_registered_trunk_has_a_preset_and_a_place_in_the_report(workspace: Path) -> None:
    """The registry (builders), ARCHITECTURES (the report's order) and conf/model/ name the same models."""
    presets = {
        p.stem: compose_on_release(workspace, f"model={p.stem}").model.arch for p in MODEL_PRESETS.glob("*.yaml")
    }
    assert set(registered_trunks()) == set(ARCHITECTURES) == set(presets.values()) == set(MODELS)
    assert all(name == arch for name, arch in presets.items())


def test_ststnet_is_the_authors_network_layer_by_layer() -> None:
    """christy1206/STSTNet main.py: conv(3→3|5|8, 3×3, padding 2) → ReLU → BN → maxpool(3, 3, 1) →
    dropout 0.5 per branch, concatenated, avgpool 2×2, 400 features; at 28²: 30² → 10² → 5²."""
    trunk = STSTNet(3)
    for branch, filters in zip(trunk.branches, (3, 5, 8)):
        conv, relu, norm, pool, drop = branch
        assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.padding) == (3, filters, (3, 3), (2, 2))
        assert isinstance(relu, nn.ReLU) and isinstance(norm, nn.BatchNorm2d) and norm.num_features == filters
        assert (pool.kernel_size, pool.stride, pool.padding) == (3, 3, 1) and drop.p == 0.5
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        branches = [branch(x) for branch in trunk.eval().branches]
        assert [tuple(b.shape) for b in branches] == [(2, 3, 10, 10), (2, 5, 10, 10), (2, 8, 10, 10)]
        # mer's adaptive pool to 5² is, at 28², exactly the authors' AvgPool2d(kernel_size=2, stride=2).
        authors = nn.AvgPool2d(kernel_size=2, stride=2, padding=0)(torch.cat(branches, 1)).flatten(1)
        torch.testing.assert_close(trunk(x), authors)
    assert sum(p.numel() for p in trunk.parameters()) == 480 and trunk.width == 400


def test_recipe_authors_gives_each_network_its_published_training(workspace: Path) -> None:
    ststnet = compose_on_release(workspace, "experiment=baselines", "model=ststnet", "recipe=authors")
    assert (ststnet.model.optimizer._target_, ststnet.model.optimizer.lr, ststnet.model.optimizer.weight_decay) == (
        "torch.optim.Adam",
        5e-5,
        0.0,
    )
    assert (ststnet.datamodule.batch_size, ststnet.trainer.max_epochs) == (256, 800)
    assert (ststnet.model.pretrained, ststnet.model.dropout, ststnet.model.precise_bn) == ("none", 0.0, False)
    assert (ststnet.preprocess.size, ststnet.model.input_size) == (224, 28)
    offapexnet = compose_on_release(workspace, "model=offapexnet", "recipe=authors")
    assert (offapexnet.model.pretrained, offapexnet.model.dropout, offapexnet.trainer.max_epochs) == ("none", 0.5, 3000)
    # MobileNetV2's authors are the paper's: recipe=authors is recipe=paper there, value for value; ResNet-18
    # has no micro-expression authors and trains under the paper recipe too.
    for model in ("mobilenetv2", "resnet18"):
        authors = OmegaConf.to_container(
            compose_on_release(workspace, f"model={model}", "recipe=authors"), resolve=True
        )
        paper = OmegaConf.to_container(compose_on_release(workspace, f"model={model}", "recipe=paper"), resolve=True)
        assert authors == paper, model


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("model", MODELS)
def test_fast_dev_run_every_model_and_head_and_its_checkpoint_predicts_alike(
    workspace: Path, tmp_path: Path, model: str, head: str
) -> None:
    cfg = compose_on_release(
        workspace, *tiny(model), f"head={head}", "+trainer.fast_dev_run=1", "data.fold=1", "save_checkpoint=true"
    )
    train(cfg, tmp_path)
    predictions = pd.read_csv(tmp_path / PREDICTIONS)
    assert list(predictions.columns) == [
        "sample_id",
        "subject",
        "label",
        "pred",
        *[f"{SCORE_PREFIX}{c}" for c in CLASSES],
    ]
    assert set(predictions["subject"]) == {"sub02"} and len(predictions) == 5
    saved = json.loads((tmp_path / METRICS).read_text())
    assert saved["model"] == model and saved["n_parameters"] == MODELS[model][3]
    assert saved["timing"]["train_steps"] == 1
    # The checkpoint alone scores a clip from its frames as training scored it (mer-predict's path).
    trained = load_trained(tmp_path / CHECKPOINT)
    assert trained.channels == MODELS[model][0]
    sample = load_cache(saved["cache"]).samples.set_index("sample_id").loc[predictions["sample_id"].iloc[0]]
    result = predict_clip(
        trained,
        read_clip([workspace / "release" / sample.clip_dir]),
        onset=sample.onset_frame,
        apex=sample.apex_frame,
        progress=False,
    )
    expected = predictions.iloc[0][[f"{SCORE_PREFIX}{c}" for c in CLASSES]].to_numpy(float)
    np.testing.assert_allclose(list(result.scores.values()), expected, atol=1e-4)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["model=ststnet", "input=uv"],
            "model=ststnet convolves u, v and optical strain together (3 channels) "
            "but the input has 2 channel(s): use input=uvs",
        ),
        (
            ["model=ststnet", "model.input_size=48"],
            "model.input_size=48 is larger than the flow's preprocess.size=32: compute the flow at "
            "preprocess.size=48 or more (it is resized down to the network, never up)",
        ),
        (
            ["model=offapexnet", "model.pretrained=imagenet"],
            "model.pretrained=imagenet: model=offapexnet has no "
            "pretrained weights (its paper trains it from scratch); use model.pretrained=none",
        ),
        (
            ["model=resnet18", "model.width_mult=0.5"],
            "model.width_mult=0.5 is MobileNetV2's: model=resnet18 has no width multiplier",
        ),
    ],
)
def test_a_setting_a_model_cannot_take_is_one_line(workspace: Path, tmp_path: Path, overrides, message) -> None:
    cfg = compose_on_release(workspace, *overrides, "preprocess.size=32", "+trainer.fast_dev_run=1")
    with pytest.raises(Exception) as raised:  # Hydra's instantiate wraps it; mer-train prints it alone
        train(cfg, tmp_path)
    assert str(user_error_in(raised.value)) == message


def test_ststnet_exports_to_torchscript_and_onnx_with_the_checkpoints_scores(workspace: Path, tmp_path: Path) -> None:
    cfg = compose_on_release(
        workspace,
        "model=ststnet",
        "preprocess.size=56",
        "head=hinge",
        "trainer.max_epochs=1",
        "data.fold=0",
        "save_checkpoint=true",
    )
    train(cfg, tmp_path / "run")
    model = load_trained(tmp_path / "run" / CHECKPOINT)
    written = export(model, tmp_path / "export", "ststnet", ["torchscript", "onnx"])
    cache = load_cache(json.loads((tmp_path / "run" / METRICS).read_text())["cache"])
    x = torch.from_numpy(np.stack([cache.array(c) for c in model.channels], axis=1).astype(np.float32))
    expected = model.scores(x)
    # The exported files take the flow at the cache's 56² and resize it to the network's 28² inside.
    assert expected.shape == (len(cache.samples), len(CLASSES)) and x.shape[-1] == 56 and model.resize.size == 28
    with torch.no_grad(), torchscript_allowed():
        torchscript = torch.jit.load(str(written["torchscript"]))(x).numpy()
    np.testing.assert_allclose(torchscript, expected, atol=1e-4, rtol=0)
    session = onnxruntime.InferenceSession(str(written["onnx"]), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["scores"], {"input": x.numpy()})[0], expected, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_a_two_fold_cut_of_the_baselines_sweep_runs_through_mer_report(workspace: Path) -> None:
    sweep = workspace / "baselines"
    bin_dir = Path(sys.executable).parent
    # Every model at 32² (its preset's size is checked above; 224² would take minutes on 2 cores).
    result = subprocess.run(
        [
            str(bin_dir / "mer-train"),
            "-m",
            "experiment=baselines",
            f"data.root={workspace / 'release'}",
            f"paths.output_dir={workspace / 'out'}",
            "data.fold=0,1",
            "trainer.max_epochs=1",
            "preprocess.size=32",
            "trainer.enable_progress_bar=false",
            f"hydra.sweep.dir={sweep}",
        ],
        capture_output=True,
        text=True,
        cwd=workspace,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = subprocess.run([str(bin_dir / "mer-report"), str(sweep)], capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    methods = pd.read_csv(sweep / "report_methods.csv")
    assert list(zip(methods["model"], methods["head"])) == [(m, h) for m in MODELS for h in ("softmax", "hinge")]
    assert list(methods["input"]) == ["uv", "uv", "uvs", "uvs", "uv", "uv", "uv", "uv"]
    assert list(methods["n_parameters"]) == [MODELS[m][3] for m in MODELS for _ in range(2)]
    # One cache at 32² for every model; the 28² networks resized it. No recipe= ran: mer-train's defaults.
    assert list(methods["input_size"]) == [32, 32, 28, 28, 28, 28, 32, 32] and set(methods["size"]) == {32}
    assert methods["recipe"].isna().all()
    assert set(methods["n_samples"]) == {10} and (methods["fit_s_median"] > 0).all()
    for _, r in methods.iterrows():
        assert r["uf1_ci_low"] <= r["uf1"] <= r["uf1_ci_high"]
    md = (sweep / "report.md").read_text()
    assert "### Methods: the paper's MobileNetV2 beside the field's baselines" in md
    assert "| casme2 | `ststnet` | `defaults` | `hinge` | uvs | 32² → 28² |" in md
    assert "**The paper's Table 4, as the paper prints it.**" in md
    assert "| optical flow + improved MobileNetV2 + SVM (the paper) | 53.01 | 0.5231 |" in md
    assert "the paper's Table 4: the paper's numbers" in report.stdout
    # The paper's Table 2/3 numbers stand beside MobileNetV2's rows only, never another model's (on
    # 2 of 3 subjects they read "not comparable", which is the paper's column there).
    families = {part.split("\n", 1)[0]: part for part in md.split("\n### ")}
    beside = {
        header.split("model=")[1].split(",")[0]: "not comparable: 2 of 3 subjects" in text
        for header, text in families.items()
        if header.startswith("casme2 · `model=")
    }
    assert beside == {"mobilenetv2": True, "ststnet": False, "offapexnet": False, "resnet18": False}
