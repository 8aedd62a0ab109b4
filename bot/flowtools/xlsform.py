"""A flow as an XLSForm and back: the mapping, and what does not map.

The workbook itself is read and written by :mod:`bot.flowtools.workbook` (openpyxl); here a
sheet is plain data (:class:`Table`), so the mapping is tested without files. The mapping is
documented in ``docs/flows.md`` ("XLSForm"):

==================================  ======================================================
XLSForm (survey ``type``)           our question
==================================  ======================================================
``note``                            ``info``
``acknowledge``                     ``consent``
``select_one L`` [``or_other``]     ``single`` (``other: true``); with ``reportbot``
                                    ``{"kind": "place"}``: ``place``
``select_multiple L`` [``or_other``] ``multi``
``text``                            ``text`` (``constraint: string-length(.) <= N``:
                                    ``max_length``)
``integer``, ``decimal``            ``number`` (``constraint: . >= A and . <= B``: min, max;
                                    a decimal becomes a whole number, with a note)
``date``                            ``date`` (``constraint: . >= date('YYYY-01-01')``:
                                    ``min_year``)
``image``, ``audio``, ``video``,    ``media`` accepting photo, voice, video or document (one
``file``                            file; ``reportbot`` ``{"accept": [...], "max_files": n}``)
``begin group`` / ``end group``     flattened: the group's ``relevant`` joins each question's
==================================  ======================================================

``label::<Language> (ko|ru|en)`` and ``hint::...`` give ``<q>.prompt`` and ``<q>.help``;
``required``, ``relevant`` (:mod:`bot.flowtools.expressions`), the ``choices`` sheet
(``<q>.choice.<c>``) and ``settings`` (``form_id``, ``form_title``, ``version``) map as their
names say. What XLSForm has no column for lives in columns of our own: ``reportbot`` (a JSON
object of further question fields, e.g. ``{"end_if": {"q": "alone", "equals": "not_now"}}``),
``reportbot_other::<Language> (xx)`` (``<q>.other``), ``reportbot_end::...`` (``<q>.end``) and,
in settings, ``reportbot_title::...`` (``flow.title``). Everything else that holds a value is
refused with its sheet, row and column and the reason: nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.flowtools.expressions import ExpressionError, parse_relevant, write_relevant
from bot.questionnaire.flow import (
    LANGUAGES,
    All,
    Condition,
    Flow,
    FlowIssue,
    FlowSpec,
    Kind,
    MediaKind,
    Question,
    closest,
    flow_issues,
)
from bot.questionnaire.loader import problem_line

LANGUAGE_NAMES = {"ko": "Korean", "ru": "Russian", "en": "English"}
"""How our languages are named in column headers, as KoboToolbox writes them."""

_LANGUAGE_WORDS = {
    "ko": "ko",
    "korean": "ko",
    "한국어": "ko",
    "조선말": "ko",
    "조선어": "ko",
    "ru": "ru",
    "russian": "ru",
    "русский": "ru",
    "en": "en",
    "english": "en",
}

_MEDIA_TYPES = {
    "image": MediaKind.PHOTO,
    "audio": MediaKind.VOICE,
    "video": MediaKind.VIDEO,
    "file": MediaKind.DOCUMENT,
}

_PLAIN_TYPES = {
    "note": Kind.INFO,
    "acknowledge": Kind.CONSENT,
    "text": Kind.TEXT,
    "integer": Kind.NUMBER,
    "decimal": Kind.NUMBER,
    "date": Kind.DATE,
    **dict.fromkeys(_MEDIA_TYPES, Kind.MEDIA),
}

_REFUSED_TYPES = {
    "calculate": "reportbot computes nothing from answers",
    "phone number": "reportbot never asks for a phone number (it could identify the reporter)",
    "geopoint": "reportbot never asks for a location by GPS (docs/flows.md, place)",
    "geotrace": "reportbot never asks for a location by GPS (docs/flows.md, place)",
    "geoshape": "reportbot never asks for a location by GPS (docs/flows.md, place)",
    "begin repeat": "a flow asks each question once; it has no repeats",
    "begin_repeat": "a flow asks each question once; it has no repeats",
    "end repeat": "a flow asks each question once; it has no repeats",
    "end_repeat": "a flow asks each question once; it has no repeats",
    "begin loop": "a flow asks each question once; it has no loops",
    "end loop": "a flow asks each question once; it has no loops",
    "include": "reportbot reads one workbook; write the included questions into it",
}
_METADATA = {"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber"}
_METADATA |= {"username", "email", "audit", "start-geopoint", "background-audio", "uri:email"}

_SURVEY_COLUMNS = {"type", "name", "label", "hint", "required", "relevant", "constraint"}
_SURVEY_COLUMNS |= {"appearance", "reportbot", "reportbot_other", "reportbot_end"}
_TEXT_COLUMNS = {"label", "hint", "reportbot_other", "reportbot_end", "reportbot_title"}
_NOTED_COLUMNS = {
    "appearance": "how ODK lays a question out; the bot shows one question per message",
}
_TRUE = {"yes", "true", "true()", "1"}
_FALSE = {"", "no", "false", "false()", "0"}
DEFAULT_MIN_YEAR = 2000


# ---- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One sheet: its name as written, the header row, and each later row with its number
    (1-based, as a spreadsheet shows it) and its values as text ("" when empty)."""

    name: str
    headers: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...] = ()
    formulas: frozenset[tuple[int, int]] = frozenset()
    """(row number, column index) of the cells that hold a formula, not a value."""


