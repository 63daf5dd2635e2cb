"""How a score reads in a table cell: scaled and rounded, ± its std over seeds, its interval; the
same in report.md and in the terminal."""

from __future__ import annotations

import pandas as pd


def number(value: float, scale: float, digits: int) -> str:
    """A number scaled and rounded, "—" for NaN."""
    return "—" if value is None or pd.isna(value) else f"{scale * value:.{digits}f}"


def interval(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A metric's subject-bootstrap interval, "[low, high]" ("" where none was computed)."""
    low, high = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
    return "" if low is None or pd.isna(low) else f" [{number(low, scale, digits)}, {number(high, scale, digits)}]"


def score(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A pooled score, ± its std over seeds where several seeds ran, then its CI."""
    spread = f" ± {number(row[f'{metric}_seed_std'], scale, digits)}" if row["n_seeds"] > 1 else ""
    return number(row[metric], scale, digits) + spread + interval(row, metric, scale, digits)


def pooled(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A pooled score alone, "0.6622"."""
    return number(row[metric], scale, digits)


def pooled_with_interval(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A pooled score and its interval, without the std over seeds, "0.6622 [0.5200, 0.8248]"."""
    return number(row[metric], scale, digits) + interval(row, metric, scale, digits)


def per_fold(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A score's per-fold mean ± std, "62.10 ± 21.70" (for reference, never the main number)."""
    mean, std = row[f"per_fold_mean_{metric}"], row[f"per_fold_std_{metric}"]
    return f"{number(mean, scale, digits)} ± {number(std, scale, digits)}"


def parameters(count: float) -> str:
    """A parameter count, "2.23 M" or "2,165" ("—" where unknown)."""
    if count is None or pd.isna(count):
        return "—"
    return f"{count / 1e6:.2f} M" if count >= 1e5 else f"{int(count):,}"


def seconds(value: float) -> str:
    """A duration, "12.3 s" ("—" where unknown)."""
    return "—" if value is None or pd.isna(value) else f"{value:.1f} s"


def signed(row: pd.Series, column: str, scale: float, digits: int) -> str:
    """A difference with its sign and its CI, "+2.41 [−3.10, +7.90]" ("—" where none)."""
    value = row.get(column)
    if value is None or pd.isna(value):
        return "—"
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    return f"{scale * value:+.{digits}f} [{scale * low:+.{digits}f}, {scale * high:+.{digits}f}]"


def difference(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A paired difference of a score (its `{metric}_diff` columns), "+2.41 [-3.10, +7.90]"."""
    return signed(row, f"{metric}_diff", scale, digits)


def subjects_covered(row: pd.Series) -> str:
    """ "k of n": the tested subjects a configuration's pooled predictions cover ("k" alone where the
    cache that names the dataset's subjects was not readable)."""
    if pd.isna(row["n_subjects_tested"]):
        return str(row["n_subjects_covered"])
    return f"{row['n_subjects_covered']} of {int(row['n_subjects_tested'])}"


def subjects_phrase(row: pd.Series) -> str:
    """ "k of n subjects": `subjects_covered` as report.md's sentences and cells say it ("k" alone
    where the dataset's subjects are not known)."""
    return f"{subjects_covered(row)} subjects" if pd.notna(row["n_subjects_tested"]) else subjects_covered(row)


def sizes(row: pd.Series) -> str:
    """The flow's side and, where a model resizes it, the network's: "224²" or "224² → 28²"."""
    flow, network = row["size"], row.get("input_size")
    if network is None or pd.isna(network) or int(network) == int(flow):
        return f"{int(flow)}²"
    return f"{int(flow)}² → {int(network)}²"


def recipe(row: pd.Series) -> str:
    """The training recipe a row ran under: paper, mer, authors, or mer-train's defaults."""
    value = row.get("recipe")
    return "defaults" if value is None or pd.isna(value) or value == "" else str(value)
