"""XLSForm workbooks read and written with openpyxl, as :class:`bot.flowtools.xlsform.Table`.

Reading takes what each cell holds as written (a formula stays a formula and is marked as
one, so the mapping can refuse it instead of trusting a cached value); numbers that are whole
read as ``2024``, not ``2024.0``. Writing gives a plain workbook that Excel, LibreOffice and
KoboToolbox open: one header row, frozen, and every value as text (one that starts with "="
stays text).
"""

from __future__ import annotations

import datetime
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

# openpyxl ships no type hints (types-openpyxl is not locked, as in reportbot_analyst.exports)
from openpyxl import Workbook, load_workbook  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

from bot.flowtools.xlsform import Table

MAX_ROWS = 5000
"""Rows read per sheet; a real form has tens. Sheets formatted down to row 1048576 stop at the
last row that holds anything."""

COLUMN_WIDTH = 28
"""Width of the written columns, in characters, so that a label can be read without resizing."""


class WorkbookError(Exception):
    """The file is not a workbook openpyxl can read (not .xlsx, damaged, or missing)."""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def read_tables(path: Path) -> dict[str, Table]:
    """Every sheet of the workbook at ``path``, by the name it has there."""
    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except _UNREADABLE as exc:
        raise WorkbookError(f"{path}: not an .xlsx workbook openpyxl can read ({exc})") from None
    try:
        return _tables(book)
    except _UNREADABLE as exc:
        raise WorkbookError(f"{path}: a damaged workbook ({exc})") from None
    finally:
        book.close()


_UNREADABLE = (
    InvalidFileException,
    zipfile.BadZipFile,
    zlib.error,
    ElementTree.ParseError,
    OSError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
)
"""What openpyxl raises on a file that is not a workbook or is damaged."""


def _tables(book: Workbook) -> dict[str, Table]:
    tables = {}
    for sheet in book.worksheets:
        rows = []
        formulas: set[tuple[int, int]] = set()
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            if number > MAX_ROWS:
                break
            rows.append((number, tuple(_text(getattr(c, "value", None)) for c in cells)))
            formulas.update(
                (number, i) for i, c in enumerate(cells) if getattr(c, "data_type", None) == "f"
            )
        while rows and not any(v.strip() for v in rows[-1][1]):
            rows.pop()
        headers = rows[0][1] if rows else ()
        tables[sheet.title] = Table(sheet.title, headers, tuple(rows[1:]), frozenset(formulas))
    return tables


def write_tables(tables: dict[str, Table], path: Path) -> None:
    """A workbook with one sheet per table, in order, at ``path``."""
    book = Workbook()
    first = True
    for table in tables.values():
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None  # noqa: S101 - a new Workbook always has an active sheet
        first = False
        sheet.title = table.name
        for row, values in enumerate([table.headers, *(v for _n, v in table.rows)], start=1):
            for column, value in enumerate(values, start=1):
                if value == "":
                    continue
                cell = sheet.cell(row=row, column=column, value=value)
                if value.startswith("="):
                    cell.data_type = "s"  # a text such as "= 5 hours", never a formula
        sheet.freeze_panes = "A2"
        for index in range(1, len(table.headers) + 1):
            sheet.column_dimensions[get_column_letter(index)].width = COLUMN_WIDTH
    book.save(path)
