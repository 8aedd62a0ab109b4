"""A fake Bot API over real HTTP on 127.0.0.1, for running ``reportbot run`` as a subprocess.

It serves ``/bot<token>/<method>`` and ``/file/bot<token>/<path>`` with the same
:class:`tests.botclient.FakeTelegram` the in-process tests use, and answers ``getUpdates`` long
polls from a queue the test fills (``push``).

What a test reads: ``visible(chat_id)`` (the messages still on that chat's screen, both
directions, oldest first), ``deleted(chat_id)`` (every message the bot deleted, with its text),
``telegram.calls`` (every call). Deleting follows Telegram: ``deleteMessages`` skips ids that are
not in the chat and messages older than 48 hours (``telegram.age(chat_id, seconds)``);
``deleteMessage`` fails on both. Private chats share one message-id counter, as the bot's
private chats do on Telegram.

With ``limits`` (:class:`RateLimits`) it also enforces Telegram's sending limits the way the Bot
FAQ words them ("My bot is hitting limits"): about one message per second per private chat with
short bursts, 20 per minute per group or channel, about 30 per second overall. A call over a
limit is refused with 429 and ``retry_after`` and counted in ``refused``; it never reaches
:class:`tests.botclient.FakeTelegram`. Without ``limits`` nothing is enforced.

``stall(method, match, handled=...)`` holds the first matching call without an answer, so a test
can kill the bot at that exact point: with ``handled=False`` Telegram never saw the call, with
``handled=True`` Telegram did what was asked (the message is sent, the deletion done) but the bot
never hears back, as when a crash comes between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.botclient import JSON, Call, ChatMessage, Deletion, FakeTelegram


def _value(raw: str) -> Any:
    """Form values arrive as strings; objects and lists are JSON (as PTB sends them)."""
    if raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendVideo",
        "sendAudio",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "editMessageMedia",
    }
)
"""Calls that put or change a message in a chat: the ones Telegram's sending limits count.

``answerCallbackQuery``, deletions, ``getFile`` and the bot's own settings are not sends."""


@dataclass
class _Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    last: float

    def take(self, now: float) -> float:
        """Take one token; 0.0 when taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class RateLimits:
    """Telegram's sending limits as token buckets; a refused call is counted, not answered."""

    private_per_second: float = 1.0
    private_burst: float = 3.0
    group_per_minute: float = 20.0
    group_burst: float = 3.0
    overall_per_second: float = 30.0
    overall_burst: float = 30.0
    monotonic: Callable[[], float] = time.monotonic
    refused: int = 0
    refused_by_chat: dict[int, int] = field(default_factory=dict)
    counted: int = 0
    _chats: dict[int, _Bucket] = field(default_factory=dict)
    _overall: _Bucket | None = None

    def _chat_bucket(self, chat_id: int, now: float) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if chat_id > 0:
                rate, burst = self.private_per_second, self.private_burst
            else:
                rate, burst = self.group_per_minute / 60.0, self.group_burst
            bucket = self._chats[chat_id] = _Bucket(rate, burst, burst, now)
        return bucket

    def check(self, method: str, params: JSON) -> int | None:
        """None when the call may go through, else the ``retry_after`` to answer with."""
        if method not in SENDING_METHODS or "chat_id" not in params:
            return None
        try:
            chat_id = int(params["chat_id"])
        except (TypeError, ValueError):
            return None
        now = self.monotonic()
        if self._overall is None:
            burst = self.overall_burst
            self._overall = _Bucket(self.overall_per_second, burst, burst, now)
        chat = self._chat_bucket(chat_id, now)
        # Look before taking: a refused call must not use up the other bucket's token.
        chat.tokens = min(chat.burst, chat.tokens + (now - chat.last) * chat.rate)
        chat.last = now
        if chat.tokens < 1.0:
            return self._refuse(chat_id, (1.0 - chat.tokens) / chat.rate)
        wait = self._overall.take(now)
        if wait > 0.0:
            return self._refuse(chat_id, wait)
        chat.tokens -= 1.0
        self.counted += 1
        return None

    def _refuse(self, chat_id: int, wait: float) -> int:
        self.refused += 1
        self.refused_by_chat[chat_id] = self.refused_by_chat.get(chat_id, 0) + 1
        return max(1, math.ceil(wait))


