"""A Bot API that lives in memory, and a reporter who talks to the real Application through it.

:class:`FakeTelegram` answers Bot API methods the way Telegram does (the shapes python-telegram-bot
parses), keeps every chat's messages so a test can ask which are still on the reporter's screen,
and records every call. A method it does not know is recorded in ``unexpected`` and answered with
an error: tests assert that list stays empty, so an unplanned call fails the test.

:class:`RecordingRequest` is the ``BaseRequest`` the Application is built with; it hands each call
to FakeTelegram without any network. :class:`ReporterClient` builds Updates (``send("/start")``,
``click("Русский")``, ``send_photo(...)``) and drives ``Application.process_update``.

The same FakeTelegram serves the end-to-end test over real HTTP (``tests/fake_bot_api_server.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from handlers.forms import form_body

JSON = dict[str, Any]

BOT_ID = 7_000_000_001
BOT_USERNAME = "reportbot_test_bot"


@dataclass
class Call:
    """One Bot API call as the bot made it."""

    method: str
    params: JSON

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None


DELETE_WINDOW_SECONDS = 48 * 3600
"""A bot may delete a message for 48 hours after it was sent."""


@dataclass
class ChatMessage:
    message_id: int
    from_bot: bool
    text: str | None
    reply_markup: JSON | None = None
    kind: str = "text"
    sent_at: float = field(default_factory=time.time)


@dataclass
class Deletion:
    """One message the bot deleted: where, which, and what it said."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str | None


@dataclass
class FakeChat:
    """One chat. Private chats take their message ids from one counter shared by all of the
    bot's private chats (Telegram numbers private-chat messages per account, so one id is never
    in two of the bot's private chats); groups and channels count their own."""

    chat_id: int
    chat_type: str = "private"
    next_id: int = 1
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    left: bool = False
    counter: Callable[[], int] | None = None

    def new_id(self) -> int:
        if self.counter is not None:
            return self.counter()
        value = self.next_id
        self.next_id += 1
        return value


