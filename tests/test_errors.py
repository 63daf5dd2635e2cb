"""Which errors reach the user as one line: a `MerError` and what a library wrapped around it, never an
error raised while handling one."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mer.errors import MerError, user_error_in


def refuse(value: int) -> int:
    """A target that refuses its argument as a user mistake."""
    raise MerError(f"value={value}: use another")


def test_a_mistake_wrapped_by_hydras_instantiate_is_found() -> None:
    with pytest.raises(InstantiationException) as raised:
        instantiate({"_target_": f"{__name__}.refuse", "value": 3})
    assert str(user_error_in(raised.value)) == "value=3: use another"


def test_a_mistake_inside_an_omegaconf_resolver_is_found() -> None:
    # Registered for this test only: Hydra hands the resolvers to the jobs a launcher starts, which
    # cannot import this test module.
    OmegaConf.register_new_resolver("test_errors_refuse", lambda: refuse(4), replace=True)
    try:
        cfg = OmegaConf.create({"x": "${test_errors_refuse:}"})
        with pytest.raises(Exception) as raised:  # OmegaConf's InterpolationResolutionError, cause cleared
            cfg.x  # noqa: B018
    finally:
        OmegaConf.clear_resolver("test_errors_refuse")
    assert raised.value.__cause__ is None
    assert str(user_error_in(raised.value)) == "value=4: use another"


def test_an_error_raised_while_handling_a_mistake_is_not_that_mistake() -> None:
    with pytest.raises(OSError) as raised:
        try:
            refuse(5)
        except MerError:
            raise OSError("cleaning up failed")  # noqa: B904 (the case under test: no `from`)
    assert isinstance(raised.value.__context__, MerError) and user_error_in(raised.value) is None
    with pytest.raises(RuntimeError) as chained:
        try:
            refuse(6)
        except MerError as err:
            raise RuntimeError("wrapped on purpose") from err
    assert str(user_error_in(chained.value)) == "value=6: use another"
