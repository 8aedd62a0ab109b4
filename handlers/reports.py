"""A report's life in the store: every accepted answer sealed and committed at once.

The engine says what to keep (``Accepted``), what to forget (``Dropped``) and when the report
ends; this module turns that into sealed envelopes (``bot.sealing.envelope``) in the store. The
store sees only random slot numbers: which question a slot answers travels sealed, inside the
envelope, and the manifest (sealed too) lists the slots that make up the report.

The qid -> slot map lives in the conversation (memory only) and is wiped with it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.questionnaire.flow import AnswerValue, Flow, MediaKind
from bot.sealing import envelope as sealing
from bot.sealing.keys import Recipients
from storage.base import MAX_SLOT, ReportId, ReportState, ReportStore, put_dummy_receipt

log = logging.getLogger("handlers.reports")

_STATUS = {
    ReportState.COMPLETE: sealing.ReportStatus.COMPLETE,
    ReportState.INTERRUPTED: sealing.ReportStatus.INTERRUPTED,
}


async def seal_and_store_file(
    store: ReportStore,
    recipients: Recipients,
    context: sealing.ReportContext,
    report_id: ReportId,
    slot: int,
    *,
    question: str,
    media: MediaKind,
    data: bytes,
    mime: str,
) -> tuple[str, bool]:
    """Seal a file (off the event loop) and store it in ``slot``.

    Returns its new random ref and whether it was cleaned of metadata (False: sealed as received,
    and the reporter should be told so).
    """
    ref = secrets.token_hex(8)
    envelope, metadata = await asyncio.to_thread(
        sealing.seal_attachment_telling,
        recipients,
        context,
        slot=slot,
        question=question,
        ref=ref,
        media=media,
        data=data,
        mime=mime,
    )
    await store.put_attachment(report_id, slot, envelope)
    return ref, metadata is sealing.Metadata.STRIPPED


@dataclass(slots=True)
class ReportDraft:
    """The in-memory half of an open report: ids and slot numbers only."""

    report_id: ReportId
    lang: str
    answer_slots: dict[str, int] = field(default_factory=dict)  # qid -> slot
    attachment_slots: dict[str, int] = field(default_factory=dict)  # ref -> slot
    used: set[int] = field(default_factory=set)

    def new_slot(self) -> int:
        while True:
            slot = secrets.randbelow(MAX_SLOT + 1)
            if slot not in self.used:
                self.used.add(slot)
                return slot


def media_refs(answers: Mapping[str, AnswerValue]) -> set[str]:
    """Every attachment ref the answers point at."""
    refs: set[str] = set()
    for value in answers.values():
        media = value.get("media")
        if isinstance(media, list):
            refs.update(
                str(item["ref"]) for item in media if isinstance(item, dict) and "ref" in item
            )
    return refs


class ReportWriter:
    """Seal and store; one instance for the whole bot."""

    def __init__(self, store: ReportStore, recipients: Recipients, flow: Flow) -> None:
        self.store = store
        self.recipients = recipients
        self.flow_id = flow.id
        self.flow_version = flow.version

    def _dummy(self) -> bytes:
        """A sealed dummy: the store fills every closed report up to a row bucket with them."""
        return sealing.seal_dummy(self.recipients)

    def _context(self, draft: ReportDraft) -> sealing.ReportContext:
        return sealing.ReportContext(draft.report_id, self.flow_id, self.flow_version, draft.lang)

    async def open(self, lang: str) -> ReportDraft:
        return ReportDraft(await self.store.open_report(), lang)

    async def accept(self, draft: ReportDraft, qid: str, answer: AnswerValue) -> None:
        """Seal ``answer`` and commit it; the previous answer to ``qid`` (if any) goes."""
        slot = draft.new_slot()
        envelope = sealing.seal_answer(
            self.recipients, self._context(draft), slot=slot, question=qid, answer=answer
        )
        await self.store.put_answer(draft.report_id, slot, envelope)
        log.debug("answer_sealed", extra={"fields": {"bytes": len(envelope)}})
        old = draft.answer_slots.get(qid)
        draft.answer_slots[qid] = slot
        if old is not None:
            await self.store.delete_answer(draft.report_id, old)
            draft.used.discard(old)

    async def drop(self, draft: ReportDraft, qid: str) -> None:
        slot = draft.answer_slots.pop(qid, None)
        if slot is not None:
            await self.store.delete_answer(draft.report_id, slot)
            draft.used.discard(slot)

    async def attach(
        self, draft: ReportDraft, qid: str, kind: MediaKind, data: bytes, mime_type: str | None
    ) -> tuple[str, bool]:
        """Seal and store a file (in memory only).

        Returns the ref the engine keeps and whether the file was cleaned of metadata.
        """
        slot = draft.new_slot()
        ref, cleaned = await seal_and_store_file(
            self.store,
            self.recipients,
            self._context(draft),
            draft.report_id,
            slot,
            question=qid,
            media=kind,
            data=data,
            mime=mime_type or "application/octet-stream",
        )
        log.debug("attachment_sealed", extra={"fields": {"kind": str(kind)}})
        draft.attachment_slots[ref] = slot
        return ref, cleaned

    async def close(
        self,
        draft: ReportDraft,
        state: ReportState,
        answers: Mapping[str, AnswerValue],
        reply_key: str | None = None,
    ) -> None:
        """Drop what the answers no longer use, then seal the manifest and close the report.

        ``reply_key``: the receipt's reply key (receipts), sealed into the manifest.
        """
        keep = media_refs(answers)
        for ref in [r for r in draft.attachment_slots if r not in keep]:
            slot = draft.attachment_slots.pop(ref)
            await self.store.delete_attachment(draft.report_id, slot)
            draft.used.discard(slot)
        for qid in [q for q in draft.answer_slots if q not in answers]:
            await self.drop(draft, qid)
        slots = [*draft.answer_slots.values(), *draft.attachment_slots.values()]
        manifest = sealing.seal_manifest(
            self.recipients,
            self._context(draft),
            slot=draft.new_slot(),
            status=_STATUS[state],
            slots=slots,
            reply_key=reply_key,
        )
        if reply_key is None:  # no code given: a receipt row all the same (issue 17.1)
            await put_dummy_receipt(self.store, draft.report_id)
        await self.store.close_report(draft.report_id, state, manifest, dummy=self._dummy)
        log.debug("report_closed", extra={"fields": {"state": state.value, "slots": len(slots)}})

    async def discard(self, draft: ReportDraft) -> None:
        await self.store.discard_report(draft.report_id)

    async def close_orphan(self, report_id: ReportId, lang: str = "ko") -> None:
        """After a restart: close a report left open, keeping what was stored (interrupted).

        Its slot map died with the process; the manifest lists every slot still stored (each
        envelope names its own question, so the analysts can still read them).
        """
        draft = ReportDraft(report_id, lang)
        loaded = await self.store.load_report(report_id, with_attachments=True)
        stored = sorted({*loaded.answers, *loaded.attachments})
        draft.used.update(stored)
        manifest = sealing.seal_manifest(
            self.recipients,
            self._context(draft),
            slot=draft.new_slot(),
            status=sealing.ReportStatus.INTERRUPTED,
            slots=stored,
        )
        await put_dummy_receipt(self.store, report_id)  # kept if it had a real one
        await self.store.close_report(
            report_id, ReportState.INTERRUPTED, manifest, dummy=self._dummy
        )
