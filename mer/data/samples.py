"""The uniform sample table: what every reader returns and every later stage reads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mer.errors import MerError

#: Columns of `SampleTable.rows`, in order. Paths are relative to `SampleTable.root`.
COLUMNS: tuple[str, ...] = (
    "sample_id",  # unique across datasets: "{dataset}/{subject}/{clip}"
    "dataset",  # "casme2", "samm", ...
    "subject",  # subject id as the release names its folder, e.g. "sub01"
    "clip",  # clip id as the release names it, e.g. "EP02_01f" (verbatim)
    "label",  # class name after the label set's mapping, e.g. "happiness"
    "emotion",  # the sheet's own label before mapping, e.g. "repression"
    "action_units",  # as text, e.g. "4+7+L10"
    "onset_frame",  # int frame number
    "apex_frame",  # int frame number (after the apex policy)
    "offset_frame",  # int frame number
    "clip_dir",  # folder holding the clip's frames, relative to root
    "onset_path",  # onset frame file, relative to root
    "apex_path",  # apex frame file, relative to root
)


@dataclass(frozen=True)
class SampleTable:
    """A dataset release as one row per clip, plus what produced it (for the cache key)."""

    dataset: str
    root: Path
    rows: pd.DataFrame
    classes: tuple[str, ...]
    #: Everything about how the rows were read that is not in the rows: sheet path and sha256,
    #: reader policies, label set. Goes into the cache key and manifest.
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in COLUMNS if c not in self.rows.columns]
        if missing:
            raise ValueError(f"sample table lacks columns {missing}")
        if self.rows["sample_id"].duplicated().any():
            dups = self.rows.loc[self.rows["sample_id"].duplicated(), "sample_id"].tolist()
            raise MerError(f"duplicate sample ids {dups[:5]}: two sheet rows name the same clip")
        unknown = sorted(set(self.rows["label"]) - set(self.classes))
        if unknown:
            raise ValueError(f"labels {unknown} are not among classes {self.classes}")
        if len(self.rows) == 0:
            raise MerError(f"no samples left in {self.root} after the label set and policies")

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def subjects(self) -> list[str]:
        """Sorted subject ids: LOSO fold i holds out `subjects[i]`."""
        return sorted(self.rows["subject"].unique())

    def path(self, relative: str) -> Path:
        """Absolute path of a file named relative to the root."""
        return self.root / relative

    def content_hash(self) -> str:
        """sha256 of the rows and provenance: changes whenever what the reader returned changes."""
        digest = hashlib.sha256()
        digest.update(json.dumps(self.provenance, sort_keys=True, default=str).encode())
        digest.update(json.dumps(list(self.classes)).encode())
        digest.update(self.rows[list(COLUMNS)].to_csv(index=False).encode())
        return digest.hexdigest()

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per label and per subject (and per source dataset when there are several), for
        the prepare log and the cache manifest."""
        counts = {
            "label": {c: int((self.rows["label"] == c).sum()) for c in self.classes},
            "subject": {s: int((self.rows["subject"] == s).sum()) for s in self.subjects},
        }
        sources = self.rows["dataset"].value_counts().sort_index()
        if len(sources) > 1:
            counts["dataset"] = {str(d): int(n) for d, n in sources.items()}
        return counts


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (the coding sheet), so an edited sheet changes the cache key."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
