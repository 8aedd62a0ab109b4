"""Receipts, follow-ups and analysts' replies through the real bot (fake Telegram, real store).

A report; its receipt shown once and deleted; the reporter back with the code adding a text and
a photo; a digest opened by the toolkit with the follow-up linked to the right report; an
analyst's reply made with ``reportbot analyst reply``, posted in the channel, and read by the
reporter with the right code only. Then what must not happen: the code in the database, a log
or a digest; unbounded guessing; a forged reply shown; a lost code leaving the reporter stuck.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.app import runtime_of
from bot.cli import _register, cli
from bot.ops.logging import configure_logging
from bot.receipts.codes import ReceiptCode, new_code
from handlers.callbacks import Op, decode
from handlers.followup import Followups
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.opening import ManifestRecord, open_envelope, read_record
from reportbot_analyst.replies import seal_reply
from reportbot_analyst.toolkit import FlowCatalog, write_output
from storage.base import ReportId, ReportState, RetentionPolicy, padded_answer_rows
from tests.bot_support import open_conversations, screen_callbacks, tap, walk
from tests.botclient import ReporterClient, texts_of
from tests.receipts_support import (
    SHORT_PLAN,
    ReceiptBot,
    receipt_bot,
    receipt_message_id,
    report,
    shown_code,
)
from tests.storage_support import find_leaks
from tests.test_bot_canary import Capture, record_text
from tests.test_bot_conversation import jpeg_with_gps

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def debug_logs() -> Iterator[tuple[Capture, io.StringIO]]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    capture = Capture()
    root.addHandler(capture)
    try:
        yield capture, stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.captureWarnings(False)


async def come_back(client: ReporterClient, code: ReceiptCode | str) -> list[str]:
    """/followup, then the code typed as two numbers; returns the texts the bot sent."""
    await client.send("/followup")
    typed = code.display() if isinstance(code, ReceiptCode) else code
    return texts_of(await client.send(typed))


async def press(client: ReporterClient, op: Op) -> list[str]:
    for mid, _, cb in screen_callbacks(client):
        if cb.op is op:
            return texts_of(await client.press(mid, cb.encode()))
    raise AssertionError(f"no {op.name} button on screen")


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    """The ``extra={"fields": ...}`` of a record."""
    fields = record.__dict__.get("fields")
    return fields if isinstance(fields, dict) else {}


def screen_texts(client: ReporterClient) -> str:
    return "\n".join(m.text or "" for m in client.on_screen())


async def reply_file(bot: ReceiptBot, tmp_path: Path, report_id: str, text: str) -> bytes:
    """``reportbot analyst reply`` as an analyst runs it, from the toolkit's output folder."""
    folder = tmp_path / "digests"
    out = tmp_path / "opened"
    files = sorted(folder.iterdir())
    result = bot.open_digests(files)
    write_output(result, out, FlowCatalog(), "en", bot.signing.public)
    _register()
    target = tmp_path / f"reply-{secrets.token_hex(4)}.bin"
    run = CliRunner().invoke(
        cli,
        [
            "analyst",
            "reply",
            report_id,
            "--text",
            text,
            "--key",
            str(bot.analyst_key_file(tmp_path)),
            "--opened",
            str(out),
            "--out",
            str(target),
        ],
    )
    assert run.exit_code == 0, run.output
    return target.read_bytes()


# --- the whole round trip ------------------------------------------------------------------------


