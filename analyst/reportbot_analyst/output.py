"""Writing the workspace's outputs from the opened reports: ``reports.jsonl`` (the stable record,
docs/workspace.md), one CSV per flow, the codebook and the XLSX workbook (``exports``), the
attachments, the flow snapshots the digests carried, and the ledger.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from bot.questionnaire.flow import Flow, Kind, Question
from bot.sealing.keys import BotVerifyKey
from reportbot_analyst.assembly import FOLLOWUP_KIND, OpenResult, Report
from reportbot_analyst.catalog import FlowCatalog
from reportbot_analyst.ledger import write_ledger
from reportbot_analyst.opening import OtherRecord
from reportbot_analyst.private import private_dir, write_private
from reportbot_analyst.rendering import labeller, render_answer, renderer
from reportbot_analyst.threads import read_posted_days, read_written, reply_docs

REPORTS_JSONL: Final = "reports.jsonl"
ATTACHMENTS_DIR: Final = "attachments"

_EXTENSIONS: Final = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/3gpp": ".3gp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


def write_output(
    result: OpenResult,
    out_dir: Path,
    catalog: FlowCatalog,
    lang: str,
    verify_key: BotVerifyKey,
) -> None:
    """Write ``reports.jsonl``, one ``reports-<flow>.csv`` per flow, attachments, the ledger."""
    private_dir(out_dir)
    keep_flows(result, out_dir, catalog)
    attach_root = out_dir / ATTACHMENTS_DIR
    if any(rep.attachments for rep in result.reports):
        private_dir(attach_root)
    # Imported here: only writing needs them.
    from reportbot_analyst.exports import write_tables
    from reportbot_analyst.tables import RowSource, build_tables

    jsonl = io.StringIO()
    written = read_written(out_dir, result.notices)
    days = read_posted_days(out_dir)
    sources: list[RowSource] = []
    unknown_versions: set[tuple[str, str]] = set()
    for rep in result.reports:
        flow = catalog.get(rep.flow, rep.flow_version)
        if flow is None:
            unknown_versions.add((rep.flow, rep.flow_version))
        label = labeller(flow, lang)
        files, attachments = _write_attachments(rep, out_dir, result)
        followups = [_followup_doc(f, out_dir, result, lang) for f in rep.followups]
        order = _question_order(flow, rep)
        answers = []
        cells: dict[str, str] = {}
        for ans in sorted(rep.answers, key=lambda a: order.get(a.question, 10**6)):
            text = render_answer(ans.question, ans.answer, label, files, lang)
            cells[ans.question] = text
            answers.append(
                {
                    "question": ans.question,
                    "slot": ans.head.slot,
                    "answer": dict(ans.answer),
                    "text": text,
                }
            )
        labels_note = (
            lang
            if flow is not None
            else f"raw ids: flow {rep.flow} version {rep.flow_version} not available"
        )
        doc = {
            "report": rep.report,
            "status": rep.status,
            "flow": rep.flow,
            "flow_version": rep.flow_version,
            "lang": rep.lang,
            "labels": labels_note,
            "digests": sorted(rep.digests),
            "days": sorted(d.isoformat() for d in rep.days),
            "answers": answers,
            "attachments": attachments,
            "other_records": [dict(o.fields) for o in rep.others if o.kind != FOLLOWUP_KIND],
            "reply_key": rep.reply_key,
            "replies": reply_docs(rep.report, rep.reply_key, result.replies, written, days),
            "followups": followups,
            "follows": rep.follows,  # a follow-up whose report is not among the digests given
            "items": _followup_items(rep, files, lang) if rep.follows else [],
        }
        jsonl.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
        result.documents.append(doc)
        sources.append(
            RowSource(
                report=rep.report,
                flow=rep.flow,
                flow_version=rep.flow_version,
                lang=rep.lang,
                status=rep.status,
                days=sorted(rep.days),
                digests=sorted(rep.digests),
                answers={a.question: a.answer for a in rep.answers},
                files=files,
                followups=" | ".join(
                    item["text"] for f in followups for item in f["items"] if item["text"]
                ),
                render=renderer(label, files, lang),
                label=label,
            )
        )
    target = out_dir / REPORTS_JSONL
    write_private(target, jsonl.getvalue().encode("utf-8"))
    result.files_written.append(target)
    tables = build_tables(sources, catalog.get, lang)
    result.files_written += write_tables(tables, out_dir, lang, write_private)
    for flow_id, version in sorted(unknown_versions):
        result.notices.append(
            f"flow {flow_id} version {version} is not among the flows given: "
            "its reports show raw ids (no digest given carried it; pass --flows with that "
            "version for labels)"
        )
    write_ledger(out_dir, verify_key, result.verify.accepted)


def keep_flows(result: OpenResult, out_dir: Path, catalog: FlowCatalog) -> None:
    """Check the flow snapshots the digests carried, label with them, keep them in ``out_dir``."""
    from reportbot_analyst.flows import SnapshotError, flow_from_snapshot, snapshot_file

    for (flow_id, version), record in sorted(result.flows.items()):
        try:
            flow = flow_from_snapshot(flow_id, version, record.document)
        except SnapshotError as exc:
            result.notices.append(f"{exc}: not used")
            continue
        catalog.add(flow)
        target = snapshot_file(out_dir, flow_id, version)
        if not target.exists():
            private_dir(target.parent)
            write_private(target, record.document)


def _write_attachments(
    rep: Report, out_dir: Path, result: OpenResult
) -> tuple[dict[str, str], list[dict[str, object]]]:
    """Write a report's attachments; (ref -> relative path, their JSON descriptions)."""
    files: dict[str, str] = {}
    attachments: list[dict[str, object]] = []
    for att in rep.attachments:
        folder = out_dir / ATTACHMENTS_DIR / rep.report
        private_dir(folder)
        ext = _EXTENSIONS.get(att.mime, ".bin")
        target = folder / f"{att.head.slot:05d}-{att.ref}{ext}"
        write_private(target, att.data)
        result.files_written.append(target)
        rel = target.relative_to(out_dir).as_posix()
        files[att.ref] = rel
        attachments.append(
            {
                "question": att.question,
                "slot": att.head.slot,
                "ref": att.ref,
                "media": att.media,
                "mime": att.mime,
                "size": len(att.data),
                "metadata": att.metadata,
                "file": rel,
            }
        )
    return files, attachments


