"""Conversations over time: idle timeout, key rotation, /cancel, restarts, menu, RetryAfter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage.base import ReportState
from storage.sqlite import SqliteReportStore
from tests.bot_support import current_qid, open_conversations, running_bot, tap, walk
from tests.botclient import BotApiError, texts_of


async def test_an_idle_conversation_ends_keeping_its_answers_and_is_erased_on_return(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, idle_timeout_hours=2) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        idle_reader = bot.client(language_code="ko")
        await idle_reader.send("/start")  # no report yet: nothing to keep

        bot.clock.advance(2 * 3600 - 10)
        assert await bot.runtime.chats.sweep() == 0
        bot.clock.advance(20)
        assert await bot.runtime.chats.sweep() == 2
        assert open_conversations(bot) == 0
        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.state is ReportState.INTERRUPTED
        assert set(opened.answers) == {"consent", "about"}

        calls = await client.send("/start")
        assert bot.ui("ru", "ui.timeout.kept") in texts_of(calls)
        on_screen = [m.text for m in client.on_screen()]
        assert bot.ui("ru", "ui.timeout.kept") in on_screen
        assert len(on_screen) == 3  # the word about the kept answers, /start and the new screen
        assert client.labels()[0] == "Русский"


async def test_a_conversation_survives_one_key_rotation_but_not_two_idle_periods(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        await bot.runtime.chats.rotate_keys()
        await tap(client, Op.CHOOSE, "site", "clothing")  # found under the new key
        assert current_qid(client) == "since"
        await bot.runtime.chats.rotate_keys()
        await bot.runtime.chats.rotate_keys()  # untouched for a whole period: closed, kept
        assert open_conversations(bot) == 0
        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.state is ReportState.INTERRUPTED
        assert opened.answers["site"] == {"choice": "clothing"}


async def test_memory_holds_no_raw_id_of_the_reporter(tmp_path: Path) -> None:
    user_id = 8_765_432_109_876
    async with running_bot(tmp_path) as bot:
        client = bot.client(user_id=user_id, language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        chats = bot.runtime.chats
        held = repr(list(chats.conversations.items())) + repr(list(chats.leftovers.items()))
        held += repr(
            list(bot.runtime.limits._budgets.items())
        )  # private: inspecting it is the test
        for form in (str(user_id), user_id.to_bytes(8, "big").hex(), hex(user_id)):
            assert form not in held


async def test_cancel_then_send_what_was_answered(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        calls = await client.send("/cancel")
        assert texts_of(calls) == [bot.ui("ru", "ui.cancel.question")]
        calls = await tap(client, Op.SEND_ANSWERED)
        assert bot.ui("ru", "ui.cancel.sent") in texts_of(calls)
        assert [m.text for m in client.on_screen()] == [bot.ui("ru", "ui.cancel.sent")]
        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.state is ReportState.INTERRUPTED
        assert set(opened.answers) == {"consent", "about"}


async def test_cancel_then_discard_deletes_everything_stored(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ko")
        await client.send("/start")
        await client.click("조선말 (한국어)")
        await walk(client, {"about": [("choose", "me")], "more": [("text", "말")]})
        await client.send("/cancel")
        calls = await tap(client, Op.DISCARD)
        assert bot.ui("ko", "ui.cancel.discarded") in texts_of(calls)
        assert await bot.reports() == []
        counts = await bot.store.counts()
        assert counts.answers == 0
        assert [m.text for m in client.on_screen()] == [bot.ui("ko", "ui.cancel.discarded")]


async def test_cancel_then_go_back_to_the_question(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {}, stop_at="hours")
        await client.send("/cancel")
        await tap(client, Op.RESUME)
        assert current_qid(client) == "hours"
        await client.send("9")
        assert current_qid(client) == "days_off"


async def test_a_report_left_open_by_a_crash_is_closed_as_interrupted_at_start(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        analyst = bot.analyst
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        # Simulate a crash: the open report stays open (post_stop is what a clean stop runs).
        bot.runtime.chats.conversations.pop(client.person.user_id)
    store = await SqliteReportStore.open(tmp_path / "data")
    try:
        [orphan] = await store.open_reports()
    finally:
        await store.close()
    async with running_bot(tmp_path, analyst=analyst) as bot:
        assert await bot.store.open_reports() == []
        report = await bot.store.load_report(orphan)
        opened = bot.open(report)
        assert opened.state is ReportState.INTERRUPTED
        assert set(opened.answers) == {"consent", "about"}


async def test_the_command_menu_and_description_are_set_per_language(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        menus = bot.telegram.calls_of("setMyCommands")
        assert sorted(str(c.params.get("language_code")) for c in menus) == [
            "None",
            "en",
            "ko",
            "ru",
        ]
        for call in menus:
            names = [c["command"] for c in call.params["commands"]]
            assert names == ["start", "language", "help", "safety", "cancel", "panic"]
        ru = next(c for c in menus if c.params.get("language_code") == "ru")
        assert ru.params["commands"][5]["description"] == bot.ui("ru", "ui.command.panic")
        descriptions = bot.telegram.calls_of("setMyDescription")
        assert {c.params.get("language_code") for c in descriptions} == {None, "ko", "ru", "en"}


async def test_retry_after_from_telegram_is_waited_out_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns (an error under pytest) when it builds RetryAfter with int seconds unless
    # this opt-in is set; in production the warning is only logged.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        bot.telegram.fail_next("sendMessage", BotApiError(429, "Too Many Requests", retry_after=1))
        started = time.monotonic()
        await client.send("/start")
        assert time.monotonic() - started >= 1.0
        assert client.labels()[0] == "Русский"
        assert bot.runtime.errors.count == 0
