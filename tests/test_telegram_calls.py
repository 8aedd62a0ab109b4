"""The bot's raw sends and edits (handlers.telegram_calls) are the calls PTB's methods made.

The answer is read as JSON (only the message id), but the request must be the same: the same
parameters under the bot's ``Defaults`` (protected, no link preview), never a parse_mode whatever
``Defaults`` say, through the send scheduler with its chat, and PTB's own exception types for
Telegram's refusals (the handlers' ``except`` clauses rely on them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Defaults, ExtBot

from bot.delivery.outbox import retry_after_seconds
from bot.delivery.ratelimit import FairSendScheduler
from handlers.telegram_calls import (
    InlineKeyboard,
    Keyboard,
    RawResultBot,
    answer_query,
    edit_text,
    send_text,
)
from tests.bot_support import TEST_TOKEN, running_bot
from tests.botclient import JSON, BotApiError, FakeTelegram, RecordingRequest

CHAT = 5_550_123
KEYBOARD: InlineKeyboard = {
    "inline_keyboard": [
        [
            {"text": "Да", "callback_data": "cAbc:q:yes"},
            {"text": "Нет", "callback_data": "cAbc:q:no"},
        ],
        [{"text": "Выход", "callback_data": "xAbc"}],
    ]
}


def ptb_markup(markup: InlineKeyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in markup["inline_keyboard"]
        ]
    )


def without_id(params: JSON) -> JSON:
    return {k: v for k, v in params.items() if k != "message_id"}


async def test_raw_send_and_edit_send_what_ptbs_methods_sent_with_the_bots_defaults(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        tg, ptb = bot.telegram, bot.app.bot
        tg.chat(CHAT)
        sent = await ptb.send_message(
            CHAT, "текст", reply_markup=ptb_markup(KEYBOARD), protect_content=True, parse_mode=None
        )
        await ptb.edit_message_text(
            "другой", chat_id=CHAT, message_id=sent.message_id, reply_markup=None, parse_mode=None
        )
        mid = await send_text(ptb, CHAT, "текст", Keyboard.of(KEYBOARD))
        await edit_text(ptb, CHAT, mid, "другой", None)
        ptb_send, ptb_edit, raw_send, raw_edit = tg.calls[-4:]
        assert [c.method for c in (ptb_send, raw_send)] == ["sendMessage"] * 2
        assert [c.method for c in (ptb_edit, raw_edit)] == ["editMessageText"] * 2
        assert raw_send.params == ptb_send.params
        assert without_id(raw_edit.params) == without_id(ptb_edit.params)
        assert raw_edit.params["message_id"] == mid != sent.message_id
        assert tg.chat(CHAT).messages[mid].text == "другой"


def raw_bot(telegram: FakeTelegram, **kwargs: Any) -> RawResultBot[Any]:
    return RawResultBot(
        TEST_TOKEN,
        request=RecordingRequest(telegram),
        get_updates_request=RecordingRequest(telegram),
        **kwargs,
    )


async def test_a_raw_answer_to_a_press_sends_what_ptbs_answer_callback_query_sent() -> None:
    tg = FakeTelegram(TEST_TOKEN)
    scheduler = FairSendScheduler()
    async with raw_bot(tg, rate_limiter=scheduler) as bot:
        await bot.answer_callback_query("q1", text="Подождите")
        await answer_query(bot, "q1", "Подождите")
        await bot.answer_callback_query("q2")
        await answer_query(bot, "q2", None)
    ptb_toast, raw_toast, ptb_plain, raw_plain = tg.calls[-4:]
    assert {c.method for c in tg.calls[-4:]} == {"answerCallbackQuery"}
    assert raw_toast.params == ptb_toast.params == {"callback_query_id": "q1", "text": "Подождите"}
    assert raw_plain.params == ptb_plain.params == {"callback_query_id": "q2"}
    assert scheduler.granted == 0  # answers are not sends: they never wait for the limits


async def test_a_parse_mode_in_defaults_never_reaches_a_raw_send() -> None:
    tg = FakeTelegram(TEST_TOKEN)
    tg.chat(CHAT)
    async with raw_bot(tg, defaults=Defaults(parse_mode="HTML")) as bot:
        await bot.send_message(CHAT, "<b>PTB's own method takes the default</b>")
        assert tg.calls[-1].params["parse_mode"] == "HTML"
        mid = await send_text(bot, CHAT, "<b>sent as typed</b>", None)
        await edit_text(bot, CHAT, mid, "<i>edited as typed</i>", Keyboard.of(KEYBOARD))
    for call in tg.calls[-2:]:
        assert "parse_mode" not in call.params
        assert call.params["protect_content"] is True


async def test_raw_sends_and_edits_wait_their_turn_in_the_send_scheduler() -> None:
    tg = FakeTelegram(TEST_TOKEN)
    tg.chat(CHAT)
    scheduler = FairSendScheduler()
    async with raw_bot(tg, rate_limiter=scheduler) as bot:
        mid = await send_text(bot, CHAT, "one", Keyboard.of(KEYBOARD))
        await edit_text(bot, CHAT, mid, "two", Keyboard.of(KEYBOARD))
        assert scheduler.granted == 2  # both counted against the chat's (and the bot's) limits
        assert scheduler.chats_held == 1


@pytest.mark.parametrize(
    ("status", "description", "retry_after", "raised"),
    [
        (400, "Bad Request: message is not modified", None, BadRequest),
        (400, "Bad Request: message to edit not found", None, BadRequest),
        (403, "Forbidden: bot was blocked by the user", None, Forbidden),
        (429, "Too Many Requests: retry after 7", 7, RetryAfter),
    ],
)
async def test_telegrams_refusals_raise_ptbs_exception_types(
    status: int,
    description: str,
    retry_after: int | None,
    raised: type[TelegramError],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as test_bot_lifecycle: PTB 22 warns otherwise
    tg = FakeTelegram(TEST_TOKEN)
    tg.chat(CHAT)
    async with raw_bot(tg) as bot:
        mid = await send_text(bot, CHAT, "one", None)
        for method in ("editMessageText", "sendMessage"):
            tg.fail_next(method, BotApiError(status, description, retry_after))
        with pytest.raises(raised) as edit_error:
            await edit_text(bot, CHAT, mid, "two", None)
        with pytest.raises(raised):
            await send_text(bot, CHAT, "three", None)
    if isinstance(edit_error.value, RetryAfter):
        assert retry_after_seconds(edit_error.value) == retry_after
    else:  # what the handlers test ("not modified" in str(exc).lower())
        assert description.split(": ", 1)[1] in str(edit_error.value).lower()


class NoIdTelegram(FakeTelegram):
    def _m_sendMessage(self, params: JSON) -> JSON:  # noqa: N802 - Bot API method name
        message = super()._m_sendMessage(params)
        del message["message_id"]
        return message


async def test_a_send_answered_without_a_message_id_is_an_error_not_a_wrong_id() -> None:
    tg = NoIdTelegram(TEST_TOKEN)
    tg.chat(CHAT)
    async with raw_bot(tg) as bot:
        with pytest.raises(TelegramError, match="without a message id"):
            await send_text(bot, CHAT, "one", None)


async def test_a_plain_extbot_is_refused_rather_than_posting_another_way() -> None:
    tg = FakeTelegram(TEST_TOKEN)
    tg.chat(CHAT)
    async with ExtBot(TEST_TOKEN, request=RecordingRequest(tg)) as bot:
        with pytest.raises(TypeError, match="RawResultBot"):
            await send_text(bot, CHAT, "one", None)
    assert tg.calls_of("sendMessage") == []


class PollingTelegram(FakeTelegram):
    """A fake whose getUpdates answers with the updates given."""

    def __init__(self, token: str, updates: list[JSON]) -> None:
        super().__init__(token)
        self.pending = updates

    def _m_getUpdates(self, params: JSON) -> list[JSON]:  # noqa: N802 - Bot API method name
        return self.pending


def _pressed_and_typed() -> list[JSON]:
    echoed = {
        "inline_keyboard": [
            [{"text": f"Вариант {n}", "callback_data": f"cAbc:q:{n}"}] for n in range(20)
        ]
    }
    reporter = {"id": CHAT, "is_bot": False, "first_name": "R", "language_code": "ru"}
    chat = {"id": CHAT, "type": "private", "first_name": "R"}
    return [
        {
            "update_id": 1,
            "callback_query": {
                "id": "q1",
                "chat_instance": "ci",
                "data": "cAbc:q:7",
                "from": reporter,
                "message": {
                    "message_id": 9,
                    "date": 1_700_000_000,
                    "chat": chat,
                    "text": "Вопрос",
                    "reply_markup": echoed,
                },
            },
        },
        {
            "update_id": 2,
            "message": {
                "message_id": 10,
                "date": 1_700_000_001,
                "chat": chat,
                "from": reporter,
                "text": "ответ",
            },
        },
    ]


async def test_a_pressed_buttons_echoed_keyboard_is_not_rebuilt_when_updates_are_read() -> None:
    """Telegram sends a press back with the whole message it was on, keyboard included; the bot
    reads the press (its data, the message id and chat) and never that keyboard, so its 20
    buttons are not parsed into objects on every press (CPU per step, issue 13.5). Plain PTB,
    on the same answer, does build them: the comparison is what makes this test able to fail."""
    async with raw_bot(PollingTelegram(TEST_TOKEN, _pressed_and_typed())) as bot:
        pressed, typed = await bot.get_updates()
    query = pressed.callback_query
    assert query is not None
    assert isinstance(query.message, Message)
    assert (query.data, query.message.message_id, query.message.chat.id) == ("cAbc:q:7", 9, CHAT)
    assert query.message.text == "Вопрос"
    assert query.message.reply_markup is None
    assert typed.message is not None
    assert typed.message.text == "ответ"

    same_answer = PollingTelegram(TEST_TOKEN, _pressed_and_typed())
    plain = ExtBot(
        TEST_TOKEN,
        request=RecordingRequest(same_answer),
        get_updates_request=RecordingRequest(same_answer),
    )
    async with plain:
        [ptb_pressed, _] = await plain.get_updates()
    assert ptb_pressed.callback_query is not None
    ptb_message = ptb_pressed.callback_query.message
    assert isinstance(ptb_message, Message)
    assert ptb_message.reply_markup is not None
    assert len(ptb_message.reply_markup.inline_keyboard) == 20