def column_letter(index: int) -> str:
    """A, B, ..., Z, AA, ... for the 0-based column ``index``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class XlsProblem:
    """Something in the workbook that does not map, or a note about what was changed.

    Printed ``FORM.xlsx: survey row 5, column relevant (H5): site_note: what. Fix: how``.
    """

    file: str
    sheet: str
    row: int | None
    column: str | None
    letter: str | None
    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        place = f"{self.file}: {self.sheet}"
        if self.row is not None:
            place += f" row {self.row}"
        if self.column is not None:
            cell = f" ({self.letter}{self.row})" if self.letter and self.row else ""
            place += f", column {self.column}{cell}"
        return problem_line(place, self.where, self.message, self.fix)


@dataclass(frozen=True)
class Imported:
    """What an XLSForm became: the flow's structure and texts, or the problems that stop it,
    and notes on what was changed on the way (a decimal made whole, a group flattened)."""

    spec: FlowSpec | None
    texts: dict[str, dict[str, str]]
    problems: tuple[XlsProblem, ...]
    notes: tuple[XlsProblem, ...]
    version: str | None
    """The version the settings sheet gives (``flows export`` writes ours), if any."""


# ---- export ----------------------------------------------------------------------------------


def _lang_headers(base: str) -> list[str]:
    return [f"{base}::{LANGUAGE_NAMES[lang]} ({lang})" for lang in LANGUAGES]


SURVEY_HEADERS = (
    "type",
    "name",
    *_lang_headers("label"),
    *_lang_headers("hint"),
    "required",
    "relevant",
    "constraint",
    "reportbot",
    *_lang_headers("reportbot_other"),
    *_lang_headers("reportbot_end"),
)
CHOICES_HEADERS = ("list_name", "name", *_lang_headers("label"))
SETTINGS_HEADERS = (
    "form_id",
    "form_title",
    "version",
    "default_language",
    *_lang_headers("reportbot_title"),
)


def _xls_type(q: Question) -> str:
    other = " or_other" if q.other else ""
    match q.kind:
        case Kind.SINGLE | Kind.PLACE:
            return f"select_one {q.id}{other}"
        case Kind.MULTI:
            return f"select_multiple {q.id}{other}"
        case Kind.MEDIA:
            if len(q.accept) == 1:
                return next(t for t, m in _MEDIA_TYPES.items() if m == q.accept[0])
            return "file"
    return next(t for t, k in _PLAIN_TYPES.items() if k == q.kind)


def _constraint(q: Question) -> str:
    if q.kind is Kind.NUMBER:
        return f". >= {q.min} and . <= {q.max}"
    if q.kind is Kind.TEXT and q.max_length is not None:
        return f"string-length(.) <= {q.max_length}"
    if q.kind is Kind.DATE and q.min_year != DEFAULT_MIN_YEAR:
        return f". >= date('{q.min_year}-01-01')"
    return ""


def _extras(q: Question) -> str:
    extras: dict[str, Any] = {}
    if q.kind is Kind.PLACE:
        extras["kind"] = "place"
    if q.max_length is not None and q.kind is not Kind.TEXT:
        extras["max_length"] = q.max_length
    if q.kind is Kind.MEDIA:
        if len(q.accept) != 1:
            extras["accept"] = [str(a) for a in q.accept]
        if q.max_files != 1:
            extras["max_files"] = q.max_files
    if q.ends_topic:
        extras["ends_topic"] = list(q.ends_topic)
    if q.end_if is not None:
        extras["end_if"] = q.end_if.model_dump(mode="json", by_alias=True)
    return json.dumps(extras, ensure_ascii=False) if extras else ""


def _survey_row(flow: Flow, q: Question, kinds: Mapping[str, Kind]) -> tuple[str, ...]:
    def texts(suffix: str, wanted: bool) -> list[str]:
        return [flow.texts[lang][f"{q.id}.{suffix}"] if wanted else "" for lang in LANGUAGES]

    return (
        _xls_type(q),
        q.id,
        *texts("prompt", True),
        *texts("help", q.has_help),
        "yes" if q.required else "",
        write_relevant(q.when, kinds) if q.when is not None else "",
        _constraint(q),
        _extras(q),
        *texts("other", q.other),
        *texts("end", q.end_if is not None),
    )


def export_tables(flow: Flow) -> dict[str, Table]:
    """The ``survey``, ``choices`` and ``settings`` sheets of a flow."""
    kinds = {q.id: q.kind for q in flow.questions}
    survey = [_survey_row(flow, q, kinds) for q in flow.questions]
    choices = [
        (q.id, cid, *(flow.texts[lang][f"{q.id}.choice.{cid}"] for lang in LANGUAGES))
        for q in flow.questions
        for cid in q.choices
    ]
    settings = [
        (
            flow.id,
            flow.spec.title,
            flow.version,
            f"{LANGUAGE_NAMES['en']} (en)",
            *(flow.texts[lang]["flow.title"] for lang in LANGUAGES),
        )
    ]
    return {
        "survey": Table("survey", SURVEY_HEADERS, _numbered(survey)),
        "choices": Table("choices", CHOICES_HEADERS, _numbered(choices)),
        "settings": Table("settings", SETTINGS_HEADERS, _numbered(settings)),
    }


def _numbered(rows: Sequence[tuple[str, ...]]) -> tuple[tuple[int, tuple[str, ...]], ...]:
    return tuple((i, row) for i, row in enumerate(rows, start=2))


# ---- import: columns -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    index: int
    header: str
    base: str
    lang: str | None  # ko / ru / en; "?" for a language reportbot does not have
    letter: str


def _column(index: int, header: str) -> _Column:
    text = header.strip()
    match = re.fullmatch(r"([^:]+?)\s*::?\s*(.+)", text)
    if match is None:
        return _Column(index, header, text.lower(), None, column_letter(index))
    base, language = match.group(1).strip().lower(), match.group(2).strip()
    code = re.search(r"\(([A-Za-z]{2,3})\)\s*$", language)
    word = (code.group(1) if code else language).lower()
    return _Column(index, header, base, _LANGUAGE_WORDS.get(word, "?"), column_letter(index))


@dataclass
class _Row:
    """One row of a sheet, its cells by column base (and language)."""

    number: int
    cells: dict[tuple[str, str | None], tuple[str, _Column]]

    def get(self, base: str, lang: str | None = None) -> str:
        found = self.cells.get((base, lang))
        return found[0].strip() if found else ""

    def column(self, base: str, lang: str | None = None) -> _Column | None:
        found = self.cells.get((base, lang))
        return found[1] if found else None


# ---- import ----------------------------------------------------------------------------------


@dataclass
class _Origin:
    """Where each question and choice came from, to name the cell of a problem."""

    question_rows: dict[str, int] = field(default_factory=dict)
    choice_rows: dict[tuple[str, str], int] = field(default_factory=dict)
    choice_index_rows: dict[tuple[str, int], int] = field(default_factory=dict)
    headers: dict[tuple[str, str, str | None], _Column] = field(default_factory=dict)


class _Importer:
    def __init__(self, file: str, default_id: str) -> None:
        self.file = file
        self.default_id = default_id
        self.problems: list[XlsProblem] = []
        self.notes: list[XlsProblem] = []
        self.origin = _Origin()
        self.texts: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
        self.default_lang: str | None = None
        self._columns: dict[tuple[str, str], tuple[_Column, list[int], str, str, bool, str]] = {}

    # -- problems --
    def refuse(
        self,
        sheet: str,
        row: int | None,
        column: _Column | None,
        where: str,
        message: str,
        fix: str,
    ) -> None:
        self.problems.append(self._problem(sheet, row, column, where, message, fix))

    def note(
        self, sheet: str, row: int | None, column: _Column | None, where: str, message: str
    ) -> None:
        self.notes.append(self._problem(sheet, row, column, where, message, ""))

    def _problem(
        self,
        sheet: str,
        row: int | None,
        column: _Column | None,
        where: str,
        message: str,
        fix: str,
    ) -> XlsProblem:
        name = column.header if column is not None else None
        letter = column.letter if column is not None else None
        return XlsProblem(self.file, sheet, row, name, letter, where, message, fix)

    # -- rows --
    def rows(self, table: Table, known: set[str]) -> list[_Row]:
        columns = [_column(i, h) for i, h in enumerate(table.headers) if h.strip()]
        for column in columns:
            self.origin.headers[(table.name.lower(), column.base, column.lang)] = column
        rows = []
        for number, values in table.rows:
            cells: dict[tuple[str, str | None], tuple[str, _Column]] = {}
            for column in columns:
                value = values[column.index] if column.index < len(values) else ""
                if (number, column.index) in table.formulas:
                    self.refuse(
                        table.name,
                        number,
                        column,
                        "-",
                        f"a formula ({value[:30]}): reportbot reads what a cell holds as written",
                        "type the value itself",
                    )
                elif value.strip():
                    cells[(column.base, column.lang)] = (value, column)
            if cells:
                rows.append(_Row(number, cells))
                self.check_cells(table.name, rows[-1], known)
        return rows

    def check_cells(self, sheet: str, row: _Row, known: set[str]) -> None:
        if _refused_row(row):
            return  # the row's type is refused: its other cells go with it (one cause, one line)
        for (base, lang), (_value, column) in row.cells.items():
            where = row.get("name") or "-"
            if base not in known:
                self._unknown_column(sheet, row, column, where, known)
            elif lang == "?":
                self.by_column(
                    sheet,
                    row,
                    column,
                    f"a column in a language reportbot does not have ({column.header})",
                    "name the column for Korean (ko), Russian (ru) or English (en), or delete it",
                )
            elif lang is None and base in _TEXT_COLUMNS and self.default_lang is None:
                self.by_column(
                    sheet,
                    row,
                    column,
                    f"'{column.header}' has no language",
                    f"name it {base}::Korean (ko), {base}::Russian (ru) or "
                    f"{base}::English (en), or set default_language in settings",
                )

    def by_column(
        self, sheet: str, row: _Row, column: _Column, message: str, fix: str, *, note: bool = False
    ) -> None:
        """A problem of a whole column: one line, naming the rows it holds values in."""
        key = (sheet, column.header)
        if key not in self._columns:
            self._columns[key] = (column, [], message, fix, note, row.get("name") or "-")
        self._columns[key][1].append(row.number)

    def finish(self) -> None:
        for (sheet, _header), (column, rows, message, fix, note, where) in self._columns.items():
            many = len(rows) > 1
            shown = f"{message} (rows {_ranges(rows)})" if many else message
            problem = self._problem(sheet, rows[0], column, "-" if many else where, shown, fix)
            (self.notes if note else self.problems).append(problem)
        self._columns.clear()

    def _unknown_column(
        self, sheet: str, row: _Row, column: _Column, where: str, known: set[str]
    ) -> None:
        if column.base in _NOTED_COLUMNS:
            message = f"ignored: {column.header} ({_NOTED_COLUMNS[column.base]})"
            self.by_column(sheet, row, column, message, "", note=True)
            return
        guess = closest(column.base, sorted(known))
        hint = f"did you mean '{guess}'? " if guess else ""
        self.by_column(
            sheet,
            row,
            column,
            f"reportbot has nothing that column {column.header} could become",
            f"{hint}delete its values (or the column)",
        )

    def lang_of(self, lang: str | None) -> str | None:
        return lang if lang is not None else self.default_lang

    def texts_of(self, row: _Row, base: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for (cell_base, lang), (value, _column) in row.cells.items():
            resolved = self.lang_of(lang)
            if cell_base == base and resolved in LANGUAGES:
                found[resolved] = value.strip("\n")
        return found


def _ranges(numbers: Sequence[int]) -> str:
    """``2-5, 7`` for rows 2, 3, 4, 5 and 7."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def _find(tables: Mapping[str, Table], name: str) -> Table | None:
    return next((t for key, t in tables.items() if key.strip().lower() == name), None)


