"""Reports as tables, one per flow: what the CSV files and the XLSX workbook hold.

One row per report; fixed columns first (report, status, day, ISO week, flow version, the
reporter's language), then every question of the flow in its order, labelled in the analyst's
language from the flow version the reporter saw:

- a single choice or a place: the choice's label (a written place: the text); when the question
  has "other", a second column with what was written;
- a multi-select: **one 0/1 column per option** ("question: option"), and the written "other";
- a date: ISO (``2024-03``, or ``2024`` without a month), a number as a number;
- a file question: the attachments' paths in the workspace.

Columns of all versions of a flow are merged (a question only in an older version keeps its
column); headers come from the newest version that has the question. Every column is listed in
the codebook with its ids and its labels in every language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.questionnaire.flow import Flow, Kind, Question
from reportbot_analyst.vocabulary import word

Cell = str | int


@dataclass(frozen=True)
class Column:
    key: str  # stable id: "report", "site", "taken.fines", "site.other"
    header: str  # in the analyst's language
    question: str = ""  # question id ("" for the fixed columns)
    choice: str = ""  # choice id of a multi-select option column, "other" for written text
    kind: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)  # lang -> header, for the codebook


@dataclass
class Table:
    flow: str
    versions: list[str]
    columns: list[Column]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class RowSource:
    """What a table needs of one report (filled by the toolkit)."""

    report: str
    flow: str
    flow_version: str
    lang: str
    status: str
    days: Sequence[date]
    digests: Sequence[int]
    answers: Mapping[str, Mapping[str, object]]
    files: Mapping[str, str]  # attachment ref -> path in the workspace
    followups: str
    render: Callable[[str, Mapping[str, object]], str]  # one cell as in reports.jsonl
    label: Callable[[str, str], str]  # (question, choice) -> label; "[id]" when unknown


FIXED = ("report", "status", "day", "week", "flow_version", "lang")


def _text(flow: Flow, lang: str, text_id: str, fallback: str) -> str:
    try:
        return flow.text(lang, text_id)
    except KeyError:
        return fallback


def _all_langs(
    flow: Flow | None, make: Callable[[Flow, str], str], fallback: str
) -> dict[str, str]:
    if flow is None:
        return {}
    return {lang: make(flow, lang) for lang in sorted(flow.texts)} or {"": fallback}


HEADER_MAX = 80


def short(text: str) -> str:
    """A prompt as a column header: its first line, at most HEADER_MAX characters (the whole
    text is in the codebook)."""
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= HEADER_MAX else line[: HEADER_MAX - 1] + "…"


def _question_columns(q: Question, flow: Flow, lang: str) -> list[Column]:
    def prompt(f: Flow, lg: str) -> str:
        return short(_text(f, lg, f"{q.id}.prompt", q.id))

    def option(c: str) -> Callable[[Flow, str], str]:
        return lambda f, lg: f"{prompt(f, lg)}: {_text(f, lg, f'{q.id}.choice.{c}', c)}"

    def other(f: Flow, lg: str) -> str:
        return f"{prompt(f, lg)}: {word('other_text', lg)}"

    out: list[Column] = []
    if q.kind is Kind.MULTI:
        for c in q.choices:
            labels = _all_langs(flow, option(c), c)
            out.append(Column(f"{q.id}.{c}", option(c)(flow, lang), q.id, c, "0/1", labels))
    else:
        labels = _all_langs(flow, prompt, q.id)
        out.append(Column(q.id, prompt(flow, lang), q.id, "", str(q.kind), labels))
    if q.other:
        labels = _all_langs(flow, other, q.id)
        out.append(Column(f"{q.id}.other", other(flow, lang), q.id, "other", "text", labels))
    return out


def _columns(flows: Sequence[Flow], extra_questions: Iterable[str], lang: str) -> list[Column]:
    """Newest version first: its questions in order, then those only older versions had."""
    columns: list[Column] = [
        Column(
            key, word(key, lang), kind="", labels={lg: word(key, lg) for lg in ("ko", "ru", "en")}
        )
        for key in FIXED
    ]
    seen: set[str] = set()
    for flow in flows:
        for q in flow.questions:
            if q.kind is Kind.INFO or q.id in seen:
                continue
            seen.add(q.id)
            columns += _question_columns(q, flow, lang)
    for qid in extra_questions:  # answers no known flow describes: raw ids
        if qid not in seen:
            seen.add(qid)
            columns.append(Column(qid, qid, qid, "", "?"))
    columns.append(
        Column(
            "followups",
            word("followups", lang),
            labels={lg: word("followups", lg) for lg in ("ko", "ru", "en")},
        )
    )
    return columns


def _cell(column: Column, row: RowSource, kinds: Mapping[str, Kind], lang: str) -> Cell:
    answer = row.answers.get(column.question)
    if answer is None:
        return ""
    kind = kinds.get(column.question)
    if column.choice == "other":
        text = answer.get("text")
        return text if isinstance(text, str) else ""
    if kind is Kind.MULTI:
        chosen = answer.get("choices")
        return 1 if isinstance(chosen, list) and column.choice in chosen else 0
    if kind is Kind.NUMBER and isinstance(answer.get("number"), int):
        number = answer["number"]
        return number if isinstance(number, int) else ""
    if kind is Kind.DATE:
        if answer.get("unknown") is True:
            return word("unknown", lang)
        year, month = answer.get("year"), answer.get("month")
        if isinstance(year, int):
            return f"{year:04d}-{month:02d}" if isinstance(month, int) else f"{year:04d}"
    if kind in (Kind.SINGLE, Kind.PLACE) and answer.get("choice") is not None:
        # The label only: what was written for "other" has its own column.
        cid = str(answer["choice"])
        name = row.label(column.question, cid)
        return word("other", lang) if cid == "other" and name == "[other]" else name
    return row.render(column.question, answer)


def _fixed(key: str, row: RowSource, lang: str) -> Cell:
    first = min(row.days) if row.days else None
    if key == "report":
        return row.report
    if key == "status":
        return (
            word(row.status, lang)
            if row.status in ("complete", "interrupted", "unclosed")
            else row.status
        )
    if key == "day":
        return first.isoformat() if first else ""
    if key == "week":
        if first is None:
            return ""
        iso = first.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if key == "flow_version":
        return row.flow_version
    if key == "lang":
        return row.lang
    return ""


def build_tables(
    rows: Sequence[RowSource], flows_of: Callable[[str, str], Flow | None], lang: str
) -> list[Table]:
    tables: list[Table] = []
    for flow_id in sorted({r.flow for r in rows}):
        mine = [r for r in rows if r.flow == flow_id]
        # Versions newest first: by the last digest that carried a report of it.
        newest: dict[str, int] = {}
        for r in mine:
            newest[r.flow_version] = max([newest.get(r.flow_version, 0), *r.digests])
        versions = sorted(newest, key=lambda v: -newest[v])
        flows = [f for v in versions if (f := flows_of(flow_id, v)) is not None]
        kinds: dict[str, Kind] = {}
        for flow in reversed(flows):
            kinds.update({q.id: q.kind for q in flow.questions})
        extra = [q for r in mine for q in r.answers]
        columns = _columns(flows, extra, lang)
        body: list[list[Cell]] = []
        for r in mine:
            line: list[Cell] = []
            for column in columns:
                if column.key in FIXED:
                    line.append(_fixed(column.key, r, lang))
                elif column.key == "followups":
                    line.append(r.followups)
                else:
                    line.append(_cell(column, r, kinds, lang))
            body.append(line)
        tables.append(Table(flow_id, versions, columns, body))
    return tables
