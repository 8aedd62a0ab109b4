"""Writing the tables: a CSV per flow, a codebook, and one XLSX workbook with the same sheets.

- ``reports-<flow>.csv``: UTF-8 with a BOM (Excel reads it), one header row of question texts
  in the analyst's language; the ids of every column are in the codebook.
- ``codebook-<flow>.csv``: one line per column: its number, header, question id, choice id,
  kind, its label in every language of the flow, and the flow versions the table merges.
- ``reports.xlsx``: a sheet per flow (row 1 the headers, row 2 the column ids, frozen), and a
  codebook sheet per flow.

A reporter's text that a spreadsheet would run as a formula is written as text (CSV: a leading
``'``; XLSX: a string cell).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reportbot_analyst.tables import Cell, Table
from reportbot_analyst.vocabulary import WORDS, word

LANGS = ("ko", "ru", "en")


def spreadsheet_safe(cell: Cell) -> Cell:
    """Stop a reporter's text from running as a spreadsheet formula."""
    if isinstance(cell, str) and cell and cell[0] in "=+-@\t\r":
        return "'" + cell
    return cell


def csv_bytes(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.header for c in table.columns])
    for row in table.rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _kind(kind: str, lang: str) -> str:
    """A column's kind in ``lang`` ("0/1" for a multi-select's option; none for ours)."""
    return word(f"kind_{kind}", lang) if f"kind_{kind}" in WORDS else kind


def codebook_rows(table: Table, lang: str) -> list[list[Cell]]:
    head: list[Cell] = [
        word("column", lang),
        word("label", lang),
        word("question_id", lang),
        word("choice_id", lang),
        word("kind", lang),
        *(f"{word('label', lang)} ({lg})" for lg in LANGS),
        word("versions", lang),
    ]
    rows: list[list[Cell]] = [head]
    versions = " ".join(table.versions)
    for n, column in enumerate(table.columns, start=1):
        rows.append(
            [
                n,
                column.header,
                column.question or column.key,
                column.choice,
                _kind(column.kind, lang),
                *(column.labels.get(lg, "") for lg in LANGS),
                versions,
            ]
        )
    return rows


def codebook_bytes(table: Table, lang: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(codebook_rows(table, lang))
    return buffer.getvalue().encode("utf-8-sig")


def _sheet_title(name: str, taken: set[str]) -> str:
    title = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "sheet"
    base, n = title, 2
    while title in taken:
        title = f"{base[:28]}-{n}"
        n += 1
    taken.add(title)
    return title


def xlsx_bytes(tables: Sequence[Table], lang: str) -> bytes:
    # Imported here: only this export needs openpyxl.
    # openpyxl ships no type hints (types-openpyxl is not locked): untyped on purpose.
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]

    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    taken: set[str] = set()

    def put(sheet: Any, rows: Sequence[Sequence[Cell]]) -> None:
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c)
                if isinstance(value, str):
                    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                    cell.data_type = "s"  # never a formula, whatever the text starts with
                else:
                    cell.value = value

    for table in tables:
        sheet = book.create_sheet(_sheet_title(table.flow, taken))
        put(sheet, [[c.header for c in table.columns], [c.key for c in table.columns], *table.rows])
        sheet.freeze_panes = "B3"
        codebook = book.create_sheet(
            _sheet_title(f"{table.flow} {word('codebook_sheet', lang)}", taken)
        )
        put(codebook, codebook_rows(table, lang))
    if not tables:
        book.create_sheet(word("reports_sheet", lang))
    # The same reports give the same bytes (re-opening a workspace changes nothing): fixed
    # document times, and zip entries without the time of writing.
    book.properties.created = book.properties.modified = _EPOCH
    buffer = io.BytesIO()
    book.save(buffer)
    return _without_times(buffer.getvalue())


_EPOCH = datetime(2000, 1, 1)


_MODIFIED_RE = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _without_times(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" when saving
                content = _MODIFIED_RE.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            target.writestr(fixed, content)
    return out.getvalue()


def write_tables(
    tables: Sequence[Table], out_dir: Path, lang: str, writer: Callable[[Path, bytes], None]
) -> list[Path]:
    """Every CSV, codebook and the workbook into ``out_dir``; ``writer(path, bytes)`` writes
    privately. Returns the files written."""
    written: list[Path] = []
    for table in tables:
        for name, data in (
            (f"reports-{table.flow}.csv", csv_bytes(table)),
            (f"codebook-{table.flow}.csv", codebook_bytes(table, lang)),
        ):
            target = out_dir / name
            writer(target, data)
            written.append(target)
    target = out_dir / "reports.xlsx"
    writer(target, xlsx_bytes(tables, lang))
    written.append(target)
    return written
