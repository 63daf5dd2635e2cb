"""Checks of a prepared dataset that never stop it: counts against the paper's, degenerate clips.

Both go into the cache manifest (`paper_counts`, `degenerate`), `mer-prepare` logs them, and
`mer-report` repeats them beside the paper comparison:

- `paper_counts`: with a real CASME II release in the paper's 5 classes, each class's clip count,
  the clip count and the subject count beside the paper's (§4.1: 249 clips of 26 subjects), and the
  coding sheet read. Sheets differ (the 20140508 sheet gives 246, with 25 surprise clips), so a
  difference is a warning, never a failure. The synthetic release (read by the CASME II reader) is
  said to be synthetic instead.
- `degenerate`: clips whose onset is their apex, or whose flow is zero everywhere. Per-sample
  min–max normalisation turns such flow into a blank input; they are named, not dropped.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from mer import paper
from mer.data.samples import SampleTable
from mer.preprocess.cache import is_synthetic_release, release_name


def paper_counts(table: SampleTable) -> dict[str, Any] | None:
    """The table's counts beside the paper's, or None unless it is a real CASME II release in the
    paper's 5 classes."""
    if (
        is_synthetic_release(table.provenance)
        or table.dataset != paper.DATASET
        or table.provenance.get("label_set") != paper.LABEL_SET
    ):
        return None
    counts = table.counts()
    rows = [
        {"what": label, "paper": n, "ours": counts["label"].get(label, 0)} for label, n in paper.CLASS_COUNTS.items()
    ]
    rows += [
        {"what": "clips", "paper": paper.N_SAMPLES, "ours": len(table)},
        {"what": "subjects", "paper": paper.N_SUBJECTS, "ours": len(counts["subject"])},
    ]
    return {"sheet": table.provenance.get("sheet"), "rows": rows, "differ": any(r["paper"] != r["ours"] for r in rows)}


def degenerate_clips(rows: pd.DataFrame, u: np.ndarray, v: np.ndarray) -> list[dict[str, str]]:
    """Clips whose onset frame is their apex frame, or whose cached flow (u, v) is zero everywhere."""
    found = []
    for i, row in enumerate(rows.itertuples()):
        if row.onset_frame == row.apex_frame:
            found.append({"sample_id": row.sample_id, "why": f"onset = apex = frame {row.apex_frame}"})
        elif not (np.any(u[i]) or np.any(v[i])):
            found.append({"sample_id": row.sample_id, "why": "flow is zero everywhere"})
    return found


def count_table(check: dict[str, Any]) -> list[str]:
    """The paper-count comparison as aligned text lines (for the log)."""
    lines = [f"  {'':<12}{'paper':>7}{'ours':>7}{'Δ':>6}"]
    for r in check["rows"]:
        mark = "" if r["paper"] == r["ours"] else "   ← differs"
        lines.append(f"  {r['what']:<12}{r['paper']:>7}{r['ours']:>7}{r['ours'] - r['paper']:>+6}{mark}")
    return lines


def log_data_checks(manifest: dict[str, Any], log: logging.Logger) -> None:
    """Log a cache's checks: a warning with the count table where it differs from the paper's, and
    one naming the degenerate clips; an info line where all is as the paper's, or where the release
    is synthetic (and not compared)."""
    provenance = manifest.get("provenance") or {}
    check = manifest.get("paper_counts")
    if is_synthetic_release(provenance):
        log.info(
            "%s is a synthetic release (it proves the pipeline): its counts are not compared with the paper's",
            release_name(manifest["dataset"], provenance),
        )
    elif check and check["differ"]:
        log.warning(
            "%s: these counts differ from the paper's (%d clips of %d subjects; %s read):\n%s",
            manifest.get("dataset"),
            paper.N_SAMPLES,
            paper.N_SUBJECTS,
            check["sheet"],
            "\n".join(count_table(check)),
        )
    elif check:
        log.info(
            "counts match the paper's: %d clips of %d subjects (%s read)",
            paper.N_SAMPLES,
            paper.N_SUBJECTS,
            check["sheet"],
        )
    degenerate = manifest.get("degenerate") or []
    if degenerate:
        log.warning(
            "%d degenerate clip(s), a blank input after per-sample min–max normalisation: %s",
            len(degenerate),
            "; ".join(f"{d['sample_id']} ({d['why']})" for d in degenerate),
        )