_MAPPED_SHEETS = {"survey", "choices", "settings"}
_CONTENT_SHEETS = {
    "external_choices": "choices kept in a CSV file beside the form",
    "entities": "ODK entities (data shared between forms)",
    "osm": "OpenStreetMap questions",
}


def _sheets(imp: _Importer, tables: Mapping[str, Table]) -> Table | None:
    survey = _find(tables, "survey")
    if survey is None:
        found = ", ".join(tables) or "none"
        imp.refuse(
            "survey",
            None,
            None,
            "-",
            f"no sheet named survey (sheets: {found})",
            "name the sheet that lists the questions 'survey'",
        )
    for name, table in tables.items():
        key = name.strip().lower()
        if key in _MAPPED_SHEETS or not table.rows:
            continue
        if key in _CONTENT_SHEETS:
            imp.refuse(
                name,
                None,
                None,
                "-",
                f"reportbot has no {_CONTENT_SHEETS[key]}",
                "delete this sheet",
            )
        else:
            imp.note(name, None, None, "-", "ignored: a sheet that is not part of XLSForm")
    return survey


def _settings(imp: _Importer, tables: Mapping[str, Table]) -> dict[str, str]:
    table = _find(tables, "settings")
    known = {"form_id", "form_title", "version", "default_language", "reportbot_title"}
    if table is None:
        return {}
    rows = imp.rows(table, known | {"public_key", "submission_url", "instance_name", "style"})
    if not rows:
        return {}
    row = rows[0]
    values = {base: row.get(base) for base in known if lang_free(row, base)}
    for (base, _lang), (_value, column) in row.cells.items():
        if base in {"public_key", "submission_url", "instance_name", "style"}:
            imp.note(
                table.name,
                row.number,
                column,
                "-",
                f"ignored: {column.header} (a setting of ODK servers, not of the bot)",
            )
    for lang, text in imp.texts_of(row, "reportbot_title").items():
        imp.texts[lang]["flow.title"] = text
    return values


