"""Receipts in the chat: the code shown once after a report, and coming back with it.

Translation only: updates in, calls on ``bot.receipts.followups.FollowupService`` (limits, checks,
sealing), its outcomes out as words and screens.

- After a report is sent (``ReporterChats._end``), :meth:`Followups.issue` makes a code and
  stores only its argon2id lookup tag (``bot.receipts.service``); the report's manifest carries the
  reply key. Once the conversation is erased, :meth:`Followups.show` leaves the code in one message
  with "I saved the code" (deletes it) and the quick exit (deletes it with everything else).
- "I reported before" on the start screen, or ``/followup``, asks for the code. A right code
  shows the analysts' replies (verified and opened with the key derived from the code) and lets
  the reporter add text, photos, voice notes, videos or files, each sealed and stored at once.
  "Send" closes it and erases the conversation exactly like after a report.
- A wrong code says only that nothing was found; wrong codes are bounded per reporter and
  overall (``bot.receipts.attempts``).
- "I lost the code" says plainly that the old report cannot be reached without it, and offers a
  new report.

It is called from ``ReporterChats`` through the ``ReceiptIssuer`` hook, under the reporter's
lock, and answers through the same :class:`handlers.turn.Turn` so every message is sent the same
way (protected, no parse_mode) and recorded for deletion.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Final

import nacl.exceptions
from telegram import CallbackQuery, Message, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.ops.logging import exception_types
from bot.receipts.attempts import CodeAttempts
from bot.receipts.followups import (
    CodeVerdict,
    FollowupService,
    FollowupSession,
    Refusal,
)
from bot.receipts.replies import MAX_REPLY_FILE_BYTES
from bot.receipts.service import IssuedReceipt, ReceiptService
from handlers.callbacks import CallbackError, Op, decode, encode
from handlers.private import ReporterChats
from handlers.pseudonyms import PseudonymMap
from handlers.render import Screen, keyboard
from handlers.turn import IncomingFile, Turn, incoming_file
from storage.base import ReportId, ReportState
from storage.errors import StorageError

log = logging.getLogger("handlers.followup")

REFUSAL_TEXTS: Final = {
    Refusal.EXPECTED_TEXT: "ui.error.expected_text",
    Refusal.TOO_LONG: "ui.error.too_long",
    Refusal.TOO_MANY_ITEMS: "ui.followup.too_many_items",
    Refusal.WRONG_MEDIA_KIND: "ui.error.wrong_media_kind",
    Refusal.FILE_TOO_LARGE: "ui.error.file_too_large",
}
"""How each refused addition is worded."""

CODE_TEXTS: Final = {
    CodeVerdict.TOO_MANY: "ui.followup.too_many",
    CodeVerdict.NOT_A_CODE: "ui.followup.not_a_code",
}


class Followups:
    """Receipts and follow-ups for one bot; plugged into ``ReporterChats.receipts``."""

    def __init__(self, chats: ReporterChats, receipts: ReceiptService) -> None:
        self.chats = chats
        self.receipts = receipts
        settings = chats.settings
        capacity = settings.max_open_conversations
        self.sessions: PseudonymMap[FollowupSession] = PseudonymMap(chats.keys, capacity)
        attempts = CodeAttempts(
            PseudonymMap[deque[float]](chats.keys, capacity),
            per_reporter=settings.receipt_wrong_codes_per_reporter,
            per_hour=settings.receipt_wrong_codes_per_hour,
            monotonic=chats.monotonic,
        )
        writer = chats.writer
        self.service = FollowupService(
            receipts,
            writer.store,
            writer.recipients,
            flow_id=writer.flow_id,
            flow_version=writer.flow_version,
            document_types=settings.document_types,
            max_file_bytes=settings.max_file_bytes,
            attempts=attempts,
            wrong_code_delay=settings.receipt_wrong_code_delay_seconds,
        )

    # ==== after a report: the receipt ====
    async def issue(self, report_id: ReportId) -> IssuedReceipt | None:
        """Make the receipt before the report is closed (its reply key goes into the manifest).

        A failure here must not lose the report: it is logged and the report closes without one.
        """
        try:
            return await self.receipts.issue(report_id)
        except (StorageError, nacl.exceptions.RuntimeError) as exc:
            log.error("receipt_not_issued", extra={"fields": {"exc_type": exception_types(exc)}})
            return None

    async def show(self, turn: Turn, receipt: IssuedReceipt, lead: str) -> None:
        """ "Sent" (``lead``) and the code in one message, shown before the conversation is
        erased and left on screen (also through a restart) until "I saved the code"; a quick
        exit or /panic deletes it with everything else."""
        render = self.chats.render
        conv = turn.conv
        # cover mode: no /followup outside a report; the way back is the entry code
        text_id = "ui.done.receipt" if self.chats.cover is None else "ui.done.receipt_cover"
        code = render.ui_text(turn.lang, text_id, code=receipt.code.display())
        text = f"{lead}\n\n{code}"
        rows = [
            [
                render.button(
                    render.ui_text(turn.lang, "ui.button.kept_it"),
                    encode(Op.RECEIPT_KEPT, conv.nonce),
                )
            ],
            [
                render.button(
                    render.ui_text(turn.lang, "ui.button.exit"), encode(Op.EXIT, conv.nonce)
                )
            ],
        ]
        await self.chats.keep_on_screen(turn, text, Screen(text, keyboard(rows)))

    async def _receipt_kept(self, turn: Turn) -> None:
        """Any "I saved the code" button deletes the message it is on (a receipt), stale or not."""
        mid = turn.query_message_id
        if mid is None:
            return
        await turn.delete([mid])
        await self.chats.forget_deleted(turn.conv, [mid])

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
        incoming = incoming_file(msg)
        if incoming is None:
            return False  # stickers, contacts...: the usual answer
        if session.match is None:
            await self._say(turn, "ui.error.expected_text")
            return True
        await self._add_file(turn, session, incoming)
        return True

    async def _on_button(
        self, turn: Turn, session: FollowupSession | None, query: CallbackQuery
    ) -> bool:
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

    async def _on_command(self, turn: Turn, session: FollowupSession | None, text: str) -> bool:
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
                await self.chats.exit_with(turn, self._text(turn, "ui.ended.neutral"))
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
            session = FollowupSession(lang=lang, last_seen=chats.monotonic())
            for old in self.sessions.put(turn.user_id, session):
                await self._close(old, ReportState.INTERRUPTED)
        session.lang = lang
        if session.match is not None:
            await turn.show(self._add_screen(turn))
            return
        await turn.show(self._code_screen(turn, self._text(turn, "ui.followup.ask_code")))

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
        return Screen(text, keyboard(rows))

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
        return Screen(self._text(turn, "ui.followup.add_prompt"), keyboard(rows))

    async def _on_code(self, turn: Turn, session: FollowupSession, msg: Message) -> None:
        await turn.delete([msg.message_id])  # the code leaves the screen at once
        result = await self.service.try_code(turn.user_id, session, msg.text or "")
        if result.verdict in CODE_TEXTS:
            await self._say(turn, CODE_TEXTS[result.verdict])
            return
        if result.verdict is CodeVerdict.WRONG:
            screen = self._code_screen(turn, self._text(turn, "ui.followup.wrong_code"))
            await turn.show(screen, edit=False)
            return
        for reply in result.replies:
            day = reply.day.isoformat() if reply.day is not None else ""
            text = self.chats.render.ui_text(
                turn.lang, "ui.followup.reply", day=day, reply=reply.text
            )
            await turn.say(text)
        if not result.replies:
            await self._say(turn, "ui.followup.no_replies")
        await turn.show(self._add_screen(turn), edit=False)

    async def _lost(self, turn: Turn, session: FollowupSession) -> None:
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
        screen = Screen(self._text(turn, "ui.followup.lost"), keyboard(rows))
        await turn.show(screen)

    # ==== adding ====
    async def _add_text(self, turn: Turn, session: FollowupSession, raw: str) -> None:
        checked = self.service.check_text(session, raw)
        if isinstance(checked, Refusal):
            await self._say(turn, REFUSAL_TEXTS[checked])
            return
        if not await self._open(turn, session):
            return
        await self.service.add_text(session, checked)
        await self._say(turn, "ui.followup.received")

    async def _add_file(self, turn: Turn, session: FollowupSession, incoming: IncomingFile) -> None:
        service = self.service
        refusal = service.check_file(session, incoming.kind, incoming.size, incoming.mime_type)
        if refusal is not None:
            await self._say(turn, REFUSAL_TEXTS[refusal])
            return
        tg_file = await turn.bot.get_file(incoming.file_id)
        if tg_file.file_size is None or service.check_size(tg_file.file_size) is not None:
            await self._say(turn, REFUSAL_TEXTS[Refusal.FILE_TOO_LARGE])
            return
        data = await tg_file.download_as_bytearray()
        try:
            if service.check_size(len(data)) is not None:
                await self._say(turn, REFUSAL_TEXTS[Refusal.FILE_TOO_LARGE])
                return
            if not await self._open(turn, session):
                return
            await service.add_file(session, incoming.kind, bytes(data), incoming.mime_type)
        finally:
            data[:] = bytes(len(data))  # the plain bytes do not linger in this buffer
        await self._say(turn, "ui.followup.received")

    async def _open(self, turn: Turn, session: FollowupSession) -> bool:
        """Before the first addition: the follow-up's own report, within the daily limit."""
        if session.opened:
            return True
        limits = self.chats.limits
        if not limits.may_start_report(turn.user_id):
            await self._say(turn, "ui.flood.daily_limit")
            return False
        await self.service.open(session)
        limits.count_report(turn.user_id)
        return True

    async def _close(self, session: FollowupSession, state: ReportState) -> None:
        await self.service.close(session, state)

    # ==== leaving ====
    async def _send(self, turn: Turn, session: FollowupSession) -> None:
        """Close what was added and erase the conversation, exactly as after a report."""
        added = session.opened
        await self._close(session, ReportState.COMPLETE)
        self.sessions.pop(turn.user_id)
        text_id = "ui.followup.sent" if added else "ui.followup.nothing_added"
        await self.chats.end_with(turn, self._text(turn, text_id))

    async def _quick_exit(self, turn: Turn, session: FollowupSession) -> None:
        """Erase first (someone may be looking), then keep what was added."""
        self.sessions.pop(turn.user_id)
        await self.chats.erase(turn)
        await self.chats.exit_with(turn, self._text(turn, "ui.ended.neutral"))
        await self._close(session, ReportState.INTERRUPTED)

    async def _leave(self, turn: Turn, session: FollowupSession, *, erase: bool = False) -> None:
        """The reporter moves on (a new report, /start): keep what was added, end the session."""
        self.sessions.pop(turn.user_id)
        if erase:
            ids = [*turn.conv.message_ids]
            turn.conv.message_ids.clear()
            turn.conv.prompt_message_id = None
            await turn.delete(ids)
            await self.chats.forget_deleted(turn.conv, ids)
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
        self.service.attempts.forget_idle()
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
        await turn.tell(self._text(turn, text_id))


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
