"""Action units (AUs) of a sheet's AU cell, and which AUs each dataset's AU task scores.

A coding sheet writes a clip's AUs as one cell: `4+7+L10` (CASME II), `R12` (SAMM), `AU4(k)+L7`
(4DME, `(k)` marking a static AU). MEB (Varanka et al., the field's toolkit) splits the cell on `+`
and keeps each token's number; the AU task (`task=au`) then predicts one binary target per AU of a
list: each dataset's own MEB list by default (`task.aus=dataset`), or MEB's cross-dataset twelve
(`task.aus=cross`, the CD6ME protocol).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from mer.errors import MerError

#: MEB's cross-dataset AU list (CD6ME): the AUs common enough across the six datasets.
CROSS_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17)

#: Each dataset's own MEB AU list (MEB's `meb/datasets`): the AUs frequent enough in that dataset.
DATASET_AUS: dict[str, tuple[int, ...]] = {
    "casme2": (1, 2, 4, 7, 12, 14, 15, 17),
    "casme1": (1, 4, 9, 14),
    "samm": (2, 4, 7, 12),
    "mmew": (1, 2, 4, 5, 7, 10, 12, 14),
    "4dme": (1, 2, 4, 6, 7, 12, 17, 45),
}

#: `task.static_aus`: what a 4DME AU marked static, `AU4(k)`, counts as. `keep`: present, as MEB
#: reads it (its digits are kept); `drop`: absent (a held posture, not a movement of the clip).
STATIC_POLICIES = ("keep", "drop")

#: The sheet spellings of "no AU coded": an empty cell, or a word some sheets write.
_NONE = {"", "/", "-", "none", "nan", "n/a", "na", "?"}
_STATIC = re.compile(r"\(\s*k\s*\)", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


def parse_action_units(cell: str, static_aus: str = "keep", where: str = "") -> set[int]:
    """The AU numbers of one AU cell (`R12`→12, `AU4(k)`→4, `4+7+L10`→{4, 7, 10}); a static `(k)` AU
    kept or dropped by `static_aus`; a token without a number is refused, naming `where`."""
    if static_aus not in STATIC_POLICIES:
        raise MerError(f"task.static_aus={static_aus!r}: choose one of {', '.join(STATIC_POLICIES)}")
    text = str(cell).strip()
    if text.lower() in _NONE:
        return set()
    numbers = set()
    for token in text.split("+"):
        token = token.strip()
        if not token:
            continue
        static = bool(_STATIC.search(token))
        digits = _DIGITS.search(_STATIC.sub("", token))
        if digits is None:
            raise MerError(
                f"{where or 'AU cell'}: {token!r} in the AU cell {text!r} names no action unit "
                "(like 4, R12 or AU4(k)); fix the sheet"
            )
        if static and static_aus == "drop":
            continue
        numbers.add(int(digits.group()))
    return numbers


def resolve_aus(spec: str | Sequence[int], datasets: Iterable[str]) -> tuple[int, ...]:
    """The AUs a task scores: `dataset` (the MEB list of the data's one dataset, or the union of a
    composite's sources' lists), `cross` (MEB's twelve), or an explicit list of AU numbers."""
    datasets = sorted(set(datasets))
    if isinstance(spec, str):
        if spec == "cross":
            return CROSS_AUS
        if spec != "dataset":
            raise MerError(f"task.aus={spec!r}: use dataset, cross, or a list of AU numbers such as [1,2,4]")
        lacking = [d for d in datasets if d not in DATASET_AUS]
        if lacking:
            raise MerError(
                f"task.aus=dataset: {', '.join(lacking)} has no action-unit list (MEB gives one for "
                f"{', '.join(DATASET_AUS)}); set task.aus=cross or a list such as [1,2,4]"
            )
        return tuple(sorted({au for d in datasets for au in DATASET_AUS[d]}))
    aus = tuple(spec)
    if not aus or not all(isinstance(a, int) and not isinstance(a, bool) and a > 0 for a in aus):
        raise MerError(f"task.aus={list(aus)}: give AU numbers such as [1,2,4] (or dataset, cross)")
    if len(set(aus)) != len(aus):
        raise MerError(f"task.aus={list(aus)} names an AU twice: list each once")
    return tuple(sorted(aus))


def au_name(au: int) -> str:
    """`AU12`: how predictions.csv, report.csv and the report name an AU."""
    return f"AU{au}"


def au_targets(
    cells: Sequence[str], aus: Sequence[int], static_aus: str = "keep", ids: Sequence[str] = ()
) -> np.ndarray:
    """[n_clips, n_aus] 0/1 targets of the clips' AU cells, in `aus` order; an error names the clip
    (`ids`) whose cell cannot be read."""
    targets = np.zeros((len(cells), len(aus)), dtype=np.float32)
    column = {au: j for j, au in enumerate(aus)}
    for i, cell in enumerate(cells):
        where = f"clip {ids[i]}" if len(ids) else f"clip {i}"
        for au in parse_action_units(cell, static_aus, where):
            if au in column:
                targets[i, column[au]] = 1.0
    return targets