def lang_free(row: _Row, base: str) -> bool:
    return (base, None) in row.cells


def import_tables(tables: Mapping[str, Table], file: str, default_id: str) -> Imported:
    """Our flow from an XLSForm's sheets; every cell that does not map is a problem."""
    imp = _Importer(file, default_id)
    settings_table = _find(tables, "settings")
    if settings_table is not None:
        _default_language(imp, settings_table)
    settings = _settings(imp, tables)
    survey = _sheets(imp, tables)
    lists = _choice_lists(imp, _find(tables, "choices"))
    rows = imp.rows(survey, _SURVEY_COLUMNS) if survey is not None else []
    entries = _flatten(imp, survey.name if survey else "survey", rows)
    questions = _questions(imp, survey.name if survey else "survey", entries, lists)
    flow_id = _flow_id(imp, settings)
    imp.finish()
    missing = _missing_languages(imp, survey.name if survey else "survey") if rows else []
    spec = None
    if not imp.problems:
        spec = _spec(imp, flow_id, settings.get("form_title", ""), questions)
    if spec is not None:
        _flow_issues(imp, spec, missing)
    return Imported(
        spec if not imp.problems else None,
        imp.texts,
        tuple(imp.problems),
        tuple(imp.notes),
        settings.get("version") or None,
    )


def _default_language(imp: _Importer, table: Table) -> None:
    columns = [_column(i, h) for i, h in enumerate(table.headers)]
    at = next((c.index for c in columns if c.base == "default_language"), None)
    if at is None or not table.rows:
        return
    values = table.rows[0][1]
    word = values[at].strip() if at < len(values) else ""
    if word:
        code = _column(0, f"x::{word}").lang
        imp.default_lang = code if code in LANGUAGES else None


