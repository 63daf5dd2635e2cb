"""Coding sheets (.xlsx, .xls, .csv): find the header row, keep the named columns, parse cells.

Shared by the dataset readers: each release's sheet has note rows, blank columns and its own
spellings of the same columns; here they become one DataFrame with canonical column names and a
`_row` column (the 1-based spreadsheet row) so errors can name the row a user must fix.
"""

from __future__ import annotations

import csv
import math
import numbers
import re
import warnings
from pathlib import Path

import pandas as pd

from mer.errors import MerError

#: How many rows from the top are searched for the header (SAMM has ~13 note rows above it).
HEADER_SEARCH_ROWS = 30

#: Name of the column holding each data row's 1-based row number in the spreadsheet.
ROW = "_row"

_READABLE = (".xlsx", ".xlsm", ".xls", ".csv")


def read_sheet(
    path: Path,
    required: dict[str, tuple[str, ...]],
    header_hint: str = "Subject",
    sheet_name: str | None = None,
) -> pd.DataFrame:
    """Read a coding sheet into canonical columns (`required`'s keys) plus `_row`, as text cells.

    `required` maps each canonical name to its accepted header spellings, matched ignoring case,
    spaces and underscores. `header_hint` is a cell the header row is known to hold; it only
    sharpens the error when a header is found but lacks some required columns. `sheet_name` picks a
    workbook's worksheet (matched like a header; None: the first), for a workbook whose coded sheet
    is not the first; a CSV has one sheet and ignores it.
    """
    path = Path(path)
    grid = _read_grid(path, sheet_name)
    header_at = _find_header(grid, required)
    if header_at is None:
        raise MerError(_no_header_message(path, grid, required, header_hint))
    return _table_below(grid, header_at, required)


