"""Receipts in the chat: the code shown once after a report, and coming back with it.

- After a report is sent (``ReporterChats._end``), :meth:`Followups.issue` makes a code and
  stores only its argon2id lookup tag (``bot.receipts.service``); the report's manifest carries the
  reply key. Once the conversation is erased, :meth:`Followups.show` leaves the code in one message
  with "I saved the code" (deletes it) and the quick exit (deletes it with everything else).
- "I reported before" on the start screen, or ``/followup``, asks for the code. A right code
  shows the analysts' replies (verified and opened with the key derived from the code) and lets
  the reporter add text, photos, voice notes, videos or files. Each addition is sealed and stored
  at once, as records of a *new* report that names the old one only inside the sealed records
  (``follows``): the store cannot link them, analysts can. "Send" closes it and erases the
  conversation exactly like after a report.
- A wrong code says only that nothing was found, the same for a code that never existed and one
  whose receipt expired. Wrong codes are bounded per reporter (pseudonym) and overall, in sliding
  windows held in memory (:class:`CodeAttempts`); each costs an argon2id derivation and a pause,
  and is logged as counts only, never with the code.
- "I lost the code" says plainly that the old report cannot be reached without it, and offers a
  new report.

This module is the companion of ``handlers.private``: it is called from ``ReporterChats`` through
the ``ReceiptIssuer`` hook, under the reporter's lock, and uses its Telegram helpers so every
message is sent the same way (protected, no parse_mode) and recorded for deletion.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import nacl.exceptions
from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.ops.logging import exception_types
from bot.questionnaire.engine import normalize_text
from bot.questionnaire.flow import AnswerValue, MediaKind
from bot.receipts.service import (
    FOLLOWUP_QUESTION,
    MAX_REPLY_FILE_BYTES,
    IssuedReceipt,
    Match,
    ReceiptService,
    parse_code,
    seal_followup,
)
from bot.sealing import envelope as sealing
from handlers.callbacks import CallbackError, Op, decode, encode, new_nonce
from handlers.private import ReporterChats, Turn
from handlers.pseudonyms import PseudonymKeys, PseudonymMap
from handlers.render import Screen
from handlers.reports import seal_and_store_attachment
from handlers.state import Conversation
from storage.base import MAX_SLOT, ReportId, ReportState
from storage.errors import StorageError

log = logging.getLogger("handlers.followup")

MAX_ITEMS: Final = 30
"""Additions (texts and files) in one follow-up."""
MAX_FILES: Final = 10
MAX_TEXT_CHARS: Final = 4000
REPORTER_WINDOW: Final = 24 * 3600.0
OVERALL_WINDOW: Final = 3600.0
_MEDIA: Final = frozenset({MediaKind.PHOTO, MediaKind.VOICE, MediaKind.VIDEO, MediaKind.DOCUMENT})


class CodeAttempts:
    """Wrong receipt codes in sliding windows, per reporter (pseudonym) and overall. Memory only.

    Before a code is tried, :meth:`blocked` says whether either limit is reached; only a wrong
    code counts (:meth:`wrong`). A reporter's window is 24 hours, the overall one an hour; both
    hold at most their limit's number of timestamps, so memory stays bounded.
    """

    def __init__(
        self,
        keys: PseudonymKeys,
        *,
        per_reporter: int,
        per_hour: int,
        capacity: int,
        monotonic: Callable[[], float],
    ) -> None:
        self._per_reporter = per_reporter
        self._per_hour = per_hour
        self._monotonic = monotonic
        self._reporters: PseudonymMap[deque[float]] = PseudonymMap(keys, capacity)
        self._overall: deque[float] = deque()

    @staticmethod
    def _prune(times: deque[float], window: float, now: float) -> None:
        while times and now - times[0] >= window:
            times.popleft()

    def blocked(self, user_id: int) -> str | None:
        """``"overall"`` or ``"reporter"`` when no code may be tried now, else None."""
        now = self._monotonic()
        self._prune(self._overall, OVERALL_WINDOW, now)
        if len(self._overall) >= self._per_hour:
            return "overall"
        mine = self._reporters.get(user_id)
        if mine is not None:
            self._prune(mine, REPORTER_WINDOW, now)
            if len(mine) >= self._per_reporter:
                return "reporter"
        return None

    def wrong(self, user_id: int) -> tuple[int, int]:
        """Count a wrong code; returns (this reporter's in 24 h, everyone's in the last hour)."""
        now = self._monotonic()
        mine = self._reporters.get(user_id)
        if mine is None:
            mine = deque(maxlen=self._per_reporter)
            self._reporters.put(user_id, mine)
        mine.append(now)
        self._overall.append(now)
        while len(self._overall) > self._per_hour:
            self._overall.popleft()
        return len(mine), len(self._overall)

    def forget_idle(self) -> None:
        now = self._monotonic()
        for key, times in self._reporters.items():
            self._prune(times, REPORTER_WINDOW, now)
            if not times:
                self._reporters.pop_key(key)
        self._reporters.drop_unreachable()

    def __len__(self) -> int:
        return len(self._reporters)


@dataclass(slots=True)
class Session:
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


class Followups:
    """Receipts and follow-ups for one bot; plugged into ``ReporterChats.receipts``."""

    def __init__(self, chats: ReporterChats, service: ReceiptService) -> None:
        self.chats = chats
        self.service = service
        settings = chats.settings
        self.sessions: PseudonymMap[Session] = PseudonymMap(
            chats.keys, settings.max_open_conversations
        )
        self.attempts = CodeAttempts(
            chats.keys,
            per_reporter=settings.receipt_wrong_codes_per_reporter,
            per_hour=settings.receipt_wrong_codes_per_hour,
            capacity=settings.max_open_conversations,
            monotonic=chats.monotonic,
        )
        self.delay = settings.receipt_wrong_code_delay_seconds
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # ==== after a report: the receipt ====
    async def issue(self, report_id: ReportId) -> IssuedReceipt | None:
        """Make the receipt before the report is closed (its reply key goes into the manifest).

        A failure here must not lose the report: it is logged and the report closes without one.
        """
        try:
            return await self.service.issue(report_id)
        except (StorageError, nacl.exceptions.RuntimeError) as exc:
            log.error("receipt_not_issued", extra={"fields": {"exc_type": exception_types(exc)}})
            return None

    async def show(self, turn: Turn, receipt: IssuedReceipt) -> None:
        """The code, once, in a fresh conversation so that a quick exit deletes it too."""
        chats = self.chats
        conv = Conversation(nonce=new_nonce(), last_seen=chats.monotonic(), lang=turn.lang)
        for evicted in chats.conversations.put(turn.user_id, conv):
            await chats._close_unattended(evicted)
        turn.conv = conv
        text = chats.render.ui_text(turn.lang, "ui.done.receipt", code=receipt.code.display())
        rows = [
            [
                chats.render.button(
                    chats.render.ui_text(turn.lang, "ui.button.kept_it"),
                    encode(Op.RECEIPT_KEPT, conv.nonce),
                )
            ],
            [
                chats.render.button(
                    chats.render.ui_text(turn.lang, "ui.button.exit"), encode(Op.EXIT, conv.nonce)
                )
            ],
        ]
        await chats._say(turn, text, screen=Screen(text, InlineKeyboardMarkup(rows)))

    async def _receipt_kept(self, turn: Turn) -> None:
        """Any "I saved the code" button deletes the message it is on (a receipt), stale or not."""
        mid = turn.query_message_id
        if mid is None:
            return
        await self.chats._delete(turn, [mid])
        if mid in turn.conv.message_ids:
            turn.conv.message_ids.remove(mid)

    # ==== the hook: every private update passes here first ====
    async def handle(self, turn: Turn, update: Update) -> bool:
        """True when this update was a receipt's or a follow-up's, and is handled."""
        session = self.sessions.get(turn.user_id)
        if session is not None:
            session.last_seen = self.chats.monotonic()
            turn.lang = session.lang
        if update.callback_query is not None:
            return await self._on_button(turn, session, update.callback_query)
        msg = update.message
        if msg is None or msg.forward_origin is not None or msg.is_automatic_forward:
            return False
        if msg.text is not None and msg.text.startswith("/"):
            return await self._on_command(turn, session, msg.text)
        if session is None:
            return False
        if msg.text is not None:
            if session.match is None:
                await self._on_code(turn, session, msg)
            else:
                await self._add_text(turn, session, msg.text)
            return True
        incoming = ReporterChats._file_of(msg)
        if incoming is None:
            return False  # stickers, contacts...: the usual answer
        if session.match is None:
            await self._say(turn, "ui.error.expected_text")
            return True
        await self._add_file(
            turn, session, incoming.kind, incoming.file_id, incoming.size, incoming.mime_type
        )
        return True

    async def _on_button(self, turn: Turn, session: Session | None, query: CallbackQuery) -> bool:
        try:
            cb = decode(query.data)
        except CallbackError:
            return False
        if cb.op is Op.RECEIPT_KEPT:
            await self._receipt_kept(turn)
            return True
        if cb.op is Op.EXIT:
            if session is None:
                return False
            await self._quick_exit(turn, session)
            return True
        if cb.nonce != turn.conv.nonce:
            return False  # the usual "old button" answer
        if cb.op is Op.FOLLOWUP:
            await self._begin(turn, cb.qid)
            return True
        if cb.op is Op.RECEIPT_LOST:
            if session is None or session.match is not None:
                turn.toast = self._text(turn, "ui.error.stale_button")
                return True
            await self._lost(turn, session)
            return True
        if cb.op is Op.FOLLOWUP_SEND:
            if session is None or session.match is None:
                turn.toast = self._text(turn, "ui.error.stale_button")
                return True
            await self._send(turn, session)
            return True
        if session is None:
            return False
        if cb.op is Op.LANGUAGE:  # "start a new report" after a lost code, or the language screen
            await self._leave(turn, session)
            return False
        turn.toast = self._text(turn, "ui.error.stale_button")
        return True

    async def _on_command(self, turn: Turn, session: Session | None, text: str) -> bool:
        name = text.split(maxsplit=1)[0][1:].partition("@")[0].lower()
        if name == "followup":
            await self._begin(turn, turn.conv.lang or turn.lang)
            return True
        if session is None:
            return False
        if name == "panic":
            await self._quick_exit(turn, session)
            return True
        if name == "cancel":
            if session.match is not None:
                await self._send(turn, session)
            else:
                await self._leave(turn, session, erase=True)
                await self.chats._say(turn, self._text(turn, "ui.ended.neutral"), record=False)
            return True
        if name in ("start", "language"):
            await self._leave(turn, session, erase=True)
        return False  # /help, /safety, /start, /language: the usual answers

    # ==== coming back ====
    async def _begin(self, turn: Turn, lang: str) -> None:
        chats = self.chats
        conv = turn.conv
        if conv.active or conv.awaiting_cancel:
            await self._say(turn, "ui.followup.busy")
            return
        if lang not in chats.languages:
            lang = turn.lang
        conv.lang = turn.lang = lang
        session = self.sessions.get(turn.user_id)
        if session is None:
            session = Session(lang=lang, last_seen=chats.monotonic())
            for old in self.sessions.put(turn.user_id, session):
                await self._close(old, ReportState.INTERRUPTED)
        session.lang = lang
        if session.match is not None:
            await chats._show(turn, self._add_screen(turn))
            return
        await chats._show(turn, self._code_screen(turn, self._text(turn, "ui.followup.ask_code")))

    def _code_screen(self, turn: Turn, text: str) -> Screen:
        render, nonce = self.chats.render, turn.conv.nonce
        rows = [
            [
                render.button(
                    render.ui_text(turn.lang, "ui.button.lost_code"),
                    encode(Op.RECEIPT_LOST, nonce),
                )
            ]
        ]
        others = [lang for lang in self.chats.languages if lang != turn.lang]
        if others:
            rows.append(
                [
                    render.button(
                        render.ui_text(lang, f"ui.language.{lang}"),
                        encode(Op.FOLLOWUP, nonce, lang),
                    )
                    for lang in others
                ]
            )
        rows.append(render.exit_row(turn.lang, nonce, None))
        return Screen(text, InlineKeyboardMarkup(rows))

    def _add_screen(self, turn: Turn) -> Screen:
        render, nonce = self.chats.render, turn.conv.nonce
        rows = [
            [
                render.button(
                    render.ui_text(turn.lang, "ui.button.submit"), encode(Op.FOLLOWUP_SEND, nonce)
                )
            ],
            render.exit_row(turn.lang, nonce, None),
        ]
        return Screen(self._text(turn, "ui.followup.add_prompt"), InlineKeyboardMarkup(rows))

    async def _on_code(self, turn: Turn, session: Session, msg: Message) -> None:
        await self.chats._delete(turn, [msg.message_id])  # the code leaves the screen at once
        scope = self.attempts.blocked(turn.user_id)
        if scope is not None:
            log.warning("receipt_attempts_limited", extra={"fields": {"scope": scope}})
            await self._say(turn, "ui.followup.too_many")
            return
        code = parse_code(msg.text or "")
        if code is None:
            await self._say(turn, "ui.followup.not_a_code")
            return
        match = await self.service.find(code)
        if match is None:
            mine, overall = self.attempts.wrong(turn.user_id)
            log.info(
                "receipt_code_wrong",
                extra={"fields": {"reporter_wrong_24h": mine, "all_wrong_1h": overall}},
            )
            if self.delay:
                await self.sleep(self.delay)
            screen = self._code_screen(turn, self._text(turn, "ui.followup.wrong_code"))
            await self.chats._show(turn, screen, edit=False)
            return
        session.match = match
        replies = await self.service.replies(match)
        for reply in replies:
            day = reply.day.isoformat() if reply.day is not None else ""
            text = self.chats.render.ui_text(
                turn.lang, "ui.followup.reply", day=day, reply=reply.text
            )
            await self.chats._say(turn, text)
        if not replies:
            await self._say(turn, "ui.followup.no_replies")
        await self.chats._show(turn, self._add_screen(turn), edit=False)

    async def _lost(self, turn: Turn, session: Session) -> None:
        render, nonce = self.chats.render, turn.conv.nonce
        rows = [
            [
                render.button(
                    render.ui_text(turn.lang, "ui.button.new_report"),
                    encode(Op.LANGUAGE, nonce, turn.lang),
                )
            ],
            render.exit_row(turn.lang, nonce, None),
        ]
        screen = Screen(self._text(turn, "ui.followup.lost"), InlineKeyboardMarkup(rows))
        await self.chats._show(turn, screen)

    # ==== adding ====
    async def _add_text(self, turn: Turn, session: Session, raw: str) -> None:
        text = normalize_text(raw[: MAX_TEXT_CHARS * 4])
        if not text:
            await self._say(turn, "ui.error.expected_text")
            return
        if len(text) > MAX_TEXT_CHARS:
            await self._say(turn, "ui.error.too_long")
            return
        if session.items >= MAX_ITEMS:
            await self._say(turn, "ui.followup.too_many_items")
            return
        if await self._store(turn, session, {"text": text}):
            await self._say(turn, "ui.followup.received")

    async def _add_file(
        self,
        turn: Turn,
        session: Session,
        kind: MediaKind,
        file_id: str,
        size: int | None,
        mime_type: str | None,
    ) -> None:
        settings = self.chats.settings
        if kind not in _MEDIA or (
            kind is MediaKind.DOCUMENT
            and (mime_type is None or mime_type.lower() not in settings.document_types)
        ):
            await self._say(turn, "ui.error.wrong_media_kind")
            return
        if session.files >= MAX_FILES or session.items >= MAX_ITEMS:
            await self._say(turn, "ui.followup.too_many_items")
            return
        limit = settings.max_file_bytes
        if size is not None and size > limit:
            await self._say(turn, "ui.error.file_too_large")
            return
        tg_file = await turn.bot.get_file(file_id)
        if tg_file.file_size is None or tg_file.file_size > limit:
            await self._say(turn, "ui.error.file_too_large")
            return
        data = await tg_file.download_as_bytearray()
        try:
            if len(data) > limit:
                await self._say(turn, "ui.error.file_too_large")
                return
            stored = await self._store(
                turn, session, None, (kind, bytes(data), mime_type or "application/octet-stream")
            )
        finally:
            data[:] = bytes(len(data))  # the plain bytes do not linger in this buffer
        if stored:
            session.files += 1
            await self._say(turn, "ui.followup.received")

    def _context(self, session: Session) -> sealing.ReportContext:
        writer = self.chats.writer
        if session.followup_id is None:  # pragma: no cover - callers open it first
            raise RuntimeError("follow-up not opened")
        return sealing.ReportContext(
            session.followup_id, writer.flow_id, writer.flow_version, session.lang
        )

    async def _store(
        self,
        turn: Turn,
        session: Session,
        content: AnswerValue | None,
        file: tuple[MediaKind, bytes, str] | None = None,
    ) -> bool:
        """Seal one addition and commit it before it is acknowledged."""
        match = session.match
        if match is None:  # pragma: no cover - callers check
            return False
        writer = self.chats.writer
        store = writer.store
        if session.followup_id is None:
            if not self.chats.limits.may_start_report(turn.user_id):
                await self._say(turn, "ui.flood.daily_limit")
                return False
            session.followup_id = await store.open_report()
            self.chats.limits.count_report(turn.user_id)
        report_id = session.followup_id
        if file is not None:
            kind, data, mime = file
            slot = session.new_slot()
            ref = await seal_and_store_attachment(
                store,
                writer.recipients,
                self._context(session),
                report_id,
                slot,
                question=FOLLOWUP_QUESTION,
                media=kind,
                data=data,
                mime=mime,
            )
            content = {"media": [{"kind": kind.value, "ref": ref}]}
        if content is None:  # pragma: no cover - one of the two is given
            return False
        slot = session.new_slot()
        envelope = seal_followup(
            writer.recipients,
            self._context(session),
            slot=slot,
            follows=match.report_id,
            n=session.items + 1,
            content=content,
        )
        await store.put_answer(report_id, slot, envelope)
        session.items += 1
        return True

    async def _close(self, session: Session, state: ReportState) -> None:
        """Close the follow-up's report (if anything was added) with its manifest."""
        report_id = session.followup_id
        if report_id is None:
            return
        session.followup_id = None
        slots = sorted(session.slots)
        manifest = sealing.seal_manifest(
            self.chats.writer.recipients,
            sealing.ReportContext(
                report_id, self.chats.writer.flow_id, self.chats.writer.flow_version, session.lang
            ),
            slot=session.new_slot(),
            status=(
                sealing.ReportStatus.COMPLETE
                if state is ReportState.COMPLETE
                else sealing.ReportStatus.INTERRUPTED
            ),
            slots=slots,
        )
        await self.chats.writer.store.close_report(report_id, state, manifest)

    # ==== leaving ====
    async def _send(self, turn: Turn, session: Session) -> None:
        """Close what was added and erase the conversation, exactly as after a report."""
        added = session.followup_id is not None
        await self._close(session, ReportState.COMPLETE)
        self.sessions.pop(turn.user_id)
        ids = self.chats._wipe(turn)
        await self.chats._delete(turn, ids)
        lines = ["ui.followup.sent" if added else "ui.followup.nothing_added", "ui.done.come_back"]
        for text_id in lines:
            await self.chats._say(turn, self._text(turn, text_id), record=False)

    async def _quick_exit(self, turn: Turn, session: Session) -> None:
        """Erase first (someone may be looking), then keep what was added."""
        self.sessions.pop(turn.user_id)
        ids = self.chats._wipe(turn)
        await self.chats._delete(turn, ids)
        await self.chats._say(turn, self._text(turn, "ui.ended.neutral"), record=False)
        await self._close(session, ReportState.INTERRUPTED)

    async def _leave(self, turn: Turn, session: Session, *, erase: bool = False) -> None:
        """The reporter moves on (a new report, /start): keep what was added, end the session."""
        self.sessions.pop(turn.user_id)
        if erase:
            ids = [*turn.conv.message_ids]
            turn.conv.message_ids.clear()
            turn.conv.prompt_message_id = None
            await self.chats._delete(turn, ids)
        await self._close(session, ReportState.INTERRUPTED)

    # ==== jobs ====
    async def sweep(self) -> int:
        """End follow-ups idle longer than the idle timeout (what was added is kept)."""
        now = self.chats.monotonic()
        idle = self.chats.settings.idle_timeout_seconds
        ended = 0
        for key, session in list(self.sessions.items()):
            if now - session.last_seen < idle or self.chats.locks.busy(key):
                continue
            self.sessions.pop_key(key)
            await self._close(session, ReportState.INTERRUPTED)
            ended += 1
        for session in self.sessions.drop_unreachable():
            await self._close(session, ReportState.INTERRUPTED)
            ended += 1
        self.attempts.forget_idle()
        if ended:
            log.info("followups_ended_idle", extra={"fields": {"count": ended}})
        return ended

    async def close_all(self) -> None:
        """At shutdown: keep what every open follow-up added."""
        for key, session in list(self.sessions.items()):
            self.sessions.pop_key(key)
            await self._close(session, ReportState.INTERRUPTED)

    # ==== words ====
    def _text(self, turn: Turn, text_id: str) -> str:
        return self.chats.render.ui_text(turn.lang, text_id)

    async def _say(self, turn: Turn, text_id: str) -> None:
        if turn.query is not None:
            turn.toast = self._text(turn, text_id)[:200]
        else:
            await self.chats._say(turn, self._text(turn, text_id))


class ChannelReplies:
    """Analysts' reply files posted in the analyst channel: checked, then kept still sealed.

    Registered before every other handler; takes only documents posted in the configured channel
    and small enough to be a reply. Anything else goes on untouched.
    """

    def __init__(self, service: ReceiptService, channel_id: int) -> None:
        self.service = service
        self.channel_id = channel_id

    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        post = update.channel_post
        chat = update.effective_chat
        if post is None or chat is None or chat.id != self.channel_id or post.document is None:
            return
        document = post.document
        if document.file_size is not None and document.file_size > MAX_REPLY_FILE_BYTES:
            raise ApplicationHandlerStop  # not a reply: too large to be one
        tg_file = await context.bot.get_file(document.file_id)
        if tg_file.file_size is None or tg_file.file_size > MAX_REPLY_FILE_BYTES:
            raise ApplicationHandlerStop
        data = await tg_file.download_as_bytearray()
        if len(data) <= MAX_REPLY_FILE_BYTES:
            await self.service.accept_reply(bytes(data))
        raise ApplicationHandlerStop