def _flow_id(imp: _Importer, settings: Mapping[str, str]) -> str:
    flow_id = settings.get("form_id") or imp.default_id
    if not re.fullmatch(r"[a-z][a-z0-9_]*", flow_id):
        slug = re.sub(r"[^a-z0-9_]+", "_", flow_id.lower()).strip("_") or "flow"
        slug = slug if slug[0].isalpha() else f"f_{slug}"
        column = imp.origin.headers.get(("settings", "form_id", None))
        imp.refuse(
            "settings",
            2 if column else None,
            column,
            "flow",
            f"{flow_id!r} cannot be a flow id (lowercase letters, digits and _, starting "
            "with a letter; it names the flow's files)",
            f"write form_id {slug}",
        )
    return flow_id


# ---- choices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    name: str
    row: int
    labels: dict[str, str]


def _choice_lists(imp: _Importer, table: Table | None) -> dict[str, list[_Choice]]:
    lists: dict[str, list[_Choice]] = {}
    if table is None:
        return lists
    known = {"list_name", "list name", "name", "label"}
    for row in imp.rows(table, known):
        list_name = row.get("list_name") or row.get("list name")
        name = row.get("name")
        if not list_name or not name:
            imp.refuse(
                table.name,
                row.number,
                None,
                name or "-",
                "a choice needs list_name and name",
                "fill both, or delete the row",
            )
            continue
        lists.setdefault(list_name, []).append(
            _Choice(name, row.number, imp.texts_of(row, "label"))
        )
    return lists


# ---- survey ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """A question row with the conditions of the groups around it."""

    row: _Row
    group_relevant: tuple[tuple[str, _Row], ...]


def _flatten(imp: _Importer, sheet: str, rows: Iterable[_Row]) -> list[_Entry]:
    entries: list[_Entry] = []
    groups: list[_Row] = []
    for row in rows:
        kind = re.sub(r"\s+", " ", row.get("type").lower())
        if kind in ("begin group", "begin_group"):
            groups.append(row)
            if any(base == "label" for base, _lang in row.cells):
                imp.note(
                    sheet,
                    row.number,
                    row.column("type"),
                    row.get("name") or "-",
                    "group flattened: the bot asks one question after another, so the "
                    "group's label is not shown",
                )
        elif kind in ("end group", "end_group"):
            if not groups:
                imp.refuse(
                    sheet,
                    row.number,
                    row.column("type"),
                    "-",
                    "end group without a begin group",
                    "delete the row",
                )
            else:
                groups.pop()
        else:
            relevant = tuple((g.get("relevant"), g) for g in groups if g.get("relevant"))
            entries.append(_Entry(row, relevant))
    for group in groups:
        imp.refuse(
            sheet,
            group.number,
            group.column("type"),
            group.get("name") or "-",
            "begin group without an end group",
            "add an 'end group' row",
        )
    return entries


_SELECT = re.compile(
    r"(select_one|select_multiple|select one from|select all that apply from|select one|"
    r"select all that apply)\s+(\S+)(\s+or_other|\s+or specify other)?"
)


def _kind_of_type(type_text: str) -> tuple[Kind | None, str | None, bool]:
    """Our kind, the choice list and ``or_other`` for an XLSForm type (kind None: no map)."""
    text = re.sub(r"\s+", " ", type_text.strip().lower())
    match = _SELECT.fullmatch(text)
    if match:
        multi = "multiple" in match.group(1) or "all" in match.group(1)
        return (Kind.MULTI if multi else Kind.SINGLE), match.group(2), bool(match.group(3))
    return _PLAIN_TYPES.get(text), None, False


def _refused_row(row: _Row) -> bool:
    """A survey row whose type does not map (its other cells are not looked at)."""
    text = re.sub(r"\s+", " ", row.get("type").lower())
    if not text or text in ("begin group", "begin_group", "end group", "end_group"):
        return False
    return "type" in {base for base, _lang in row.cells} and _kind_of_type(text)[0] is None


def _type_refusal(type_text: str) -> tuple[str, str]:
    text = re.sub(r"\s+", " ", type_text.strip().lower())
    refused = next(
        (key for key in _REFUSED_TYPES if text == key or text.startswith(key + " ")), None
    )
    if refused is not None:
        return f"type '{type_text}': {_REFUSED_TYPES[refused]}", "delete the row"
    if text in _METADATA:
        return (
            f"type '{type_text}': reportbot keeps no device, account or time metadata "
            "(docs/threat-model.md)",
            "delete the row",
        )
    if text in ("select_one", "select_multiple"):
        return f"type '{type_text}' names no choice list", f"write {text} <list_name>"
    guess = closest(text, [*_PLAIN_TYPES, "select_one", "select_multiple"])
    hint = f" (did you mean '{guess}'?)" if guess else ""
    return (
        f"type '{type_text}' has no reportbot kind{hint}",
        "use note, acknowledge, select_one, select_multiple, text, integer, decimal, date, "
        "image, audio, video or file",
    )


@dataclass
class _Draft:
    """A question being built from its row."""

    data: dict[str, Any]
    entry: _Entry
    list_name: str | None


