"""One private update being handled, and the Bot API calls made while handling it.

Every handler of a reporter's chat (``handlers.private``, ``handlers.followup``) answers through
a :class:`Turn`, so every message is sent the same way (protected, no parse_mode: through
``handlers.telegram_calls``, which reads only the message id of Telegram's answer) and recorded
for deletion, every deletion goes in batches, and a pressed button is always answered, before
anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from telegram import CallbackQuery, Message
from telegram.error import BadRequest, TelegramError

from bot.ops.logging import exception_types
from bot.questionnaire.flow import MediaKind
from handlers.render import Screen
from handlers.state import Conversation
from handlers.telegram_calls import Bot as Bot  # re-exported: handlers.private types with it
from handlers.telegram_calls import answer_query, edit_text, send_text

log = logging.getLogger("handlers.turn")

DELETE_BATCH = 100
"""deleteMessages takes 1 to 100 ids per call."""

TOAST_CHARS = 200
"""answerCallbackQuery shows at most 200 characters."""


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file a reporter sent: what kind, where to fetch it, what Telegram says of it."""

    kind: MediaKind
    file_id: str
    size: int | None
    mime_type: str | None


def incoming_file(msg: Message) -> IncomingFile | None:
    """The file in ``msg`` as a media kind, or None (a sticker, a GIF, a contact...)."""
    if msg.photo:
        best = msg.photo[-1]
        return IncomingFile(MediaKind.PHOTO, best.file_id, best.file_size, "image/jpeg")
    if msg.voice is not None:
        v = msg.voice
        return IncomingFile(MediaKind.VOICE, v.file_id, v.file_size, v.mime_type)
    if msg.video is not None:
        vd = msg.video
        return IncomingFile(MediaKind.VIDEO, vd.file_id, vd.file_size, vd.mime_type)
    if msg.video_note is not None:
        vn = msg.video_note
        return IncomingFile(MediaKind.VIDEO, vn.file_id, vn.file_size, "video/mp4")
    if msg.animation is not None:
        return None  # GIFs: not evidence; also carry a ``document`` field, so check first
    if msg.audio is not None:
        a = msg.audio
        return IncomingFile(MediaKind.DOCUMENT, a.file_id, a.file_size, a.mime_type)
    if msg.document is not None:
        d = msg.document
        return IncomingFile(MediaKind.DOCUMENT, d.file_id, d.file_size, d.mime_type)
    return None


@dataclass(slots=True)
class Turn:
    """One update being handled: where to answer, and what is being answered."""

    bot: Bot
    chat_id: int
    user_id: int
    conv: Conversation
    lang: str
    query: CallbackQuery | None = None
    toast: str | None = None
    answered: bool = False
    """The pressed button was answered: at once, before the first send or edit of the turn."""
    extra_ids: list[int] = field(default_factory=list)
    journal: Callable[[Conversation], Awaitable[None]] | None = None
    """Makes a conversation's recorded ids durable in the store (erasing survives a restart):
    awaited before each send and edit, so that a crash never leaves a screen whose earlier
    messages the store does not know."""

    @property
    def query_message_id(self) -> int | None:
        if self.query is None or self.query.message is None:
            return None
        return self.query.message.message_id

    async def say(self, text: str, *, record: bool = True, screen: Screen | None = None) -> int:
        """Send a message (protected, no parse_mode); recorded for deletion unless told not."""
        shown = screen or Screen(text)
        await self.answer_query()
        await self._journaled()
        message_id = await send_text(self.bot, self.chat_id, shown.text, shown.markup)
        if record:
            # noted before the next screen (or at the end of the update), not waited for here
            self.conv.record(message_id)
        return message_id

    async def _journaled(self) -> None:
        """Before a send or an edit: every id recorded so far is durable in the store."""
        if self.journal is not None:
            await self.journal(self.conv)

    async def show(self, screen: Screen, *, edit: bool = True) -> None:
        """Show a screen: edit the prompt the button was on, or send a new message."""
        conv = self.conv
        on_prompt = self.query_message_id == conv.prompt_message_id
        if edit and on_prompt and await self.edit_pressed(screen):
            return
        conv.prompt_message_id = await self.say(screen.text, screen=screen)

    async def edit_pressed(self, screen: Screen) -> bool:
        """Edit the message whose button was pressed into ``screen``, answering the press first
        so that the button never spins meanwhile. False when no button was pressed or its
        message is gone (deleted by the reporter): a new message must be sent instead."""
        target = self.query_message_id
        if target is None:
            return False
        await self.answer_query()
        await self._journaled()
        try:
            await edit_text(self.bot, self.chat_id, target, screen.text, screen.markup)
        except BadRequest as exc:
            return "not modified" in str(exc).lower()
        return True

    async def tell(self, text: str) -> None:
        """A short word: the toast of the pressed button, or a message when none was pressed
        (or the button was already answered, before a screen this turn showed)."""
        if self.query is not None and not self.answered:
            self.toast = text[:TOAST_CHARS]
        else:
            await self.say(text)

    async def answer_query(self) -> None:
        """Answer the pressed button (with the toast, if any), once; an old query is harmless.

        Called before the turn's first send or edit, so the button never spins while that send
        waits its turn under the sending limits (answers are not sends: they never wait)."""
        if self.query is None or self.answered:
            return
        self.answered = True
        try:
            await answer_query(self.bot, self.query.id, self.toast)
        except TelegramError as exc:  # an old query can no longer be answered: harmless
            log.debug(
                "callback_answer_failed", extra={"fields": {"exc_type": exception_types(exc)}}
            )

    async def delete(self, ids: Sequence[int]) -> list[int]:
        """Delete messages of this chat, in batches; a failed batch is logged as a count.
        Returns the ids of the batches that failed (Telegram refused or did not answer)."""
        unique = sorted(set(ids))
        log.debug("erase", extra={"fields": {"messages": len(unique)}})
        failed: list[int] = []
        for start in range(0, len(unique), DELETE_BATCH):
            batch = unique[start : start + DELETE_BATCH]
            try:
                await self.bot.delete_messages(self.chat_id, batch)
            except TelegramError as exc:
                failed += batch
                log.warning(
                    "delete_batch_failed",
                    extra={"fields": {"exc_type": exception_types(exc), "count": len(batch)}},
                )
        return failed
