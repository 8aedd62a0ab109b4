"""What finding a restarted reporter's old messages costs against Telegram's limits (issue 12).

After a restart the bot holds message ids it cannot place (``erase_pending`` has no chat id).
When someone with no conversation in memory writes, the bot tries, newest first, one id of each
unclaimed conversation in that chat with ``deleteMessage``: Telegram refuses an id that is not in
the chat, so a success says whose the conversation was. Everyone who writes while such
conversations are waiting (up to 47 hours) pays for that before their answer. This test runs
``reportbot run`` over HTTP against the fake Bot API enforcing Telegram's limits, with 60 unclaimed
conversations waiting (one of them a real reporter's, killed mid-report), and counts what a
newcomer's first message costs: at most 50 delete calls (``MAX_PROBED_ORPHANS``, one id each),
no call refused with 429, and the newcomer still gets the language screen; the killed reporter's
next message finds their conversation with the first try (the others are tried too: one reporter
may own several) and erases the rest in one deleteMessages call (up to 100 ids a call, Bot API
docs). Before this was bounded, each waiting conversation cost two tries: 100 calls.
"""

from __future__ import annotations

import secrets
import signal
from pathlib import Path

import pytest

from handlers.private import MAX_PROBED_ORPHANS
from storage.sqlite import open_store
from tests.bot_support import TEST_TOKEN, walk
from tests.botclient import FakeTelegram
from tests.fake_bot_api_server import FakeBotApiServer, RateLimits
from tests.test_erase_e2e import RESTART, Bot, Markers, Reporter

pytestmark = pytest.mark.slow

WAITING = 60
"""Unclaimed conversations after the restart: more than the bot will try."""


async def _seed_unclaimed(data_dir: Path, ids: range) -> None:
    """Conversations of reporters who never came back (ids taken in chats no newcomer has)."""
    per = len(ids) // (WAITING - 1)
    async with open_store(data_dir) as store:
        for n in range(WAITING - 1):
            await store.remember_messages(
                secrets.token_bytes(16), list(ids[n * per : (n + 1) * per])
            )


async def test_after_a_restart_a_newcomer_pays_at_most_50_delete_calls_and_no_429(
    tmp_path: Path,
) -> None:
    markers = Markers()
    limits = RateLimits()
    server = FakeBotApiServer(FakeTelegram(TEST_TOKEN), limits=limits)
    await server.start()
    bot = Bot(tmp_path, server, shipped_send_limits=True)
    try:
        await bot.start()
        elsewhere = server.telegram.talk_elsewhere(20 * (WAITING - 1))  # before the killed one
        killed = Reporter(server, markers.person())
        await killed.begin()
        await walk(
            killed.client,
            {"about": [("choose", "me")], "place": [("text", markers.answer())]},
            stop_at="hours",
        )
        await bot.stop(signal.SIGKILL)
        await _seed_unclaimed(bot.data_dir, elsewhere)
        await bot.start()

        newcomer = Reporter(server, markers.person())
        before = len(server.telegram.calls)
        await newcomer.client.send("/start")
        calls = server.telegram.calls[before:]
        probes = [c for c in calls if c.method == "deleteMessage"]
        assert len(probes) <= MAX_PROBED_ORPHANS == 50
        assert len(probes) == MAX_PROBED_ORPHANS  # the killed reporter's is the newest: tried
        assert newcomer.client.labels()[:1] == ["Русский"], newcomer.visible()
        assert limits.refused == 0

        before = len(server.telegram.calls)
        await killed.client.send("hello?")
        calls = server.telegram.calls[before:]
        methods = [c.method for c in calls if c.method.startswith("delete")]
        # every waiting conversation is tried (one reporter may own several: an earlier receipt)
        assert methods == ["deleteMessage"] * MAX_PROBED_ORPHANS + ["deleteMessages"]
        first = next(c for c in calls if c.method == "deleteMessage")
        gone = [d.message_id for d in server.deleted(killed.client.chat_id)]
        assert int(first.params["message_id"]) == gone[0]  # found with the first try
        assert [t for t in killed.visible() if t != "hello?"] == [RESTART]
        assert limits.refused == 0
        assert await bot.stop() == 0
    finally:
        await bot.kill_if_running()
        await server.stop()
    assert server.telegram.unexpected == []
