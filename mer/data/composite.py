"""Several releases as one sample table: the MEGC2019 composite and cross-dataset protocols.

Each source is read by its own reader under one shared label set (MEGC2019's `composite3`:
negative / positive / surprise). Subject ids get their dataset as a prefix (`casme2_sub01`,
`samm_006`, `smic_s2`), so LOSO runs over every subject of every source, and each row keeps its
`dataset`, so a report can score each source apart and `data.test_dataset` can hold a whole
source out (cross-dataset). An optional sample list restricts the set to an official clip list.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from mer.data import instantiate_reader, locate_release, sheet_clips
from mer.data.samples import COLUMNS, SampleTable, file_sha256
from mer.errors import MerError, plural, root_not_set

log = logging.getLogger(__name__)

T = TypeVar("T")

PATH_COLUMNS = ("clip_dir", "onset_path", "apex_path")

#: How sample lists may name a dataset (lower-cased, only letters and digits kept) → reader id.
DATASET_NAMES = {
    "casme2": "casme2",
    "casmeii": "casme2",
    "samm": "samm",
    "smic": "smic",
    "smichs": "smic",
    "casme3": "casme3",
    "casmeiii": "casme3",
    "casme": "casme1",
    "casme1": "casme1",
    "casmei": "casme1",
    "casmesq": "casme_sq",
    "casme2sq": "casme_sq",
    "mmew": "mmew",
    "4dme": "4dme",
}


def read_composite(
    sources: Mapping[str, Mapping[str, Any]],
    include: Sequence[str] | None = None,
    sample_list: str | None = None,
    name: str = "composite",
    label_set: str | None = None,
) -> SampleTable:
    """Read each included source with its reader config, then join them into one table.

    `label_set` (None: each source's own) replaces every source's; `all`, which keeps every
    emotion each sheet names (the action-unit task's clips), joins sources of different classes
    under the union of their classes.
    """
    chosen = {key: _with_label_set(sources[key], label_set) for key in included(sources, include)}
    tables = {key: _from_source(key, reader, instantiate_reader) for key, reader in chosen.items()}
    table = join_tables(name, tables, union=label_set == "all")
    if sample_list is not None:
        table = restrict_to_list(table, sample_list)
    return table


def find_release(sources: Mapping[str, Mapping[str, Any]], include: Sequence[str] | None = None) -> dict[str, Any]:
    """What each included source's reader finds of its release (folders listed, no sheet row read),
    its errors naming the source: what `mer.preflight` checks before any job starts."""
    return {key: _from_source(key, sources[key], locate_release) for key in included(sources, include)}


def _with_label_set(reader_cfg: Mapping[str, Any], label_set: str | None) -> Mapping[str, Any]:
    """A source's reader config with `label_set` in place of its own (as it is when None)."""
    return reader_cfg if label_set is None else {**reader_cfg, "label_set": label_set}


def included(sources: Mapping[str, Any], include: Sequence[str] | None) -> list[str]:
    """The sources to read: `include` (every source when None), each one of `sources`."""
    include = list(include if include is not None else sources)
    unknown = [key for key in include if key not in sources]
    if unknown or not include:
        raise MerError(f"data.include={include}: choose sources among {', '.join(sources)}")
    return include


def _from_source(key: str, reader_cfg: Mapping[str, Any], use: Callable[[Mapping[str, Any]], T]) -> T:
    """`use` (read or locate) on one source's reader config; its reader's one-line errors say which
    source they come from."""
    if reader_cfg.get("root") in (None, ""):
        raise root_not_set(key)
    try:
        return use(reader_cfg)
    except MerError as err:
        raise MerError(f"source {key}: {err}") from None


def join_tables(name: str, tables: Mapping[str, SampleTable], union: bool = False) -> SampleTable:
    """Tables of one label set → one table: subjects prefixed by dataset, paths from a common root;
    with `union`, tables of different classes under the union of their classes (in first-seen order)."""
    first_key, first = next(iter(tables.items()))
    classes = tuple(dict.fromkeys(c for table in tables.values() for c in table.classes)) if union else first.classes
    for key, table in tables.items():
        if not union and table.classes != first.classes:
            raise MerError(
                f"sources {first_key} and {key} have different classes ({', '.join(first.classes)} "
                f"vs {', '.join(table.classes)}): give every source the same label_set "
                "(composite3 for MEGC2019)"
            )
    root = Path(os.path.commonpath([str(t.root) for t in tables.values()]))
    frames = []
    for table in tables.values():
        rows = table.rows.copy()
        rows["subject"] = rows["dataset"] + "_" + rows["subject"]
        for column in PATH_COLUMNS:
            rows[column] = [sheet_clips.relative(table.root / p, root) for p in rows[column]]
        frames.append(rows)
    rows = pd.concat(frames, ignore_index=True)[list(COLUMNS)]
    rows = rows.sort_values("sample_id", kind="stable").reset_index(drop=True)
    provenance = {"reader": "composite", "sources": {k: t.provenance for k, t in tables.items()}}
    counts = ", ".join(f"{k} {len(t)}" for k, t in tables.items())
    log.info("%s: %s of %s (%s)", name, plural(len(rows), "clip"), plural(rows["subject"].nunique(), "subject"), counts)
    return SampleTable(name, root, rows, classes, provenance)


def restrict_to_list(table: SampleTable, sample_list: str | Path) -> SampleTable:
    """Keep only the clips a sample-list file names; say which were dropped and which not found."""
    path = Path(sample_list).expanduser()
    if not path.is_file():
        raise MerError(f"sample list {path} (data.reader.sample_list) does not exist")
    wanted = read_sample_list(path)
    have = set(table.rows["sample_id"])
    not_found = sorted(wanted - have)
    dropped = sorted(have - wanted)
    if not_found:
        warnings.warn(
            f"sample list {path.name}: {len(not_found)} clip(s) not in the releases: {', '.join(not_found)}",
            UserWarning,
            stacklevel=3,
        )
    log.info(
        "sample list %s: %d listed, %d kept, %d read but not listed (dropped)%s",
        path.name,
        len(wanted),
        len(have & wanted),
        len(dropped),
        f": {', '.join(dropped)}" if dropped else "",
    )
    rows = table.rows[table.rows["sample_id"].isin(wanted)].reset_index(drop=True)
    provenance = {
        **table.provenance,
        "sample_list": {
            "path": str(path),
            "sha256": file_sha256(path),
            "listed": len(wanted),
            "dropped": dropped,
            "not_found": not_found,
        },
    }
    return SampleTable(table.dataset, table.root, rows, table.classes, provenance)


def read_sample_list(path: Path) -> set[str]:
    """Sample ids (`casme2/sub01/EP02_01f`) from a CSV with a `sample_id` column, or with
    `dataset`, `subject` and `clip` (or `filename`) columns; dataset names like CASME II work."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = {f.strip().lower(): f for f in reader.fieldnames or []}
        records = list(reader)
    if "sample_id" in fields:
        return {r[fields["sample_id"]].strip() for r in records if r[fields["sample_id"]].strip()}
    clip = fields.get("clip") or fields.get("filename")
    if not ("dataset" in fields and "subject" in fields and clip):
        raise MerError(
            f"sample list {path}: needs a header with a sample_id column (casme2/sub01/EP02_01f), "
            f"or dataset, subject and clip (or filename) columns; found {', '.join(fields) or 'none'}"
        )
    ids = set()
    for line, record in enumerate(records, start=2):
        given = record[fields["dataset"]].strip()
        dataset = DATASET_NAMES.get(re.sub(r"[^a-z0-9]", "", given.lower()))
        if dataset is None:
            raise MerError(
                f"sample list {path} line {line}: unknown dataset {given!r}; use one of "
                f"{', '.join(sorted(set(DATASET_NAMES.values())))}"
            )
        ids.add(f"{dataset}/{record[fields['subject']].strip()}/{record[clip].strip()}")
    return ids
