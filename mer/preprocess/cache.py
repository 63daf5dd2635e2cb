"""The flow cache's read side: its layout, `FlowCache`, `load_cache` and the integrity checks (numpy and
pandas only: training, the report and inference open caches without the preprocessing stack).

Layout of one cache directory (`{cache_dir}/{release_name}-{key[:16]}/`, built by `mer.preprocess.cache_build`):

- `manifest.json`: format, key, parameters, reader provenance, counts, the data checks of
  `mer.preprocess.data_check` (`paper_counts`, `degenerate`), versions, and per file its byte size
  and sha256 (an array's also shape and dtype);
- `samples.csv`: the sample table, row i ↔ index i of every array;
- one `{channel}.npy` per channel of `CHANNELS`, `[N, size, size]` float16 (flow in pixels of the
  aligned crop; onset/apex grey in [0, 1]);
- `landmarks.npy` `[N, 68, 2]` float32 on the onset frame (NaN where no face was found) and
  `transform.npy` `[N, 2, 3]` float32, the frame→crop affine used for both frames.

Every load runs the cheap check (files, sizes, shapes, row count); `--verify` also compares each
file's sha256 with the manifest's. sha256 rather than a faster non-cryptographic hash: it needs no
dependency, `sha256sum u.npy` checks a file without mer, and it runs once per copied cache
(`make bench-prepare` prints its time).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mer.errors import MerError, plural

#: Image channels every cache holds, in this order (`mer.preprocess.clip.aligned_channels` computes
#: them); the `input` config picks among them.
CHANNELS: tuple[str, ...] = ("u", "v", "magnitude", "strain", "onset", "apex")
#: Channel arrays are stored at half precision (mer-predict rounds a new clip's channels alike).
CACHE_DTYPE = np.float16

#: The cache format this code writes and reads (2: the manifest records each file's size and hash).
CACHE_FORMAT = 2
MANIFEST = "manifest.json"
SAMPLES = "samples.csv"
#: Manifest entries every load needs (dotted paths).
REQUIRED_KEYS = ("format", "key", "dataset", "n", "classes", "channels", "params.size", "files")
REPAIR = "copy the cache again, or rebuild it with mer-prepare (which moves a damaged cache aside)"


class CacheDamaged(MerError):
    """A cache whose files disagree with its manifest (cut short, missing, edited)."""

    def __init__(self, path: Path, problem: str, message: str | None = None) -> None:
        self.path, self.problem = Path(path), problem
        super().__init__(message or f"damaged cache {self.path}: {problem}; {REPAIR}")


class NotACache(CacheDamaged):
    """A path that holds no cache at all (not a directory, or one without a manifest or any cache
    file): a wrong path, said as such; in a cache's own place mer-prepare moves it aside too."""

    def __init__(self, path: Path, problem: str) -> None:
        advice = "pass the directory mer-prepare prints as its last line"
        super().__init__(path, problem, f"{path} is not a mer cache ({problem}): {advice}")


def is_synthetic_release(provenance: dict[str, Any]) -> bool:
    """Whether a table or cache comes from the synthetic release: its provenance records the
    generator's params (`mer.synthetic.read_synthetic`); its layout's real reader names the dataset."""
    return "synthetic" in provenance


def release_name(dataset: str, provenance: dict[str, Any]) -> str:
    """The release a table or cache comes from, as cache directories, logs and mer-show name it:
    `synthetic-casme2` for the synthetic release in CASME II's layout, else the dataset."""
    return f"synthetic-{dataset}" if is_synthetic_release(provenance) else dataset


def sha256_of(path: Path) -> str:
    """The file's sha256 (as `sha256sum` prints it), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy file's header, without reading its data."""
    with open(path, "rb") as file:
        version = np.lib.format.read_magic(file)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f".npy format version {version}")
        shape, _, dtype = read(file)
    return tuple(shape), dtype


