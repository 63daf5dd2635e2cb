"""Writing files a full disk cannot leave half-written: a temp sibling renamed into place."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from mer.errors import MerError

#: The errors of a disk (or a quota) that has filled up.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(err: BaseException) -> bool:
    """Whether an error is a full disk or an exhausted quota."""
    return isinstance(err, OSError) and err.errno in DISK_FULL


def disk_full_error(folder: Path, what: str) -> MerError:
    """The one line for a disk that filled up while writing `what` into `folder`."""
    return MerError(
        f"no space left on the disk of {folder} while writing {what}: nothing half-written "
        "was kept; free space there (or write elsewhere) and run again"
    )


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` to a hidden sibling of `path`, then rename it into place: a reader never sees a
    half file, and a full disk leaves none behind (one line naming the folder)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if is_disk_full(err):
            raise disk_full_error(path.parent, path.name) from err
        raise
