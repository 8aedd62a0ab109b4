"""What analysts put in front of people: the CSV per flow, the codebook and the XLSX workbook.

Failures blocked: English words leaking into a Korean or Russian export ("yes", "other: ...",
"unknown", status words, column headers); multi-select answers squeezed into one cell; dates
that are not ISO; a reporter's text running as a spreadsheet formula in Excel.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.questionnaire.flow import AnswerValue
from bot.sealing.keys import Recipients
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.toolkit import FlowCatalog, open_digests, write_output
from tests.analyst_support import SAMPLE_ANSWERS, Bot, Report, edited_flow, png, shipped_flow
from tests.sealing_support import read_table

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
FREE_COLUMNS = {"report", "flow_version", "lang", "week", "more", "followups"}
"""Columns whose values are ids, codes or the reporter's own words (not the toolkit's)."""

ANSWERS: dict[str, AnswerValue] = {
    **SAMPLE_ANSWERS,
    "site": {"choice": "other", "text": "벌목장 =1+2"},
    "since": {"unknown": True},
    "more": {"text": '=HYPERLINK("http://x")'},
}


async def _workspace(tmp_path: Path, lang: str) -> tuple[Path, list[str]]:
    key = AnalystSecretKey.generate()
    bot = Bot(Recipients([key.public]), tmp_path / "data")
    bot.run([shipped_flow()])
    ids = [
        await bot.report(Report(shipped_flow(), ANSWERS, lang="ko")),
        await bot.report(Report(shipped_flow(), SAMPLE_ANSWERS, lang="ru")),
    ]
    files = await bot.digest(tmp_path / "channel")
    result = open_digests(files, [key], bot.signing.public)
    out = tmp_path / f"ws-{lang}"
    write_output(result, out, FlowCatalog(), lang, bot.signing.public)
    return out, ids


def _english(text: str, lang: str) -> list[str]:
    """Latin words in ``text`` that are not the flow's own words in ``lang`` (e.g. "/panic")."""
    own = set(LATIN_WORD.findall(" ".join(shipped_flow().texts[lang].values())))
    return [w for w in LATIN_WORD.findall(text) if w not in own]


@pytest.mark.parametrize("lang", ["ko", "ru"])
async def test_korean_and_russian_exports_leak_no_english(tmp_path: Path, lang: str) -> None:
    out, _ = await _workspace(tmp_path, lang)
    headers, rows = read_table(out)
    assert [h for h in headers if _english(h, lang)] == []
    for row in rows:
        leaks = {
            k: v
            for k, v in row.items()
            if k.split(".")[0] not in FREE_COLUMNS
            and not k.endswith(".other")
            and _english(v, lang)
        }
        assert leaks == {}
    codebook = (out / "codebook-worker_report.csv").read_text("utf-8-sig").splitlines()
    assert not LATIN_WORD.search(
        codebook[0].replace("(en)", "").replace("(ko)", "").replace("(ru)", "")
    )


async def test_multi_select_is_one_zero_one_column_per_option_and_dates_are_iso(
    tmp_path: Path,
) -> None:
    out, ids = await _workspace(tmp_path, "ko")
    flow = shipped_flow()
    _, rows = read_table(out)
    by_id = {row["report"]: row for row in rows}
    first, second = by_id[ids[0]], by_id[ids[1]]
    taken = flow.question("taken")
    assert {c: first[f"taken.{c}"] for c in taken.choices} == {
        c: ("1" if c in ("loyalty_funds", "fines") else "0") for c in taken.choices
    }
    assert first["site"] == "기타"
    assert first["site.other"] == "벌목장 =1+2"
    assert first["since"] == "모릅니다"
    assert second["since"] == "2024-03"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first["day"])
    assert re.fullmatch(r"\d{4}-W\d{2}", first["week"])
    assert first["status"] == "완료"
    assert first["more"].startswith("'=")  # CSV: a formula is neutralised


async def test_workbook_has_the_same_sheets_and_no_formula(tmp_path: Path) -> None:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    out, _ = await _workspace(tmp_path, "ru")
    book = load_workbook(io.BytesIO((out / "reports.xlsx").read_bytes()))
    assert book.sheetnames[0] == "worker_report"
    sheet = book["worker_report"]
    values = list(sheet.iter_rows(values_only=True))
    headers, rows = read_table(out)
    assert list(values[0]) == headers
    ids = list(values[1])
    assert "taken.loyalty_funds" in ids
    assert len(values) == 2 + len(rows)
    more = ids.index("more")
    cells = [row[more] for row in sheet.iter_rows(min_row=3)]
    assert any(c.value == '=HYPERLINK("http://x")' for c in cells)
    assert all(c.data_type == "s" for c in cells if isinstance(c.value, str))
    assert "кодовая книга" in book.sheetnames[1]


