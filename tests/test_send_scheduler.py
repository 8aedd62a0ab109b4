"""Our send scheduler (bot.delivery.ratelimit): fair between chats, a 429 pauses one chat only,
replies before bulk sends, and callback answers never wait behind sends.

Each test drives ``FairSendScheduler.process_request`` the way ``ExtBot`` does, with a callback
that records when it ran (and can raise ``RetryAfter``). They assert order and who finished,
not timings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.delivery.ratelimit import FairSendScheduler, Priority, SendLimits

A, B, C, Z = 5_000_001, 5_000_002, 5_000_003, 5_000_009
CHANNEL = -1_001_234_567_890
FAST_CHATS = {"private_per_second": 1000.0, "private_burst": 100.0}


@pytest.fixture(autouse=True)
def _timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as ``reportbot`` runs PTB (bot.cli)


class Recorder:
    def __init__(self) -> None:
        self.ran: list[tuple[str, int | None]] = []
        self.called = asyncio.Event()
        self.refuse: dict[int, int] = {}  # chat id -> how many calls to refuse with 429
        self.retry_after = timedelta(seconds=30)

    def callback(
        self, endpoint: str, chat_id: int | None
    ) -> Callable[[], Coroutine[Any, Any, bool]]:
        async def call() -> bool:
            self.ran.append((endpoint, chat_id))
            self.called.set()
            if chat_id is not None and self.refuse.get(chat_id, 0) > 0:
                self.refuse[chat_id] -= 1
                raise RetryAfter(self.retry_after)
            return True

        return call


def request(
    limiter: BaseRateLimiter[Any],
    recorder: Recorder,
    chat_id: int | None,
    endpoint: str = "sendMessage",
    priority: Priority | None = None,
) -> asyncio.Task[Any]:
    data: dict[str, Any] = {"text": "x"}
    if chat_id is not None:
        data["chat_id"] = chat_id
    coro = limiter.process_request(
        recorder.callback(endpoint, chat_id), (), {}, endpoint, data, priority
    )
    return asyncio.ensure_future(coro)


async def test_one_chats_backlog_does_not_delay_another_chat() -> None:
    limits = SendLimits(overall_per_second=200.0, overall_burst=1.0, **FAST_CHATS)
    scheduler = FairSendScheduler(limits)
    await scheduler.initialize()
    recorder = Recorder()
    try:
        tasks = [request(scheduler, recorder, A) for _ in range(10)]
        tasks += [request(scheduler, recorder, B), request(scheduler, recorder, C)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    finally:
        await scheduler.shutdown()
    order = [chat for _, chat in recorder.ran]
    assert len(order) == 12
    # Round robin: B and C go out right after A's first, not after A's tenth.
    assert order[:3] == [A, B, C]
    assert order[3:] == [A] * 9


async def test_a_chat_gets_no_more_than_its_burst_at_once() -> None:
    limits = SendLimits(private_per_second=0.001, private_burst=3.0, overall_per_second=1000.0)
    scheduler = FairSendScheduler(limits)
    await scheduler.initialize()
    recorder = Recorder()
    try:
        held = [request(scheduler, recorder, A) for _ in range(5)]
        other = request(scheduler, recorder, B)
        await asyncio.wait_for(other, timeout=30)
        for _ in range(20):
            await asyncio.sleep(0)
        assert [chat for _, chat in recorder.ran].count(A) == 3
        assert sum(task.done() for task in held) == 3
    finally:
        await scheduler.shutdown()
        await asyncio.gather(*held)


@pytest.mark.parametrize("limiter_kind", ["ours", "aiolimiter"])
async def test_a_429_in_one_chat_does_not_hold_another_chat(limiter_kind: str) -> None:
    recorder = Recorder()
    recorder.refuse[A] = 1
    limiter: BaseRateLimiter[Any]
    if limiter_kind == "ours":
        limiter = FairSendScheduler(SendLimits(overall_per_second=1000.0, **FAST_CHATS))
    else:  # python-telegram-bot's own: one pause for every chat (the bug this blocks)
        limiter = AIORateLimiter(max_retries=1)
    await limiter.initialize()
    try:
        first = request(limiter, recorder, A)
        await asyncio.wait_for(recorder.called.wait(), timeout=30)
        await asyncio.sleep(0.05)  # the 429 is in: chat A is paused for 30 s
        later_in_a = request(limiter, recorder, A)
        other = request(limiter, recorder, B)
        done, _ = await asyncio.wait({other}, timeout=5 if limiter_kind == "ours" else 2)
        if limiter_kind == "ours":
            assert other in done
            assert not first.done()  # A waits out its 30 s ...
            assert not later_in_a.done()  # ... and so does A's next call, in order
        else:
            assert other not in done  # AIORateLimiter holds B behind A's pause
    finally:
        for task in (first, later_in_a, other):
            task.cancel()
        await asyncio.gather(first, later_in_a, other, return_exceptions=True)
        await limiter.shutdown()


async def test_a_429_is_retried_after_its_pause_then_given_up() -> None:
    recorder = Recorder()
    recorder.retry_after = timedelta(milliseconds=50)
    recorder.refuse[A] = 1
    scheduler = FairSendScheduler(
        SendLimits(overall_per_second=1000.0, **FAST_CHATS), max_retries=2
    )
    await scheduler.initialize()
    try:
        assert await asyncio.wait_for(request(scheduler, recorder, A), timeout=30) is True
        assert recorder.ran == [("sendMessage", A)] * 2
        recorder.refuse[B] = 5
        with pytest.raises(RetryAfter):
            await asyncio.wait_for(request(scheduler, recorder, B), timeout=30)
        assert recorder.ran.count(("sendMessage", B)) == 3  # first try + 2 retries
        assert scheduler.refused == 4
    finally:
        await scheduler.shutdown()


async def test_reporter_replies_go_before_bulk_sends() -> None:
    limits = SendLimits(overall_per_second=100.0, overall_burst=1.0, **FAST_CHATS)
    scheduler = FairSendScheduler(limits)
    await scheduler.initialize()
    recorder = Recorder()
    try:
        tasks = [
            request(scheduler, recorder, Z),  # takes the one token there is
            request(scheduler, recorder, CHANNEL, "sendDocument"),  # bulk by default
            request(scheduler, recorder, C, priority=Priority.BULK),
            request(scheduler, recorder, A),
            request(scheduler, recorder, B, priority=Priority.REPLY),
        ]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    finally:
        await scheduler.shutdown()
    assert [chat for _, chat in recorder.ran] == [Z, A, B, CHANNEL, C]


async def test_callback_answers_and_deletions_do_not_wait_behind_sends() -> None:
    limits = SendLimits(private_per_second=0.001, private_burst=1.0)
    scheduler = FairSendScheduler(limits)
    await scheduler.initialize()
    recorder = Recorder()
    try:
        await request(scheduler, recorder, A)  # A's only token
        held = request(scheduler, recorder, A, "editMessageText")
        answer = request(scheduler, recorder, None, "answerCallbackQuery")
        delete = request(scheduler, recorder, A, "deleteMessages")
        await asyncio.wait_for(asyncio.gather(answer, delete), timeout=5)
        assert not held.done()
        assert recorder.ran[1:] == [("answerCallbackQuery", None), ("deleteMessages", A)]
    finally:
        await scheduler.shutdown()
        await held  # let through at shutdown, never left hanging


async def test_the_scheduler_keeps_no_chat_id() -> None:
    scheduler = FairSendScheduler(SendLimits(overall_per_second=1000.0, **FAST_CHATS))
    await scheduler.initialize()
    recorder = Recorder()
    try:
        await request(scheduler, recorder, 987_654_321_123)
        held = repr(vars(scheduler)) + repr(list(scheduler._chats.values()))
        assert "987654321123" not in held
        assert scheduler.chats_held == 1
    finally:
        await scheduler.shutdown()
