"""Flood limits that fit real reporters, and a flood that costs the bot a bounded amount.

In process: the real Application through ``process_update``, the recording request, the fake
clock (the limits are time based: each update moves the clock by the reporter's pace). The
shipped defaults of ``Settings`` are used for the limits, not the generous ones of the other tests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.ops.settings import Settings
from bot.questionnaire.flow import Kind
from handlers.callbacks import Op
from handlers.private import MAX_QUEUED_UPDATES
from tests.bot_support import (
    BotHarness,
    current_qid,
    on_review,
    running_bot,
    screen_callbacks,
    shipped_flow,
    tap,
)
from tests.botclient import JSON, Call, Person, ReporterClient, texts_of
from tests.sealing_support import gps_jpeg

PACE_SECONDS = 0.7
"""A brisk reporter: one tap (or one typed answer) every 0.7 s."""

TYPED = {Kind.TEXT: "Работаем без выходных.", Kind.NUMBER: "12", Kind.DATE: "05.2024"}


def shipped_limits() -> dict[str, Any]:
    """The flood settings as shipped (tests/bot_support.py loosens them for everyone else)."""
    fields = Settings.model_fields
    return {
        name: fields[name].default
        for name in ("messages_per_minute", "message_burst", "flood_ignore_minutes")
    }


def paced_client(bot: BotHarness, user_id: int, pace: float) -> ReporterClient:
    """A reporter whose every update comes ``pace`` seconds after the one before."""

    async def transport(update: JSON) -> None:
        bot.clock.advance(pace)
        await bot.app.process_update(update_of(bot, update))

    return ReporterClient(
        None, bot.telegram, Person(user_id=user_id, language_code="ru"), transport=transport
    )


def update_of(bot: BotHarness, update: JSON) -> Any:
    from telegram import Update

    return Update.de_json(update, bot.app.bot)


def throttle_words(bot: BotHarness, lang: str) -> list[str]:
    ui = bot.runtime.renderer
    return [
        ui.ui_text(lang, "ui.flood.slow_down"),
        ui.ui_text(lang, "ui.flood.wait_seconds", seconds=1).split("1")[0],
        ui.ui_text(lang, "ui.flood.wait_minutes", minutes=1).split("1")[0],
    ]


def toasts(calls: list[Call]) -> list[str]:
    return [str(c.params.get("text", "")) for c in calls if c.method == "answerCallbackQuery"]


async def answer_everything(client: ReporterClient) -> int:
    """Answer every question of the shipped flow (no skipping), then submit; updates sent."""
    flow = shipped_flow()
    sent = 0
    for _ in range(200):
        if on_review(client):
            await tap(client, Op.SUBMIT)
            return sent + 1
        qid = current_qid(client)
        assert qid is not None, f"lost in the flow: {client.last_text()!r}"
        kind = flow.question(qid).kind
        if kind in TYPED:
            await client.send(TYPED[kind])
            sent += 1
        elif kind is Kind.MEDIA:
            await client.send_photo(gps_jpeg())
            await tap(client, Op.DONE, qid)
            sent += 2
        else:
            choices = [cb for _, _, cb in screen_callbacks(client) if cb.op is Op.CHOOSE]
            await tap(client, Op.CHOOSE, qid, choices[0].cid)
            sent += 1
            if kind is Kind.MULTI:
                await tap(client, Op.DONE, qid)
                sent += 1
        moved = on_review(client) or current_qid(client) != qid
        assert moved, f"{qid} did not take its answer: {client.last_text()!r}"
    raise AssertionError("the flow did not end")


async def test_a_reporter_tapping_every_0_7_s_finishes_the_whole_flow_unthrottled(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, **shipped_limits()) as bot:
        client = paced_client(bot, 5_560_001, PACE_SECONDS)
        await client.send("/start")
        await client.click("Русский")
        updates = 2 + await answer_everything(client)
        # the whole flow, every question answered: more than the old limit let through
        assert updates >= 40, updates
        said = texts_of(bot.telegram.calls) + toasts(bot.telegram.calls)
        for word in throttle_words(bot, "ru"):
            assert not any(word in text for text in said), word
        [report] = await bot.reports()
        assert bot.open(report).manifest is not None  # submitted, complete


async def test_a_flooding_account_is_slowed_then_ignored_at_a_bounded_cost(
    tmp_path: Path,
) -> None:
    limits = shipped_limits()
    async with running_bot(tmp_path, **limits) as bot:
        flooder = paced_client(bot, 5_560_002, 0.0)  # 300 messages in the same instant
        await flooder.send("/start")
        await flooder.click("Русский")
        before = len(bot.telegram.calls)
        for n in range(300):
            await flooder.send(f"spam {n}")
        flood = bot.telegram.calls[before:]
        sends = [c for c in flood if c.method in ("sendMessage", "editMessageText")]
        # slowed: the bucket's worth is handled (2 went on /start and the language), then one
        # calm line; the rest of the 300 costs no send at all
        assert len(sends) <= limits["message_burst"] - 2 + 1, len(sends)
        slow_down = bot.ui("ru", "ui.flood.slow_down")
        assert texts_of(flood).count(slow_down) == 1

        # ignored: a minute later (the bucket refilled) still nothing is handled...
        bot.clock.advance(60)
        calls = await flooder.send("still spam")
        assert calls == []
        # ...but a pressed button is answered at once, with when to go on
        [(mid, _, cb)] = [s for s in screen_callbacks(flooder) if s[2].op is Op.BACK][:1]
        calls = await flooder.press(mid, cb.encode())
        assert [c.method for c in calls] == ["answerCallbackQuery"]
        minutes = round(limits["flood_ignore_minutes"]) - 1
        assert toasts(calls) == [
            bot.runtime.renderer.ui_text("ru", "ui.flood.wait_minutes", minutes=minutes)
        ]

        # after the pause the account is served again
        bot.clock.advance(limits["flood_ignore_minutes"] * 60)
        calls = await flooder.send("/help")
        assert texts_of(calls) == [bot.ui("ru", "ui.help")]


async def test_a_button_pressed_while_slowed_says_in_how_many_seconds_to_go_on(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, **shipped_limits()) as bot:
        for lang, label in (("ko", "조선말 (한국어)"), ("ru", "Русский"), ("en", "English")):
            client = paced_client(bot, 5_560_010 + len(lang) * 7 + ord(lang[0]), 0.0)
            await client.send("/start")
            await client.click(label)
            burst = int(shipped_limits()["message_burst"])
            for _ in range(burst - 2):
                await client.send("/help")
            # every press past the bucket is answered, none spins: the first with the seconds
            # to wait, and so is every later one (a second "slow down" message is never sent)
            for _ in range(3):
                [(mid, _, cb)] = [s for s in screen_callbacks(client) if s[2].op is Op.BACK]
                calls = await client.press(mid, cb.encode())
                assert [c.method for c in calls] == ["answerCallbackQuery"]
                assert toasts(calls) == [
                    bot.runtime.renderer.ui_text(lang, "ui.flood.wait_seconds", seconds=1)
                ]


async def test_a_pressed_button_is_answered_before_the_screen_is_sent(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        calls = await client.click("Русский")
        methods = [c.method for c in calls]
        assert methods[0] == "answerCallbackQuery", methods
        assert methods.count("answerCallbackQuery") == 1
        assert "editMessageText" in methods or "sendMessage" in methods
        # a choice on a question: the answer, then one edit of the same screen
        qid = current_qid(client)
        assert qid is not None
        calls = await tap(client, Op.CHOOSE, qid, "continue")
        assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText"]


async def test_every_step_of_the_whole_flow_is_one_send_or_one_edit(tmp_path: Path) -> None:
    """Fewer messages per step: a pressed button is answered, then its screen edited in place;
    a typed answer or a file gets the next question as one new message (below the reporter's)."""
    async with running_bot(tmp_path) as bot:
        steps: list[tuple[bool, list[str]]] = []

        async def transport(update: JSON) -> None:
            before = len(bot.telegram.calls)
            await bot.app.process_update(update_of(bot, update))
            methods = [c.method for c in bot.telegram.calls[before:]]
            steps.append(("callback_query" in update, methods))

        person = Person(user_id=5_560_020, language_code="ru")
        client = ReporterClient(None, bot.telegram, person, transport=transport)
        await client.send("/start")
        await client.click("Русский")
        await answer_everything(client)
        *questions, (_, submitted) = steps
        assert len(questions) >= 40
        for pressed, methods in questions:
            sends = [m for m in methods if m.startswith(("send", "edit"))]
            if pressed:
                assert methods[0] == "answerCallbackQuery", methods
                assert sends == ["editMessageText"], methods
            else:
                assert sends == ["sendMessage"], methods
        # the end: the answer, the erase in one call, the receipt as the one message left
        assert submitted[0] == "answerCallbackQuery", submitted
        assert [m for m in submitted if m.startswith(("send", "edit"))] == ["sendMessage"]


async def test_a_flood_of_presses_at_once_queues_at_most_three_on_the_reporters_lock(
    tmp_path: Path,
) -> None:
    """Updates of one account arriving together (PTB handles up to 32 at once) must not wait on
    its lock: each waiting one would hold a concurrent-update slot that other reporters need.
    Beyond three, they are dropped at once, and a button still gets its toast."""
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        [(mid, _, cb)] = [s for s in screen_callbacks(client) if s[2].op is Op.BACK]
        presses = 40
        before = len(bot.telegram.calls)
        # every Bot API call of the handled ones takes a while: the lock stays busy
        request = bot.app.bot.request
        delay = getattr(request, "delay", None)
        assert delay is not None
        setattr(request, "delay", 0.05)  # noqa: B010 - RecordingRequest's knob
        try:
            await asyncio.gather(*(client.press(mid, cb.encode()) for _ in range(presses)))
        finally:
            setattr(request, "delay", delay)  # noqa: B010 - likewise
        calls = bot.telegram.calls[before:]
        answers = [c for c in calls if c.method == "answerCallbackQuery"]
        assert len(answers) == presses  # no button spins
        handled = [c for c in calls if c.method in ("sendMessage", "editMessageText")]
        assert 1 <= len(handled) <= MAX_QUEUED_UPDATES + 1, len(handled)
        wait = bot.runtime.renderer.ui_text("ru", "ui.flood.wait_seconds", seconds=1)
        assert toasts(calls).count(wait) >= presses - MAX_QUEUED_UPDATES - 1
