"""The bot's sends and edits into a chat, as raw Bot API calls: the answer stays JSON.

python-telegram-bot's ``send_message`` and ``edit_message_text`` parse Telegram's answer into a
``Message``, its whole inline keyboard back into ``InlineKeyboardButton`` objects: about a
quarter of the bot's CPU per step (docs/benchmarks.md), for the one thing the bot reads, the
message id. :func:`send_text` and :func:`edit_text` make the same request through the same path
and read only the id:

- :class:`RawResultBot`, the Application's bot (``bot.app`` builds it): an ``ExtBot`` whose one
  addition, :meth:`RawResultBot.post_json`, hands the call to ``ExtBot._post``, what every Bot
  method calls. It drops ``None`` values, and puts PTB
  ``Defaults`` in only where a value is PTB's ``DEFAULT_NONE`` placeholder, which never occurs
  here: every parameter is written out below. Above all there is **no parse_mode**, whatever
  ``Defaults`` say (texts are the reporter's or ours, sent as they are).
- ``ExtBot._do_post``: our send scheduler (``bot.delivery.ratelimit``) gets the call with its
  endpoint and its ``chat_id``, exactly as for ``send_message``: the same per-chat fairness and
  429 handling.
- Errors are PTB's own (the request layer raises them): ``BadRequest`` ("message is not
  modified", "message to edit not found"), ``Forbidden``, ``RetryAfter``, ``NetworkError``.

The parameters are those PTB's methods sent with the bot's ``Defaults`` (protected content, no
link previews; tests/test_telegram_calls.py compares them), and the keyboard is the JSON
Telegram wants, as text (:class:`Keyboard`, built and serialized once per screen by
``handlers.render``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypedDict, TypeVar
from urllib.parse import quote_plus

from telegram._utils.defaultvalue import DEFAULT_NONE  # _post's own signature, overridden below
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import TelegramError
from telegram.ext import ExtBot

from handlers.forms import FORM_SAFE, JsonText

Bot = ExtBot[None]

RL = TypeVar("RL")


def without_echoed_keyboard(update: dict[str, Any]) -> dict[str, Any]:
    """``update`` as the bot reads it: a pressed button's update without the inline keyboard
    Telegram echoes back in ``callback_query.message``.

    The bot never reads that keyboard (the press carries its own callback data, and the screen
    is the engine's), yet ``Update.de_json`` would rebuild its 10-25 buttons as objects on every
    press: two thirds of parsing such an update (docs/benchmarks.md). Everything else stays.
    ``update`` is not changed; a new dict is returned only when there is a keyboard to drop."""
    query = update.get("callback_query")
    if not isinstance(query, dict):
        return update
    message = query.get("message")
    if not isinstance(message, dict) or "reply_markup" not in message:
        return update
    lean = {key: value for key, value in message.items() if key != "reply_markup"}
    return {**update, "callback_query": {**query, "message": lean}}


class RawResultBot(ExtBot[RL], Generic[RL]):
    """``ExtBot`` that can make a call and hand back Telegram's answer as JSON, unparsed, and
    that reads updates without the keyboards Telegram echoes back
    (:func:`without_echoed_keyboard`)."""

    __slots__ = ()

    async def _post(
        self,
        endpoint: str,
        data: JSONDict | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> Any:
        """Every call, as ``Bot._post``; ``getUpdates``' answer is made lean before PTB parses it
        (``Bot.get_updates`` hands it straight to ``Update.de_list``)."""
        result = await super()._post(
            endpoint,
            data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        if endpoint == "getUpdates" and isinstance(result, list):
            return [
                without_echoed_keyboard(update) if isinstance(update, dict) else update
                for update in result
            ]
        return result

    async def post_json(self, endpoint: str, data: dict[str, object]) -> object:
        """Bot API method ``endpoint`` with ``data``, the way every Bot method posts (``_post``:
        Defaults for PTB's placeholders only, then ``_do_post``: the rate limiter)."""
        result: object = await self._post(endpoint, data)
        return result


async def _post(bot: Bot, endpoint: str, data: dict[str, object]) -> object:
    if not isinstance(bot, RawResultBot):
        raise TypeError("the bot must be a handlers.telegram_calls.RawResultBot (bot.app)")
    return await bot.post_json(endpoint, data)


class InlineButton(TypedDict):
    """One inline button as the Bot API takes it (``InlineKeyboardButton``)."""

    text: str
    callback_data: str


class InlineKeyboard(TypedDict):
    """``reply_markup`` of a message with inline buttons (``InlineKeyboardMarkup``)."""

    inline_keyboard: Sequence[Sequence[InlineButton]]


@dataclass(frozen=True, slots=True, eq=False)
class Keyboard:
    """An inline keyboard as the Bot API takes it: its JSON text, with the text's form
    encoding made with it (``handlers.forms.JsonText``). PTB would build button objects and
    dump and quote them on every call; this text goes out as it is, the same bytes over HTTP."""

    json: JsonText

    @classmethod
    def of(cls, buttons: InlineKeyboard) -> Keyboard:
        return cls(JsonText.of(json.dumps(buttons)))

    @property
    def buttons(self) -> InlineKeyboard:
        """The buttons, read back from the JSON (for tests; never sent)."""
        parsed: InlineKeyboard = json.loads(self.json)
        return parsed


ButtonParts = tuple[str, str, str]
"""A button without the conversation's nonce: label, then its ``callback_data`` before and
after the nonce."""


@dataclass(frozen=True, slots=True, eq=False)
class KeyboardTemplate:
    """A keyboard whose buttons' ``callback_data`` each wait for the conversation's nonce: its
    JSON text cut where the nonces go, and the same cuts quoted as a form field. Made once per
    screen and language (``handlers.render``); :meth:`keyboard` splices a nonce into both.

    Splicing is sound because JSON escaping and form quoting each work character by character
    and leave a nonce's characters (``handlers.forms.FORM_SAFE``) as they are: the result is
    ``json.dumps`` of the buttons with that nonce, and ``quote_plus`` of that text
    (tests/test_forms.py checks this for any labels and payloads; every call of every
    ``running_bot`` test is also checked against httpx's encoding, ``tests.botclient``)."""

    json_parts: tuple[str, ...]
    form_parts: tuple[str, ...]

    @classmethod
    def of(cls, rows: Sequence[Sequence[ButtonParts]]) -> KeyboardTemplate:
        parts: list[str] = []
        run = ['{"inline_keyboard": [']
        for r, row in enumerate(rows):
            run.append(", [" if r else "[")
            for b, (label, head, tail) in enumerate(row):
                if b:
                    run.append(", ")
                run += [
                    '{"text": ',
                    json.dumps(label),
                    ', "callback_data": ',
                    json.dumps(head)[:-1],
                ]
                parts.append("".join(run))
                run = [json.dumps(tail)[1:], "}"]
            run.append("]")
        run.append("]}")
        parts.append("".join(run))
        return cls(tuple(parts), tuple(quote_plus(part) for part in parts))

    def keyboard(self, nonce: str) -> Keyboard:
        if not nonce or not FORM_SAFE.issuperset(nonce):
            raise ValueError("a nonce is made of characters that need no escaping")
        return Keyboard(JsonText(nonce.join(self.json_parts), nonce.join(self.form_parts)))


NO_LINK_PREVIEW: Final = JsonText.of(json.dumps({"is_disabled": True}))
"""``link_preview_options`` of every message: the bot's ``Defaults`` (bot.app), as the JSON text
PTB sends for them, dumped and quoted once."""


def _params(text: str, markup: Keyboard | None) -> dict[str, object]:
    params: dict[str, object] = {
        "text": text,
        "link_preview_options": NO_LINK_PREVIEW,
        "protect_content": True,
    }
    if markup is not None:
        params["reply_markup"] = markup.json
    return params


async def send_text(bot: Bot, chat_id: int, text: str, markup: Keyboard | None) -> int:
    """sendMessage (protected, no parse_mode, no link preview); the new message's id."""
    data = {"chat_id": chat_id, **_params(text, markup)}
    result = await _post(bot, "sendMessage", data)
    if isinstance(result, dict):
        message_id = result.get("message_id")
        if isinstance(message_id, int) and not isinstance(message_id, bool):
            return message_id
    raise TelegramError("sendMessage answered without a message id")


async def edit_text(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: Keyboard | None
) -> None:
    """editMessageText of one of the bot's messages in ``chat_id`` (no parse_mode)."""
    data = {"chat_id": chat_id, "message_id": message_id, **_params(text, markup)}
    await _post(bot, "editMessageText", data)


async def answer_query(bot: Bot, query_id: str, text: str | None) -> None:
    """answerCallbackQuery: the pressed button stops spinning, with ``text`` as its toast."""
    data: dict[str, object] = {"callback_query_id": query_id}
    if text is not None:
        data["text"] = text
    await _post(bot, "answerCallbackQuery", data)
