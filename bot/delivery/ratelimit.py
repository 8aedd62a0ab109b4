"""Our send scheduler in front of the Bot API: Telegram's limits per chat and overall, fair between
chats, a 429 in one chat never holding another.

python-telegram-bot hands every Bot API call to a ``BaseRateLimiter`` (``ExtBot._do_post`` ->
``process_request``). :class:`FairSendScheduler` is ours:

- **What is limited**: calls that put or change a message in a chat (:data:`SENDING_METHODS`:
  sends, edits, copies). Everything else goes straight through: above all
  ``answerCallbackQuery`` (a pressed button stops spinning at once; Telegram does not count it
  against the sending limits), and deletions, ``getFile``, the bot's own settings.
- **The limits** (:class:`SendLimits`), a little under those in Telegram's Bot FAQ ("My bot is
  hitting limits"): about one message per second into one chat with short bursts, 20 a minute
  into one group or channel, about 30 a second overall. Each chat has a token bucket, and so has
  the bot as a whole; a call goes out when both have a token.
- **Fair between chats**: every chat with a call waiting is in a round-robin ring; the next call
  to go out is the oldest waiting call of the next chat in the ring whose bucket has a token.
  One chat's backlog of twenty replies is served one at a time between everyone else's.
- **Priorities** (``rate_limit_args``, :class:`Priority`): a reporter waiting for a reply comes
  before bulk sends (digests, channel checks). Private chats default to ``REPLY``, groups and
  channels to ``BULK``.
- **429**: a ``RetryAfter`` pauses only the chat it came from, for the time Telegram asked; that
  chat's calls wait (in order) and every other chat goes on. The call is retried up to
  ``max_retries`` times, then the ``RetryAfter`` goes back to the caller.

Chats are known to the scheduler by a keyed hash (a random key per process), never by their
Telegram id, and a chat's state is dropped as soon as its bucket is full again and nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.outbox import retry_after_seconds

log = logging.getLogger("bot.delivery.ratelimit")

SENDING_METHODS: Final = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendVideo",
        "sendAudio",
        "sendAnimation",
        "sendVideoNote",
        "sendMediaGroup",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "editMessageMedia",
    }
)
"""Bot API methods that put or change a message in a chat: the ones the limits count."""

SWEEP_SECONDS: Final = 10.0
"""How often chats with nothing waiting and a full bucket are forgotten."""

Result = bool | dict[str, Any] | list[dict[str, Any]]
Callback = Callable[..., Coroutine[Any, Any, Result]]


class Priority(IntEnum):
    """``rate_limit_args`` of a Bot API call: who goes first when the overall limit binds."""

    REPLY = 0
    """Someone is waiting for it (a reporter's next screen)."""
    BULK = 1
    """Nobody is waiting this second (a digest, a channel check, a group's one notice)."""


@dataclass(frozen=True, slots=True)
class SendLimits:
    """Rates the scheduler keeps to: a little under Telegram's, so a 429 is a rare event."""

    private_per_second: float = 0.9
    private_burst: float = 3.0
    group_per_minute: float = 18.0
    group_burst: float = 3.0
    overall_per_second: float = 29.0
    overall_burst: float = 10.0


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    last: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def _refill(self, now: float) -> None:
        if now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0.0: now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst


@dataclass(slots=True, eq=False)
class _Ticket:
    priority: Priority
    granted: asyncio.Future[None]


@dataclass(slots=True, eq=False)
class _Chat:
    key: bytes
    bucket: TokenBucket
    waiting: deque[_Ticket] = field(default_factory=deque)
    paused_until: float = 0.0
    scheduled: bool = False  # in a ring or among the sleepers (at most once)

    def ready_at(self, now: float) -> float:
        return max(self.paused_until, now + self.bucket.wait(now))

    def pause(self, until: float) -> None:
        self.paused_until = max(self.paused_until, until)

    def head_priority(self) -> Priority:
        return self.waiting[0].priority


def _chat_id_of(data: dict[str, Any]) -> int | str | None:
    chat_id = data.get("chat_id")
    if chat_id is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return int(chat_id)
    return str(chat_id)


class FairSendScheduler(BaseRateLimiter[Priority]):
    """Token buckets per chat and overall, round robin between chats, 429s paused per chat."""

    def __init__(
        self,
        limits: SendLimits | None = None,
        *,
        max_retries: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or SendLimits()
        self.max_retries = max_retries
        self._monotonic = monotonic
        self._key = os.urandom(32)
        self._chats: dict[bytes, _Chat] = {}
        self._rings: tuple[deque[_Chat], ...] = tuple(deque() for _ in Priority)
        self._sleepers: list[tuple[float, int, _Chat]] = []
        self._seq = itertools.count()
        self._overall = TokenBucket.full(
            self.limits.overall_per_second, self.limits.overall_burst, monotonic()
        )
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = monotonic()
        self.granted = 0
        self.refused = 0  # 429s seen: should stay a rare event

    # ==== BaseRateLimiter ====
    async def initialize(self) -> None:
        self._start()

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Whatever still waits is let through rather than left hanging.
        for chat in self._chats.values():
            while chat.waiting:
                ticket = chat.waiting.popleft()
                if not ticket.granted.done():
                    ticket.granted.set_result(None)
        self._chats.clear()
        for ring in self._rings:
            ring.clear()
        self._sleepers.clear()

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Priority | None,
    ) -> Result:
        chat_id = _chat_id_of(data)
        if endpoint not in SENDING_METHODS or chat_id is None:
            return await callback(*args, **kwargs)
        is_private = isinstance(chat_id, int) and chat_id > 0
        priority = rate_limit_args
        if priority is None:
            priority = Priority.REPLY if is_private else Priority.BULK
        key = self._chat_key(chat_id)
        for attempt in range(self.max_retries + 1):
            await self._turn(key, is_private, priority, first=attempt == 0)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.refused += 1
                pause = retry_after_seconds(exc)
                log.warning(
                    "send_refused_retry_after",
                    extra={"fields": {"retry_after": pause, "attempt": attempt + 1}},
                )
                if attempt == self.max_retries:
                    raise
                self._chat(key, is_private).pause(self._monotonic() + pause)
        raise AssertionError("unreachable")  # pragma: no cover

    # ==== the queue ====
    def _chat_key(self, chat_id: int | str) -> bytes:
        return hashlib.blake2b(str(chat_id).encode(), key=self._key, digest_size=16).digest()

    def _chat(self, key: bytes, is_private: bool) -> _Chat:
        chat = self._chats.get(key)
        if chat is None:
            now = self._monotonic()
            if is_private:
                bucket = TokenBucket.full(
                    self.limits.private_per_second, self.limits.private_burst, now
                )
            else:
                bucket = TokenBucket.full(
                    self.limits.group_per_minute / 60.0, self.limits.group_burst, now
                )
            chat = self._chats[key] = _Chat(key, bucket)
        return chat

    async def _turn(self, key: bytes, is_private: bool, priority: Priority, *, first: bool) -> None:
        """Wait until this chat's next call may go out; a retry goes first in its chat."""
        self._start()
        chat = self._chat(key, is_private)
        loop = asyncio.get_running_loop()
        ticket = _Ticket(priority, loop.create_future())
        if first:
            chat.waiting.append(ticket)
        else:
            chat.waiting.appendleft(ticket)
        self._schedule(chat, self._monotonic())
        self._wakeup.set()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):
                chat.waiting.remove(ticket)
            raise

    def _schedule(self, chat: _Chat, now: float) -> None:
        """Put a chat with calls waiting in its ring (ready now) or among the sleepers."""
        if chat.scheduled or not chat.waiting:
            return
        chat.scheduled = True
        at = chat.ready_at(now)
        if at <= now:
            self._rings[chat.head_priority()].append(chat)
        else:
            heapq.heappush(self._sleepers, (at, next(self._seq), chat))

    def _wake_due(self, now: float) -> None:
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, chat = heapq.heappop(self._sleepers)
            chat.scheduled = False
            self._schedule(chat, now)

    def _pick(self, now: float) -> _Chat | None:
        """The next chat in round-robin order, highest priority first, that may send now."""
        for priority, ring in zip(Priority, self._rings, strict=True):
            while ring:
                chat = ring.popleft()
                chat.scheduled = False
                while chat.waiting and chat.waiting[0].granted.done():  # cancelled callers
                    chat.waiting.popleft()
                if not chat.waiting:
                    continue
                if chat.ready_at(now) > now or chat.head_priority() is not priority:
                    self._schedule(chat, now)  # paused by a 429, or its head changed ring
                    continue
                return chat
        return None

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="fair-send-scheduler"
            )

    async def _run(self) -> None:
        while True:
            now = self._monotonic()
            self._wake_due(now)
            if now - self._last_sweep >= SWEEP_SECONDS:
                self._sweep(now)
            if not any(self._rings):
                timeout = self._sleepers[0][0] - now if self._sleepers else None
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
                continue
            overall = self._overall.wait(now)
            if overall > 0.0:
                await asyncio.sleep(overall)
                continue
            chat = self._pick(now)
            if chat is None:
                continue
            ticket = chat.waiting.popleft()
            self._overall.take(now)
            chat.bucket.take(now)
            ticket.granted.set_result(None)
            self.granted += 1
            self._schedule(chat, now)

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for key, chat in list(self._chats.items()):
            idle = not chat.waiting and not chat.scheduled and chat.paused_until <= now
            if idle and chat.bucket.is_full(now):
                del self._chats[key]

    @property
    def chats_held(self) -> int:
        """Chats the scheduler holds state for (bounded: idle ones are forgotten).

        Not ``__len__``: ``ExtBot`` tests ``if not self.rate_limiter`` and would skip an empty one.
        """
        return len(self._chats)