@pytest.mark.parametrize("lang", ["ko", "ru"])
async def test_followups_in_a_korean_or_russian_export_leak_no_english(
    tmp_path: Path, lang: str
) -> None:
    """A follow-up's file that no digest given carries is named in the analyst's language
    (it came out as "[attachment not in the digests given: ...]" in every language)."""
    key = AnalystSecretKey.generate()
    bot = Bot(Recipients([key.public]), tmp_path / "data")
    bot.run([shipped_flow()])
    first = await bot.report(Report(shipped_flow(), SAMPLE_ANSWERS, lang="ko"))
    later: list[AnswerValue] = [
        {"text": "사장이 또 돈을 떼였다"},
        {"media": [{"kind": "photo", "ref": "20261203"}]},  # its file never reached a digest
    ]
    await bot.followup(first, later, shipped_flow())
    files = await bot.digest(tmp_path / "channel")
    result = open_digests(files, [key], bot.signing.public)
    out = tmp_path / f"ws-{lang}"
    write_output(result, out, FlowCatalog(), lang, bot.signing.public)
    [doc] = [json.loads(line) for line in (out / "reports.jsonl").read_text("utf-8").splitlines()]
    [followup] = doc["followups"]
    texts = [item["text"] for item in followup["items"]]
    assert texts[0] == "사장이 또 돈을 떼였다"
    assert "20261203" in texts[1]
    assert [t for t in texts if _english(t, lang)] == []
    _, rows = read_table(out)
    assert [row["followups"] for row in rows if _english(row["followups"], lang)] == []


class _VisibleText(HTMLParser):
    """The words a reader sees on a page: text outside <style>, and alt texts."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        self.words += [v for k, v in attrs if k == "alt" and v]

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if not self._in_style:
            self.words.append(data)


@pytest.mark.parametrize("lang", ["ko", "ru"])
async def test_the_html_report_in_korean_or_russian_shows_no_english_word(
    tmp_path: Path, lang: str
) -> None:
    """Every page's visible text is in the analyst's language: no "B" for bytes, no MIME type
    ("image/png") for a reporter's photo; ids, days and file names aside."""
    from reportbot_analyst.html import write_html
    from reportbot_analyst.toolkit import write_private

    key = AnalystSecretKey.generate()
    bot = Bot(Recipients([key.public]), tmp_path / "data")
    bot.run([shipped_flow()])
    first = await bot.report(Report(shipped_flow(), ANSWERS, lang="ko", photo=png()))
    await bot.followup(first, [{"text": "또 왔다"}], shipped_flow())
    files = await bot.digest(tmp_path / "channel")
    result = open_digests(files, [key], bot.signing.public)
    out = tmp_path / f"ws-{lang}"
    catalog = FlowCatalog()
    write_output(result, out, catalog, lang, bot.signing.public)
    flows = {(f.id, f.version): f for f in catalog}
    pages = write_html(result.documents, out, flows, lang, write_private)
    ids = {shipped_flow().version}
    for doc in result.documents:
        ids |= {doc["report"], *(a["file"] for a in doc["attachments"])}
        ids |= {Path(a["file"]).name for a in doc["attachments"]}
        ids |= {f["report"] for f in doc["followups"]}
    leaks: dict[str, list[str]] = {}
    for page in pages:
        reader = _VisibleText()
        reader.feed(page.read_text("utf-8"))
        text = " ".join(reader.words)
        for known in sorted(ids, key=len, reverse=True):
            text = text.replace(known, " ").replace(known[:8], " ")
        found = _english(text.replace(str(ANSWERS["more"]["text"]), " "), lang)
        if found:
            leaks[page.name] = found
    assert leaks == {}


@pytest.mark.parametrize("lang", ["ko", "ru"])
async def test_the_codebook_has_every_language_and_version_and_speaks_the_analysts(
    tmp_path: Path, lang: str
) -> None:
    """One line per CSV column with its ids, its label in ko, ru and en, and both flow versions
    the table merges; the rest in the analyst's language (its kind column said "single",
    "consent", "number" in every language)."""
    import csv

    old, new = shipped_flow(), edited_flow(shipped_flow())
    key = AnalystSecretKey.generate()
    bot = Bot(Recipients([key.public]), tmp_path / "data")
    bot.run([old])
    await bot.report(Report(old, SAMPLE_ANSWERS))
    files = await bot.digest(tmp_path / "channel")
    bot.run([new])
    await bot.report(Report(new, SAMPLE_ANSWERS, lang="ru"))
    files += await bot.digest(tmp_path / "channel")
    result = open_digests(files, [key], bot.signing.public)
    out = tmp_path / "ws"
    write_output(result, out, FlowCatalog(), lang, bot.signing.public)
    head, *lines = list(
        csv.reader(io.StringIO((out / "codebook-worker_report.csv").read_text("utf-8-sig")))
    )
    headers, _ = read_table(out)
    assert [line[1] for line in lines] == headers  # one line per column, in order
    at = {name: head.index(name) for name in head}
    label = {
        lg: next(i for i, h in enumerate(head) if h.endswith(f"({lg})"))
        for lg in ["ko", "ru", "en"]
    }
    for line in lines:
        assert all(line[label[lg]] for lg in label), line  # a label in every language
        assert set(line[-1].split()) == {old.version, new.version}
        own = [v for i, v in enumerate(line) if i in (at[head[1]], at[head[4]], label[lang])]
        assert [v for v in own if _english(v, lang)] == [], line
    hours = next(line for line in lines if line[2] == "hours")
    assert hours[label["ko"]] == new.text("ko", "hours.prompt").strip().splitlines()[0]
