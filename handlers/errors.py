"""The one error handler: log the exception's type and a random incident id, answer calmly.

Nothing of the Update is logged (no ids, names, texts), nor ``str(exception)``: a Telegram error
can quote the text that was sent. The reporter gets ``ui.error.internal`` with the incident id;
in cover mode, outside a report, the phrasebook's ``pb.error`` (no incident, nothing of reports).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes, ExtBot

from bot.ops.logging import exception_types, log_exception
from handlers.private import guess_language
from handlers.render import Renderer

log = logging.getLogger("handlers.errors")


class ErrorReporter:
    def __init__(
        self,
        renderer: Renderer,
        languages: Sequence[str],
        record: Callable[[int, int], None] | None = None,
        resume: Callable[[Update, ExtBot[None]], Awaitable[None]] | None = None,
        covered: Callable[[int, str], str | None] | None = None,
    ) -> None:
        self.render = renderer
        self.languages = tuple(languages)
        self.record = record  # (user id, message id): so a quick exit deletes the notice too
        self.resume = resume  # show the current question again after the notice
        self.covered = covered  # cover mode: (user id, language) -> the phrasebook's word, or None
        self.count = 0

    async def handle(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.count += 1
        error = context.error
        if error is None:  # pragma: no cover - PTB always sets it for error handlers
            return
        incident = log_exception(log, "handler_error", error)
        if not isinstance(update, Update):
            return
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        # The types say int and str, but PTB does not check JSON it parses: an update Telegram
        # never sends (ids of the wrong type, found by the fuzz suite) has nobody to answer, and
        # touching it again would only raise inside this handler.
        ids: tuple[object, ...] = (chat.id, user.id if user is not None else 0)
        if not all(isinstance(value, int) for value in ids):
            return
        code: object = user.language_code if user is not None else None
        lang = guess_language(code if isinstance(code, str) else None, self.languages)
        text = self.render.ui_text(lang, "ui.error.internal", incident=incident)
        if self.covered is not None and user is not None:
            text = self.covered(user.id, lang) or text  # outside a report: the phrasebook's
        try:
            sent = await context.bot.send_message(
                chat.id, text, protect_content=True, parse_mode=None
            )
        except TelegramError as exc:
            log.warning("error_notice_failed", extra={"fields": {"exc_type": exception_types(exc)}})
        else:
            if self.record is not None and user is not None:
                self.record(user.id, sent.message_id)
        if update.callback_query is not None:
            try:
                await update.callback_query.answer()
            except TelegramError:
                log.debug("error_callback_answer_failed")
        if self.resume is not None:
            try:
                await self.resume(update, context.bot)
            except Exception as exc:  # the error handler itself must never raise
                log.warning("resume_failed", extra={"fields": {"exc_type": exception_types(exc)}})
