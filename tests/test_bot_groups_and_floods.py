"""Groups, supergroups and channels are left at once; floods cost bounded memory and replies."""

from __future__ import annotations

import gc
import logging
import time
import tracemalloc
from pathlib import Path

import pytest

from handlers.callbacks import Op
from handlers.state import MAX_MESSAGE_IDS
from tests.bot_support import current_qid, open_conversations, running_bot, tap, walk
from tests.botclient import texts_of


@pytest.mark.parametrize(
    ("chat_type", "chat_id"),
    [
        ("group", -4_000_000_001),
        ("supergroup", -1_001_000_000_001),
        ("channel", -1_001_000_000_002),
    ],
)
async def test_non_private_chats_get_one_message_and_a_leave(
    tmp_path: Path, chat_type: str, chat_id: int
) -> None:
    async with running_bot(tmp_path) as bot:
        chat = bot.group(chat_id, chat_type)
        calls = await chat.send("/start")
        calls += await chat.send("hello")  # a second update before the leave takes effect
        assert [c.method for c in calls] == ["sendMessage", "leaveChat"]
        [text] = texts_of(calls)
        # the notice names what it was posted in: a channel is not a group
        named, other = ("_channel", "") if chat_type == "channel" else ("", "_channel")
        for lang in ("ko", "ru", "en"):
            assert bot.ui(lang, f"ui.group.private_only{named}") in text
            assert bot.ui(lang, f"ui.group.private_only{other}") not in text
        assert calls[1].chat_id == chat_id
        assert "reply_markup" not in calls[0].params  # no questionnaire
        assert open_conversations(bot) == 0


async def test_being_added_to_a_group_is_answered_with_a_leave(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat = bot.group(-4_000_000_009, "group")
        member = {
            "chat": {"id": chat.chat_id, "type": "group", "title": "g"},
            "from": chat.person.as_json(),
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": bot.telegram.bot_user},
            "new_chat_member": {"status": "member", "user": bot.telegram.bot_user},
        }
        calls = await chat.deliver(
            {"update_id": bot.telegram.next_update_id(), "my_chat_member": member}
        )
        assert [c.method for c in calls] == ["sendMessage", "leaveChat"]


async def test_the_analyst_channel_is_not_left(tmp_path: Path) -> None:
    channel = -1_001_234_567_890
    async with running_bot(tmp_path, channel_id=channel) as bot:
        calls = await bot.group(channel, "channel").send("digest")
        assert calls == []


@pytest.mark.slow
async def test_a_flood_of_1000_updates_costs_bounded_memory_and_replies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # pytest keeps every captured record in memory: count the bot's memory, not pytest's.
    caplog.set_level(logging.INFO, logger="handlers")
    async with running_bot(tmp_path, messages_per_minute=20, message_burst=20) as bot:
        flooder = bot.client(language_code="ru")
        await flooder.send("/start")
        await flooder.click("Русский")
        await walk(flooder, {}, stop_at="about")
        gc.collect()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            started = time.perf_counter()
            for n in range(1000):
                await flooder.send(f"spam {n}" if n % 3 else "/help")
            elapsed = time.perf_counter() - started
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        replies = [
            c for c in bot.telegram.calls_of("sendMessage", flooder.chat_id) if c.params["text"]
        ]
        # 20 at once are handled (the clock stands still), then one calm word, then silence.
        slow_down = bot.ui("ru", "ui.flood.slow_down")
        assert sum(1 for c in replies if c.params["text"] == slow_down) == 1
        assert len(replies) <= 20 + 1 + 4  # + the screens sent before the flood
        conv = bot.runtime.chats.conversations.get(flooder.person.user_id)
        assert conv is not None
        assert len(conv.message_ids) <= MAX_MESSAGE_IDS
        assert len(bot.runtime.chats.conversations) == 1
        assert len(bot.runtime.limits) == 1
        assert after - before < 512 * 1024, after - before
        assert elapsed < 20

        # Someone else is served at once, in full.
        other = bot.client(language_code="ko")
        calls = await other.send("/start")
        assert [c.method for c in calls] == ["sendMessage"]
        await other.click("조선말 (한국어)")
        seen = await walk(other, {"place": [("choose", "moscow")]}, steps=5)
        assert seen == ["intro", "consent", "alone", "what", "place"]
        assert bot.ui("ko", "ui.flood.slow_down") not in [m.text for m in other.on_screen()]
        assert current_qid(other) == "ongoing"

        # Once the pause is over the flooder can go on with the report.
        bot.clock.advance(bot.settings.flood_ignore_minutes * 60 + 1)
        calls = await flooder.send("Наконец ответ")
        assert slow_down not in texts_of(calls)


async def test_reports_per_day_are_limited_calmly(tmp_path: Path) -> None:
    async with running_bot(tmp_path, reports_per_day=1) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {})
        await tap(client, Op.SUBMIT)
        await client.send("/start")
        calls = await client.click("Русский")
        assert texts_of(calls) == [bot.ui("ru", "ui.flood.daily_limit")]
        bot.clock.advance(24 * 3600)
        await client.send("/start")
        calls = await client.click("Русский")
        assert bot.ui("ru", "ui.flood.daily_limit") not in texts_of(calls)
