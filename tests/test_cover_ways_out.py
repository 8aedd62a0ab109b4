"""Cover mode (issue 15.4-15.6): every way out of a report leaves the chat showing the phrasebook.

Through the real Application with cover mode on: after a submit (with and without receipts),
a quick exit, /panic, an idle timeout and a duress code, the messages still visible in the chat
are phrasebook content only (``tests.cover_support.not_phrasebook``), with a phrasebook screen to
go on from; the duress code looks like a wrong code to whoever watches; inside a report (and only
there) /safety and the consent screen explain the cover and its limits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage.base import ReportState
from tests.bot_support import (
    COVER_ON,
    DURESS_CODE,
    ENTRY_CODE,
    BotHarness,
    enter,
    open_conversations,
    running_bot,
    shipped_phrasebook,
    tap,
    walk,
)
from tests.botclient import ReporterClient
from tests.cover_support import not_phrasebook, phrasebook_screens_with_buttons
from tests.receipts_support import receipt_bot, receipt_message_id, shown_code

BOOK = shipped_phrasebook()
LAST_WORD = 0.05
"""The bot's last line after an erase goes after this long here (30 s as shipped)."""


def pb(lang: str, text_id: str) -> str:
    return BOOK.text(lang, text_id)


async def into_report(client: ReporterClient, *, stop_at: str = "hours") -> None:
    """Browse, enter with the code, and answer up to ``stop_at``."""
    await client.send("/start")
    await client.send("аптека")
    await enter(client)
    await client.click("Русский")
    await tap(client, Op.CHOOSE, "intro", "continue")
    await tap(client, Op.CHOOSE, "consent", "agree")
    await walk(
        client,
        {"about": [("choose", "me")], "place": [("text", "Склад у реки")]},
        stop_at=stop_at,
    )


async def submitted(client: ReporterClient) -> None:
    """Browse, enter, answer the questions and submit."""
    await into_report(client, stop_at="")
    await walk(client, {})
    await tap(client, Op.SUBMIT)


def assert_phrasebook_only(client: ReporterClient) -> None:
    shown = client.on_screen()
    assert not_phrasebook(shown) == [], [m.text for m in shown]
    assert phrasebook_screens_with_buttons(shown) >= 1, [m.text for m in shown]


async def settle(bot: BotHarness) -> None:
    """Let the bot's last line go (its timer is :data:`LAST_WORD` here)."""
    await asyncio.sleep(LAST_WORD * 4)


@pytest.mark.parametrize("way", ["quick_exit", "panic"])
async def test_after_a_quick_exit_or_panic_the_chat_is_the_phrasebook_at_once(
    tmp_path: Path, way: str
) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ru")
        await into_report(client)
        if way == "quick_exit":
            await client.click("Быстро закрыть")
        else:
            await client.send("/panic")
        assert_phrasebook_only(client)  # no "OK." line either: nothing waits to be deleted
        assert client.last_text() == pb("ru", "pb.home")
        assert open_conversations(bot) == 0
        reports = await bot.reports()
        assert [r.state for r in reports] == [ReportState.INTERRUPTED]  # the answers kept


