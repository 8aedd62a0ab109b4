"""Quick exit and /panic from every kind of screen: chat erased, memory wiped, answers kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage.base import ReportState
from tests.bot_support import (
    BotHarness,
    current_qid,
    on_review,
    open_conversations,
    running_bot,
    tap,
    walk,
)
from tests.botclient import ReporterClient
from tests.test_bot_conversation import jpeg_with_gps

Reach = Callable[[ReporterClient], Awaitable[None]]

GIVEN = {"about": [("choose", "me")], "hours": [("text", "11")]}


async def _start(client: ReporterClient) -> None:
    await client.send("/start")
    await client.click("Русский")


async def _language(client: ReporterClient) -> None:
    await client.send("/start")


async def _info(client: ReporterClient) -> None:
    await _start(client)


async def _consent(client: ReporterClient) -> None:
    await _start(client)
    await walk(client, {}, stop_at="consent")


def _at(qid: str, *then: tuple[str, ...]) -> Reach:
    async def reach(client: ReporterClient) -> None:
        await _start(client)
        await walk(client, GIVEN, stop_at=qid)
        assert current_qid(client) == qid
        for action in then:
            if action[0] == "choose":
                await tap(client, Op.CHOOSE, qid, action[1])
            elif action[0] == "photo":
                await client.send_photo(jpeg_with_gps())

    return reach


async def _review(client: ReporterClient) -> None:
    await _start(client)
    await walk(client, GIVEN)
    assert on_review(client)


async def _cancel_question(client: ReporterClient) -> None:
    await _start(client)
    await walk(client, GIVEN, stop_at="passport")
    await client.send("/cancel")


async def _help_shown(client: ReporterClient) -> None:
    await _start(client)
    await walk(client, GIVEN, stop_at="about")
    await tap(client, Op.HELP, "about")
    await client.send("/safety")


SCREENS: dict[str, tuple[Reach, set[str]]] = {
    "language": (_language, set()),
    "info": (_info, set()),
    "consent": (_consent, set()),
    "single": (_at("site"), {"consent", "about"}),
    "single-other-text": (_at("site", ("choose", "other")), {"consent", "about"}),
    "place": (_at("place"), {"consent"}),
    "date-year": (_at("since"), {"consent", "about"}),
    "date-month": (_at("since", ("choose", "y2023")), {"consent", "about"}),
    "number": (_at("days_off"), {"consent", "about", "hours"}),
    "multi": (_at("taken", ("choose", "quota")), {"consent", "about", "hours"}),
    "text": (_at("more"), {"consent", "about", "hours"}),
    "media-with-a-photo": (_at("evidence", ("photo",)), {"consent", "about", "hours", "evidence"}),
    "review": (_review, {"consent", "about", "hours"}),
    "cancel-question": (_cancel_question, {"consent", "about", "hours"}),
    "help-and-safety": (_help_shown, {"consent"}),
}


async def _exit_by_button(client: ReporterClient) -> None:
    await tap(client, Op.EXIT)


async def _exit_by_panic(client: ReporterClient) -> None:
    await client.send("/panic")


async def _assert_erased_and_kept(bot: BotHarness, client: ReporterClient, kept: set[str]) -> None:
    remaining = client.on_screen()
    assert [m.text for m in remaining] == [bot.ui("ru", "ui.ended.neutral")]
    assert open_conversations(bot) == 0
    assert len(bot.runtime.chats.locks) == 0
    reports = await bot.reports()
    if not kept:
        assert reports == []
        return
    [report] = reports
    opened = bot.open(report)
    assert opened.state is ReportState.INTERRUPTED
    assert set(opened.answers) == kept


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("how", ["button", "panic"])
async def test_quick_exit_erases_every_message_and_keeps_what_was_answered(
    tmp_path: Path, screen: str, how: str
) -> None:
    reach, kept = SCREENS[screen]
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await reach(client)
        assert len(client.on_screen()) >= 2
        await (_exit_by_button if how == "button" else _exit_by_panic)(client)
        await _assert_erased_and_kept(bot, client, kept)
        # Coming back starts afresh.
        await client.send("/start")
        assert client.labels()[0] == "Русский"


async def test_exit_button_on_an_old_message_still_erases(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await _start(client)
        first_prompt = max(m.message_id for m in client.on_screen() if m.from_bot)
        await walk(client, {"about": [("text", "wrong"), ("choose", "me")]}, stop_at="site")
        mid, data = client.find_button("Быстро закрыть", message_id=first_prompt)
        await client.press(mid, data)
        await _assert_erased_and_kept(bot, client, {"consent", "about"})


async def test_an_exit_button_left_from_a_previous_conversation_erases_the_current_one(
    tmp_path: Path,
) -> None:
    """Quick exit is honoured on every message (docs/bot.md), even one of an earlier conversation
    that survived (deletion failed, or it is seen on another device): someone may be looking."""
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await _start(client)
        old_mid, old_exit = client.find_button("Быстро закрыть")
        await client.send("/panic")
        assert client.buttons() == []  # the old screen was deleted with the rest
        await _start(client)
        await walk(client, GIVEN, stop_at="site")
        assert len(bot.runtime.chats.conversations) == 1
        await client.press(old_mid, old_exit)
        neutral = bot.ui("ru", "ui.ended.neutral")
        # one line, not one per exit: the first exit's line went with the next conversation
        assert [m.text for m in client.on_screen()] == [neutral]
        assert open_conversations(bot) == 0
        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.state is ReportState.INTERRUPTED
        assert set(opened.answers) == {"consent", "about"}


async def test_deleting_a_long_conversation_uses_batches_of_at_most_100(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await _start(client)
        await walk(client, {}, stop_at="more")
        for n in range(130):
            await client.send("x" * 2001 if n % 2 else "/help")  # too long, or help: all kept
        await client.send("/panic")
        batches = [c.params["message_ids"] for c in bot.telegram.calls_of("deleteMessages")]
        assert len(batches) >= 3
        assert all(1 <= len(b) <= 100 for b in batches)
        assert [m.text for m in client.on_screen()] == [bot.ui("ru", "ui.ended.neutral")]
