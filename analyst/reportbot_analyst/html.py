"""The offline HTML report: ``analyst open --html`` writes ``html/`` into the workspace.

- ``html/index.html``: the overview: counts per ISO week, per city or region (``place``), per
  work site (``site``), ongoing or not (``ongoing``), and per option of every multi-select
  question (the kinds of abuse: money taken, watching, punishment, injuries, housing...), each
  as an inline SVG bar chart;
- ``html/list.html``: every report in one plain table, to search with the browser (Ctrl+F);
- ``html/reports/<id>.html``: one report: its answers with the question texts in the analyst's
  language, its attachments (images shown, every file linked), and its thread: the reporter's
  follow-ups and the analysts' replies in order (``thread``; replies: ``threads``).

Nothing in it runs or fetches anything: no script at all, and a Content-Security-Policy that
forbids scripts, connections, frames, forms and every network source (images and media only
from the workspace's own files); the reporter's words are escaped by Jinja2's autoescape.
``tests/test_analyst_html.py`` opens it in a real headless browser.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from bot.questionnaire.flow import Flow, Kind
from reportbot_analyst.vocabulary import word

HTML_DIR: Final = "html"
OVERVIEW_QUESTIONS: Final = ("place", "site", "ongoing")
CHART_WIDTH: Final = 720
LABEL_WIDTH: Final = 260
BAR_STEP: Final = 24
MEDIA_WORDS: Final = ("photo", "voice", "video", "document")
LANGS: Final = ("ko", "ru", "en")

CSS: Final = """
body{font-family:"NanumGothic","Noto Sans CJK KR","Noto Sans",sans-serif;margin:1.5rem;
max-width:60rem;color:#111;background:#fff;line-height:1.45}
nav{margin-bottom:1rem}nav a{margin-right:.5rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
.bar{fill:#3a6ea5}.label,.count{font-size:13px;fill:#111}
table.list{border-collapse:collapse;width:100%}
table.list th,table.list td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;
vertical-align:top}
dl.answers dt{font-weight:bold;margin-top:.7rem}dl.answers dd{margin-left:1rem;
white-space:pre-wrap}
.attachments img{max-width:24rem;max-height:18rem}
ol.thread li{margin-top:.6rem}ol.thread li.reply{margin-left:2rem;border-left:3px solid #3a6ea5;
padding-left:.5rem}ol.thread p{margin:.15rem 0;white-space:pre-wrap}
footer{margin-top:2rem;color:#555;font-size:.85rem}
"""

EXTRA_WORDS: Final[dict[str, dict[str, str]]] = {
    "overview": {"ko": "개요", "ru": "обзор", "en": "overview"},
    "list": {"ko": "목록", "ru": "список", "en": "list"},
    "reports": {"ko": "이야기", "ru": "рассказы", "en": "reports"},
    "title": {"ko": "이야기 개요", "ru": "Обзор рассказов", "en": "Reports: overview"},
    "list_title": {"ko": "모든 이야기", "ru": "Все рассказы", "en": "All reports"},
    "per_week": {"ko": "주별 이야기", "ru": "Рассказы по неделям", "en": "Reports per week"},
    "footer": {
        "ko": "이 파일들은 암호를 푼 이야기입니다. 암호화된 디스크에만 두십시오.",
        "ru": "Это расшифрованные рассказы: храните их только на зашифрованном диске.",
        "en": "These are decrypted reports: keep them on an encrypted disk only.",
    },
    "thread": {
        "ko": "추가한 내용과 답장",
        "ru": "дополнения и ответы",
        "en": "follow-ups and replies",
    },
    "from_reporter": {
        "ko": "쓴 사람이 추가",
        "ru": "дополнение автора",
        "en": "added by the reporter",
    },
    "your_reply": {"ko": "나의 답장", "ru": "ваш ответ", "en": "your reply"},
    "reply_by": {
        "ko": "분석원의 답장, 열쇠",
        "ru": "ответ аналитика, ключ",
        "en": "reply by analyst key",
    },
    "not_checked": {
        "ko": "서명은 여기서 확인하지 않음",
        "ru": "подпись здесь не проверена",
        "en": "signature not checked here",
    },
    "day_unknown": {"ko": "날자 모름", "ru": "день неизвестен", "en": "day unknown"},
    "not_posted": {
        "ko": "채널에서 아직 못 봄",
        "ru": "ещё не замечен в канале",
        "en": "not yet seen in the channel",
    },
    "sealed_reply": {
        "ko": "쓴 사람만 읽을수 있게 봉인된 답장입니다",
        "ru": "ответ запечатан: прочесть его может только автор рассказа",
        "en": "sealed to the reporter: only they can read it",
    },
    "lang_ko": {"ko": "조선말", "ru": "корейский", "en": "Korean"},
    "lang_ru": {"ko": "로씨야말", "ru": "русский", "en": "Russian"},
    "lang_en": {"ko": "영어", "ru": "английский", "en": "English"},
    "not_stripped": {
        "ko": "이 파일에는 위치 등 메타자료가 남아있을수 있습니다",
        "ru": "в файле могут остаться метаданные (например, место)",
        "en": "this file may still carry metadata (a location, for example)",
    },
}


def _w(key: str, lang: str) -> str:
    if key in EXTRA_WORDS:
        entry = EXTRA_WORDS[key]
        return entry.get(lang) or entry["en"]
    return word(key, lang)


def csp(style: str) -> str:
    """Nothing from anywhere, no script; only the page's own style and the workspace's files."""
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; script-src 'none'; connect-src 'none'; frame-src 'none'; "
        "object-src 'none'; form-action 'none'; base-uri 'none'; "
        f"style-src 'sha256-{digest}'; img-src 'self'; media-src 'self'"
    )


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: int
    y: int


def chart(key: str, title: str, counts: Iterable[tuple[str, int]]) -> dict[str, Any]:
    items = [(label, n) for label, n in counts if n > 0]
    top = max((n for _, n in items), default=1)
    span = CHART_WIDTH - LABEL_WIDTH - 50
    bars = [
        Bar(label, n, max(1, round(span * n / top)), i * BAR_STEP)
        for i, (label, n) in enumerate(items)
    ]
    return {
        "key": key,
        "title": title,
        "bars": bars,
        "width": CHART_WIDTH,
        "height": max(BAR_STEP, len(bars) * BAR_STEP + 4),
        "label_width": LABEL_WIDTH,
    }


def _week(day: str) -> str:
    iso = date.fromisoformat(day).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _label(flow: Flow | None, lang: str, text_id: str, fallback: str) -> str:
    if flow is None:
        return fallback
    try:
        return flow.text(lang, text_id)
    except KeyError:
        return fallback


def _charts(
    docs: Sequence[Mapping[str, Any]], flows: Mapping[tuple[str, str], Flow], lang: str
) -> list[dict[str, Any]]:
    weeks = Counter(_week(min(d["days"])) for d in docs if d["days"])
    charts = [chart("week", _w("per_week", lang), sorted(weeks.items()))]
    # Questions in the order of the newest flow that has them.
    newest: dict[str, Flow] = {}
    for doc in sorted(docs, key=lambda d: max(d["digests"], default=0)):
        flow = flows.get((doc["flow"], doc["flow_version"]))
        if flow is not None:
            newest[doc["flow"]] = flow
    for flow_id, flow in sorted(newest.items()):
        mine = [d for d in docs if d["flow"] == flow_id]
        answers = [{a["question"]: a["answer"] for a in d["answers"]} for d in mine]
        for q in flow.questions:
            if not (q.id in OVERVIEW_QUESTIONS or q.kind is Kind.MULTI) or not q.choices:
                continue
            counts: Counter[str] = Counter()
            for given in answers:
                answer = given.get(q.id)
                if not isinstance(answer, dict):
                    continue
                chosen = answer.get("choices") if q.kind is Kind.MULTI else [answer.get("choice")]
                for cid in chosen if isinstance(chosen, list) else []:
                    if cid is not None:
                        counts[str(cid)] += 1
                if answer.get("choice") is None and isinstance(answer.get("text"), str):
                    counts["other"] += 1  # a place written out
            labels = [(_label(flow, lang, f"{q.id}.choice.{c}", c), counts[c]) for c in q.choices]
            if counts["other"]:
                labels.append((word("other", lang), counts["other"]))
            title = _label(flow, lang, f"{q.id}.prompt", q.id).strip().splitlines()[0]
            charts.append(chart(q.id, title, labels))
    return charts


def thread(doc: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """A report's follow-ups (the reporter's) and analysts' replies, oldest first: each follow-up
    one entry with what it added in order, each reply one entry with who and what (its text only
    in the workspace it was written from: it is sealed to the reporter)."""
    entries: list[dict[str, Any]] = []
    for fu in doc["followups"]:
        entries.append(
            {
                "kind": "followup",
                "when": min(fu["days"], default=""),
                "day": " ".join(fu["days"]),
                "who": _w("from_reporter", lang),
                "note": "",
                "texts": [item["text"] for item in fu["items"]],
            }
        )
    for reply in doc.get("replies", []):
        by = reply.get("by_name") or reply["by"]
        who = _w("your_reply", lang) if reply["by_you"] else f"{_w('reply_by', lang)} {by}"
        entries.append(
            {
                "kind": "reply",
                "when": reply["day"] or "~",  # a day unknown: after the known ones
                "day": reply["day"] or _w("day_unknown", lang),
                "who": who,
                "note": " · ".join(
                    _w(key, lang)
                    for key, shown in (
                        ("not_posted", not reply["posted"]),
                        ("not_checked", not reply["signature_checked"]),
                    )
                    if shown
                ),
                "texts": [reply["text"] or _w("sealed_reply", lang)],
            }
        )
    return sorted(entries, key=lambda e: (e["when"], e["kind"] == "reply"))


def _is_image(mime: str) -> bool:
    return mime in ("image/jpeg", "image/png", "image/webp")


def write_html(
    docs: Sequence[Mapping[str, Any]],
    out_dir: Path,
    flows: Mapping[tuple[str, str], Flow],
    lang: str,
    writer: Callable[[Path, bytes], None],
) -> list[Path]:
    """Write ``html/`` from the reports as in ``reports.jsonl``; returns the files written."""
    # Imported here: only this output needs Jinja2.
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("reportbot_analyst", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    words = {
        k: _w(k, lang)
        for k in (
            "overview",
            "list",
            "reports",
            "footer",
            "complete",
            "interrupted",
            "digests",
            "status",
            "day",
            "lang",
            "flow_version",
            "attachments",
            "bytes",
            "thread",
        )
    }
    common = {"lang": lang, "csp": csp(CSS), "css": CSS, "words": words}
    root = out_dir / HTML_DIR
    if root.exists():
        shutil.rmtree(root / "reports", ignore_errors=True)
    (root / "reports").mkdir(parents=True, exist_ok=True, mode=0o700)
    written: list[Path] = []

    def put(rel: str, template: str, **values: Any) -> None:
        html = env.get_template(template).render(**common, **values)
        target = root / rel
        writer(target, html.encode("utf-8"))
        written.append(target)

    statuses = Counter(d["status"] for d in docs)
    put(
        "index.html",
        "index.html",
        root="",
        title=_w("title", lang),
        total=len(docs),
        complete=statuses["complete"],
        interrupted=statuses["interrupted"],
        digests=len({n for d in docs for n in d["digests"]}),
        charts=_charts(docs, flows, lang),
    )
    headers = [word("report", lang), word("day", lang), word("status", lang)]
    list_rows = []
    for doc in docs:
        flow = flows.get((doc["flow"], doc["flow_version"]))
        texts = {a["question"]: a["text"] for a in doc["answers"]}
        status = (
            word(doc["status"], lang)
            if doc["status"] in ("complete", "interrupted", "unclosed")
            else doc["status"]
        )
        cells = [min(doc["days"]) if doc["days"] else "", status]
        cells += [texts.get(q, "") for q in OVERVIEW_QUESTIONS]
        list_rows.append({"id": doc["report"], "cells": cells})
        answers = [
            {
                "question": _label(flow, lang, f"{a['question']}.prompt", a["question"]),
                "text": a["text"],
            }
            for a in doc["answers"]
        ]
        attachments = [
            {
                "file": f["file"],
                "name": Path(f["file"]).name,
                "mime": f["mime"],
                "kind": _w(f["media"], lang) if f["media"] in MEDIA_WORDS else f["media"],
                "size": f["size"],
                "image": _is_image(f["mime"]),
                "warning": _w("not_stripped", lang) if f["metadata"] != "stripped" else "",
            }
            for f in [
                *doc["attachments"],
                *(a for fu in doc["followups"] for a in fu["attachments"]),
            ]
        ]
        put(
            f"reports/{doc['report']}.html",
            "report.html",
            root="../",
            title=f"{word('report', lang)} {doc['report'][:8]}",
            status=status,
            days=" ".join(doc["days"]),
            report_lang=_w(f"lang_{doc['lang']}", lang) if doc["lang"] in LANGS else doc["lang"],
            flow_version=doc["flow_version"],
            answers=answers,
            attachments=attachments,
            thread=thread(doc, lang),
        )
    first_flow = next(iter(flows.values()), None)
    headers += [
        _label(first_flow, lang, f"{q}.prompt", q).strip().splitlines()[0]
        for q in OVERVIEW_QUESTIONS
    ]
    put(
        "list.html",
        "list.html",
        root="",
        title=_w("list_title", lang),
        headers=headers,
        rows=list_rows,
    )
    return written