async def test_after_a_submit_the_thanks_goes_and_the_phrasebook_stays(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        bot.runtime.chats.last_word_seconds = LAST_WORD
        client = bot.client(language_code="ru")
        await submitted(client)
        texts = [m.text for m in client.on_screen() if m.from_bot]
        assert bot.ui("ru", "ui.done.thanks") in texts  # "received", for a short while
        await settle(bot)
        assert_phrasebook_only(client)
        assert [r.state for r in await bot.reports()] == [ReportState.COMPLETE]


async def test_with_receipts_the_code_stays_until_noted_then_only_the_phrasebook(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path, **COVER_ON) as rb:
        client = rb.client(language_code="ru")
        await submitted(client)
        receipt = receipt_message_id(client)
        assert receipt is not None
        assert "/followup" not in (client.chat.messages[receipt].text or "")  # not outside
        await client.click("Код сохранён")
        assert_phrasebook_only(client)


async def test_the_receipts_quick_exit_leaves_the_phrasebook(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path, **COVER_ON) as rb:
        client = rb.client(language_code="ru")
        await submitted(client)
        await client.click("Быстро закрыть")
        assert_phrasebook_only(client)


async def test_after_an_idle_timeout_the_next_message_erases_and_shows_the_phrasebook(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ru")
        await into_report(client)
        bot.clock.advance(bot.settings.idle_timeout_seconds + 1)
        assert await bot.runtime.chats.sweep() == 1
        await client.send("/start")  # whoever holds the phone: no "your answers were kept"
        assert_phrasebook_only(client)
        assert bot.ui("ru", "ui.timeout.kept") not in [m.text for m in client.on_screen()]
        assert [r.state for r in await bot.reports()] == [ReportState.INTERRUPTED]


async def test_an_idle_timeout_leaves_only_the_phrasebook_before_the_reporter_writes_again(
    tmp_path: Path,
) -> None:
    """The failure: the reporter walked away mid-report; until they wrote again the questions
    and their answers stayed on the phone for whoever checked it (issue 15.4)."""
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ru")
        await into_report(client)
        assert not_phrasebook(client.on_screen()) != []  # mid-report: the questions show
        calls = len(bot.telegram.calls)
        bot.clock.advance(bot.settings.idle_timeout_seconds + 1)
        assert await bot.runtime.chats.sweep() == 1
        assert len(bot.telegram.calls) > calls  # the sweep itself erased, nobody wrote
        assert_phrasebook_only(client)
        assert client.last_text() == pb("ru", "pb.home")
        assert [r.state for r in await bot.reports()] == [ReportState.INTERRUPTED]
        assert await bot.store.messages_to_erase() == {}  # nothing left for a next message
        await client.send("больница")  # back later: the phrasebook answers, nothing to erase
        assert_phrasebook_only(client)
        await enter(client)  # and a new report opens
        assert client.labels()[:1] == ["Русский"]


async def test_an_idle_timeout_also_erases_a_receipt_left_on_screen(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path, **COVER_ON) as rb:
        client = rb.client(language_code="ru")
        await submitted(client)
        assert receipt_message_id(client) is not None  # walked away without "I saved the code"
        bot = rb.harness
        bot.clock.advance(bot.settings.idle_timeout_seconds + 1)
        await bot.runtime.chats.sweep()
        assert receipt_message_id(client) is None
        assert_phrasebook_only(client)


async def test_a_duress_code_erases_a_kept_receipt_and_answers_like_a_wrong_code(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path, **COVER_ON) as rb:
        client = rb.client(language_code="ru")
        await submitted(client)
        assert receipt_message_id(client) is not None  # the code is still on screen
        wrong = rb.client(language_code="ru")
        await wrong.send("/start")
        await wrong.send(ENTRY_CODE[:-3] + "xyz")
        await client.send(DURESS_CODE)
        assert receipt_message_id(client) is None
        assert_phrasebook_only(client)
        # what a watcher sees of the duress code is what a wrong code gets
        assert client.last_text() == wrong.last_text() == pb("ru", "pb.search.none")
        assert client.chat.messages[client.sent_ids[-1]].from_bot is False  # it stays, typed
        assert open_conversations(rb.harness) == 0


async def test_a_duress_code_as_a_deep_link_shows_the_start_screen_like_any_link(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ru")
        await into_report(client)
        await client.send("/panic")
        await client.send(f"/start {DURESS_CODE}")
        assert client.last_text() == pb("ru", "pb.home")
        assert_phrasebook_only(client)


async def test_safety_and_consent_explain_the_cover_inside_a_report_only(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ru")
        await client.send("/safety")
        assert client.last_text() == pb("ru", "pb.home")  # outside: no such command
        await enter(client)
        await client.click("Русский")
        await tap(client, Op.CHOOSE, "intro", "continue")
        assert bot.ui("ru", "ui.consent.cover") in client.last_text()  # the consent screen
        await client.send("/safety")
        safety = client.last_text()
        assert bot.ui("ru", "ui.safety") in safety
        assert bot.ui("ru", "ui.safety.cover") in safety


@pytest.mark.parametrize("lang", ["ko", "ru", "en"])
async def test_the_cover_explanation_names_its_limits(lang: str, tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        text = bot.ui(lang, "ui.safety.cover")
        telegram = {"ko": "텔레그람", "ru": "Telegram", "en": "Telegram"}[lang]
        assert telegram in text  # Telegram still sees everything
        assert "@username" in text  # the name was chosen to fit the cover
        knows = {"ko": "이미 아는 사람", "ru": "уже знает", "en": "already knows"}[lang]
        assert knows in text  # someone who knows is not fooled
        assert knows in bot.ui(lang, "ui.consent.cover")


async def test_a_follow_up_in_cover_mode_is_reached_with_the_entry_code_and_ends_in_the_phrasebook(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path, **COVER_ON) as rb:
        rb.harness.runtime.chats.last_word_seconds = LAST_WORD
        client = rb.client(language_code="ru")
        await submitted(client)
        code = shown_code(client)
        await client.click("Код сохранён")
        await client.send("/followup")  # no such command outside a report
        assert client.last_text() == pb("ru", "pb.home")
        await enter(client)
        await client.click(rb.ui("ru", "ui.button.reported_before"))
        await client.send(code.display())
        await client.send("Бригадир забрал паспорт")
        await tap(client, Op.FOLLOWUP_SEND)
        await settle(rb.harness)
        assert_phrasebook_only(client)
        await enter(client)
        await client.click(rb.ui("ru", "ui.button.reported_before"))
        await client.send("/start")  # leaving the follow-up: a new report, still inside
        assert client.labels()[:1] == ["Русский"]
        await client.click("Быстро закрыть")
        assert_phrasebook_only(client)
