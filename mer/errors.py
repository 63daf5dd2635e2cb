"""User-facing errors: one clear line for a mistake a user can fix, never a traceback."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


class MerError(Exception):
    """A mistake the user can fix (a path, a sheet, a config value); the message says what to do."""


def exits_on_user_error(func: F) -> F:
    """Turn a `MerError` raised by an entry point into `error: <message>` on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MerError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
