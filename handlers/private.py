"""The reporter's private chat: Update in -> engine event; engine outputs -> Bot API calls.

No question text and no questionnaire logic lives here: the engine decides, ``handlers.render``
words it from the locale files. This module does the Telegram side only:

- who is talking: a pseudonym (keyed hash), never the raw id, keys everything kept;
- what arrived: a command, a button, text, a file, or something that does not fit;
- what to keep: each accepted answer sealed and committed before the reporter sees the next step;
- what to erase: every message id of the conversation (both directions), deleted in batches of up
  to 100 at submission, quick exit, /panic, discard, and after an idle timeout; in cover mode
  also at the idle timeout itself and before a graceful stop, through the conversation's sealed
  chat handle (``handlers.state``), leaving the phrasebook's first screen.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.ops.logging import exception_types
from bot.ops.settings import Settings
from bot.phrasebook.codes import CodeMatch
from bot.questionnaire.engine import (
    Accepted,
    Back,
    Cancel,
    Cancelled,
    Choose,
    Done,
    Dropped,
    Edit,
    EndedEarly,
    Event,
    Finished,
    Interrupted,
    Invalid,
    Media,
    Phase,
    Prompt,
    Review,
    SendNow,
    Skip,
    Stale,
    Start,
    Submit,
    Text,
    Timeout,
    initial_state,
    step,
    with_language,
)
from bot.questionnaire.flow import AnswerValue, Flow, MediaKind
from bot.questionnaire.kind import SUB_OTHER
from bot.questionnaire.kinds import kind_of
from bot.receipts.service import IssuedReceipt
from bot.sealing.chat_handle import ChatHandles
from handlers.callbacks import Callback, CallbackError, Op, decode, new_nonce
from handlers.cover import Cover, is_cover_button
from handlers.limits import Decision, FloodLimits, Verdict
from handlers.pseudonyms import Pseudonym, PseudonymKeys, PseudonymMap
from handlers.render import Renderer, Screen
from handlers.reports import ReportDraft, ReportWriter
from handlers.state import Conversation, KeyedLocks, Leftover, Orphan
from handlers.telegram_calls import answer_query
from handlers.turn import Bot, IncomingFile, Turn, incoming_file
from storage.base import ReportId, ReportState
from storage.errors import StorageError

log = logging.getLogger("handlers.private")

LEFTOVER_SECONDS = 47 * 3600.0
"""Telegram lets a bot delete messages for 48 hours; after that the ids are useless."""

COMMANDS = ("start", "language", "help", "safety", "cancel", "panic")

LAST_WORD_SECONDS = 30.0
"""How long the bot's last line after an erase stays before the bot deletes it too."""

LAST_WORDS_AT_STOP_SECONDS = 5.0
"""At shutdown, how long the last lines still waiting for their deletion get, together."""

ERASE_AT_STOP_SECONDS = 15.0
"""Cover mode, at a graceful stop: how long erasing the open conversations' chats gets, together
(with the last lines' 5 s well under systemd's TimeoutStopSec=60 and compose's
stop_grace_period); what does not fit is erased at the reporter's next message."""

MAX_PROBED_ORPHANS = 50
"""After a restart, how many unclaimed conversations are tried in a newcomer's chat."""

MAX_QUEUED_UPDATES = 3
"""Updates of one reporter handled or waiting at once; more are dropped like a flood's (a button
still gets its toast): a backlog on one reporter's lock would hold the Application's
concurrent-update slots that everyone else needs."""

_START_LIKE = frozenset({"start", "language", "followup"})

_CANCEL_OPS = frozenset({Op.SEND_ANSWERED, Op.DISCARD, Op.RESUME})
"""The buttons of "stop here?"."""

_EVENTS: Mapping[Op, Callable[[Callback], Event]] = {
    Op.CHOOSE: lambda cb: Choose(cb.qid, cb.cid),
    Op.DONE: lambda cb: Done(cb.qid),
    Op.SKIP: lambda cb: Skip(cb.qid),
    Op.EDIT: lambda cb: Edit(cb.qid),
    Op.SUBMIT: lambda cb: Submit(),
    Op.SEND_NOW: lambda cb: SendNow(),
}
"""Buttons that are one engine event each."""


class ReceiptIssuer(Protocol):
    """Receipts and follow-ups (issue 7; ``handlers.followup.Followups``). None: no receipts."""

    async def issue(self, report_id: ReportId) -> IssuedReceipt | None:
        """Before a report is closed: make its receipt (the reply key goes into the manifest)."""
        ...

    async def show(self, turn: Turn, receipt: IssuedReceipt, lead: str) -> None:
        """Before the conversation is erased: "sent" (``lead``) and the code, kept on screen."""
        ...

    async def handle(self, turn: Turn, update: Update) -> bool:
        """First look at every update; True when it was a receipt's or a follow-up's."""
        ...

    async def sweep(self) -> int: ...

    async def close_all(self) -> None: ...


def _note_failed(exc: BaseException) -> None:
    log.warning("erase_note_failed", extra={"fields": {"exc_type": exception_types(exc)}})


def _note_outcome(future: asyncio.Future[None]) -> None:
    """A queued erase-journal write ended: a failure is logged (as a type), never raised."""
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        _note_failed(exc)


def guess_language(code: str | None, languages: Sequence[str]) -> str:
    """The phone's language if it is offered, else the first offered (Korean by default)."""
    if code:
        base = code.split("-")[0].lower()
        if base in languages:
            return base
    return languages[0]


def _command_of(update: Update) -> str | None:
    msg = update.message
    if msg is None or msg.text is None or not msg.text.startswith("/"):
        return None
    return msg.text.split(maxsplit=1)[0][1:].partition("@")[0].lower()


def _is_exit(update: Update) -> bool:
    """/panic or a quick-exit button: erase and say nothing about what happened."""
    if _command_of(update) == "panic":
        return True
    query = update.callback_query
    if query is None:
        return False
    try:
        return decode(query.data).op is Op.EXIT
    except CallbackError:
        return False


def _is_start_like(update: Update) -> bool:
    return _command_of(update) in _START_LIKE


def _update_kind(update: Update) -> str:
    """What arrived, as a word for the DEBUG log (never its content)."""
    if update.callback_query is not None:
        return "button"
    if update.edited_message is not None:
        return "edited"
    msg = update.message
    if msg is None:
        return "other"
    if msg.text is not None:
        return "command" if msg.text.startswith("/") else "text"
    for kind in ("photo", "voice", "video", "video_note", "audio", "document", "sticker"):
        if getattr(msg, kind):
            return kind
    return "other"