class BotApiError(Exception):
    """An error the fake answers with: (HTTP status, description, optional retry_after)."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class FakeTelegram:
    """The Bot API's behaviour for the methods the bot uses."""

    KNOWN = frozenset(
        {
            "getMe",
            "sendMessage",
            "editMessageText",
            "editMessageReplyMarkup",
            "deleteMessage",
            "deleteMessages",
            "answerCallbackQuery",
            "getFile",
            "setMyCommands",
            "setMyDescription",
            "setMyShortDescription",
            "leaveChat",
            "getUpdates",
            "deleteWebhook",
            "setWebhook",
            "close",
            "logOut",
        }
    )

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.unexpected: list[str] = []
        self.misencoded: list[str] = []
        """Methods whose form body (``handlers.forms.form_body``, what the bot's ``FormRequest``
        sends) differed from httpx's encoding of the same call (``RecordingRequest`` checks)."""
        self.chats: dict[int, FakeChat] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.downloads: list[str] = []
        self.failures: dict[str, list[BotApiError]] = {}
        self.deletions: list[Deletion] = []
        self.clock: Callable[[], float] = time.time
        self._private_ids = itertools.count(1)
        self._file_seq = itertools.count(1)
        self._update_seq = itertools.count(1)
        self.bot_user: JSON = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Report",
            "username": BOT_USERNAME,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def talk_elsewhere(self, messages: int) -> range:
        """As if the bot had exchanged ``messages`` messages in other private chats: the shared
        counter moves on; returns the ids those messages took (in no chat here)."""
        taken = [next(self._private_ids) for _ in range(messages)]
        return range(taken[0], taken[-1] + 1) if taken else range(0)

    # --- state a test inspects ----------------------------------------------------------------
    def chat(self, chat_id: int, chat_type: str = "private") -> FakeChat:
        if chat_id not in self.chats:
            counter = self._private_ids.__next__ if chat_type == "private" else None
            self.chats[chat_id] = FakeChat(chat_id=chat_id, chat_type=chat_type, counter=counter)
        return self.chats[chat_id]

    def visible(self, chat_id: int) -> list[ChatMessage]:
        """What is still on the screen of this chat, oldest first (both directions)."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [chat.messages[mid] for mid in sorted(chat.messages)]

    def deleted(self, chat_id: int | None = None) -> list[Deletion]:
        """Every message the bot deleted (in this chat), in the order it deleted them."""
        return [d for d in self.deletions if chat_id is None or d.chat_id == chat_id]

    def age(self, chat_id: int, seconds: float) -> None:
        """Make every message now in this chat ``seconds`` older (for the 48-hour limit)."""
        for msg in self.chats[chat_id].messages.values():
            msg.sent_at -= seconds

    def _deletable(self, msg: ChatMessage) -> bool:
        return self.clock() - msg.sent_at < DELETE_WINDOW_SECONDS

    def _remove(self, chat: FakeChat, message_id: int) -> None:
        msg = chat.messages.pop(message_id)
        self.deletions.append(Deletion(chat.chat_id, message_id, msg.from_bot, msg.text))

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == chat_id)
        ]

    def fail_next(self, method: str, error: BotApiError, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend([error] * times)

    def add_file(self, content: bytes, path_prefix: str = "documents") -> tuple[str, str]:
        """Store a file the reporter sent; returns (file_id, file_unique_id)."""
        n = next(self._file_seq)
        file_id = f"FILE{n:06d}"
        self.files[file_id] = (f"{path_prefix}/file_{n}.bin", content)
        return file_id, f"U{n:06d}"

    def next_update_id(self) -> int:
        return next(self._update_seq)

    # --- the API ----------------------------------------------------------------------------------
    def handle(self, method: str, params: JSON) -> tuple[int, JSON]:
        """Answer one call: (HTTP status, Bot API JSON body)."""
        if method != "getUpdates":
            self.calls.append(Call(method, params))
        queued = self.failures.get(method)
        if queued:
            err = queued.pop(0)
            body: JSON = {"ok": False, "error_code": err.status, "description": err.description}
            if err.retry_after is not None:
                body["parameters"] = {"retry_after": err.retry_after}
            return err.status, body
        if method not in self.KNOWN:
            self.unexpected.append(method)
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method"}
        handler = getattr(self, f"_m_{method}")
        try:
            result = handler(params)
        except BotApiError as err:
            return err.status, {
                "ok": False,
                "error_code": err.status,
                "description": err.description,
            }
        return 200, {"ok": True, "result": result}

    def download(self, file_path: str) -> tuple[int, bytes]:
        self.downloads.append(file_path)
        for stored_path, content in self.files.values():
            if stored_path == file_path:
                return 200, content
        return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'

    def _message_json(self, chat: FakeChat, msg: ChatMessage) -> JSON:
        data: JSON = {
            "message_id": msg.message_id,
            "date": int(time.time()),
            "chat": {"id": chat.chat_id, "type": chat.chat_type},
            "from": self.bot_user,
        }
        if msg.text is not None:
            data["text"] = msg.text
        if msg.reply_markup is not None:
            data["reply_markup"] = msg.reply_markup
        return data

    def _chat_for(self, params: JSON) -> FakeChat:
        chat_id = int(params["chat_id"])
        chat = self.chat(chat_id)
        if chat.left:
            raise BotApiError(403, "Forbidden: bot is not a member of the chat")
        return chat

    def _m_getMe(self, params: JSON) -> JSON:  # noqa: N802 - Bot API method name
        return self.bot_user

    def _m_sendMessage(self, params: JSON) -> JSON:  # noqa: N802 - Bot API method name
        chat = self._chat_for(params)
        text = str(params["text"])
        if not text or len(text) > 4096:
            raise BotApiError(400, "Bad Request: message text is empty or too long")
        markup = params.get("reply_markup")
        _check_markup(markup)
        msg = ChatMessage(chat.new_id(), True, text, markup if isinstance(markup, dict) else None)
        chat.messages[msg.message_id] = msg
        return self._message_json(chat, msg)

    def _m_editMessageText(self, params: JSON) -> JSON:  # noqa: N802 - Bot API method name
        chat = self._chat_for(params)
        msg = chat.messages.get(int(params["message_id"]))
        if msg is None or not msg.from_bot:
            raise BotApiError(400, "Bad Request: message to edit not found")
        text = str(params["text"])
        if not text or len(text) > 4096:
            raise BotApiError(400, "Bad Request: message text is empty or too long")
        markup = params.get("reply_markup")
        _check_markup(markup)
        if text == msg.text and markup == msg.reply_markup:
            raise BotApiError(400, "Bad Request: message is not modified")
        msg.text = text
        msg.reply_markup = markup if isinstance(markup, dict) else None
        return self._message_json(chat, msg)

    def _m_editMessageReplyMarkup(self, params: JSON) -> JSON:  # noqa: N802 - Bot API method name
        chat = self._chat_for(params)
        msg = chat.messages.get(int(params["message_id"]))
        if msg is None or not msg.from_bot:
            raise BotApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        msg.reply_markup = markup if isinstance(markup, dict) else None
        return self._message_json(chat, msg)

    def _m_deleteMessage(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        chat = self._chat_for(params)
        mid = int(params["message_id"])
        msg = chat.messages.get(mid)
        if msg is None:
            raise BotApiError(400, "Bad Request: message to delete not found")
        if not self._deletable(msg):
            raise BotApiError(400, "Bad Request: message can't be deleted")
        self._remove(chat, mid)
        return True

    def _m_deleteMessages(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        chat = self._chat_for(params)
        ids = params["message_ids"]
        if isinstance(ids, str):
            ids = json.loads(ids)
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise BotApiError(400, "Bad Request: message_ids must hold 1-100 ids")
        for mid in ids:
            msg = chat.messages.get(int(mid))
            # ids that are not in this chat, and messages older than 48 hours, are skipped
            if msg is not None and self._deletable(msg):
                self._remove(chat, int(mid))
        return True

    def _m_answerCallbackQuery(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise BotApiError(400, "Bad Request: callback answer text is too long")
        return True

    def _m_getFile(self, params: JSON) -> JSON:  # noqa: N802 - Bot API method name
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise BotApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        if len(content) > 20 * 1024 * 1024:
            raise BotApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": "U" + file_id,
            "file_size": len(content),
            "file_path": path,
        }

    def _m_setMyCommands(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        commands = params["commands"]
        if isinstance(commands, str):
            commands = json.loads(commands)
        for cmd in commands:
            if not 1 <= len(cmd["command"]) <= 32 or not 1 <= len(cmd["description"]) <= 256:
                raise BotApiError(400, "Bad Request: bad command")
        return True

    def _m_setMyDescription(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        if len(str(params.get("description", ""))) > 512:
            raise BotApiError(400, "Bad Request: description is too long")
        return True

    def _m_setMyShortDescription(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        if len(str(params.get("short_description", ""))) > 120:
            raise BotApiError(400, "Bad Request: short description is too long")
        return True

    def _m_leaveChat(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        chat = self._chat_for(params)
        chat.left = True
        return True

    def _m_getUpdates(self, params: JSON) -> list[JSON]:  # noqa: N802 - Bot API method name
        return []  # the HTTP server answers long polls itself; in-process tests never poll

    def _m_deleteWebhook(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        return True

    def _m_setWebhook(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        return True

    def _m_close(self, params: JSON) -> bool:
        return True

    def _m_logOut(self, params: JSON) -> bool:  # noqa: N802 - Bot API method name
        return True


def _check_markup(markup: object) -> None:
    """Telegram refuses callback_data over 64 bytes and buttons without text."""
    if not isinstance(markup, dict):
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise BotApiError(400, "Bad Request: button text is empty")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def split_bot_url(url: str) -> tuple[str, str]:
    """Which call a URL is.

    ``.../bot<token>/<method>`` -> ("api", method);
    ``.../file/bot<token>/<path>`` -> ("file", path).
    """
    path = unquote(urlsplit(url).path)
    if "/file/bot" in path:
        rest = path.split("/file/bot", 1)[1]
        return "file", rest.split("/", 1)[1] if "/" in rest else ""
    rest = path.split("/bot", 1)[1]
    return "api", rest.split("/", 1)[1] if "/" in rest else ""


class RecordingRequest(BaseRequest):
    """A ``BaseRequest`` that hands every call to a FakeTelegram; no network at all.

    Every call without files is also encoded as the bot sends it over HTTP
    (``handlers.forms.form_body``) and compared with httpx's encoding of PTB's form data: a
    difference is kept in ``FakeTelegram.misencoded`` (``running_bot`` fails on it).
    ``check_encoding=False``: no such check (the benchmarks time their own encoding)."""

    def __init__(
        self, telegram: FakeTelegram, delay: float = 0.0, *, check_encoding: bool = True
    ) -> None:
        self.telegram = telegram
        self.delay = delay
        self.check_encoding = check_encoding

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    @staticmethod
    def _misencoded(request_data: RequestData) -> bool:
        if request_data.contains_files:
            return False
        return form_body(request_data) != urlencode(request_data.json_parameters).encode()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self.delay:
            await asyncio.sleep(self.delay)
        kind, rest = split_bot_url(url)
        if kind == "file":
            return self.telegram.download(rest)
        params = dict(request_data.parameters) if request_data is not None else {}
        if self.check_encoding and request_data is not None and self._misencoded(request_data):
            self.telegram.misencoded.append(rest)
        for name in ("reply_markup", "link_preview_options"):
            text = params.get(name)
            if isinstance(text, str):  # JSON text (handlers.telegram_calls), as over HTTP
                params[name] = json.loads(text)
        status, body = self.telegram.handle(rest, params)
        return status, json.dumps(body).encode()


# --- the reporter's side --------------------------------------------------------------------------


@dataclass
class Person:
    user_id: int = 5_550_001
    first_name: str = "Reporter"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "ru"

    def as_json(self) -> JSON:
        data: JSON = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data


class ButtonNotFoundError(AssertionError):
    pass


class ReporterClient:
    """One person in one chat, talking to the real Application."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any] | None,
        telegram: FakeTelegram,
        person: Person | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        transport: Callable[[JSON], Awaitable[None]] | None = None,
    ) -> None:
        """``transport``: how an update reaches the bot (default: ``app.process_update``)."""
        self.app = app
        self.transport = transport
        self.telegram = telegram
        self.person = person or Person()
        self.chat_type = chat_type
        self.chat_id = chat_id if chat_id is not None else self.person.user_id
        self.chat = telegram.chat(self.chat_id, chat_type)
        self.sent_ids: list[int] = []  # the reporter's own messages, in order

    # --- building updates -------------------------------------------------------------------
    def _chat_json(self) -> JSON:
        data: JSON = {"id": self.chat_id, "type": self.chat_type}
        if self.chat_type == "private":
            data["first_name"] = self.person.first_name
            if self.person.username:
                data["username"] = self.person.username
        else:
            data["title"] = "Some group"
        return data

    def _new_message(self, extra: JSON, kind: str, text: str | None = None) -> JSON:
        mid = self.chat.new_id()
        self.chat.messages[mid] = ChatMessage(mid, False, text, kind=kind)
        self.sent_ids.append(mid)
        message: JSON = {"message_id": mid, "date": int(time.time()), "chat": self._chat_json()}
        if self.chat_type != "channel":
            message["from"] = self.person.as_json()
        message.update(extra)
        return message

    async def deliver(self, update: JSON) -> list[Call]:
        """Process one update through the Application; return the calls it made."""
        before = len(self.telegram.calls)
        if self.transport is not None:
            await self.transport(update)
        else:
            assert self.app is not None, "a client needs an app or a transport"
            await self.app.process_update(Update.de_json(update, self.app.bot))
        return self.telegram.calls[before:]

    async def send_message(
        self, message_extra: JSON, kind: str, text: str | None = None
    ) -> list[Call]:
        key = "channel_post" if self.chat_type == "channel" else "message"
        message = self._new_message(message_extra, kind, text)
        return await self.deliver({"update_id": self.telegram.next_update_id(), key: message})

    async def send(self, text: str) -> list[Call]:
        extra: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self.send_message(extra, "text", text)

    async def forward(self, text: str) -> list[Call]:
        origin = {"type": "hidden_user", "sender_user_name": "Somebody", "date": int(time.time())}
        return await self.send_message({"text": text, "forward_origin": origin}, "text", text)

    async def edit(self, message_id: int, text: str) -> list[Call]:
        message: JSON = {
            "message_id": message_id,
            "date": int(time.time()) - 5,
            "edit_date": int(time.time()),
            "chat": self._chat_json(),
            "from": self.person.as_json(),
            "text": text,
        }
        return await self.deliver(
            {"update_id": self.telegram.next_update_id(), "edited_message": message}
        )

    async def _send_file(
        self, key: str, content: bytes, extra: JSON, file_size: int | None, prefix: str
    ) -> list[Call]:
        file_id, unique = self.telegram.add_file(content, prefix)
        size = len(content) if file_size is None else file_size
        body: JSON = {"file_id": file_id, "file_unique_id": unique, "file_size": size, **extra}
        payload: JSON = {key: [body] if key == "photo" else body}
        return await self.send_message(payload, key)

    async def send_photo(self, content: bytes, file_size: int | None = None) -> list[Call]:
        return await self._send_file(
            "photo", content, {"width": 640, "height": 480}, file_size, "photos"
        )

    async def send_voice(self, content: bytes, file_size: int | None = None) -> list[Call]:
        return await self._send_file(
            "voice", content, {"duration": 3, "mime_type": "audio/ogg"}, file_size, "voice"
        )

    async def send_video(self, content: bytes, file_size: int | None = None) -> list[Call]:
        extra = {"duration": 3, "width": 640, "height": 480, "mime_type": "video/mp4"}
        return await self._send_file("video", content, extra, file_size, "videos")

    async def send_document(
        self,
        content: bytes,
        mime_type: str = "application/pdf",
        file_name: str = "paper.pdf",
        file_size: int | None = None,
    ) -> list[Call]:
        extra = {"mime_type": mime_type, "file_name": file_name}
        return await self._send_file("document", content, extra, file_size, "documents")

    async def send_sticker(self) -> list[Call]:
        sticker = {
            "file_id": "STICKER1",
            "file_unique_id": "S1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return await self.send_message({"sticker": sticker}, "sticker")

    async def send_contact(self, phone: str = "+79990000000", name: str = "Friend") -> list[Call]:
        return await self.send_message(
            {"contact": {"phone_number": phone, "first_name": name}}, "contact"
        )

    async def send_location(self) -> list[Call]:
        return await self.send_message(
            {"location": {"latitude": 55.75, "longitude": 37.61}}, "location"
        )

    async def send_poll(self) -> list[Call]:
        poll = {
            "id": "P1",
            "question": "Q?",
            "options": [
                {"text": "a", "voter_count": 0, "persistent_id": "o1"},
                {"text": "b", "voter_count": 0, "persistent_id": "o2"},
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
        return await self.send_message({"poll": poll}, "poll")

    # --- pressing buttons ----------------------------------------------------------------------
    def buttons(self, message_id: int | None = None) -> list[tuple[int, str, str]]:
        """(message_id, label, callback_data) of every button on screen, newest message first."""
        found: list[tuple[int, str, str]] = []
        for mid in sorted(self.chat.messages, reverse=True):
            msg = self.chat.messages[mid]
            if message_id is not None and mid != message_id:
                continue
            if not msg.from_bot or not msg.reply_markup:
                continue
            for row in msg.reply_markup.get("inline_keyboard", []):
                for button in row:
                    if "callback_data" in button:
                        found.append((mid, str(button["text"]), str(button["callback_data"])))
        return found

    def labels(self) -> list[str]:
        """Button labels of the newest message that has buttons."""
        found = self.buttons()
        if not found:
            return []
        newest = found[0][0]
        return [label for mid, label, _ in found if mid == newest]

    def find_button(self, label: str, message_id: int | None = None) -> tuple[int, str]:
        for mid, text, data in self.buttons(message_id):
            if text == label or text.endswith(" " + label) or text.startswith(label + " "):
                return mid, data
        raise ButtonNotFoundError(f"no button {label!r}; on screen: {self.labels()}")

    async def click(self, label: str, message_id: int | None = None) -> list[Call]:
        mid, data = self.find_button(label, message_id)
        return await self.press(mid, data)

    async def press(self, message_id: int, data: str) -> list[Call]:
        """Press a button with exactly this callback_data on this message (also stale ones)."""
        msg = self.chat.messages.get(message_id)
        message: JSON = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat_json(),
            "from": self.telegram.bot_user,
            "text": (msg.text if msg is not None and msg.text else "…"),
        }
        if msg is not None and msg.reply_markup:
            message["reply_markup"] = msg.reply_markup
        query: JSON = {
            "id": str(self.telegram.next_update_id() + 10_000),
            "from": self.person.as_json(),
            "chat_instance": "ci",
            "data": data,
            "message": message,
        }
        return await self.deliver(
            {"update_id": self.telegram.next_update_id(), "callback_query": query}
        )

    # --- what the reporter sees ---------------------------------------------------------------
    def on_screen(self) -> list[ChatMessage]:
        return [self.chat.messages[mid] for mid in sorted(self.chat.messages)]

    def last_text(self) -> str:
        for msg in reversed(self.on_screen()):
            if msg.from_bot and msg.text:
                return msg.text
        return ""


def texts_of(calls: Iterable[Call]) -> list[str]:
    """Every text the bot sent or edited in these calls, and every callback answer's text."""
    out: list[str] = []
    for call in calls:
        if call.method in ("sendMessage", "editMessageText") or (
            call.method == "answerCallbackQuery" and "text" in call.params
        ):
            out.append(str(call.params.get("text", "")))
    return out
