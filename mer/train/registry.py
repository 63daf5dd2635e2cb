"""The trunks `model.arch` names: each model module registers its builder once, as timm's models do.

A builder takes `(in_channels, pretrained, width_mult)` and returns the trunk, from the input to the
feature layer the heads read, and that layer's width. `mer.train.backbone.make_trunk` looks a name up
here; `mer.architectures.ARCHITECTURES` (torch-free, the report's row order) and `conf/model/` name the
same set, which the tests check.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mer.errors import MerError

TrunkBuilder = Callable[[int, str, float], tuple[nn.Module, int]]
_BUILDERS: dict[str, TrunkBuilder] = {}


def register_trunk(name: str) -> Callable[[TrunkBuilder], TrunkBuilder]:
    """Decorator: make a builder the one `model.arch=name` uses (a name registers once)."""

    def register(builder: TrunkBuilder) -> TrunkBuilder:
        if name in _BUILDERS:
            raise ValueError(f"model.arch {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return register


def registered_trunks() -> tuple[str, ...]:
    """The names `model.arch` accepts, in registration order."""
    return tuple(_BUILDERS)


def trunk_builder(name: str) -> TrunkBuilder:
    """The builder `model.arch=name` uses, or one line naming the choices."""
    if name not in _BUILDERS:
        raise MerError(f"model.arch={name!r}: choose one of {', '.join(_BUILDERS)} (model=...)")
    return _BUILDERS[name]


def no_width_multiplier(arch: str, width_mult: float) -> None:
    """Refuse `model.width_mult` for a network that has none (it is MobileNetV2's)."""
    if width_mult != 1.0:
        raise MerError(f"model.width_mult={width_mult} is MobileNetV2's: model={arch} has no width multiplier")


def from_scratch(arch: str, pretrained: str, width_mult: float) -> None:
    """Refuse pretrained weights and a width multiplier for a network its paper trains from scratch."""
    no_width_multiplier(arch, width_mult)
    if pretrained != "none":
        raise MerError(
            f"model.pretrained={pretrained}: model={arch} has no pretrained weights "
            "(its paper trains it from scratch); use model.pretrained=none"
        )
