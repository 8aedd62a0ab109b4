"""The step benchmark's CPU figure is the bot's own: the in-memory fake Telegram's work (which
Telegram's machines do in production) is metered and taken out, for both sides alike."""

from __future__ import annotations

import time

import pytest
from telegram.ext import ExtBot

from bench.bench_bot import Measured, MeteredRequest, ReplayTelegram
from tests.bot_support import TEST_TOKEN
from tests.botclient import JSON

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