@dataclass
class Stall:
    """A call to hold unanswered (see :meth:`FakeBotApiServer.stall`); ``hit`` once it came."""

    method: str
    match: Callable[[JSON], bool]
    handled: bool
    hit: asyncio.Event = field(default_factory=asyncio.Event)


class FakeBotApiServer:
    def __init__(self, telegram: FakeTelegram, limits: RateLimits | None = None) -> None:
        self.telegram = telegram
        self.limits = limits
        self.stalls: list[Stall] = []
        self._stopping = asyncio.Event()
        self.updates: list[JSON] = []
        self._new_update = asyncio.Event()
        self._calls_changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- the test's side --------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_route("GET", "/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the only way to learn the port the OS chose
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()  # held calls end, so shutting down does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    def push(self, update: JSON) -> None:
        self.updates.append(update)
        self._new_update.set()

    async def deliver(self, update: JSON) -> None:
        """Queue an update and wait until the bot has fetched it."""
        self.push(update)
        update_id = int(update["update_id"])
        deadline = time.monotonic() + 15
        while any(int(u["update_id"]) <= update_id for u in self.updates):
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not fetch the update")
            await asyncio.sleep(0.02)

    def visible(self, chat_id: int) -> list[ChatMessage]:
        """What is still on the screen of this chat, oldest first (both directions)."""
        return self.telegram.visible(chat_id)

    def deleted(self, chat_id: int | None = None) -> list[Deletion]:
        """Every message the bot deleted (in this chat), in the order it deleted them."""
        return self.telegram.deleted(chat_id)

    def stall(
        self, method: str, match: Callable[[JSON], bool] = lambda _: True, *, handled: bool
    ) -> Stall:
        """Hold the first call of ``method`` whose params ``match`` without ever answering it
        while the server runs); ``handled``: Telegram carries it out first."""
        stall = Stall(method, match, handled)
        self.stalls.append(stall)
        return stall

    async def wait_for(self, method: str, count: int = 1, within: float = 15.0) -> list[Call]:
        deadline = time.monotonic() + within
        while len(self.telegram.calls_of(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                made = [c.method for c in self.telegram.calls]
                raise AssertionError(f"no {count} x {method} within {within}s; calls: {made}")
            self._calls_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calls_changed.wait(), timeout=min(remaining, 0.2))
        return self.telegram.calls_of(method)

    # --- the bot's side -------------------------------------------------------------------
    async def _params(self, request: web.Request) -> JSON:
        params: JSON = {k: _value(v) for k, v in request.query.items()}
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        params[key] = _value(value)
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.telegram.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        if self.limits is not None:
            retry_after = self.limits.check(method, params)
            if retry_after is not None:
                self._calls_changed.set()
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {retry_after}",
                        "parameters": {"retry_after": retry_after},
                    },
                    status=429,
                )
        stall = next(
            (
                x
                for x in self.stalls
                if x.method == method and not x.hit.is_set() and x.match(params)
            ),
            None,
        )
        if stall is not None and not stall.handled:
            await self._hold(stall)
        status, body = self.telegram.handle(method, params)
        self._calls_changed.set()
        if stall is not None:
            await self._hold(stall)
        return web.json_response(body, status=status)

    async def _hold(self, stall: Stall) -> None:
        stall.hit.set()
        await self._stopping.wait()  # never answered while the server runs

    async def _get_updates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        self.updates = [u for u in self.updates if int(u["update_id"]) >= offset]
        if not self.updates and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=min(timeout, 1.0))
        return [u for u in self.updates if int(u["update_id"]) >= offset]

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.telegram.token:
            return web.Response(status=401)
        status, content = self.telegram.download(request.match_info["path"])
        return web.Response(body=content, status=status)