def _questions(
    imp: _Importer, sheet: str, entries: Sequence[_Entry], lists: Mapping[str, list[_Choice]]
) -> list[_Draft]:
    drafts = []
    for entry in entries:
        draft = _draft(imp, sheet, entry, lists)
        if draft is not None:
            drafts.append(draft)
    parsed: dict[str, Question] = {}
    for draft in drafts:
        _conditions(imp, sheet, draft, parsed)
        with contextlib.suppress(ValidationError):  # reported when the flow is put together
            parsed[draft.data["id"]] = Question.model_validate(draft.data)
    return drafts


def _draft(
    imp: _Importer, sheet: str, entry: _Entry, lists: Mapping[str, list[_Choice]]
) -> _Draft | None:
    row = entry.row
    name = row.get("name")
    type_text = row.get("type")
    if not type_text:
        imp.refuse(
            sheet,
            row.number,
            row.column("name"),
            name or "-",
            "a row without a type",
            "give it a type, or delete the row",
        )
        return None
    kind, list_name, other = _kind_of_type(type_text)
    if kind is None:
        message, fix = _type_refusal(type_text)
        imp.refuse(sheet, row.number, row.column("type"), name or "-", message, fix)
        return None
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "question"
        imp.refuse(
            sheet,
            row.number,
            row.column("name"),
            name or "-",
            f"{name!r} cannot be a question id (lowercase letters, digits and _, "
            "starting with a letter; answers are kept under it)",
            f"write {slug if slug[0].isalpha() else 'q_' + slug}",
        )
        return None
    imp.origin.question_rows[name] = row.number
    data: dict[str, Any] = {"id": name, "kind": str(kind)}
    if other:
        data["other"] = True
    if kind is Kind.MEDIA:
        data["accept"] = [str(_MEDIA_TYPES[type_text.strip().lower()])]
        data["max_files"] = 1
    if type_text.strip().lower() == "decimal":
        imp.note(
            sheet,
            row.number,
            row.column("type"),
            name,
            "decimal becomes a whole number: reportbot's numbers are whole",
        )
    _required(imp, sheet, row, data)
    _constraint_of(imp, sheet, row, kind, data)
    _extras_of(imp, sheet, row, data)
    _choices_of(imp, sheet, row, list_name, lists, data)
    _texts_of(imp, row, data)
    return _Draft(data, entry, list_name)


def _required(imp: _Importer, sheet: str, row: _Row, data: dict[str, Any]) -> None:
    value = row.get("required").lower()
    if value in _TRUE:
        data["required"] = True
    elif value not in _FALSE:
        imp.refuse(
            sheet,
            row.number,
            row.column("required"),
            data["id"],
            f"required {value!r}: reportbot takes yes or no, not an expression",
            "write yes, or leave it empty",
        )


_RANGE = re.compile(r"\.\s*(>=|>)\s*(-?\d+)\s+and\s+\.\s*(<=|<)\s*(-?\d+)")
_LENGTH = re.compile(r"string-length\(\s*\.\s*\)\s*<=\s*(\d+)")
_YEAR = re.compile(r"\.\s*>=\s*date\(\s*'(\d{4})-01-01'\s*\)")


def _constraint_of(imp: _Importer, sheet: str, row: _Row, kind: Kind, data: dict[str, Any]) -> None:
    text = re.sub(r"\s+", " ", row.get("constraint"))
    if kind is Kind.NUMBER:
        match = _RANGE.fullmatch(text)
        if match:
            data["min"] = int(match.group(2)) + (1 if match.group(1) == ">" else 0)
            data["max"] = int(match.group(4)) - (1 if match.group(3) == "<" else 0)
            return
        wanted = ". >= 0 and . <= 100"
        message = f"constraint {text!r} does not map" if text else "a number needs its range"
        imp.refuse(
            sheet,
            row.number,
            row.column("constraint")
            or imp.origin.headers.get(("survey", "constraint", None))
            or _Column(-1, "constraint", "constraint", None, ""),
            data["id"],
            f"{message}: reportbot asks for a whole number from a minimum to a maximum",
            f"write the constraint as {wanted!r} with your numbers",
        )
        return
    if not text:
        return
    length, year = _LENGTH.fullmatch(text), _YEAR.fullmatch(text)
    if kind is Kind.TEXT and length:
        data["max_length"] = int(length.group(1))
    elif kind is Kind.DATE and year:
        data["min_year"] = int(year.group(1))
    else:
        imp.refuse(
            sheet,
            row.number,
            row.column("constraint"),
            data["id"],
            f"constraint {text!r} does not map: reportbot checks a number's range, a "
            "text's length (string-length(.) <= N) and a date's first year "
            "(. >= date('2015-01-01'))",
            "delete it, or write one of those",
        )


def _extras_of(imp: _Importer, sheet: str, row: _Row, data: dict[str, Any]) -> None:
    text = row.get("reportbot")
    if not text:
        return
    try:
        extras = json.loads(text)
    except json.JSONDecodeError as exc:
        imp.refuse(
            sheet,
            row.number,
            row.column("reportbot"),
            data["id"],
            f"not JSON ({exc.msg} at character {exc.pos + 1})",
            'write a JSON object, e.g. {"kind": "place"}',
        )
        return
    if not isinstance(extras, dict):
        imp.refuse(
            sheet,
            row.number,
            row.column("reportbot"),
            data["id"],
            "not a JSON object",
            'write e.g. {"max_length": 200}',
        )
        return
    for key in ("id", "choices", "when", "required", "has_help"):
        if key in extras:
            imp.refuse(
                sheet,
                row.number,
                row.column("reportbot"),
                data["id"],
                f"'{key}' belongs in its own column, not in reportbot",
                f"remove '{key}' from it",
            )
    data.update(extras)