def _followup_doc(f: Report, out_dir: Path, result: OpenResult, lang: str) -> dict[str, Any]:
    """A follow-up as part of the report it adds to: what was added, in order, and its files."""
    files, attachments = _write_attachments(f, out_dir, result)
    return {
        "report": f.report,
        "status": f.status,
        "lang": f.lang,
        "digests": sorted(f.digests),
        "days": sorted(d.isoformat() for d in f.days),
        "items": _followup_items(f, files, lang),
        "attachments": attachments,
    }


def _followup_items(f: Report, files: Mapping[str, str], lang: str) -> list[dict[str, Any]]:
    """What a follow-up added (texts, files), in the order it was sent."""
    items: list[dict[str, Any]] = []

    def order(o: OtherRecord) -> tuple[int, int]:
        n = o.fields.get("n")
        return (
            n if isinstance(n, int) and not isinstance(n, bool) else 0,
            o.head.slot if o.head is not None else -1,
        )

    for other in sorted(f.others, key=order):
        content = other.fields.get("content")
        if other.kind != FOLLOWUP_KIND or not isinstance(content, dict):
            continue
        items.append(
            {
                "n": other.fields.get("n"),
                "slot": other.head.slot if other.head is not None else None,
                "content": content,
                "text": render_answer(FOLLOWUP_KIND, content, lambda _q, cid: cid, files, lang),
            }
        )
    return items


def _question_order(flow: Flow | None, rep: Report) -> dict[str, int]:
    if flow is not None:
        return {q.id: i for i, q in enumerate(flow.questions) if _has_answer(q)}
    return {a.question: a.head.slot for a in rep.answers}


def _has_answer(q: Question) -> bool:
    return q.kind is not Kind.INFO
