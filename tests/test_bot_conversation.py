"""Whole reports through the real Application: answers sealed as given, the chat erased after."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from handlers.callbacks import Op
from reportbot_analyst.opening import open_envelope, read_record
from storage.base import ReportState
from tests.bot_support import (
    BotHarness,
    current_qid,
    on_review,
    open_conversations,
    running_bot,
    screen_callbacks,
    tap,
    walk,
)
from tests.botclient import ReporterClient, texts_of


def jpeg_with_gps() -> bytes:
    """A small JPEG carrying EXIF GPS tags, as a phone writes them."""
    image = Image.new("RGB", (32, 24), (200, 10, 10))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[2] = (55.0, 45.0, 0.0)  # GPSLatitude
    gps[4] = (37.0, 37.0, 0.0)  # GPSLongitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


VOICE = b"OggS\x00\x02" + b"\x11" * 2000


async def start(client: ReporterClient, language_label: str) -> None:
    await client.send("/start")
    await client.click(language_label)


def assert_chat_erased(bot: BotHarness, client: ReporterClient, left: int) -> None:
    """Every message of the conversation (both directions) is gone; only ``left`` final lines."""
    remaining = client.on_screen()
    assert len(remaining) == left, [m.text for m in remaining]
    assert all(m.from_bot for m in remaining)
    deleted = {
        mid
        for call in bot.telegram.calls_of("deleteMessages", client.chat_id)
        for mid in call.params["message_ids"]
    }
    assert set(client.sent_ids) <= deleted  # every message the reporter sent
    for call in bot.telegram.calls_of("deleteMessages", client.chat_id):
        assert 1 <= len(call.params["message_ids"]) <= 100


def assert_every_message_protected(bot: BotHarness) -> None:
    for call in bot.telegram.calls_of("sendMessage"):
        assert call.params.get("protect_content") is True, call.params
        assert "parse_mode" not in call.params, call.params
    for call in bot.telegram.calls_of("editMessageText"):
        assert "parse_mode" not in call.params, call.params


async def test_full_report_in_korean_with_a_photo_is_sealed_and_the_chat_erased(
    tmp_path: Path,
) -> None:
    photo = jpeg_with_gps()
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ko", first_name="김철수")
        await start(client, "조선말 (한국어)")
        words = "월급을 석달째 못 받았습니다. 보위원이 려권을 가지고 있습니다."
        await walk(
            client,
            {
                "alone": [("choose", "ok_now")],
                "about": [("choose", "both")],
                "site": [("choose", "construction")],
                "place": [("text", "블라디보스또크")],
                "since": [("choose", "y2024"), ("choose", "m03")],
                "hours": [("text", "14")],
                "taken": [("choose", "loyalty_funds"), ("choose", "quota"), ("done",)],
                "more": [("text", words)],
                "evidence": [("photo", photo), ("done",)],
            },
        )
        review = client.last_text()
        assert words in review  # the reporter checks their own words before sending
        calls = await tap(client, Op.SUBMIT)
        assert bot.ui("ko", "ui.done.thanks") in texts_of(calls)
        assert_chat_erased(bot, client, left=1)
        assert open_conversations(bot) == 0

        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.state is ReportState.COMPLETE
        assert opened.manifest is not None
        assert opened.manifest.head.lang == "ko"
        answers = opened.answers
        assert answers["consent"] == {"consent": True}
        assert answers["about"] == {"choice": "both"}
        assert answers["place"] == {"text": "블라디보스또크"}
        assert answers["since"] == {"year": 2024, "month": 3}
        assert answers["hours"] == {"number": 14}
        assert answers["taken"] == {"choices": ["loyalty_funds", "quota"]}
        assert answers["more"] == {"text": words}
        [attachment] = opened.files.values()
        assert attachment.media == "photo"
        assert attachment.metadata == "stripped"
        assert b"\x88\x25" not in attachment.data
        assert b"GPS" not in attachment.data
        assert answers["evidence"] == {"media": [{"kind": "photo", "ref": attachment.ref}]}
        assert_every_message_protected(bot)


async def test_full_report_in_russian_with_voice_and_two_photos(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await start(client, "Русский")
        await walk(
            client,
            {
                "about": [("choose", "me")],
                "hours": [("text", "12")],
                "injured": [("choose", "me")],
                "injury_kind": [("choose", "fall"), ("done",)],
                "more": [("text", "Нас бьют")],
                "evidence": [
                    ("photo", jpeg_with_gps()),
                    ("voice", VOICE),
                    ("photo", jpeg_with_gps()),
                    ("done",),
                ],
            },
        )
        await tap(client, Op.SUBMIT)
        assert_chat_erased(bot, client, left=1)
        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.state is ReportState.COMPLETE
        assert opened.answers["injury_kind"] == {"choices": ["fall"]}
        kinds = sorted(f.media for f in opened.files.values())
        assert kinds == ["photo", "photo", "voice"]
        voice = next(f for f in opened.files.values() if f.media == "voice")
        assert voice.data == VOICE
        media = opened.answers["evidence"]["media"]
        assert isinstance(media, list)
        assert {item["ref"] for item in media} == set(opened.files)


async def test_back_and_edit_keep_only_the_final_answers(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await start(client, "Русский")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        assert current_qid(client) == "site"
        await tap(client, Op.BACK, "site")
        assert current_qid(client) == "about"
        assert "✓" in " ".join(client.labels())  # the earlier answer is shown as chosen
        await tap(client, Op.CHOOSE, "about", "others")
        await walk(
            client,
            {
                "injured": [("choose", "others")],
                "injury_kind": [("choose", "burn"), ("done",)],
                "injury_care": [("choose", "refused")],
            },
        )
        assert on_review(client)
        # From the review: nobody was injured after all; the follow-ups must go.
        await tap(client, Op.EDIT, "injured")
        assert current_qid(client) == "injured"
        await tap(client, Op.CHOOSE, "injured", "nobody")
        assert on_review(client)
        await tap(client, Op.SUBMIT)
        [report] = await bot.reports()
        answers = bot.open(report).answers
        assert answers["about"] == {"choice": "others"}
        assert answers["injured"] == {"choice": "nobody"}
        assert "injury_kind" not in answers
        assert "injury_care" not in answers
        # Replaced and dropped answers are deleted from the store, not just left out (the rest
        # of the rows are the store's dummies, issue 17.1).
        real = [
            e
            for e in report.answers.values()
            if read_record(open_envelope(e, [bot.analyst])) is not None
        ]
        assert len(real) == len(answers)


async def test_not_alone_ends_early_keeping_consent_and_erasing_the_chat(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await start(client, "Русский")
        await walk(client, {"alone": [("choose", "not_now")]})
        end_text = bot.flow_text("ru", "alone.end")
        assert end_text in [m.text for m in client.on_screen()]
        assert_chat_erased(bot, client, left=1)
        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.state is ReportState.COMPLETE
        assert set(opened.answers) == {"consent", "alone"}
        assert open_conversations(bot) == 0


async def test_declined_consent_keeps_nothing_at_all(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ko")
        await start(client, "조선말 (한국어)")
        await tap(client, Op.CHOOSE, "intro", "continue")
        await tap(client, Op.CHOOSE, "consent", "decline")
        assert await bot.reports() == []
        assert (await bot.store.counts()).answers == 0
        assert bot.flow_text("ko", "consent.end") in [m.text for m in client.on_screen()]


async def test_the_phone_language_only_preselects(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        for code, first in (
            ("ru", "Русский"),
            ("ko", "조선말 (한국어)"),
            ("de", "조선말 (한국어)"),
        ):
            client = bot.client(language_code=code)
            await client.send("/start")
            labels = client.labels()
            assert labels[0] == first
            assert set(labels[:3]) == {"조선말 (한국어)", "Русский", "English"}
        # A Russian phone can still choose Korean.
        client = bot.client(language_code="ru")
        await start(client, "조선말 (한국어)")
        assert bot.flow_text("ko", "intro.prompt") in client.last_text()


async def test_language_can_change_mid_report_without_losing_answers(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await start(client, "Русский")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        await client.send("/language")
        await client.click("조선말 (한국어)")
        assert bot.flow_text("ko", "site.prompt") in client.last_text()
        await walk(client, {})
        await tap(client, Op.SUBMIT)
        [report] = await bot.reports()
        opened = bot.open(report)
        assert opened.answers["about"] == {"choice": "me"}
        assert opened.manifest is not None
        assert opened.manifest.head.lang == "ko"


async def test_every_prompt_offers_back_and_quick_exit(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await start(client, "Русский")
        seen = 0
        while not on_review(client):
            ops = {cb.op for _, _, cb in screen_callbacks(client)}
            assert {Op.BACK, Op.EXIT} <= ops, (current_qid(client), ops)
            seen += 1
            await walk(client, {}, steps=1)
        assert seen > 20
        ops = {cb.op for _, _, cb in screen_callbacks(client)}
        assert {Op.BACK, Op.EXIT, Op.SUBMIT} <= ops


async def test_back_on_the_first_prompt_returns_to_the_language_choice(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await start(client, "Русский")
        assert current_qid(client) == "intro"
        await tap(client, Op.BACK, "intro")
        assert client.labels()[0] == "Русский"
        await client.click("English")
        assert bot.flow_text("en", "intro.prompt") in client.last_text()
