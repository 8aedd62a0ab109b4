"""Digests as the bot makes them, for the analysts' tests: real flows (the shipped one and an
edited version), reports sealed with the bot's own functions, closed by the bot's own closer
with its flow snapshots, written into a folder under their channel names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.delivery.digests import DigestCloser, close_to_folder
from bot.delivery.flow_snapshots import FlowSnapshots
from bot.questionnaire.flow import AnswerValue, Flow, MediaKind
from bot.questionnaire.loader import load_flow
from bot.receipts.followups import seal_followup
from bot.sealing.envelope import (
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_attachment,
    seal_manifest,
)
from bot.sealing.keys import BotSigningKey, Recipients
from storage.base import ReportState
from storage.memory import MemoryReportStore

ROOT = Path(__file__).resolve().parent.parent


def shipped_flow() -> Flow:
    return load_flow(ROOT / "flows" / "worker_report.yaml", ROOT / "locales")


def edited_flow(flow: Flow) -> Flow:
    """The same flow after a maintainer edited one text in each language: a new version."""
    texts = {lang: dict(table) for lang, table in flow.texts.items()}
    for lang, table in texts.items():
        table["hours.prompt"] = table["hours.prompt"] + {"ko": " (수정)", "ru": " (изм.)"}.get(
            lang, " (edited)"
        )
    edited = Flow(spec=flow.spec, texts=texts, source="edited")
    assert edited.version != flow.version
    return edited


SAMPLE_ANSWERS: dict[str, AnswerValue] = {
    "consent": {"consent": True},
    "site": {"choice": "construction"},
    "place": {"choice": "moscow"},
    "since": {"year": 2024, "month": 3},
    "ongoing": {"choice": "still"},
    "hours": {"number": 14},
    "taken": {"choices": ["loyalty_funds", "fines"]},
    "more": {"text": "<script>alert(1)</script> 로동시간이 너무 길다"},
}


@dataclass
class Report:
    flow: Flow
    answers: dict[str, AnswerValue]
    lang: str = "ko"
    report_id: str = ""
    photo: bytes | None = None  # sent as the answer to "evidence"
    reply_key: str | None = None  # the receipt's reply key (rb-reply-pub-v1:...), if one


def _valid_answers(flow: Flow, answers: dict[str, AnswerValue]) -> dict[str, AnswerValue]:
    """Only answers the flow has (choice ids checked), so the samples fit any version."""
    out: dict[str, AnswerValue] = {}
    for qid, answer in answers.items():
        try:
            question = flow.question(qid)
        except KeyError:
            continue
        many = answer.get("choices")
        chosen = (
            [answer["choice"]]
            if "choice" in answer
            else list(many)
            if isinstance(many, list)
            else []
        )
        allowed = [*question.choices, *(["other"] if question.other else [])]
        if question.choices and any(c not in allowed for c in chosen):
            valid = [c for c in chosen if c in allowed] or question.choices[:1]
            answer = {"choices": valid} if "choices" in answer else {"choice": valid[0]}
        out[qid] = answer
    return out


class Bot:
    """The bot's side of the digests: a store, a signing key, a closer per run (restart)."""

    def __init__(
        self, recipients: Recipients, data_dir: Path, signing: BotSigningKey | None = None
    ) -> None:
        self.recipients = recipients
        self.signing = signing or BotSigningKey.generate()
        self.store = MemoryReportStore()
        self.data_dir = data_dir
        self.closer: DigestCloser | None = None

    def run(self, flows: Sequence[Flow]) -> None:
        """(Re)start the bot with these flows."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.closer = DigestCloser(
            self.store,
            self.signing,
            self.recipients,
            clock=lambda: datetime.now(UTC),
            snapshots=FlowSnapshots(self.recipients, flows, self.data_dir),
        )

    async def report(self, report: Report) -> str:
        report_id = await self.store.open_report()
        ctx = ReportContext(report_id, report.flow.id, report.flow.version, report.lang)
        slots = []
        for slot, (qid, answer) in enumerate(_valid_answers(report.flow, report.answers).items()):
            await self.store.put_answer(
                report_id,
                slot,
                seal_answer(self.recipients, ctx, slot=slot, question=qid, answer=answer),
            )
            slots.append(slot)
        if report.photo is not None:
            slot = len(slots)
            media: AnswerValue = {"media": [{"kind": "photo", "ref": "evidence1"}]}
            await self.store.put_answer(
                report_id,
                slot,
                seal_answer(self.recipients, ctx, slot=slot, question="evidence", answer=media),
            )
            envelope = seal_attachment(
                self.recipients,
                ctx,
                slot=slot + 1,
                question="evidence",
                ref="evidence1",
                media=MediaKind.PHOTO,
                data=report.photo,
                mime="image/png",
            )
            await self.store.put_attachment(report_id, slot + 1, envelope)
            slots += [slot, slot + 1]
        manifest = seal_manifest(
            self.recipients,
            ctx,
            slot=1000,
            status=ReportStatus.COMPLETE,
            slots=slots,
            reply_key=report.reply_key,
        )
        await self.store.close_report(report_id, ReportState.COMPLETE, manifest)
        report.report_id = report_id
        return report_id

    async def followup(
        self, follows: str, contents: Sequence[AnswerValue], flow: Flow, lang: str = "ko"
    ) -> str:
        """A reporter's follow-up to report ``follows``: one addition per item of ``contents``
        (``{"text": ...}`` or ``{"media": [...]}``), sealed and closed as the bot does."""
        followup_id = await self.store.open_report()
        ctx = ReportContext(followup_id, flow.id, flow.version, lang)
        slots = list(range(1, len(contents) + 1))
        for n, content in zip(slots, contents, strict=True):
            envelope = seal_followup(
                self.recipients, ctx, slot=n, follows=follows, n=n, content=content
            )
            await self.store.put_answer(followup_id, n, envelope)
        manifest = seal_manifest(
            self.recipients, ctx, slot=1000, status=ReportStatus.COMPLETE, slots=slots
        )
        await self.store.close_report(followup_id, ReportState.COMPLETE, manifest)
        return followup_id

    async def digest(self, folder: Path) -> list[Path]:
        assert self.closer is not None, "run() first"
        return await close_to_folder(self.closer, folder)


def png(width: int = 40, height: int = 30) -> bytes:
    """A small real PNG (red), as a reporter's photo."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()