async def test_report_followup_with_text_and_photo_reply_and_reading_it_with_the_right_code(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        code = shown_code(client)
        [original] = await bot.store.ready_reports()

        # The report's manifest carries the reply key, sealed to the analysts.
        stored = await bot.store.load_report(original)
        assert stored.manifest is not None
        manifest = read_record(open_envelope(stored.manifest, [bot.analyst]))
        assert isinstance(manifest, ManifestRecord)
        assert manifest.reply_key is not None

        # Kept: the receipt goes from the screen.
        await press(client, Op.RECEIPT_KEPT)
        assert receipt_message_id(client) is None

        # Back with the code: nothing from the analysts yet; add a text and a photo; send.
        texts = await come_back(client, code)
        assert bot.ui("ru", "ui.followup.no_replies") in texts
        assert code.numbers()[0] not in screen_texts(client)  # the typed code left the screen
        added = "Забыл сказать: паспорт забрал бригадир"
        await client.send(added)
        photo = jpeg_with_gps()
        await client.send_photo(photo)
        sent = await press(client, Op.FOLLOWUP_SEND)
        assert bot.ui("ru", "ui.followup.sent") in sent
        on_screen = client.on_screen()
        assert [m.text for m in on_screen] == [
            bot.ui("ru", "ui.followup.sent"),
        ]  # every message of the follow-up (both directions) deleted, as after a report
        assert open_conversations(bot.harness) == 0

        # The store holds a second, unlinked report; the toolkit links it.
        ready = await bot.store.ready_reports()
        assert len(ready) == 2
        folder = tmp_path / "digests"
        files = await bot.close_digest(folder)
        result = bot.open_digests(files)
        [rep] = result.reports
        assert rep.report == original
        assert rep.reply_key == manifest.reply_key
        [followup] = rep.followups
        assert followup.follows == original
        out = tmp_path / "opened"
        write_output(result, out, FlowCatalog(), "en", bot.signing.public)
        [doc] = [json.loads(line) for line in (out / "reports.jsonl").read_text().splitlines()]
        assert doc["report"] == original
        assert doc["reply_key"] == manifest.reply_key
        [linked] = doc["followups"]
        [attachment] = linked["attachments"]
        assert [item["content"] for item in linked["items"]] == [
            {"text": added},
            {"media": [{"kind": "photo", "ref": attachment["ref"]}]},
        ]
        assert attachment["media"] == "photo"
        assert attachment["metadata"] == "stripped"
        assert (out / attachment["file"]).is_file()
        assert linked["items"][1]["text"] == attachment["file"]

        # An analyst answers; the file is posted in the channel; the bot keeps it sealed.
        answer = "Спасибо. Где вы работаете сейчас?"
        data = await reply_file(bot, tmp_path, original, answer)
        await bot.channel().send_document(data, "application/octet-stream", "reply.bin")
        assert await bot.store.replies(original) == [data]

        # A wrong code shows nothing of it; the right one shows it.
        reader = bot.client(language_code="ru")
        wrong = await come_back(reader, new_code())
        assert bot.ui("ru", "ui.followup.wrong_code") in wrong
        assert not any(answer in t for t in texts_of(bot.telegram.calls) if t)
        texts = await come_back(reader, code)
        assert any(answer in t for t in texts)
        assert bot.ui("ru", "ui.followup.no_replies") not in texts
        await press(reader, Op.FOLLOWUP_SEND)
        assert answer not in screen_texts(reader)


async def test_followup_in_korean_with_the_language_switched_on_the_code_screen(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client, "조선말 (한국어)")
        code = shown_code(client)
        assert bot.ui("ko", "ui.button.kept_it") in client.labels()
        await client.send("/start")  # the start screen, in the language last used
        assert bot.ui("ko", "ui.button.reported_before") in client.labels()
        await client.click(bot.ui("ko", "ui.button.reported_before"))
        assert client.last_text() == bot.ui("ko", "ui.followup.ask_code")
        await client.click("Русский")
        assert client.last_text() == bot.ui("ru", "ui.followup.ask_code")
        await client.click("조선말 (한국어)")
        assert client.last_text() == bot.ui("ko", "ui.followup.ask_code")
        texts = texts_of(await client.send(code.display()))
        assert bot.ui("ko", "ui.followup.no_replies") in texts
        await client.send("작업반장이 려권을 가져갔습니다")
        assert bot.ui("ko", "ui.button.submit") in client.labels()
        sent = await press(client, Op.FOLLOWUP_SEND)
        assert bot.ui("ko", "ui.followup.sent") in sent


# --- the receipt on screen -----------------------------------------------------------------------


async def test_receipt_is_shown_once_with_advice_and_deleted_by_quick_exit(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        mid = receipt_message_id(client)
        assert mid is not None
        text = client.chat.messages[mid].text or ""
        code = shown_code(client)
        # "sent" and the code in one message: whoever saw "sent" holds a code that works
        receipt = bot.ui("ru", "ui.done.receipt").replace("{code}", code.display())
        assert text == f"{bot.ui('ru', 'ui.done.thanks')}\n\n{receipt}"
        assert len(re.findall(r"\d", code.display())) == 22  # 2 x "8 9" + 18 random digits
        await press(client, Op.EXIT)
        assert receipt_message_id(client) is None
        assert client.last_text() == bot.ui("ru", "ui.ended.neutral")
        # /panic later finds nothing of it either
        await client.send("/panic")
        assert receipt_message_id(client) is None


async def test_an_old_kept_it_button_still_deletes_its_receipt(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        mid = receipt_message_id(client)
        assert mid is not None
        [(_, data)] = [(m, d) for m, _, d in client.buttons(mid) if decode(d).op is Op.RECEIPT_KEPT]
        await client.send("/start")  # a new conversation, a new nonce
        await client.press(mid, data)
        assert receipt_message_id(client) is None


async def test_a_report_ended_by_quick_exit_gets_no_receipt(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await tap(client, Op.CHOOSE, "intro", "continue")
        await tap(client, Op.CHOOSE, "consent", "agree")
        await client.send("/panic")
        assert receipt_message_id(client) is None
        # on disk it has a receipt row like every report, with a random tag no code gives
        assert (await bot.store.counts()).receipts == 1
        assert not await bot.store.replies((await bot.store.ready_reports())[0])


# --- canary ------------------------------------------------------------------------------------


async def test_the_receipt_never_reaches_database_logs_or_digests_nor_any_telegram_id(
    tmp_path: Path, debug_logs: tuple[Capture, io.StringIO]
) -> None:
    capture, stream = debug_logs
    user_id = 7_411_926_580_337
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(
            user_id=user_id, username="canary_user_rcpt", first_name="CanaryFirstRcpt"
        )
        await report(client)
        code = shown_code(client)
        await press(client, Op.RECEIPT_KEPT)
        await come_back(client, code)
        await client.send("CanaryFollowupRcpt")
        await press(client, Op.FOLLOWUP_SEND)
        files = await bot.close_digest(tmp_path / "digests")
        [original] = [r.report for r in bot.open_digests(files).reports]
        data = await reply_file(bot, tmp_path, original, "CanaryReplyRcpt")
        await bot.channel().send_document(data, "application/octet-stream", "reply.bin")
        await come_back(client, code)  # read it
        await client.send("/panic")
        await bot.store.close()  # everything written out: database, -wal, -shm

    markers: list[str | bytes] = [
        code.digits,
        *code.numbers(),
        *(n.replace(" ", "").replace("-", "") for n in code.numbers()),
        code.digits[:9],
        code.digits[9:],
        str(user_id),
        "canary_user_rcpt",
        "CanaryFirstRcpt",
        "CanaryFollowupRcpt",
        "CanaryReplyRcpt",
    ]
    assert find_leaks(tmp_path / "data", markers) == []
    assert find_leaks(tmp_path / "digests", markers) == []
    logged = [record_text(r) for r in capture.records] + [stream.getvalue()]
    for marker in markers:
        assert not any(str(marker) in text for text in logged), marker
    assert any(r.getMessage() == "analyst_reply" for r in capture.records)  # logs were captured


# --- guessing ------------------------------------------------------------------------------------


async def test_guessing_codes_is_slowed_bounded_per_reporter_and_counted_without_codes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    derivations = 0
    async with receipt_bot(tmp_path, receipt_wrong_codes_per_reporter=3) as bot:
        owner = bot.client(language_code="ru")
        await report(owner)
        code = shown_code(owner)
        real_find = bot.service.find

        async def counting_find(c: ReceiptCode) -> object:
            nonlocal derivations
            derivations += 1
            return await real_find(c)

        monkeypatch.setattr(bot.service, "find", counting_find)
        guesser = bot.client(language_code="ru")
        await guesser.send("/followup")
        guesses = [new_code() for _ in range(10)]
        answers = [texts_of(await guesser.send(g.display())) for g in guesses]
        assert derivations == 3  # then not even tried
        assert all(bot.ui("ru", "ui.followup.wrong_code") in a for a in answers[:3])
        assert all(a == [bot.ui("ru", "ui.followup.too_many")] for a in answers[3:])
        # even the right code is not tried now: the limit holds before any lookup
        assert texts_of(await guesser.send(code.display())) == [
            bot.ui("ru", "ui.followup.too_many")
        ]
        assert derivations == 3
        # a day later the reporter may try again
        bot.harness.clock.advance(24 * 3600 + 1)
        assert bot.ui("ru", "ui.followup.no_replies") in texts_of(
            await guesser.send(code.display())
        )

    wrong = [r for r in caplog.records if r.getMessage() == "receipt_code_wrong"]
    assert [fields_of(r)["reporter_wrong_24h"] for r in wrong] == [1, 2, 3]
    limited = [r for r in caplog.records if r.getMessage() == "receipt_attempts_limited"]
    assert len(limited) == 8
    text = "\n".join(record_text(r) for r in caplog.records)
    for guess in [*guesses, code]:
        assert guess.digits not in text
        assert guess.digits[:9] not in text


async def test_fifty_guessing_accounts_slow_guessing_but_never_lock_out_the_right_code(
    tmp_path: Path,
) -> None:
    async with receipt_bot(
        tmp_path, receipt_wrong_codes_per_reporter=3, receipt_wrong_codes_per_hour=20
    ) as bot:
        owner = bot.client(language_code="ru")
        await report(owner)
        code = shown_code(owner)
        followups = runtime_of(bot.harness.app).chats.receipts
        assert isinstance(followups, Followups)
        waits: list[float] = []

        async def waiting(seconds: float) -> None:  # the clock moves; the test does not sleep
            waits.append(seconds)
            bot.harness.clock.advance(seconds)

        followups.service.sleep = waiting
        too_many = bot.ui("ru", "ui.followup.too_many")
        wrong = bot.ui("ru", "ui.followup.wrong_code")
        answers: list[list[str]] = []
        for _ in range(50):  # 50 throwaway accounts, 3 guesses each: 150 wrong codes
            guesser = bot.client(language_code="ru")
            await guesser.send("/followup")
            for _ in range(3):
                answers.append(texts_of(await guesser.send(new_code().display())))
        assert all(wrong in a for a in answers)  # tried and answered: no account was locked out
        assert len(waits) == 150 - 20  # the first 20 wrong codes of the hour cost no wait
        assert waits == sorted(waits)  # then the wait grows...
        assert waits[0] == 2.0
        assert max(waits) == 30.0  # ...up to its cap
        # the reporter with the right code gets through in the middle of it, after one capped wait
        waits.clear()
        back = await come_back(owner, code)
        assert bot.ui("ru", "ui.followup.no_replies") in back
        assert too_many not in back
        assert waits == [30.0]


async def test_concurrent_guesses_from_one_account_cannot_overshoot_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with receipt_bot(tmp_path, receipt_wrong_codes_per_reporter=3) as bot:
        derivations = 0
        real_find = bot.service.find
        started = asyncio.Event()

        async def slow_find(c: ReceiptCode) -> object:
            nonlocal derivations
            derivations += 1
            started.set()
            await asyncio.sleep(0.05)  # every guess is in flight at once
            return await real_find(c)

        monkeypatch.setattr(bot.service, "find", slow_find)
        guesser = bot.client(language_code="ru")
        await guesser.send("/followup")
        await asyncio.gather(*(guesser.send(new_code().display()) for _ in range(10)))
        assert derivations == 3  # counted before the lookup: 3 tried, 7 refused untried


async def test_something_that_is_not_a_code_costs_no_attempt(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path, receipt_wrong_codes_per_reporter=1) as bot:
        client = bot.client(language_code="ru")
        await client.send("/followup")
        for junk in ("привет", "8 912 345-67-89", "1234"):
            assert texts_of(await client.send(junk)) == [bot.ui("ru", "ui.followup.not_a_code")]
        assert bot.ui("ru", "ui.followup.wrong_code") in texts_of(
            await client.send(new_code().display())
        )


async def test_wrong_and_expired_codes_get_the_same_answer(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        code = shown_code(client)
        # the receipt's time is over
        await bot.store.apply_retention(RetentionPolicy(report_days=0, receipt_days=0))
        expired = await come_back(client, code)
        other = bot.client(language_code="ru")
        never = await come_back(other, new_code())
        assert expired[-1] == never[-1] == bot.ui("ru", "ui.followup.wrong_code")


# --- replies that must not be shown ---------------------------------------------------------------


async def test_replies_with_an_unknown_or_bad_signature_are_refused_and_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        code = shown_code(client)
        files = await bot.close_digest(tmp_path / "digests")
        [rep] = bot.open_digests(files).reports
        assert rep.reply_key is not None
        stranger = AnalystSecretKey.generate()
        forged = seal_reply(
            stranger, rep.report, rep.reply_key, "ForgedReplyQx", day=bot.harness.clock.now.date()
        )
        good = seal_reply(
            bot.analyst,
            rep.report,
            rep.reply_key,
            "AlteredReplyQx",
            day=bot.harness.clock.now.date(),
        )
        altered = bytearray(good)
        altered[-1] ^= 0x01  # the signature
        channel = bot.channel()
        await channel.send_document(forged, "application/octet-stream", "r1.bin")
        await channel.send_document(bytes(altered), "application/octet-stream", "r2.bin")
        assert await bot.store.replies(ReportId(rep.report)) == []
        outcomes = [
            fields_of(r)["outcome"] for r in caplog.records if r.getMessage() == "analyst_reply"
        ]
        assert outcomes == ["unknown_signer", "bad_signature"]

        # Even if one got into the database some other way, it is never shown.
        await bot.store.add_reply(ReportId(rep.report), forged)
        texts = await come_back(client, code)
        assert bot.ui("ru", "ui.followup.no_replies") in texts
        assert "ForgedReplyQx" not in "\n".join(texts_of(bot.telegram.calls))


async def test_files_posted_elsewhere_or_too_large_are_not_taken_as_replies(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        files = await bot.close_digest(tmp_path / "digests")
        [rep] = bot.open_digests(files).reports
        assert rep.reply_key is not None
        good = seal_reply(
            bot.analyst, rep.report, rep.reply_key, "x", day=bot.harness.clock.now.date()
        )
        other = bot.harness.group(-1_009_999, "channel")
        await other.send_document(good, "application/octet-stream", "r.bin")
        await bot.channel().send_document(
            b"RBRP" + bytes(70_000), "application/octet-stream", "big.bin"
        )
        assert await bot.store.replies(ReportId(rep.report)) == []
        assert bot.telegram.downloads == []  # nothing was even fetched


# --- losing the code, and other ways out ----------------------------------------------------------


async def test_a_lost_code_is_explained_plainly_and_a_new_report_can_start(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        await press(client, Op.RECEIPT_KEPT)
        await client.send("/followup")
        texts = texts_of(await client.click(bot.ui("ru", "ui.button.lost_code")))
        assert texts == [bot.ui("ru", "ui.followup.lost")]
        await client.click(bot.ui("ru", "ui.button.new_report"))
        assert any(cb.qid == "intro" for _, _, cb in screen_callbacks(client))
        # the second report goes through like any other, with its own receipt
        await walk(client, SHORT_PLAN)
        await tap(client, Op.SUBMIT)
        assert receipt_message_id(client) is not None
        assert (await bot.store.counts()).receipts == 2


async def test_quick_exit_during_a_followup_erases_it_and_keeps_what_was_added(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        code = shown_code(client)
        await press(client, Op.RECEIPT_KEPT)
        before = set(await bot.store.ready_reports())
        await come_back(client, code)
        await client.send("ещё одно")
        await press(client, Op.EXIT)
        assert [m.text for m in client.on_screen()][-1] == bot.ui("ru", "ui.ended.neutral")
        assert bot.ui("ru", "ui.followup.add_prompt") not in screen_texts(client)
        [followup] = set(await bot.store.ready_reports()) - before
        assert (await bot.store.load_report(followup)).state is ReportState.INTERRUPTED


async def test_followup_is_refused_while_a_report_is_being_answered(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        assert texts_of(await client.send("/followup")) == [bot.ui("ru", "ui.followup.busy")]


async def test_nothing_added_leaves_no_report_and_idle_followups_are_closed(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        code = shown_code(client)
        before = set(await bot.store.ready_reports())
        await come_back(client, code)
        assert bot.ui("ru", "ui.followup.nothing_added") in await press(client, Op.FOLLOWUP_SEND)
        assert set(await bot.store.ready_reports()) == before
        # a follow-up left alone is closed after the idle timeout, what was added kept
        await come_back(client, code)
        await client.send("добавка")
        bot.harness.clock.advance(bot.harness.settings.idle_timeout_seconds + 1)
        await bot.harness.runtime.chats.sweep()
        assert len(set(await bot.store.ready_reports()) - before) == 1
        assert await bot.store.open_reports() == []


async def test_the_command_menu_offers_followup_when_receipts_are_on(tmp_path: Path) -> None:
    async with receipt_bot(tmp_path) as bot:
        for call in bot.telegram.calls_of("setMyCommands"):
            names = [c["command"] for c in call.params["commands"]]
            assert names[:2] == ["start", "followup"]


async def test_each_wrong_code_is_answered_only_after_a_pause(tmp_path: Path) -> None:
    pauses: list[float] = []

    async def no_wait(seconds: float) -> None:
        pauses.append(seconds)

    async with receipt_bot(tmp_path, receipt_wrong_code_delay_seconds=2.5) as bot:
        followups = bot.harness.runtime.chats.receipts
        assert isinstance(followups, Followups)
        followups.service.sleep = no_wait
        owner = bot.client(language_code="ru")
        await report(owner)
        code = shown_code(owner)
        await come_back(owner, new_code())
        await owner.send("не код")
        await owner.send(code.display())
        assert pauses == [2.5]  # the wrong code only: not the malformed one, not the right one


async def test_ill_fitting_input_during_a_followup_gets_the_usual_calm_answers(
    tmp_path: Path,
) -> None:
    async with receipt_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await report(client)
        code = shown_code(client)
        await client.send("/followup")
        # a file where the code is expected
        assert texts_of(await client.send_photo(jpeg_with_gps())) == [
            bot.ui("ru", "ui.error.expected_text")
        ]
        await client.send(code.display())
        assert texts_of(await client.send_sticker()) == [bot.ui("ru", "ui.error.unsupported_input")]
        assert texts_of(await client.send_document(b"MZ\x90\x00", "application/x-msdownload")) == [
            bot.ui("ru", "ui.error.wrong_media_kind")
        ]
        assert texts_of(await client.send("\u202e\u200b")) == [
            bot.ui("ru", "ui.error.expected_text")
        ]
        assert texts_of(await client.send("а" * 4001)) == [bot.ui("ru", "ui.error.too_long")]
        assert texts_of(await client.send_voice(b"OggS\x00\x02" + b"\x11" * 500)) == [
            bot.ui("ru", "ui.followup.received")
        ]
        before = set(await bot.store.ready_reports())
        await press(client, Op.FOLLOWUP_SEND)
        [followup] = set(await bot.store.ready_reports()) - before
        stored = await bot.store.load_report(followup)
        assert len(stored.attachments) == 1  # the voice note, nothing refused was kept
        # the text and the store's dummies (a follow-up is padded like any report)
        assert len(stored.answers) == padded_answer_rows(1)