def file_record(path: Path) -> dict[str, Any]:
    """What the manifest records of one cache file: byte size and sha256, and an array's shape
    and dtype."""
    record: dict[str, Any] = {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
    if path.suffix == ".npy":
        shape, dtype = npy_header(path)
        record.update(shape=list(shape), dtype=dtype.str)
    return record


#: The files a cache holds besides its manifest: the sample table, then the arrays.
FILES = (SAMPLES, *(f"{name}.npy" for name in (*CHANNELS, "landmarks", "transform")))


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest, checked for the entries every load needs; anything else is `CacheDamaged`."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        if not any((path / name).exists() for name in FILES):
            raise NotACache(path, f"no {MANIFEST}")
        raise CacheDamaged(path, f"no {MANIFEST} beside its other files (a copy cut short)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CacheDamaged(path, f"{MANIFEST} is not readable JSON ({err})") from err
    for dotted in REQUIRED_KEYS:
        node: Any = manifest
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise CacheDamaged(path, f"{MANIFEST} has no `{dotted}` entry (edited or damaged)")
            node = node[part]
    return manifest


def check_cache(cache: FlowCache) -> None:
    """The cheap check: every file there with its recorded size, every array with its recorded
    shape and dtype and one row per sample of samples.csv. Raises `CacheDamaged`."""
    manifest = cache.manifest
    if manifest["format"] != CACHE_FORMAT:
        raise CacheDamaged(
            cache.path,
            f"cache format {manifest['format']}, this mer reads format {CACHE_FORMAT} (it records sizes and hashes)",
        )
    for name in FILES:
        _check_file(cache.path, name, manifest["files"].get(name))
    try:
        rows = len(cache.samples)
    except (OSError, ValueError, UnicodeDecodeError) as err:  # pandas' parse errors are ValueErrors
        raise CacheDamaged(cache.path, f"{SAMPLES} is not a readable CSV ({err})") from err
    if rows != manifest["n"]:
        raise CacheDamaged(cache.path, f"{SAMPLES} has {plural(rows, 'row')}, the manifest records n={manifest['n']}")
    for name in FILES[1:]:
        length = manifest["files"][name]["shape"][0]
        if length != rows:
            raise CacheDamaged(cache.path, f"{name} holds {plural(length, 'sample')}, {SAMPLES} {rows}")


def _check_file(path: Path, name: str, record: dict[str, Any] | None) -> None:
    """One file against its manifest record: present, its byte size, an array's header."""
    file = path / name
    if not isinstance(record, dict) or not {"bytes", "sha256"} <= record.keys():
        raise CacheDamaged(path, f"{MANIFEST} has no record of {name} (edited or damaged)")
    if not file.is_file():
        raise CacheDamaged(path, f"{name} is missing")
    size = file.stat().st_size
    if size != record["bytes"]:
        how = "cut short" if size < record["bytes"] else "longer than built"
        raise CacheDamaged(path, f"{name} is {size:,} bytes, the manifest records {record['bytes']:,} ({how})")
    if file.suffix != ".npy":
        return
    try:
        shape, dtype = npy_header(file)
    except (OSError, ValueError) as err:
        raise CacheDamaged(path, f"{name} has no readable .npy header ({err})") from err
    if list(shape) != record.get("shape") or dtype.str != record.get("dtype"):
        raise CacheDamaged(
            path,
            f"{name} holds {list(shape)} {dtype.str}, the manifest records {record.get('shape')} {record.get('dtype')}",
        )


def verify_cache(cache: FlowCache) -> None:
    """The content check (after `check_cache`): every file's sha256 against the manifest's."""
    for name in FILES:
        if sha256_of(cache.path / name) != cache.manifest["files"][name]["sha256"]:
            raise CacheDamaged(
                cache.path,
                f"{name} has the recorded size but not the recorded sha256 (its content changed since it was built)",
            )


@dataclass(frozen=True)
class FlowCache:
    """A finished cache directory: manifest, sample table and memory-mapped channel arrays."""

    path: Path

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The parsed manifest.json (`CacheDamaged` if it is missing, broken or lacks an entry)."""
        return read_manifest(self.path)

    @cached_property
    def samples(self) -> pd.DataFrame:
        """The sample table, row i ↔ index i of every array."""
        return pd.read_csv(self.path / SAMPLES, dtype={"clip": str, "subject": str, "action_units": str})

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in score-column order."""
        return tuple(self.manifest["classes"])

    @property
    def size(self) -> int:
        """Side of the aligned crop, in pixels."""
        return int(self.manifest["params"]["size"])

    def array(self, name: str) -> np.ndarray:
        """One channel (or landmarks / transform) memory-mapped read-only."""
        return np.load(self.path / f"{name}.npy", mmap_mode="r")


def load_cache(path: str | Path, verify: bool = False) -> FlowCache:
    """Open a cache directory after the cheap check (and, with `verify`, the hashes): a cache that is
    not there, not finished or damaged is one `MerError` line naming the file."""
    path = Path(path)
    if not path.is_dir():
        raise NotACache(path, "not a directory")
    cache = FlowCache(path)
    check_cache(cache)
    if verify:
        verify_cache(cache)
    return cache
