"""Groups, supergroups and channels: say once that the bot works only in private, then leave.

The analyst channel (``settings.channel_id``) is the one chat the bot stays in; its posts are the
digest sender's business (issue 6), not a reporter's conversation.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.ops.logging import exception_types
from handlers.pseudonyms import PseudonymKeys, PseudonymMap
from handlers.render import Renderer

log = logging.getLogger("handlers.groups")

NOT_PRIVATE = frozenset({ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL})
_GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})


class GroupChats:
    def __init__(
        self,
        renderer: Renderer,
        keys: PseudonymKeys,
        languages: tuple[str, ...],
        channel_id: int | None,
        capacity: int = 10_000,
    ) -> None:
        self.render = renderer
        self.languages = languages
        self.channel_id = channel_id
        self._told: PseudonymMap[bool] = PseudonymMap(keys, capacity)

    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type not in NOT_PRIVATE:
            return
        if self.channel_id is not None and chat.id == self.channel_id:
            return
        member = update.my_chat_member
        if member is not None and member.new_chat_member.status in _GONE:
            self._told.pop(chat.id)
            return  # removed or left: nothing to say, nowhere to say it
        if self._told.get(chat.id):
            return
        self._told.put(chat.id, True)
        # a channel is not a group: the notice names what it was posted in
        notice = (
            "ui.group.private_only_channel"
            if chat.type == ChatType.CHANNEL
            else ("ui.group.private_only")
        )
        text = self.render.all_languages(notice, self.languages)
        try:
            await context.bot.send_message(chat.id, text, protect_content=True, parse_mode=None)
        except TelegramError as exc:  # a channel where the bot may not post, a muted group...
            log.info("group_notice_failed", extra={"fields": {"exc_type": exception_types(exc)}})
        try:
            await context.bot.leave_chat(chat.id)
        except TelegramError as exc:
            log.warning("group_leave_failed", extra={"fields": {"exc_type": exception_types(exc)}})
        log.info("left_non_private_chat", extra={"fields": {"chat_type": str(chat.type)}})
