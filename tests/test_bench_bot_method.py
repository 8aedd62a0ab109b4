"""The step benchmark's CPU figure is the bot's own: the in-memory fake Telegram's work (which
Telegram's machines do in production) is metered and taken out, for both sides alike."""

from __future__ import annotations

import time

import pytest
from telegram.ext import ExtBot

from bench.bench_bot import (
    RECORDED_NONCE,
    RECORDED_USER,
    Measured,
    MeteredRequest,
    ReplayTelegram,
    Script,
    nonce_for,
)
from handlers.callbacks import Op
from tests.bot_support import TEST_TOKEN
from tests.botclient import JSON, Call

BURN = 0.03


class SlowTelegram(ReplayTelegram):
    """A fake that spends ``BURN`` seconds of CPU answering each call."""

    def handle(self, method: str, params: JSON) -> tuple[int, JSON]:
        until = time.thread_time() + BURN
        while time.thread_time() < until:
            pass
        return super().handle(method, params)


async def test_a_slow_fake_telegram_is_not_counted_as_the_bots_cpu() -> None:
    telegram = SlowTelegram(TEST_TOKEN)
    request = MeteredRequest(telegram)
    bot = ExtBot(TEST_TOKEN, base_url="http://bot-api.test/bot", request=request)
    async with bot:
        before = telegram.cpu_seconds
        cpu = time.process_time()
        await bot.send_message(5_550_001, "привет")
        spent = time.process_time() - cpu
    metered = telegram.cpu_seconds - before
    assert metered >= BURN * 0.95
    assert metered <= spent
    run = Measured(steps=1, seconds=1.0, cpu=spent, fake_cpu=metered)
    assert run.process_cpu_ms == pytest.approx(1000 * spent)
    assert run.cpu_ms < 1000 * spent - 1000 * BURN * 0.9


def test_each_replayed_report_has_its_own_nonce_so_per_nonce_caches_are_not_flattered() -> None:
    """Every conversation of the recording has the same nonce; replayed as it is, the bot's
    anything kept per nonce (a keyboard cache, as the renderer once had) would be hit across
    reporters, which never happens in production.
    Each replayed report carries its own nonce in its buttons and nothing else changes."""
    data = f"{Op.CHOOSE.value}{RECORDED_NONCE}:what:unpaid"
    markup = {"inline_keyboard": [[{"text": "AAA", "callback_data": data}]]}
    update: JSON = {
        "update_id": 1,
        "callback_query": {
            "id": "1",
            "from": {"id": RECORDED_USER},
            "data": data,
            "message": {"message_id": 3, "reply_markup": markup},
        },
    }
    script = Script([update], [[Call("editMessageText", {"text": "AAA", "reply_markup": markup})]])
    nonces = {nonce_for(n) for n in range(5_000)}
    assert len(nonces) == 5_000
    assert RECORDED_NONCE not in nonces
    replayed = script.for_reporter(8_000_000_001, 10, nonce_for(7))
    query = replayed.updates[0]["callback_query"]
    expected = f"{Op.CHOOSE.value}{nonce_for(7)}:what:unpaid"
    assert query["data"] == expected
    assert query["from"]["id"] == 8_000_000_001
    assert query["message"]["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "AAA",
        "callback_data": expected,
    }
    params = replayed.calls[0][0].params
    assert params["text"] == "AAA"
    assert params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == expected
    assert replayed.nonce == nonce_for(7)