class ReporterChats:
    """Every private conversation; one instance per Application."""

    def __init__(
        self,
        settings: Settings,
        flow: Flow,
        renderer: Renderer,
        writer: ReportWriter,
        keys: PseudonymKeys,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        limits: FloodLimits,
        receipts: ReceiptIssuer | None = None,
        cover: Cover | None = None,
    ) -> None:
        self.settings = settings
        self.flow = flow
        self.render = renderer
        self.writer = writer
        self.keys = keys
        self.clock = clock
        self.monotonic = monotonic
        self.limits = limits
        self.receipts = receipts
        self.cover = cover
        """Cover mode (docs/cover.md): outside a report the chat is a phrasebook. None: off."""
        self.languages = tuple(settings.languages)
        self.conversations: PseudonymMap[Conversation] = PseudonymMap(
            keys, settings.max_open_conversations
        )
        self.leftovers: PseudonymMap[Leftover] = PseudonymMap(keys, settings.max_open_conversations)
        self.locks = KeyedLocks()
        self.store = writer.store
        self.orphans: dict[bytes, Orphan] = {}
        self.last_word_seconds = LAST_WORD_SECONDS
        self._last_words: dict[asyncio.Task[None], tuple[Bot, int, Conversation, int]] = {}
        self._noting: dict[bytes, list[asyncio.Future[None]]] = {}
        """Erase-journal writes queued and not yet committed, by conversation key."""
        self.handles = ChatHandles()
        """Cover mode: seals the chat ids of open conversations (a key per process)."""
        self.bot: Bot | None = None
        """The Application's bot (``attach``): erasing with nobody writing (cover mode)."""

    def attach(self, bot: Bot) -> None:
        """At start: the bot that erases chats at the idle timeout and at a stop."""
        self.bot = bot

    # ==== entry point ====
    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None or user.is_bot:
            return
        key = self.keys.current(user.id)
        # Counted before the lock: a flood's updates must not queue on it, holding the
        # Application's concurrent-update slots that everyone else needs.
        decision = self.limits.message(user.id)
        if decision.verdict is Verdict.DROP or self.locks.users(key) > MAX_QUEUED_UPDATES:
            await self._dropped(update, context.bot, user.id, user.language_code, decision)
            return
        async with self.locks.hold(key):
            try:
                await self._handle_locked(
                    update, context.bot, user.id, chat.id, user.language_code, decision
                )
            finally:
                # the ids of what this update sent: queued now, committed within one commit's
                # time (as when the update waited for it); the next screen waits for them
                conv = self.conversations.get(user.id)
                if conv is not None:
                    self.note(conv)
                self._hold_chat(user.id, chat.id)

    def _hold_chat(self, user_id: int, chat_id: int) -> None:
        """Cover mode: a conversation with messages to erase keeps its chat id sealed, so the
        idle sweep and a stop can erase it without the reporter; one with none keeps nothing."""
        conv = self.conversations.get(user_id)
        if self.cover is None or conv is None:
            return
        if not conv.message_ids:
            conv.chat = None
        elif conv.chat is None:
            conv.chat = self.handles.seal(chat_id)

    async def _dropped(
        self,
        update: Update,
        bot: Bot,
        user_id: int,
        language_code: str | None,
        decision: Decision,
    ) -> None:
        """An update over the flood limits: no lock, no store, no send; a button still gets a
        toast that says when to go on, and a message is remembered for the erase."""
        conv = self.conversations.get(user_id)
        self._log_update(update, Verdict.DROP, conv)
        if conv is not None and update.message is not None and not self._covered(conv, update):
            # in memory only: written to the store with the next update that is handled
            conv.record(update.message.message_id)
        query = update.callback_query
        if query is None:
            return
        lang = (conv.lang if conv is not None else None) or guess_language(
            language_code, self.languages
        )
        text = self.wait_text(lang, decision.wait)
        if self.cover is not None and (conv is None or self._covered(conv, update)):
            text = self.cover.book.text(lang, "pb.slow_down")  # the phrasebook's words
        try:
            await answer_query(bot, query.id, text)
        except TelegramError as exc:  # an old query can no longer be answered: harmless
            log.debug(
                "callback_answer_failed", extra={"fields": {"exc_type": exception_types(exc)}}
            )

    def _log_update(self, update: Update, verdict: Verdict, conv: Conversation | None) -> None:
        log.debug(
            "update",
            extra={
                "fields": {
                    "kind": _update_kind(update),
                    "verdict": verdict.value,
                    "open": conv is not None,
                    "conversations": len(self.conversations),
                }
            },
        )

    def wait_text(self, lang: str, wait: float) -> str:
        """ "Go on in N seconds" (or minutes): the toast of a button pressed over the limits."""
        seconds = max(1, math.ceil(wait))
        if seconds < 100:
            return self.render.ui_text(lang, "ui.flood.wait_seconds", seconds=seconds)
        return self.render.ui_text(lang, "ui.flood.wait_minutes", minutes=math.ceil(seconds / 60))

    async def _handle_locked(
        self,
        update: Update,
        bot: Bot,
        user_id: int,
        chat_id: int,
        language_code: str | None,
        decision: Decision,
    ) -> None:
        verdict = decision.verdict
        conv = self.conversations.get(user_id)
        self._log_update(update, verdict, conv)
        await self._last_word_goes(conv)
        turn, created = await self._turn(update, bot, user_id, chat_id, language_code, conv)
        restored = created and bool(self.orphans) and await self._claim_orphans(turn)
        covered = self._covered(turn.conv, update)
        if update.message is not None and not covered:
            turn.conv.record(update.message.message_id)
            self.note(turn.conv)  # durable with the step's answer, before the next screen
        gone = await self._leftover_goes(turn, quiet=covered)
        if covered:
            if (restored or gone) and await self._back_to_cover(turn, update):
                return
        elif restored and not _is_exit(update) and await self._after_restart(turn, update):
            return
        if verdict is Verdict.WARN:
            await self._slow_down(turn, covered, decision.wait)
        elif covered:
            await self._cover_update(turn, update)
        else:
            await self._report_update(turn, update)

    async def _turn(
        self,
        update: Update,
        bot: Bot,
        user_id: int,
        chat_id: int,
        language_code: str | None,
        conv: Conversation | None,
    ) -> tuple[Turn, bool]:
        """The turn of this update, in the reporter's conversation (a new one if none)."""
        created = conv is None
        if conv is None:
            conv = Conversation(nonce=new_nonce(), last_seen=self.monotonic())
            for evicted in self.conversations.put(user_id, conv):
                await self._evicted(evicted)
        conv.last_seen = self.monotonic()
        lang = conv.lang or guess_language(language_code, self.languages)
        turn = Turn(
            bot, chat_id, user_id, conv, lang, query=update.callback_query, journal=self.save
        )
        return turn, created

    def _covered(self, conv: Conversation, update: Update) -> bool:
        """Whether the phrasebook answers this update: cover mode on and no report entered (a
        phrasebook button is the phrasebook's also inside a report)."""
        if self.cover is None:
            return False
        query = update.callback_query
        return not conv.entered or (query is not None and is_cover_button(query.data))

    async def _leftover_goes(self, turn: Turn, *, quiet: bool) -> bool:
        """A conversation that timed out: its messages go now. True when some were deleted."""
        leftover = self.leftovers.pop(turn.user_id)
        if leftover is None:
            return False
        erased = leftover.expires > self.monotonic()
        if erased:
            await turn.delete(leftover.message_ids)
            if leftover.answers_kept and not quiet:
                await turn.say(self.render.ui_text(turn.lang, "ui.timeout.kept"))
        await self._forget(leftover.erase_key)
        return erased

    async def _after_restart(self, turn: Turn, update: Update) -> bool:
        """The bot was restarted mid-conversation: say so plainly, and how to go on. True when
        that is the whole answer."""
        await turn.say(self.render.ui_text(turn.lang, "ui.restart.kept"))
        if _is_start_like(update):
            return False
        await turn.answer_query()
        return True

    async def _back_to_cover(self, turn: Turn, update: Update) -> bool:
        """Cover mode, after a restart or a timeout erased a report: the phrasebook, not a
        notice (a minder may be the one pressing). True when that is the whole answer."""
        query = update.callback_query
        if _is_exit(update) or (query is not None and is_cover_button(query.data)):
            return False  # the exit or the phrasebook button answers by itself
        await self._cover_home(turn)
        msg = update.message
        if msg is not None and msg.text is not None and not msg.text.startswith("/"):
            return False  # typed text is searched as well
        await turn.answer_query()
        return True

    async def _slow_down(self, turn: Turn, covered: bool, wait: float) -> None:
        if covered and self.cover is not None:
            await self.cover.say(turn, "pb.slow_down")
        elif turn.query is not None:
            turn.toast = self.wait_text(turn.lang, wait)
        else:
            await turn.say(self.render.ui_text(turn.lang, "ui.flood.slow_down"))
        await turn.answer_query()

    async def _report_update(self, turn: Turn, update: Update) -> None:
        if self.receipts is not None and await self.receipts.handle(turn, update):
            await turn.answer_query()
            return
        if update.callback_query is not None:
            await self._on_callback(turn, update.callback_query)
            await turn.answer_query()
        elif update.edited_message is not None:
            await self._complain(turn, "ui.error.edited_message")
        elif update.message is not None:
            await self._on_message(turn, update.message)

    def _safety_text(self, lang: str) -> str:
        """/safety (inside a report only, in cover mode): with what the cover does and not."""
        text = self.render.ui_text(lang, "ui.safety")
        if self.cover is None:
            return text
        return f"{text}\n\n{self.render.ui_text(lang, 'ui.safety.cover')}"

    # ==== cover mode: the phrasebook, and the way in ====
    async def _cover_update(self, turn: Turn, update: Update) -> None:
        cover = self.cover
        if cover is None:  # pragma: no cover - _covered checks
            return
        if update.callback_query is not None:
            await self._cover_button(turn, update)
            await turn.answer_query()
            return
        msg = update.message
        if msg is None:
            return  # an edited message outside a report: nothing to do
        if msg.text is None or msg.forward_origin is not None or msg.is_automatic_forward:
            await cover.say(turn, "pb.not_text")
        elif msg.text.startswith("/"):
            await self._cover_command(turn, msg.message_id, msg.text)
        else:
            await self._cover_text(turn, msg.message_id, msg.text)

    async def _cover_button(self, turn: Turn, update: Update) -> None:
        cover, query = self.cover, update.callback_query
        if cover is None or query is None:  # pragma: no cover - _cover_update checks
            return
        if is_cover_button(query.data):
            await cover.on_button(turn, str(query.data))
            return
        try:
            cb = decode(query.data)
        except CallbackError:
            cb = None
        if cb is not None and cb.op is Op.EXIT:
            await self._quick_exit(turn)  # a receipt's quick exit: erase, the phrasebook
        elif cb is not None and cb.op is Op.RECEIPT_KEPT and self.receipts is not None:
            await self.receipts.handle(turn, update)  # the receipt goes; the phrasebook stays
        else:
            await cover.say(turn, "pb.old_button")

    async def _cover_command(self, turn: Turn, message_id: int, text: str) -> None:
        cover = self.cover
        if cover is None:  # pragma: no cover - _cover_update checks
            return
        head, _, payload = text.partition(" ")
        name = head[1:].partition("@")[0].lower()
        if name == "start" and payload.strip():
            match = cover.check(turn.user_id, payload.strip())
            if match is CodeMatch.ENTRY:
                await self._enter(turn, message_id)
                return
            if match is CodeMatch.DURESS:
                await self._duress(turn)
        if name == "panic":
            await self._quick_exit(turn)  # nothing of a report to erase shows as the phrasebook
        elif name == "help":
            await cover.show(turn, cover.book.help(turn.lang))
        else:
            await self._cover_home(turn)  # /start, and any command the phrasebook does not have

    async def _cover_text(self, turn: Turn, message_id: int, text: str) -> None:
        cover = self.cover
        if cover is None:  # pragma: no cover - _cover_update checks
            return
        match = cover.check(turn.user_id, text)
        if match is CodeMatch.ENTRY:
            await self._enter(turn, message_id)
            return
        if match is CodeMatch.DURESS:
            await self._duress(turn)
        await cover.search(turn, text)  # a wrong code, or duress: a search that finds nothing

    async def _enter(self, turn: Turn, message_id: int) -> None:
        """An entry code: it leaves the screen at once, and the report begins."""
        conv = turn.conv
        conv.record(message_id)  # if the deletion fails now, the report's erase takes it
        await self.save(conv)
        await turn.delete([message_id])
        conv.entered = True
        await self._language_screen(turn)

    async def _duress(self, turn: Turn) -> None:
        """A duress code: erase everything of reports this chat still shows (a kept receipt,
        what an earlier erase left), as if the code had done nothing."""
        await self.erase(turn)

    async def _cover_home(self, turn: Turn) -> None:
        if self.cover is not None:
            await self.cover.home(turn)

    # ==== messages ====
    async def _on_message(self, turn: Turn, msg: Message) -> None:
        if msg.forward_origin is not None or msg.is_automatic_forward:
            await self._complain(turn, "ui.error.forwarded_message")
            return
        if msg.text is not None:
            if msg.text.startswith("/"):
                await self._on_command(turn, msg.text)
            else:
                await self._on_text(turn, msg.text)
            return
        incoming = incoming_file(msg)
        if incoming is None:
            await self._complain(turn, "ui.error.unsupported_input")
            return
        await self._on_file(turn, incoming)

    async def _on_command(self, turn: Turn, text: str) -> None:
        head = text.split(maxsplit=1)[0][1:]
        name, _, addressee = head.partition("@")
        name = name.lower()
        if addressee and addressee.lower() != (turn.bot.username or "").lower():
            await self._complain(turn, "ui.error.unsupported_input")
            return
        conv = turn.conv
        if name == "panic":
            await self._quick_exit(turn)
        elif name == "start":
            if conv.active and conv.state is not None and not conv.awaiting_cancel:
                await self._engine(turn, Start())
            else:
                await self._language_screen(turn)
        elif name == "language":
            await self._language_screen(turn)
        elif name == "help":
            await turn.say(self.render.ui_text(turn.lang, "ui.help"))
        elif name == "safety":
            await turn.say(self._safety_text(turn.lang))
        elif name == "cancel":
            await self._ask_cancel(turn)
        else:
            await self._complain(turn, "ui.error.unsupported_input")

    async def _on_text(self, turn: Turn, text: str) -> None:
        conv = turn.conv
        if conv.state is None:
            if conv.lang is None and conv.prompt_message_id is None:
                await self._language_screen(turn)  # first contact: start
            else:
                await self._complain(turn, "ui.error.expected_button")
            return
        if conv.awaiting_cancel or conv.state.phase is not Phase.ASKING or conv.current_qid is None:
            await self._complain(turn, "ui.error.expected_button")
            return
        await self._engine(turn, Text(conv.current_qid, text))

    async def _on_file(self, turn: Turn, incoming: IncomingFile) -> None:
        conv = turn.conv
        qid = conv.current_qid
        if conv.state is None or conv.awaiting_cancel or qid is None:
            await self._complain(turn, "ui.error.expected_button")
            return
        question = self.flow.question(qid)
        kind = kind_of(question.kind)
        if not kind.takes_accept:
            texty = kind.typed or conv.state.sub_step == SUB_OTHER
            await self._complain(
                turn, "ui.error.expected_text" if texty else "ui.error.expected_button"
            )
            return
        if incoming.kind not in question.accept:
            await self._complain(turn, "ui.error.wrong_media_kind")
            return
        if incoming.kind is MediaKind.DOCUMENT and (
            incoming.mime_type is None
            or incoming.mime_type.lower() not in self.settings.document_types
        ):
            await self._complain(turn, "ui.error.wrong_media_kind")
            return
        if conv.files_received >= question.max_files:
            await self._complain(turn, "ui.error.too_many_files")
            return
        limit = self.settings.max_file_bytes
        if incoming.size is not None and incoming.size > limit:
            await self._complain(turn, "ui.error.file_too_large")
            return
        tg_file = await turn.bot.get_file(incoming.file_id)
        if tg_file.file_size is None or tg_file.file_size > limit:
            await self._complain(turn, "ui.error.file_too_large")
            return
        data = await tg_file.download_as_bytearray()
        try:
            if len(data) > limit:
                await self._complain(turn, "ui.error.file_too_large")
                return
            draft = await self._ensure_draft(turn)
            ref, cleaned = await self.writer.attach(
                draft, qid, incoming.kind, bytes(data), incoming.mime_type
            )
        finally:
            data[:] = bytes(len(data))  # the plain bytes do not linger in this buffer
        if not cleaned:  # not a photo the bot can clean: sealed as received, and it says so
            await self._complain(turn, "ui.prompt.file_kept_as_sent")
        await self._engine(turn, Media(qid, incoming.kind, ref))

    # ==== buttons ====
    async def _on_callback(self, turn: Turn, query: CallbackQuery) -> None:
        conv = turn.conv
        try:
            cb = decode(query.data)
        except CallbackError:
            turn.toast = self.render.ui_text(turn.lang, "ui.error.stale_button")
            return
        if cb.op is Op.EXIT:
            await self._quick_exit(turn)
            return
        if cb.nonce != conv.nonce:
            turn.toast = self._stale_text(turn)
            return
        await self._dispatch_button(turn, cb)

    def _stale_text(self, turn: Turn) -> str:
        """An old button: "answer the latest question" only when a question is open."""
        text_id = "ui.error.stale_button" if turn.conv.active else "ui.error.ended_button"
        return self.render.ui_text(turn.lang, text_id)

    async def _dispatch_button(self, turn: Turn, cb: Callback) -> None:
        conv = turn.conv
        if cb.op is Op.LANGUAGE:
            await self._choose_language(turn, cb.qid)
        elif conv.state is None:
            turn.toast = self._stale_text(turn)
        elif cb.op in _CANCEL_OPS:
            await self._cancel_choice(turn, cb.op)
        elif conv.awaiting_cancel:
            turn.toast = self.render.ui_text(turn.lang, "ui.error.stale_button")
        elif cb.op in _EVENTS:
            await self._engine(turn, _EVENTS[cb.op](cb))
        elif cb.op is Op.BACK:
            await self._back(turn, cb)
        elif cb.op is Op.HELP:
            await self._question_help(turn, cb)
        else:
            turn.toast = self.render.ui_text(turn.lang, "ui.error.stale_button")

    async def _back(self, turn: Turn, cb: Callback) -> None:
        conv = turn.conv
        in_review = conv.state is not None and conv.state.phase is Phase.REVIEW
        if not in_review and cb.qid != conv.current_qid:
            turn.toast = self.render.ui_text(turn.lang, "ui.error.stale_button")
        elif not in_review and not conv.can_back:
            await self._language_screen(turn, edit=True)
        else:
            await self._engine(turn, Back())

    async def _question_help(self, turn: Turn, cb: Callback) -> None:
        if cb.qid != turn.conv.current_qid or not self.flow.question(cb.qid).has_help:
            turn.toast = self.render.ui_text(turn.lang, "ui.error.stale_button")
            return
        await turn.say(self.render.text(turn.lang, f"{cb.qid}.help"))

    # ==== the engine ====
    async def _engine(self, turn: Turn, event: Event) -> None:
        conv = turn.conv
        if conv.state is None:  # pragma: no cover - callers check
            return
        new_state, outputs = step(self.flow, conv.state, event)
        log.debug(
            "engine_step",
            extra={
                "fields": {
                    "event": type(event).__name__,
                    "outputs": ",".join(type(o).__name__ for o in outputs),
                    "phase": new_state.phase.value,
                }
            },
        )
        # 1. Keep first: nothing is shown as done before it is committed.
        for out in outputs:
            if isinstance(out, Accepted):
                draft = await self._ensure_draft(turn)
                await self.writer.accept(draft, out.qid, out.answer)
            elif isinstance(out, Dropped) and conv.draft is not None:
                await self.writer.drop(conv.draft, out.qid)
        ending = next(
            (o for o in outputs if isinstance(o, Finished | EndedEarly | Cancelled | Interrupted)),
            None,
        )
        if ending is not None:
            await self._end(turn, ending)
            return
        conv.state = new_state
        # 2. Then show.
        for out in outputs:
            match out:
                case Prompt():
                    conv.can_back = out.can_back
                    if out.max_files is not None:  # a question that takes files
                        conv.files_received = len(out.selected)
                    else:
                        conv.files_received = 0
                    await turn.show(self.render.prompt_screen(turn.lang, conv.nonce, out))
                case Review():
                    await turn.show(self.render.review_screen(turn.lang, conv.nonce, out))
                case Invalid():
                    await self._complain(turn, f"ui.error.{out.code}", **dict(out.values))
                case Stale():
                    await self._complain(turn, "ui.error.stale_button")
                case _:
                    pass

    async def _ensure_draft(self, turn: Turn) -> ReportDraft:
        conv = turn.conv
        if conv.draft is None:
            conv.draft = await self.writer.open(turn.lang)
            self.limits.count_report(turn.user_id)
        return conv.draft

    async def _end(
        self, turn: Turn, ending: Finished | EndedEarly | Cancelled | Interrupted
    ) -> None:
        """End a report so that a crash at any step leaves one report and, once "sent" is on
        screen, a working code: (1) the receipt's tag is stored, (2) the report is closed with
        the reply key (committed), (3) "sent" and the code are shown, noted in the store as kept,
        (4) everything else of the conversation is erased. A crash before (2) leaves the report
        open, closed as interrupted at the next start; after (2) it is complete; either way the
        reporter's next message after the restart erases the rest and says the answers were
        kept, so nobody is led to report twice."""
        conv = turn.conv
        lang = turn.lang
        match ending:
            case Finished(answers=answers):
                state: ReportState | None = ReportState.COMPLETE
                lead = self.render.ui_text(lang, "ui.done.thanks")
            case EndedEarly(end_id=end_id, answers=answers):
                state = ReportState.COMPLETE if answers else None
                lead = self.render.text(lang, end_id)
            case Cancelled(answers=answers):
                state = ReportState.INTERRUPTED  # "send what I answered": kept, not finished
                lead = self.render.ui_text(lang, "ui.cancel.sent")
            case Interrupted(answers=answers):
                state = ReportState.INTERRUPTED
                lead = self.render.ui_text(lang, "ui.timeout.kept")
        draft = conv.draft
        receipt: IssuedReceipt | None = None
        if draft is not None:
            if state is None:
                await self.writer.discard(draft)
            else:
                if self.receipts is not None:
                    receipt = await self.receipts.issue(draft.report_id)
                reply_key = receipt.reply_key if receipt is not None else None
                await self.writer.close(draft, state, answers, reply_key)
        if receipt is not None and self.receipts is not None:
            await self.receipts.show(turn, receipt, lead)  # until "I saved the code"
            await self.erase(turn, spare_kept=True)
            await self._cover_home(turn)  # cover mode: what stays when the receipt goes
        else:
            await self.end_with(turn, lead)

    async def end_with(self, turn: Turn, text: str) -> None:
        """A last word that matters ("sent"): shown before the erase, so a crash between the two
        still leaves it; then the rest is erased, and the word goes after a short while."""
        mid = await self.keep_on_screen(turn, text)
        await self.erase(turn, spare_kept=True)
        self._delete_later(turn, mid)
        await self._cover_home(turn)  # cover mode: the phrasebook under it, staying

    async def exit_with(self, turn: Turn, text: str) -> None:
        """After an erase (quick exit, /panic, discard): one neutral line, deleted after a short
        while or with the reporter's next message. Not noted in the store: after a crash it
        stays, saying nothing."""
        conv = await self.fresh_conversation(turn)
        if self.cover is not None:  # cover mode: the phrasebook instead of any line
            await self.cover.home(turn)
            return
        mid = await turn.say(text, record=False)
        conv.message_ids.append(mid)
        self._delete_later(turn, mid)

    async def keep_on_screen(self, turn: Turn, text: str, screen: Screen | None = None) -> int:
        """Send a message that the erase at the end of a report leaves on screen."""
        mid = await turn.say(text, screen=screen, record=False)
        turn.conv.record(mid)
        turn.conv.kept.add(mid)
        await self.save(turn.conv)
        return mid

    async def erase(self, turn: Turn, *, spare_kept: bool = False) -> None:
        """Forget the conversation and delete every message of it (both directions).

        ``spare_kept``: leave what :meth:`keep_on_screen` showed, in a fresh conversation that
        goes on with the same store key (a later quick exit or /panic deletes it too).
        """
        conv = turn.conv
        key = conv.erase_key
        kept = [m for m in conv.message_ids if m in conv.kept] if spare_kept else []
        ids = [m for m in self._wipe(turn) if m not in kept]
        await turn.delete(ids)
        if not kept:
            await self._forget(key)
            return
        await self._forget(key, ids)
        fresh = await self.fresh_conversation(turn)
        fresh.erase_key = key
        fresh.message_ids = kept
        fresh.kept = set(kept)

    async def forget_deleted(self, conv: Conversation, ids: Sequence[int]) -> None:
        """Messages of ``conv`` deleted outside an erase (a receipt the reporter noted)."""
        for mid in ids:
            if mid in conv.message_ids:
                conv.message_ids.remove(mid)
            conv.kept.discard(mid)
        if not conv.message_ids:
            conv.chat = None  # nothing left to erase: no chat id either
        await self._forget(conv.erase_key, ids)

    async def fresh_conversation(self, turn: Turn) -> Conversation:
        """A new, empty conversation for this reporter in ``turn`` (after the old was erased)."""
        conv = Conversation(nonce=new_nonce(), last_seen=self.monotonic(), lang=turn.lang)
        for evicted in self.conversations.put(turn.user_id, conv):
            await self._evicted(evicted)
        turn.conv = conv
        return conv

    def _wipe(self, turn: Turn) -> list[int]:
        """Forget the conversation; return the message ids to delete."""
        conv = turn.conv
        ids = [*conv.message_ids, *turn.extra_ids]
        mid = turn.query_message_id
        if mid is not None:
            ids.append(mid)
        self.conversations.pop(turn.user_id)
        conv.state = None
        conv.draft = None
        conv.chat = None
        conv.message_ids = []
        conv.prompt_message_id = None
        return ids

    # ==== language, cancel, exit ====
    async def _language_screen(self, turn: Turn, *, edit: bool = False) -> None:
        preselect = turn.conv.lang or turn.lang
        screen = self.render.language_screen(
            turn.conv.nonce, self.languages, preselect, followup=self.receipts is not None
        )
        await turn.show(screen, edit=edit)

    async def _choose_language(self, turn: Turn, lang: str) -> None:
        conv = turn.conv
        if lang not in self.languages:
            turn.toast = self.render.ui_text(turn.lang, "ui.error.stale_button")
            return
        conv.lang = lang
        turn.lang = lang
        if conv.draft is not None:
            conv.draft.lang = lang
        if conv.state is not None and conv.active:
            conv.state = with_language(conv.state, lang)
            await self._engine(turn, Start())
            return
        if not self.limits.may_start_report(turn.user_id):
            await turn.say(self.render.ui_text(lang, "ui.flood.daily_limit"))
            return
        conv.state = initial_state(lang, this_year=self.clock().year)
        await self._engine(turn, Start())

    async def _ask_cancel(self, turn: Turn) -> None:
        conv = turn.conv
        if not conv.active:
            await turn.say(self.render.ui_text(turn.lang, "ui.help"))
            return
        if conv.draft is None:  # nothing kept yet: nothing to ask
            await self._end_discarded(turn)
            return
        conv.awaiting_cancel = True
        screen = self.render.cancel_screen(turn.lang, conv.nonce, conv.current_qid)
        await turn.show(screen)

    async def _cancel_choice(self, turn: Turn, op: Op) -> None:
        conv = turn.conv
        if not conv.awaiting_cancel or conv.state is None:
            turn.toast = self.render.ui_text(turn.lang, "ui.error.stale_button")
            return
        conv.awaiting_cancel = False
        if op is Op.RESUME:
            await self._engine(turn, Start())
        elif op is Op.SEND_ANSWERED:
            await self._engine(turn, Cancel())
        else:
            await self._end_discarded(turn)

    async def _end_discarded(self, turn: Turn) -> None:
        draft = turn.conv.draft
        if draft is not None:
            await self.writer.discard(draft)
        await self.erase(turn)
        await self.exit_with(turn, self.render.ui_text(turn.lang, "ui.cancel.discarded"))

    async def _quick_exit(self, turn: Turn) -> None:
        """Erase first (someone may be looking), then keep what was answered."""
        conv = turn.conv
        draft = conv.draft
        answers = self._answers_so_far(conv)
        await self.erase(turn)
        await self.exit_with(turn, self.render.ui_text(turn.lang, "ui.ended.neutral"))
        if draft is not None:
            await self._keep(draft, answers)

    def _answers_so_far(self, conv: Conversation) -> dict[str, AnswerValue] | None:
        if conv.state is None or conv.draft is None:
            return None
        if conv.state.phase in (Phase.ASKING, Phase.REVIEW):
            _, outs = step(self.flow, conv.state, Timeout())
            for out in outs:
                if isinstance(out, Interrupted):
                    answers = dict(out.answers)
                    pending = conv.state.pending
                    current = conv.state.current
                    if pending is not None and pending.media and current and current not in answers:
                        answers[current] = pending.value()  # files already acknowledged
                    return answers
        return conv.state.answer_values()

    async def _keep(self, draft: ReportDraft, answers: Mapping[str, AnswerValue] | None) -> None:
        answers = answers or {}
        for qid, value in answers.items():
            if qid not in draft.answer_slots:
                await self.writer.accept(draft, qid, value)
        await self.writer.close(draft, ReportState.INTERRUPTED, answers)

    async def _close_unattended(self, conv: Conversation) -> None:
        """A conversation ends without its reporter (idle timeout, eviction): keep the answers."""
        draft = conv.draft
        if draft is None:
            return
        answers = self._answers_so_far(conv)
        conv.state = None
        conv.draft = None
        await self._keep(draft, answers)

    async def resume(self, update: Update, bot: Bot) -> None:
        """After an error: show the current question again, so the reporter can go on."""
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None:
            return
        async with self.locks.hold(self.keys.current(user.id)):
            conv = self.conversations.get(user.id)
            if conv is None or conv.state is None or not conv.active:
                return
            conv.awaiting_cancel = False
            lang = conv.lang or guess_language(user.language_code, self.languages)
            await self._engine(Turn(bot, chat.id, user.id, conv, lang), Start())

    def cover_word(self, user_id: int, lang: str) -> str | None:
        """Cover mode: the phrasebook's "something went wrong" for a chat outside a report;
        None inside one (or with the cover off)."""
        if self.cover is None:
            return None
        conv = self.conversations.get(user_id)
        if conv is not None and conv.entered:
            return None
        return self.cover.book.text((conv.lang if conv else None) or lang, "pb.error")

    def record_external(self, user_id: int, message_id: int) -> None:
        """Remember a message sent outside a turn (the error notice) for later deletion."""
        conv = self.conversations.get(user_id)
        if conv is not None:
            conv.record(message_id)

    # ==== erasing that survives a restart ====
    async def save(self, conv: Conversation) -> None:
        """Make every id recorded for this conversation durable in the store, under its random
        key (never a chat id): :meth:`note`, then wait for what is noted and not yet committed.
        Called before anything is sent or edited in the chat (``Turn.journal``), so that a
        screen is shown only once the ids before it would survive a crash; usually they are
        already committed, with the step's answer. A failure costs only erasing after a
        restart."""
        self.note(conv)
        pending = [f for f in self._noting.get(conv.erase_key, ()) if not f.done()]
        if pending:
            await asyncio.wait(pending)

    def note(self, conv: Conversation) -> None:
        """Queue the ids recorded since the last note for the store, without waiting: they ride
        in the store's next transaction (the step's answer, another reporter's), not in a commit
        of their own that the step waits for (issue 13.5)."""
        if not conv.unsaved:
            return
        ids, conv.unsaved = conv.unsaved, []
        plain = [m for m in ids if m not in conv.kept]
        kept = [m for m in ids if m in conv.kept]
        key = conv.erase_key
        try:
            for group, keep in ((plain, False), (kept, True)):
                if group:
                    self._noted(key, self.store.note_messages(key, group, keep=keep))
        except (StorageError, ValueError) as exc:
            _note_failed(exc)

    def _noted(self, key: bytes, future: asyncio.Future[None]) -> None:
        if future.done():
            _note_outcome(future)
            return
        waiting = self._noting.setdefault(key, [])
        waiting.append(future)

        def settled(done: asyncio.Future[None]) -> None:
            _note_outcome(done)
            waiting.remove(done)
            if not waiting and self._noting.get(key) is waiting:
                del self._noting[key]

        future.add_done_callback(settled)

    async def _forget(self, key: bytes, ids: Sequence[int] | None = None) -> None:
        if not key:
            return
        try:
            await self.store.forget_messages(key, ids)
        except (StorageError, ValueError) as exc:
            log.warning("erase_note_failed", extra={"fields": {"exc_type": exception_types(exc)}})

    async def load_orphans(self) -> None:
        """At start: the conversations a previous run could not erase (nobody's, for now)."""
        for key, noted in (await self.store.messages_to_erase()).items():
            self.orphans[key] = Orphan(key, [m for m, _ in noted], {m for m, k in noted if k})
        if self.orphans:
            log.info("erase_orphans_loaded", extra={"fields": {"count": len(self.orphans)}})

    def _orphan(self, key: bytes, ids: Sequence[int], kept: set[int]) -> None:
        if key and ids:
            self.orphans[key] = Orphan(key, list(ids), set(kept))

    async def _evicted(self, conv: Conversation) -> None:
        """Pushed out of memory: keep the answers; its messages wait for their reporter."""
        conv.chat = None
        await self.save(conv)
        self._orphan(conv.erase_key, conv.message_ids, conv.kept)
        await self._close_unattended(conv)

    async def _claim_orphans(self, turn: Turn) -> bool:
        """A reporter with no conversation in memory writes: are unclaimed messages theirs?

        The pressed button's message names its conversation at once. Otherwise each unclaimed
        conversation (newest first, at most :data:`MAX_PROBED_ORPHANS`) is tried by deleting one
        of its messages in this chat: Telegram refuses when the message is not in this chat.
        What is found is deleted, all but a receipt not yet noted, which stays on screen.
        """
        mid = turn.query_message_id
        direct = [o for o in self.orphans.values() if mid is not None and mid in o.message_ids]
        found: list[Orphan] = list(direct)
        erased = False
        if not found:
            newest = sorted(
                self.orphans.values(), key=lambda o: max(o.message_ids, default=0), reverse=True
            )
            for orphan in newest[:MAX_PROBED_ORPHANS]:
                probe = await self._probe(turn, orphan)
                if probe is None:
                    break  # Telegram is refusing for another reason: try again another time
                if probe:
                    found.append(orphan)
                    erased = True
        for orphan in found:
            self.orphans.pop(orphan.erase_key, None)
            gone = [m for m in orphan.message_ids if m not in orphan.kept]
            await turn.delete(gone)
            erased = erased or bool(gone)
            kept = [m for m in orphan.message_ids if m in orphan.kept]
            await self._forget(orphan.erase_key)
            for m in kept:
                turn.conv.record(m)
                turn.conv.kept.add(m)
            await self.save(turn.conv)
        if found:
            log.info("erase_orphans_claimed", extra={"fields": {"count": len(found)}})
        return erased

    async def _probe(self, turn: Turn, orphan: Orphan) -> bool | None:
        """One delete call: True when the orphan's newest id was in this chat (now deleted),
        False when Telegram says it is not, None when Telegram refuses for another reason."""
        mid = orphan.probe()
        if mid is None:
            return False
        try:
            await turn.bot.delete_message(turn.chat_id, mid)
        except BadRequest:
            return False  # not in this chat (or already gone)
        except TelegramError:
            return None
        orphan.message_ids.remove(mid)
        return True

    def _delete_later(self, turn: Turn, mid: int) -> None:
        """Delete the last word after :attr:`last_word_seconds` (if it is still there). The chat
        id is held that long, in this task only."""
        bot, chat_id, conv = turn.bot, turn.chat_id, turn.conv

        async def later() -> None:
            await asyncio.sleep(self.last_word_seconds)
            await self._delete_now(bot, chat_id, conv, mid)

        task = asyncio.get_running_loop().create_task(later())
        self._last_words[task] = (bot, chat_id, conv, mid)
        task.add_done_callback(lambda t: self._last_words.pop(t, None))

    async def _last_word_goes(self, conv: Conversation | None) -> None:
        """The reporter writes again: the last word after the erase before goes now, not later."""
        for task, (bot, chat_id, held, mid) in list(self._last_words.items()):
            if held is conv:
                task.cancel()
                self._last_words.pop(task, None)
                await self._delete_now(bot, chat_id, held, mid)

    async def _delete_now(self, bot: Bot, chat_id: int, conv: Conversation, mid: int) -> None:
        if mid not in conv.message_ids:
            return  # already erased with the rest
        await self.forget_deleted(conv, [mid])
        try:
            await bot.delete_message(chat_id, mid)
        except TelegramError as exc:
            log.debug("last_word_gone", extra={"fields": {"exc_type": exception_types(exc)}})

    # ==== jobs ====
    async def sweep(self, context: ContextTypes.DEFAULT_TYPE | None = None) -> int:
        """End conversations idle longer than the timeout; returns how many ended."""
        now = self.monotonic()
        idle = self.settings.idle_timeout_seconds
        ended = 0
        for key, conv in list(self.conversations.items()):
            if now - conv.last_seen < idle or self.locks.busy(key):
                continue
            async with self.locks.hold(key):  # the reporter's next update waits for the erase
                await self._time_out(key, conv, now)
            ended += 1
        for key, leftover in list(self.leftovers.items()):
            if leftover.expires <= now:
                self.leftovers.pop_key(key)
                await self._forget(leftover.erase_key)
        self.limits.forget_idle()
        if self.cover is not None:
            self.cover.attempts.forget_idle()
        if self.receipts is not None:
            await self.receipts.sweep()
        if ended:
            log.info("idle_conversations_ended", extra={"fields": {"count": ended}})
        return ended

    async def _time_out(self, key: Pseudonym, conv: Conversation, now: float) -> None:
        """End an idle conversation: keep its answers; in cover mode erase its chat now and leave
        the phrasebook; what is not erased waits for the reporter as a :class:`Leftover`."""
        popped = self.conversations.pop_key(key)
        if popped is not None and popped is not conv:  # replaced meanwhile: that one is fresh
            self.conversations.put_key(key, popped)
        kept = conv.draft is not None
        ids = list(conv.message_ids)
        await self.save(conv)
        try:
            await self._close_unattended(conv)
        except Exception as exc:
            log.error("idle_close_failed", extra={"fields": {"exc_type": exception_types(exc)}})
        if ids and conv.chat is not None:
            ids = await self._erase_unattended(conv, ids, everything=True)
        conv.chat = None
        if ids:
            leftover = Leftover(ids, kept, now + LEFTOVER_SECONDS, conv.erase_key)
            for pushed in self.leftovers.put_key(key, leftover):
                self._orphan(pushed.erase_key, pushed.message_ids, set())

    async def _erase_unattended(
        self, conv: Conversation, ids: Sequence[int], *, everything: bool
    ) -> list[int]:
        """Cover mode, nobody writing (the idle timeout, a stop): open the conversation's chat
        handle, delete ``ids`` and leave the phrasebook's first screen. Returns the ids that
        could not be deleted (the fallback's: they go at the reporter's next message).
        ``everything``: the store forgets the whole conversation once all went (else only
        ``ids``: a receipt kept on screen stays noted)."""
        handle, conv.chat = conv.chat, None
        if handle is None or self.bot is None or self.cover is None:
            return list(ids)
        if not ids:
            return []
        chat_id = self.handles.open(handle)
        # a private chat's id is its reporter's user id; nothing here looks the reporter up
        turn = Turn(self.bot, chat_id, chat_id, conv, conv.lang or self.languages[0])
        failed = await turn.delete(ids)
        done = [m for m in ids if m not in failed]
        await self._forget(conv.erase_key, None if everything and not failed else done)
        try:
            await self.cover.home(turn)
        except TelegramError as exc:  # erased all the same; the phrasebook shows at the next
            log.warning("cover_home_failed", extra={"fields": {"exc_type": exception_types(exc)}})
        return failed

    async def _erase_at_stop(self, convs: Sequence[Conversation]) -> None:
        """Cover mode, at a graceful stop: erase every open conversation's chat (all but a
        receipt not yet noted, as after a restart) and leave the phrasebook, all together and
        for at most :data:`ERASE_AT_STOP_SECONDS`. What does not fit stays in the store's
        journal, erased at the reporter's next message after the restart."""
        if not convs:
            return
        erasures = [
            self._erase_unattended(
                c, [m for m in c.message_ids if m not in c.kept], everything=False
            )
            for c in convs
        ]
        try:
            async with asyncio.timeout(ERASE_AT_STOP_SECONDS):
                await asyncio.gather(*erasures, return_exceptions=True)
        except TimeoutError:
            log.warning("erase_at_stop_unfinished", extra={"fields": {"count": len(convs)}})
        finally:
            for conv in convs:
                conv.chat = None
        log.info("erased_at_stop", extra={"fields": {"count": len(convs)}})

    async def rotate_keys(self, context: ContextTypes.DEFAULT_TYPE | None = None) -> None:
        self.keys.rotate()
        for conv in self.conversations.drop_unreachable():
            await self._evicted(conv)
        for leftover in self.leftovers.drop_unreachable():
            self._orphan(leftover.erase_key, leftover.message_ids, set())
        log.info("pseudonym_key_rotated")

    async def close_all(self) -> None:
        """At shutdown: keep every open report's answers (closed as interrupted).

        Their message ids are in the store, and the reporter's next message after the restart
        erases them. In cover mode the chats are erased first, now, through their sealed chat
        handles, within :data:`ERASE_AT_STOP_SECONDS` (:meth:`_erase_at_stop`). Last words whose
        deletion is pending are deleted then, all at once and for at most
        :data:`LAST_WORDS_AT_STOP_SECONDS`: the answers come first, and a Telegram that does not
        answer must not hold the stop past systemd's stop timeout.
        """
        open_chats: list[Conversation] = []
        for key, conv in list(self.conversations.items()):
            self.conversations.pop_key(key)
            await self.save(conv)
            await self._close_unattended(conv)
            if conv.chat is not None:
                open_chats.append(conv)
        if self.receipts is not None:
            await self.receipts.close_all()
        await self._erase_at_stop(open_chats)
        waiting = list(self._last_words.items())
        self._last_words.clear()
        for task, _ in waiting:
            task.cancel()
        deletions = [self._delete_now(*held) for _, held in waiting]
        try:
            await asyncio.wait_for(asyncio.gather(*deletions), LAST_WORDS_AT_STOP_SECONDS)
        except TimeoutError:
            log.warning("last_words_left_at_stop", extra={"fields": {"count": len(waiting)}})

    # ==== words ====
    async def _complain(self, turn: Turn, text_id: str, **values: int) -> None:
        await turn.tell(self.render.ui_text(turn.lang, text_id, **values))
