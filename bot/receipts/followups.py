"""A reporter adding to an earlier report: the follow-up's limits, checks and sealing.

No Telegram here (``handlers.followup`` translates updates into these calls and the outcomes into
words). After a right code (:meth:`FollowupService.try_code`) the reporter may add texts and
files; each addition is checked (:meth:`~FollowupService.check_text`,
:meth:`~FollowupService.check_file`), sealed and stored at once as a record of a *new* report
that names the old one only inside the sealed records (``follows``): the store cannot link them,
analysts can. :meth:`~FollowupService.close` seals the new report's manifest.

A wrong code says only that nothing was found, the same for a code that never existed and one
whose receipt expired. Wrong codes are bounded (``bot.receipts.attempts``); each costs 2^k argon2id
runs (one lookup at a time) and a pause, and is logged as counts only, never with the code.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from bot.questionnaire.engine import normalize_text
from bot.questionnaire.flow import AnswerValue, MediaKind
from bot.receipts.attempts import CodeAttempts
from bot.receipts.codes import parse_code
from bot.receipts.replies import Reply
from bot.receipts.service import Match, ReceiptService
from bot.sealing import envelope as sealing
from bot.sealing.envelope import (
    MAX_SLOT,
    REPORT_ID_PATTERN,
    RecordKind,
    ReportContext,
    SealingError,
    seal_record,
)
from bot.sealing.keys import Recipients
from storage.base import ReportId, ReportState, ReportStore, put_dummy_receipt

log = logging.getLogger("bot.receipts.followups")

MAX_ITEMS: Final = 30
"""Additions (texts and files) in one follow-up."""
MAX_FILES: Final = 10
MAX_TEXT_CHARS: Final = 4000
MEDIA: Final = frozenset({MediaKind.PHOTO, MediaKind.VOICE, MediaKind.VIDEO, MediaKind.DOCUMENT})
"""What a follow-up takes besides text."""

FOLLOWUP_QUESTION: Final = "followup"
"""The ``question`` of attachments sent in a follow-up."""


def seal_followup(
    recipients: Recipients,
    context: ReportContext,
    *,
    slot: int,
    follows: str,
    n: int,
    content: AnswerValue,
) -> bytes:
    """Seal one addition (``{"text": ...}`` or ``{"media": [...]}``) to an earlier report.

    ``context`` is the follow-up's own (fresh) report id; ``follows`` the report it adds to. The
    store sees a new report and cannot tell it adds to another; analysts link them. ``n`` counts
    the additions of one follow-up from 1, in the order they were sent (slots are random).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SLOT:
        raise SealingError("n must be a whole number from 1")
    if not isinstance(follows, str) or not REPORT_ID_PATTERN.fullmatch(follows):
        raise SealingError("follows must be a report id")
    if follows == context.report_id:
        raise SealingError("a follow-up cannot follow itself")
    if not isinstance(content, dict) or not content:
        raise SealingError("a follow-up carries a text or media")
    fields = context.fields(RecordKind.FOLLOWUP, slot)
    fields["follows"] = follows
    fields["n"] = n
    fields["content"] = content
    return seal_record(recipients, fields)


class Refusal(StrEnum):
    """Why an addition is not taken; ``handlers.followup`` words each one."""

    EXPECTED_TEXT = "expected_text"
    TOO_LONG = "too_long"
    TOO_MANY_ITEMS = "too_many_items"
    WRONG_MEDIA_KIND = "wrong_media_kind"
    FILE_TOO_LARGE = "file_too_large"


class CodeVerdict(StrEnum):
    """What a typed code led to."""

    TOO_MANY = "too_many"
    NOT_A_CODE = "not_a_code"
    WRONG = "wrong"
    FOUND = "found"


@dataclass(frozen=True, slots=True)
class CodeResult:
    """A code's verdict and, when it found its report, the replies that opened (oldest first)."""

    verdict: CodeVerdict
    replies: tuple[Reply, ...] = ()

    def __repr__(self) -> str:
        return f"CodeResult({self.verdict.value}, <{len(self.replies)} replies hidden>)"


@dataclass(slots=True)
class FollowupSession:
    """A reporter coming back: waiting for the code, then adding to the report it opened."""

    lang: str
    last_seen: float
    match: Match | None = None
    followup_id: ReportId | None = None
    slots: set[int] = field(default_factory=set)
    items: int = 0
    files: int = 0

    def new_slot(self) -> int:
        while True:
            slot = secrets.randbelow(MAX_SLOT + 1)
            if slot not in self.slots:
                self.slots.add(slot)
                return slot

    @property
    def opened(self) -> bool:
        """True once the follow-up's own report exists in the store."""
        return self.followup_id is not None


