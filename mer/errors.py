"""User-facing errors: one clear line for a mistake a user can fix, never a traceback."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


class MerError(Exception):
    """A mistake the user can fix (a path, a sheet, a config value); the message says what to do."""


def root_not_set(key: str) -> MerError:
    """The error for an included composite source whose release folder (`data.roots.<key>`) is not
    given: raised by the command-line check and by the composite reader alike."""
    return MerError(
        f"data.roots.{key} is not set: give the folder of the {key} release "
        f"(data.roots.{key}=PATH), or leave {key} out of data.include"
    )


def plural(n: int, word: str) -> str:
    """`n` and a regular noun that agrees with it, for the lines mer says: "1 clip", "2 clips"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def user_facing(func: F) -> F:
    """Wrap an entry point: warnings print as one `warning: ...` line, and a `MerError` prints as
    `error: <message>` on stderr with exit code 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        warnings.formatwarning = _one_line_warning
        try:
            return func(*args, **kwargs)
        except Exception as err:
            cause = user_error_in(err)
            if cause is None:
                raise
            print(f"error: {cause}", file=sys.stderr, flush=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def user_error_in(err: BaseException | None) -> MerError | None:
    """The `MerError` behind an exception, also when a library wrapped it (`raise ... from`, as
    Hydra's instantiate does). Only causes are followed: an error raised while handling a
    `MerError` (a failed clean-up) is a new error, and must not be shown as the old message."""
    while err is not None:
        if isinstance(err, MerError):
            return err
        err = err.__cause__ or (err.__context__ if _drops_its_cause(err) else None)
    return None


def _drops_its_cause(err: BaseException) -> bool:
    """OmegaConf re-raises a resolver's error with `__cause__` cleared (unless OC_CAUSE=1), leaving
    it only as the context: for its wrappers, the context is the cause."""
    return type(err).__module__.startswith("omegaconf.") and err.__cause__ is None


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """`warning: <message>`: what the user needs, without the source line that raised it."""
    return f"warning: {message}\n"