def cell_text(value: object) -> str:
    """A cell as text: ints stay ints ("4"), 4.0 becomes "4", NaN is "", text is stripped."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return ""
        return str(int(number)) if number.is_integer() else str(number)
    try:
        if pd.isna(value):  # pd.NA, NaT
            return ""
    except (TypeError, ValueError):
        pass
    return str(value).strip()


def cell_frame(value: object) -> int | None:
    """A cell as a frame number (int, whole float, numeric text), or None ("/", blank, text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    text = cell_text(value)
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def normalise_header(value: object) -> str:
    """A header cell as a lookup key: lower case, without spaces or underscores."""
    return re.sub(r"[\s_]+", "", cell_text(value)).lower()


def _read_grid(path: Path, sheet_name: str | None = None) -> pd.DataFrame:
    """A sheet (`sheet_name`, or the first) as a headerless grid of raw cells; grid row i is
    spreadsheet row i+1."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise MerError(f"coding sheet {path} does not exist or is not a file")
    if suffix not in _READABLE:
        raise MerError(f"cannot read coding sheet {path}: expected a .xlsx, .xls or .csv file, got '{suffix}'")
    try:
        if suffix == ".csv":
            return _read_csv_grid(path)
        if suffix == ".xls":
            return _read_xls_grid(path, sheet_name)
        with warnings.catch_warnings():  # openpyxl's notes on unsupported Excel features
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            if sheet_name is None:
                return pd.read_excel(path, header=None, dtype=object, engine="openpyxl")
            with pd.ExcelFile(path, engine="openpyxl") as book:
                chosen = _worksheet(path, book.sheet_names, sheet_name)
                return pd.read_excel(book, sheet_name=chosen, header=None, dtype=object)
    except MerError:
        raise
    except Exception as err:  # noqa: BLE001 - zip, xlrd, parser and OS errors all mean "unreadable"
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MerError(
            f"cannot read coding sheet {path} ({type(err).__name__}: {reason}); "
            "check it is an intact .xlsx/.xls/.csv file"
        ) from None


def _read_csv_grid(path: Path) -> pd.DataFrame:
    """A CSV as a grid, one row per line (ragged note rows padded), trying UTF-8 then Latin-1."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    lines = list(csv.reader(text.splitlines()))
    width = max((len(line) for line in lines), default=0)
    return pd.DataFrame([line + [""] * (width - len(line)) for line in lines], dtype=object)


def _read_xls_grid(path: Path, sheet_name: str | None = None) -> pd.DataFrame:
    """An old BIFF .xls sheet (`sheet_name`, or the first) as a grid via xlrd directly (pandas'
    xlrd engine is deprecated)."""
    import xlrd

    book = xlrd.open_workbook(str(path), on_demand=True)
    try:
        if sheet_name is None:
            sheet = book.sheet_by_index(0)
        else:
            sheet = book.sheet_by_name(_worksheet(path, book.sheet_names(), sheet_name))
        rows = [sheet.row_values(i) for i in range(sheet.nrows)]
    finally:
        book.release_resources()
    width = max((len(row) for row in rows), default=0)
    return pd.DataFrame([row + [""] * (width - len(row)) for row in rows], dtype=object)


def _worksheet(path: Path, names: list[str], wanted: str) -> str:
    """The workbook's worksheet named `wanted` (case, spaces and underscores ignored), or an error
    listing the sheets it has."""
    for name in names:
        if normalise_header(name) == normalise_header(wanted):
            return name
    raise MerError(
        f"coding sheet {path} has no worksheet '{wanted}' (its sheets: {', '.join(names)}); "
        "pass the release's workbook, which has it"
    )


def _header_map(cells: list[object], required: dict[str, tuple[str, ...]]) -> dict[int, str]:
    """Column position → canonical name for the header cells that match a required spelling."""
    wanted = {normalise_header(s): name for name, spellings in required.items() for s in spellings}
    found: dict[int, str] = {}
    for position, cell in enumerate(cells):
        name = wanted.get(normalise_header(cell))
        if name is not None and name not in found.values():
            found[position] = name
    return found


def _find_header(grid: pd.DataFrame, required: dict[str, tuple[str, ...]]) -> int | None:
    """Grid index of the first row (within HEADER_SEARCH_ROWS) holding every required column."""
    for index in range(min(len(grid), HEADER_SEARCH_ROWS)):
        if len(_header_map(grid.iloc[index].tolist(), required)) == len(required):
            return index
    return None


def _no_header_message(path: Path, grid: pd.DataFrame, required: dict[str, tuple[str, ...]], header_hint: str) -> str:
    """Error text for a sheet without a usable header: what was looked for, and what is missing."""
    looked_for = "; ".join(f"{name} ({' / '.join(spell)})" for name, spell in required.items())
    hint = normalise_header(header_hint)
    for index in range(min(len(grid), HEADER_SEARCH_ROWS)):
        cells = grid.iloc[index].tolist()
        if hint and hint in {normalise_header(c) for c in cells}:
            have = set(_header_map(cells, required).values())
            missing = "; ".join(f"{name} ({' / '.join(required[name])})" for name in required if name not in have)
            return (
                f"coding sheet {path} row {index + 1} looks like the header ('{header_hint}') but "
                f"lacks columns: {missing}; rename them or pass a sheet with these columns"
            )
    return (
        f"coding sheet {path} has no header row in its first {HEADER_SEARCH_ROWS} rows with the columns: {looked_for}"
    )


def _is_blank(value: object) -> bool:
    """True for an empty cell: None, NaN or whitespace-only text."""
    return cell_text(value) == ""


def _table_below(grid: pd.DataFrame, header_at: int, required: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """The rows under the header, columns renamed, blank/unnamed columns and blank rows dropped."""
    header = grid.iloc[header_at].tolist()
    canonical = _header_map(header, required)
    names: dict[int, str] = {}
    for position, cell in enumerate(header):
        text = cell_text(cell)
        if position in canonical:
            names[position] = canonical[position]
        elif text and not text.lower().startswith("unnamed:"):
            names[position] = text
    body = grid.iloc[header_at + 1 :, list(names)]
    body.columns = [names[p] for p in names]
    body = body.loc[:, ~body.columns.duplicated()]
    body.insert(0, ROW, [int(i) + 1 for i in body.index])
    filled = body.drop(columns=ROW).map(lambda v: not _is_blank(v)).any(axis=1)
    return body.loc[filled].reset_index(drop=True)