class FollowupService:
    """Codes tried, additions checked, sealed and stored, follow-ups closed; one per bot."""

    def __init__(
        self,
        receipts: ReceiptService,
        store: ReportStore,
        recipients: Recipients,
        *,
        flow_id: str,
        flow_version: str,
        document_types: Collection[str],
        max_file_bytes: int,
        attempts: CodeAttempts,
        wrong_code_delay: float,
    ) -> None:
        self.receipts = receipts
        self.store = store
        self.recipients = recipients
        self.flow_id = flow_id
        self.flow_version = flow_version
        self.document_types = document_types
        self.max_file_bytes = max_file_bytes
        self.attempts = attempts
        self.delay = wrong_code_delay
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # ==== the code ====
    async def try_code(self, user_id: int, session: FollowupSession, text: str) -> CodeResult:
        """Look a typed code up, within the guessing limits; a right one opens the session."""
        scope = self.attempts.blocked(user_id)
        if scope is not None:
            log.warning("receipt_attempts_limited", extra={"fields": {"scope": scope}})
            return CodeResult(CodeVerdict.TOO_MANY)
        code = parse_code(text)
        if code is None:
            return CodeResult(CodeVerdict.NOT_A_CODE)
        attempt = self.attempts.begin(user_id)  # counted before the lookup is awaited
        if attempt is None:  # pragma: no cover - blocked() above said no a moment ago
            return CodeResult(CodeVerdict.TOO_MANY)
        if attempt.delay:
            await self.sleep(attempt.delay)  # guessing slows down; nobody is locked out
        match = await self.receipts.find(code)
        if match is None:
            mine, overall = self.attempts.counts(attempt)
            log.info(
                "receipt_code_wrong",
                extra={"fields": {"reporter_wrong_24h": mine, "all_wrong_1h": overall}},
            )
            if self.delay:
                await self.sleep(self.delay)
            return CodeResult(CodeVerdict.WRONG)
        self.attempts.right(attempt)
        session.match = match
        replies = await self.receipts.replies(match)
        return CodeResult(CodeVerdict.FOUND, tuple(replies))

    # ==== checks ====
    @staticmethod
    def check_text(session: FollowupSession, raw: str) -> str | Refusal:
        """The text to add (normalised), or why it is not taken."""
        text = normalize_text(raw[: MAX_TEXT_CHARS * 4])
        if not text:
            return Refusal.EXPECTED_TEXT
        if len(text) > MAX_TEXT_CHARS:
            return Refusal.TOO_LONG
        if session.items >= MAX_ITEMS:
            return Refusal.TOO_MANY_ITEMS
        return text

    def check_file(
        self, session: FollowupSession, kind: MediaKind, size: int | None, mime_type: str | None
    ) -> Refusal | None:
        """Before anything is downloaded: may this file be added? ``size``: as Telegram says."""
        if kind not in MEDIA or (
            kind is MediaKind.DOCUMENT
            and (mime_type is None or mime_type.lower() not in self.document_types)
        ):
            return Refusal.WRONG_MEDIA_KIND
        if session.files >= MAX_FILES or session.items >= MAX_ITEMS:
            return Refusal.TOO_MANY_ITEMS
        return self.check_size(size)

    def check_size(self, size: int | None) -> Refusal | None:
        """A known size within the limit passes; an unknown one passes only before download."""
        if size is not None and size > self.max_file_bytes:
            return Refusal.FILE_TOO_LARGE
        return None

    # ==== adding ====
    async def open(self, session: FollowupSession) -> None:
        """Open the follow-up's own report (before its first addition)."""
        if session.followup_id is None:
            session.followup_id = await self.store.open_report()

    @staticmethod
    def _report_id(session: FollowupSession) -> ReportId:
        if session.followup_id is None:  # pragma: no cover - callers open it first
            raise RuntimeError("follow-up not opened")
        return session.followup_id

    def _dummy(self) -> bytes:
        """A sealed dummy: a follow-up is padded like any report, so it looks like one."""
        return sealing.seal_dummy(self.recipients)

    def _context(self, session: FollowupSession) -> ReportContext:
        report_id = self._report_id(session)
        return ReportContext(report_id, self.flow_id, self.flow_version, session.lang)

    async def add_text(self, session: FollowupSession, text: str) -> None:
        """Seal one checked text and commit it before it is acknowledged."""
        await self._add(session, {"text": text})

    async def add_file(
        self, session: FollowupSession, kind: MediaKind, data: bytes, mime_type: str | None
    ) -> None:
        """Seal one checked file (off the event loop), commit it, then the record naming it."""
        context = self._context(session)
        slot = session.new_slot()
        ref = secrets.token_hex(8)
        envelope = await asyncio.to_thread(
            sealing.seal_attachment,
            self.recipients,
            context,
            slot=slot,
            question=FOLLOWUP_QUESTION,
            ref=ref,
            media=kind,
            data=data,
            mime=mime_type or "application/octet-stream",
        )
        await self.store.put_attachment(self._report_id(session), slot, envelope)
        await self._add(session, {"media": [{"kind": kind.value, "ref": ref}]})
        session.files += 1

    async def _add(self, session: FollowupSession, content: AnswerValue) -> None:
        match = session.match
        if match is None:  # pragma: no cover - callers check
            raise RuntimeError("no report matched")
        context = self._context(session)
        slot = session.new_slot()
        envelope = seal_followup(
            self.recipients,
            context,
            slot=slot,
            follows=match.report_id,
            n=session.items + 1,
            content=content,
        )
        await self.store.put_answer(self._report_id(session), slot, envelope)
        session.items += 1

    async def close(self, session: FollowupSession, state: ReportState) -> None:
        """Close the follow-up's report (if anything was added) with its manifest."""
        report_id = session.followup_id
        if report_id is None:
            return
        session.followup_id = None
        slots = sorted(session.slots)
        manifest = sealing.seal_manifest(
            self.recipients,
            ReportContext(report_id, self.flow_id, self.flow_version, session.lang),
            slot=session.new_slot(),
            status=(
                sealing.ReportStatus.COMPLETE
                if state is ReportState.COMPLETE
                else sealing.ReportStatus.INTERRUPTED
            ),
            slots=slots,
        )
        # at rest a follow-up looks like any report: a receipt row and padded answers (17.1)
        await put_dummy_receipt(self.store, report_id)
        await self.store.close_report(report_id, state, manifest, dummy=self._dummy)
