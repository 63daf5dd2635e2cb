"""Every option of every config group composes with the real `train` config, and what it configures
instantiates: the model, its optimiser and schedule, the head, the trainer, the flow function, and every
other `_target_` resolves. In seconds, without data: a broken preset fails here, not in a sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import compose_train
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from mer.config import CONFIG_DIR
from mer.train.heads import make_head

CONF = Path(CONFIG_DIR)
CLASSES = ["happiness", "disgust", "repression", "surprise", "others"]
#: Groups whose options are chosen on mer-train's command line (hydra/ is Hydra's own, composed below;
#: spot/ is mer-spot's, composed with its own config).
GROUPS = sorted(
    str(path.parent.relative_to(CONF))
    for path in CONF.rglob("*.yaml")
    if path.parent != CONF and path.parts[len(CONF.parts)] not in ("hydra", "spot")
)
OPTIONS = sorted({(group, path.stem) for group in GROUPS for path in (CONF / group).glob("*.yaml")})
#: Values a dataset config leaves for the user (`???`), given so that every key resolves.
ROOTS = ["data.root=/nowhere"]


def targets(node, where: str = "") -> list[tuple[str, str]]:
    """Every `_target_` in a config, with its key."""
    found = []
    if isinstance(node, DictConfig):
        for key in node.keys():
            value = node._get_node(key)._value() if OmegaConf.is_missing(node, key) else node[key]
            if key == "_target_":
                found.append((where, value))
            elif isinstance(value, (DictConfig, ListConfig)):
                found += targets(value, f"{where}.{key}".strip("."))
    elif isinstance(node, ListConfig):
        for i, value in enumerate(node):
            found += targets(value, f"{where}[{i}]")
    return found


def test_every_group_has_options_and_the_groups_mirror_the_code() -> None:
    assert {"data", "input", "head", "model", "model/optimizer", "model/scheduler", "datamodule", "trainer"} <= set(
        GROUPS
    )
    assert len(OPTIONS) >= 60


def choose(group: str, option: str) -> list[str]:
    """The overrides that select an option: `recipe/by_model`'s `<recipe>_<model>` files are chosen by
    `recipe=` and `model=` together, every other option by `group=option`."""
    if group == "recipe/by_model":
        recipe, model = option.split("_", 1)
        return [f"recipe={recipe}", f"model={model}"]
    return [f"{group}={option}"]


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_each_option_composes_and_instantiates(group: str, option: str, imagenet_home: Path) -> None:
    cfg = compose_train(*choose(group, option), *ROOTS)
    OmegaConf.to_container(cfg.model, resolve=True)  # every interpolation of what trains resolves
    for key, target in targets(cfg):
        assert get_object(target) is not None, f"{key}._target_={target}"
    model = instantiate(
        cfg.model,
        in_channels=len(cfg.input.channels),
        classes=CLASSES,
        head=OmegaConf.to_container(cfg.head, resolve=True),
        _convert_="all",
    )
    optimizer = model.optimizer(model.head.param_groups(model.trunk, model.classifier))
    assert isinstance(optimizer, torch.optim.Optimizer)
    if model.scheduler is not None:
        assert isinstance(model.scheduler(optimizer, 10), torch.optim.lr_scheduler.LRScheduler)
    assert make_head(OmegaConf.to_container(cfg.head, resolve=True)).name == cfg.head.name
    assert callable(instantiate(cfg.preprocess.flow))
    # trainer=gpu's other arguments are checked on a CPU-only machine too.
    on_cpu = {} if torch.cuda.is_available() else {"accelerator": "cpu"}
    trainer = instantiate(cfg.trainer, logger=False, enable_progress_bar=False, **on_cpu)
    assert trainer.fast_dev_run or trainer.max_epochs == cfg.trainer.max_epochs


@pytest.mark.parametrize("launcher", ["gpus", "packed", "basic", "submitit_local", "slurm"])
def test_each_launcher_composes(launcher: str) -> None:
    cfg = compose_train(f"hydra/launcher={launcher}", *ROOTS, hydra_config=True)
    assert get_object(cfg.hydra.launcher._target_) is not None


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONF / "spot").glob("*.yaml")))
def test_each_spotting_method_composes_with_mer_spots_config(option: str) -> None:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("spot", overrides=[f"spot={option}"])
    for key, target in targets(cfg):
        assert get_object(target) is not None, f"{key}._target_={target}"
    assert callable(instantiate(cfg.spot.flow))
