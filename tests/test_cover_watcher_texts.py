"""Cover mode (issue 15.2, "What it must show"): no text a watcher can see without an entry code
holds a word from the forbidden list (``cover_forbidden`` in ``locales/glossary.yaml``, ko, ru
and en, every text checked against all three).

Through the real Application, a stranger (one per phone language) does everything a stranger
can: every command, every phrasebook screen and button, searches that find and that do not,
wrong codes, every kind of message, forged and old buttons, an internal error, a flood; the bot
is also added to a group. Every text the bot sent, edited, toasted, put on a button or published
as its profile is collected and checked; and, so that the check can fail, the same stranger
against the bot with the cover off finds forbidden words. The texts left after each way out of
a report (thanks, receipt, the words around an erase) are checked the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.phrasebook.loader import read_forbidden
from bot.questionnaire.flow import LANGUAGES
from handlers.callbacks import Op, encode, new_nonce
from tests.bot_support import (
    COVER_ON,
    ENTRY_CODE,
    LOCALES,
    BotHarness,
    running_bot,
    shipped_flow,
    shipped_phrasebook,
    shipped_ui,
)
from tests.botclient import BotApiError, Call, ReporterClient

FORBIDDEN = read_forbidden(LOCALES)
BOOK = shipped_phrasebook()


def forbidden_in(texts: Iterable[str]) -> dict[str, list[str]]:
    """text (cut) -> the forbidden words found in it, in any of the three languages."""
    found: dict[str, list[str]] = {}
    for text in texts:
        hits = sorted({w for lang in LANGUAGES for w in FORBIDDEN.found_in(lang, text)})
        if hits:
            found[text[:80]] = hits
    return found


def _labels(markup: Any) -> list[str]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    return [str(b.get("text", "")) for row in markup.get("inline_keyboard", []) for b in row]


def seen_texts(calls: Iterable[Call]) -> list[str]:
    """Every text of these calls a person could see: messages, edits, toasts, button labels,
    the command menu, the descriptions."""
    out: list[str] = []
    for call in calls:
        params = call.params
        for key in ("text", "description", "short_description"):
            if key in params and params[key] is not None:
                out.append(str(params[key]))
        out += _labels(params.get("reply_markup"))
        if call.method == "setMyCommands":
            commands = params["commands"]
            items = json.loads(commands) if isinstance(commands, str) else commands
            out += [str(c["description"]) for c in items]
    return out


def every_phrasebook_button() -> list[str]:
    data = []
    for lang in LANGUAGES:
        data += [f"P:{lang}:h", f"P:{lang}:?"]
        for topic in BOOK.spec.topics:
            data.append(f"P:{lang}:t:{topic.id}")
            data += [f"P:{lang}:s:{section.id}" for section in topic.sections]
    return data


async def a_stranger_does_everything(bot: BotHarness, language_code: str) -> ReporterClient:
    client = bot.client(language_code=language_code)
    commands = ["/start", "/help", "/safety", "/language", "/cancel", "/followup", "/panic"]
    commands += ["/nonsense", "/start wrong-payload-123", "/start@other_bot", "/help extra words"]
    for command in commands:
        await client.send(command)
    for text in ("аптека", "약국", "doctor", "x", "Kvass-Lantern-0000-WRONG", "신고", "report"):
        await client.send(text)
    await client.send_sticker()
    await client.send_photo(b"\xff\xd8not really a jpeg")
    await client.send_voice(b"OggS....")
    await client.send_document(b"%PDF-1.4")
    await client.send_contact()
    await client.send_location()
    await client.send_poll()
    await client.forward("a forwarded text")
    await client.edit(client.sent_ids[0], "an edited text")
    await client.send("/start")
    home = client.buttons()[0][0]
    for data in every_phrasebook_button():
        await client.press(home, data)
    for data in (
        "P:xx:h",
        "P:ko:s:none",
        "P:ko",
        "garbage",
        encode(Op.CHOOSE, new_nonce(), "q", "c"),
    ):
        await client.press(home, data)
    await client.press(home, encode(Op.EXIT, new_nonce()))
    bot.telegram.fail_next("sendMessage", BotApiError(400, "Bad Request: injected"))
    await client.send("/start")  # the handler fails: what does the error handler say?
    return client


async def _everything_seen(bot: BotHarness) -> tuple[list[str], list[Call]]:
    calls_before = len(bot.telegram.calls)
    for language_code in ("ko", "ru", "en", None, "de"):
        await a_stranger_does_everything(bot, language_code)  # type: ignore[arg-type]
    group = bot.group(-100_555, "supergroup")
    await group.send("/start")
    profile = [c for c in bot.telegram.calls[:calls_before] if c.method.startswith("setMy")]
    calls = profile + bot.telegram.calls[calls_before:]
    return seen_texts(calls), calls


async def test_no_text_a_stranger_can_see_holds_a_forbidden_word(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        texts, calls = await _everything_seen(bot)
    assert {BOOK.text(lang, "pb.home") for lang in LANGUAGES} <= set(texts)  # it did look
    errors = {BOOK.text(lang, "pb.error") for lang in LANGUAGES}
    assert errors & set(texts)  # the error handler spoke, the phrasebook's words
    assert len({c.method for c in calls}) >= 6
    assert forbidden_in(texts) == {}


async def test_the_same_stranger_finds_forbidden_words_with_the_cover_off(tmp_path: Path) -> None:
    """The check above can fail: without the cover, the same actions show reporting words."""
    async with running_bot(tmp_path) as bot:
        texts, _ = await _everything_seen(bot)
    assert forbidden_in(texts) != {}


async def test_a_flooding_stranger_sees_only_the_phrasebooks_slow_down(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON, message_burst=3, messages_per_minute=1) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        home = client.buttons()[0][0]
        before = len(bot.telegram.calls)
        for _ in range(12):
            await client.send("аптека")
            await client.press(home, "P:ru:h")
        texts = seen_texts(bot.telegram.calls[before:])
    assert BOOK.text("ru", "pb.slow_down") in texts
    assert forbidden_in(texts) == {}
    assert all(bot.ui("ru", "ui.flood.slow_down") != t for t in texts)


THE_WAY_OUT = (
    "ui.done.thanks",
    "ui.cancel.sent",
    "ui.followup.sent",
    "ui.followup.nothing_added",
    "ui.done.receipt_cover",
    "ui.button.kept_it",
    "ui.button.exit",
    "ui.ended.neutral",
    "ui.cancel.discarded",
    "ui.timeout.kept",
    "ui.restart.kept",
)
"""What a report leaves on screen for a while, or until the reporter presses a button."""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_texts_left_after_a_report_hold_no_forbidden_word(lang: str) -> None:
    ui = shipped_ui()[lang]
    assert forbidden_in(ui[text_id] for text_id in THE_WAY_OUT) == {}
    ends = {k: v for k, v in shipped_flow().texts[lang].items() if k.endswith(".end")}
    assert ends, "the flow has no ending texts: the check would prove nothing"
    assert forbidden_in(ends.values()) == {}  # a flow's early end stays like the thanks


def test_the_entry_code_of_the_tests_is_no_phrasebook_word() -> None:
    """Else every test above would search instead of entering."""
    assert not BOOK.search(ENTRY_CODE).phrase_ids
