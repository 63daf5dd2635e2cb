""".xlsx coding sheets with stable bytes: fixed timestamps, so the sha256 depends on the rows only.

The sheet's sha256 is part of every reader's provenance and so of the flow cache's key: a sheet
written twice from the same rows must be the same file.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Fixed timestamp for every part of an .xlsx, so a sheet's bytes (and sha256) are stable.
SHEET_TIMESTAMP = (2014, 5, 8, 0, 0, 0)
#: The creator written into each sheet: the generator's module before it moved to
#: `mer.synthetic`, kept so sheets (and the caches keyed on their sha256) stay the same.
SHEET_CREATOR = "mer.data.synthetic"


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]]) -> None:
    """An .xlsx of `rows` on one sheet (`Sheet1`), with fixed timestamps so its bytes are stable."""
    write_workbook(path, {"Sheet1": rows})


def write_workbook(path: Path, sheets: Mapping[str, Sequence[Sequence[Any]]]) -> None:
    """An .xlsx with one named sheet per entry, in order (CAS(ME)^2's sheet has three), bytes stable."""
    from openpyxl import Workbook

    book = Workbook()
    for index, (title, rows) in enumerate(sheets.items()):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = title
        for row in rows:
            sheet.append(list(row))
    stamp = datetime.datetime(*SHEET_TIMESTAMP)
    book.properties.created = stamp
    book.properties.creator = SHEET_CREATOR
    buffer = io.BytesIO()
    book.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_normalise_xlsx(buffer.getvalue(), stamp.isoformat() + "Z"))


def _normalise_xlsx(data: bytes, stamp: str) -> bytes:
    """Re-zip an .xlsx with fixed entry times and a fixed 'modified' date (openpyxl uses now)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    content,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=SHEET_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, content)
    return out.getvalue()