def _choices_of(
    imp: _Importer,
    sheet: str,
    row: _Row,
    list_name: str | None,
    lists: Mapping[str, list[_Choice]],
    data: dict[str, Any],
) -> None:
    if list_name is None:
        return
    choices = lists.get(list_name)
    if choices is None:
        guess = closest(list_name, list(lists))
        imp.refuse(
            sheet,
            row.number,
            row.column("type"),
            data["id"],
            f"no choice list '{list_name}' on the choices sheet"
            + (f": did you mean '{guess}'?" if guess else ""),
            f"add its choices with list_name {list_name}",
        )
        return
    qid = data["id"]
    data["choices"] = [c.name for c in choices]
    for j, choice in enumerate(choices):
        imp.origin.choice_rows.setdefault((qid, choice.name), choice.row)
        imp.origin.choice_index_rows[(qid, j)] = choice.row
        for lang, label in choice.labels.items():
            imp.texts[lang][f"{qid}.choice.{choice.name}"] = label


def _texts_of(imp: _Importer, row: _Row, data: dict[str, Any]) -> None:
    qid = data["id"]
    for base, suffix in (
        ("label", "prompt"),
        ("hint", "help"),
        ("reportbot_other", "other"),
        ("reportbot_end", "end"),
    ):
        for lang, text in imp.texts_of(row, base).items():
            imp.texts[lang][f"{qid}.{suffix}"] = text
    if imp.texts_of(row, "hint"):
        data["has_help"] = True


def _conditions(imp: _Importer, sheet: str, draft: _Draft, earlier: Mapping[str, Question]) -> None:
    parts: list[Condition] = []
    places = [*draft.entry.group_relevant]
    if draft.entry.row.get("relevant"):
        places.append((draft.entry.row.get("relevant"), draft.entry.row))
    for text, row in places:
        try:
            parts.append(parse_relevant(text, earlier))
        except ExpressionError as exc:
            imp.refuse(
                sheet,
                row.number,
                row.column("relevant"),
                row.get("name") or "-",
                f"relevant {text!r} does not map at character {exc.at}: {exc.message}",
                exc.fix,
            )
    if len(parts) == 1:
        draft.data["when"] = parts[0].model_dump(mode="json", by_alias=True)
    elif parts:
        draft.data["when"] = All(all=parts).model_dump(mode="json", by_alias=True)


# ---- putting it together ---------------------------------------------------------------------

_FIELD_COLUMNS = {
    "id": "name",
    "kind": "type",
    "required": "required",
    "when": "relevant",
    "choices": "type",
    "min": "constraint",
    "max": "constraint",
    "min_year": "constraint",
    "has_help": "hint",
}


_SPEC_COLUMNS = (
    # (words of a kind's spec problem, the column to change, how)
    ("require", "required", "leave required empty for this kind"),
    ("min <= max", "constraint", "write the smaller number first: . >= A and . <= B"),
    ("choices", "type", "use select_one or select_multiple with a choice list, or another type"),
    ("'other'", "type", "remove or_other, or make it a select_one or select_multiple"),
    ("accept", "reportbot", 'set {"accept": [...]} only on image, audio, video or file'),
    ("max_length", "reportbot", "remove max_length, or add or_other"),
)


def _refusal(imp: _Importer, draft: _Draft, error: Mapping[str, Any]) -> None:
    """A pydantic error on a question, at the cell a maintainer changes, in our words."""
    loc = [str(p) for p in error["loc"]]
    row = draft.entry.row.number
    message = str(error["msg"]).removeprefix("Value error, ")
    qid = draft.data["id"]
    if error["type"] == "string_pattern_mismatch" and loc[:1] == ["choices"] and len(loc) > 1:
        choice_row = imp.origin.choice_index_rows.get((qid, int(loc[1])), row)
        value = str(error.get("input"))
        slug = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_")
        imp.refuse(
            "choices",
            choice_row,
            imp.origin.headers.get(("choices", "name", None)),
            qid,
            f"{value!r} cannot be a choice id (lowercase letters, digits and _, starting "
            "with a letter; answers are kept under it)",
            f"write {slug if slug[:1].isalpha() else 'c_' + slug}",
        )
        return
    if error["type"] == "extra_forbidden":
        guess = closest(loc[-1], list(Question.model_fields))
        hint = f": did you mean '{guess}'?" if guess else ""
        imp.refuse(
            "survey",
            row,
            imp.origin.headers.get(("survey", "reportbot", None)),
            qid,
            f"reportbot has no question field '{loc[-1]}'{hint}",
            f"write '{guess}'" if guess else "remove it",
        )
        return
    column, fix = (
        _FIELD_COLUMNS.get(loc[0] if loc else "", "reportbot"),
        "see docs/flows.md, 'XLSForm'",
    )
    if not loc:
        column, fix = next(
            ((c, f) for words, c, f in _SPEC_COLUMNS if words in message), ("type", fix)
        )
    elif loc[0] == "max_length" and draft.data.get("kind") == "text":
        column = "constraint"
    header = imp.origin.headers.get(("survey", column, None)) or _Column(
        -1, column, column, None, ""
    )
    shown = f"{'.'.join(loc)}: {message}" if loc else message
    imp.refuse("survey", row, header, qid, shown, fix)


def _spec(imp: _Importer, flow_id: str, title: str, drafts: Sequence[_Draft]) -> FlowSpec | None:
    questions = []
    for draft in drafts:
        try:
            questions.append(Question.model_validate(draft.data))
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                _refusal(imp, draft, error)
    if imp.problems:
        return None
    if not questions:
        imp.refuse("survey", None, None, "-", "no questions", "add question rows to the survey")
        return None
    return FlowSpec(id=flow_id, title=title, questions=questions)


def _text_place(
    imp: _Importer, text_id: str, lang: str | None
) -> tuple[str, int | None, _Column | None]:
    qid, _, rest = text_id.partition(".")
    if qid == "flow":
        return "settings", 2, _lang_column(imp, "settings", "reportbot_title", lang)
    row = imp.origin.question_rows.get(qid)
    if rest.startswith("choice."):
        choice_row = imp.origin.choice_rows.get((qid, rest.removeprefix("choice.")))
        return "choices", choice_row, _lang_column(imp, "choices", "label", lang)
    base = {"prompt": "label", "help": "hint", "other": "reportbot_other", "end": "reportbot_end"}
    return "survey", row, _lang_column(imp, "survey", base.get(rest, "label"), lang)


_TEXT_PURPOSE = {
    "label": "the question or choice as the reporter reads it",
    "hint": "the help behind the help button",
    "reportbot_other": "the question that asks for the 'other' answer in words",
    "reportbot_end": "the last line the reporter sees when end_if ends the flow",
    "reportbot_title": "the flow's title, shown on the review screen",
}


def _lang_column(imp: _Importer, sheet: str, base: str, lang: str | None) -> _Column:
    wanted = lang or "ko"
    found = imp.origin.headers.get((sheet, base, wanted))
    if found is None and imp.default_lang == wanted:
        found = imp.origin.headers.get((sheet, base, None))
    if found is not None:
        return found
    header = f"{base}::{LANGUAGE_NAMES[wanted]} ({wanted})" if lang else f"{base}::..."
    return _Column(-1, header, base, lang, "")


def _missing_languages(imp: _Importer, sheet: str) -> list[str]:
    """Languages with no question text at all: one problem each, not one per text."""
    missing = [
        lang for lang in LANGUAGES if not any(t.endswith(".prompt") for t in imp.texts[lang])
    ]
    if any(p.message.startswith("'label' has no language") for p in imp.problems):
        return missing  # which language that column is comes first; said once it is named
    for lang in missing:
        column = f"label::{LANGUAGE_NAMES[lang]} ({lang})"
        imp.refuse(
            sheet,
            None,
            _Column(-1, column, "label", lang, ""),
            "-",
            f"no texts in {LANGUAGE_NAMES[lang]} ({lang}): every text is needed in ko, ru and en",
            f"add the column {column} with every question translated (and the same for hint, "
            "the choices sheet's label and the reportbot_ text columns)",
        )
    return missing


def _flow_issues(imp: _Importer, spec: FlowSpec, missing: Sequence[str]) -> None:
    for issue in flow_issues(spec, imp.texts):
        if issue.lang not in missing:
            _issue(imp, issue, spec)


def _issue(imp: _Importer, issue: FlowIssue, spec: FlowSpec) -> None:
    is_text = issue.lang is not None or "." in issue.where
    if is_text:
        sheet, row, column = _text_place(imp, issue.where, issue.lang)
        fix = issue.fix
        if issue.lang is None and column is not None and issue.message.startswith("missing"):
            names = ", ".join(f"{column.base}::{LANGUAGE_NAMES[x]} ({x})" for x in LANGUAGES)
            fix = f"fill the columns {names} ({_TEXT_PURPOSE.get(column.base, 'the text')})"
        imp.refuse(sheet, row, column, issue.where, issue.message, fix)
        return
    loc = issue.loc
    index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    qid = spec.questions[index].id if index is not None else issue.where
    if len(loc) > 3 and loc[2] == "choices" and isinstance(loc[3], int):
        row = imp.origin.choice_index_rows.get((qid, loc[3]))
        imp.refuse(
            "choices",
            row,
            imp.origin.headers.get(("choices", "name", None)),
            qid,
            issue.message,
            issue.fix,
        )
        return
    field_name = str(loc[2]) if len(loc) > 2 else "id"
    column = imp.origin.headers.get(("survey", _FIELD_COLUMNS.get(field_name, "reportbot"), None))
    imp.refuse(
        "survey", imp.origin.question_rows.get(qid), column, issue.where, issue.message, issue.fix
    )


def tables_version_note(imported: Imported, flow: Flow, file: str) -> XlsProblem | None:
    """A note when the version in the workbook's settings is not the imported flow's."""
    if imported.version is None or imported.version == flow.version:
        return None
    return XlsProblem(
        file,
        "settings",
        2,
        "version",
        None,
        "flow",
        f"the workbook says version {imported.version}; as imported the flow is version "
        f"{flow.version} (something changed since it was exported)",
    )
