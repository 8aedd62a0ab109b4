"""The catalogue of input that does not fit: each gets a short localised answer, never a crash."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from handlers.callbacks import Op, encode
from tests.bot_support import BotHarness, current_qid, running_bot, screen_callbacks, tap, walk
from tests.botclient import Call, ReporterClient, texts_of
from tests.test_bot_conversation import jpeg_with_gps

Send = Callable[[ReporterClient], Awaitable[list[Call]]]


async def at(bot: BotHarness, qid: str, lang: str = "ru") -> ReporterClient:
    client = bot.client(language_code=lang)
    await client.send("/start")
    await client.click({"ru": "Русский", "ko": "조선말 (한국어)"}[lang])
    await walk(client, {}, stop_at=qid)
    assert current_qid(client) == qid
    return client


def nonce_of(client: ReporterClient) -> str:
    return screen_callbacks(client)[0][2].nonce


async def _sticker(c: ReporterClient) -> list[Call]:
    return await c.send_sticker()


async def _contact(c: ReporterClient) -> list[Call]:
    return await c.send_contact()


async def _location(c: ReporterClient) -> list[Call]:
    return await c.send_location()


async def _poll(c: ReporterClient) -> list[Call]:
    return await c.send_poll()


async def _gif(c: ReporterClient) -> list[Call]:
    animation = {
        "file_id": "ANIM1",
        "file_unique_id": "A1",
        "width": 1,
        "height": 1,
        "duration": 1,
        "file_size": 10,
    }
    return await c.send_message({"animation": animation, "document": animation}, "animation")


async def _unknown_command(c: ReporterClient) -> list[Call]:
    return await c.send("/whoami")


async def _forwarded(c: ReporterClient) -> list[Call]:
    return await c.forward("Нам не платят")


@pytest.mark.parametrize(
    ("send", "text_id"),
    [
        (_sticker, "ui.error.unsupported_input"),
        (_contact, "ui.error.unsupported_input"),
        (_location, "ui.error.unsupported_input"),
        (_poll, "ui.error.unsupported_input"),
        (_gif, "ui.error.unsupported_input"),
        (_unknown_command, "ui.error.unsupported_input"),
        (_forwarded, "ui.error.forwarded_message"),
    ],
    ids=["sticker", "contact", "location", "poll", "gif", "unknown-command", "forwarded"],
)
@pytest.mark.parametrize("lang", ["ru", "ko"])
async def test_messages_that_are_no_answer_get_a_short_localised_reply(
    tmp_path: Path, send: Send, text_id: str, lang: str
) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "more", lang)
        calls = await send(client)
        assert texts_of(calls) == [bot.ui(lang, text_id)]
        assert current_qid(client) == "more"  # nothing was taken as an answer
        await tap(client, Op.SKIP, "more")
        await walk(client, {})
        await tap(client, Op.SUBMIT)
        [report] = await bot.reports()
        assert "more" not in bot.open(report).answers


async def test_text_where_a_button_is_expected(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "about")
        calls = await client.send("мне")
        assert texts_of(calls) == [bot.ui("ru", "ui.error.expected_button")]
        assert current_qid(client) == "about"


async def test_text_on_the_language_screen_asks_for_a_button(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ko")
        await client.send("/start")
        calls = await client.send("안녕하십니까")
        assert texts_of(calls) == [bot.ui("ko", "ui.error.expected_button")]


async def test_a_button_where_text_is_expected(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "more")
        mid = screen_callbacks(client)[0][0]
        calls = await client.press(mid, encode(Op.DONE, nonce_of(client), "more"))
        assert texts_of(calls) == [bot.ui("ru", "ui.error.expected_text")]
        assert current_qid(client) == "more"


async def test_a_button_from_an_earlier_question_is_stale(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "about")
        old = screen_callbacks(client)
        await tap(client, Op.CHOOSE, "about", "me")
        mid, _, cb = next(x for x in old if x[2].op is Op.CHOOSE and x[2].cid == "others")
        calls = await client.press(mid, cb.encode())
        assert texts_of(calls) == [bot.ui("ru", "ui.error.stale_button")]
        assert current_qid(client) == "site"
        old_back = next(x for x in old if x[2].op is Op.BACK)
        calls = await client.press(old_back[0], old_back[2].encode())
        assert texts_of(calls) == [bot.ui("ru", "ui.error.stale_button")]
        assert current_qid(client) == "site"


async def test_a_button_from_an_earlier_conversation_is_stale(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "about")
        mid, _, cb = next(x for x in screen_callbacks(client) if x[2].op is Op.CHOOSE)
        await client.send("/cancel")  # nothing answered but consent: the cancel screen
        await tap(client, Op.DISCARD)
        await client.send("/start")
        await client.click("Русский")
        await walk(client, {}, stop_at="about")
        calls = await client.press(mid, cb.encode())  # same question, old conversation
        assert texts_of(calls) == [bot.ui("ru", "ui.error.stale_button")]
        assert current_qid(client) == "about"


@pytest.mark.parametrize("data", ["", "garbage", "c" * 64, "cAAA:about:nope"])
async def test_forged_button_data_is_answered_as_stale(tmp_path: Path, data: str) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "about")
        mid = screen_callbacks(client)[0][0]
        calls = await client.press(mid, data)
        assert texts_of(calls) == [bot.ui("ru", "ui.error.stale_button")]
        assert current_qid(client) == "about"


async def test_an_edited_message_is_not_taken_and_is_answered(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "hours")
        await client.send("10")
        calls = await client.edit(client.sent_ids[-1], "20")
        assert texts_of(calls) == [bot.ui("ru", "ui.error.edited_message")]
        await walk(client, {})
        await tap(client, Op.SUBMIT)
        [report] = await bot.reports()
        assert bot.open(report).answers["hours"] == {"number": 10}


async def test_a_file_too_large_is_refused_before_download(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "evidence")
        calls = await client.send_photo(b"\xff\xd8tiny", file_size=20 * 1024 * 1024 + 1)
        assert texts_of(calls) == [bot.ui("ru", "ui.error.file_too_large")]
        assert [c.method for c in calls] == ["sendMessage"]  # no getFile, no download
        assert bot.telegram.downloads == []


async def test_a_file_whose_size_only_getfile_reveals_is_refused_before_download(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, max_file_bytes=1000) as bot:
        client = await at(bot, "evidence")
        file_id, unique = bot.telegram.add_file(b"v" * 5000, "voice")
        voice = {"file_id": file_id, "file_unique_id": unique, "duration": 1}
        calls = await client.send_message({"voice": voice}, "voice")
        assert texts_of(calls) == [bot.ui("ru", "ui.error.file_too_large")]
        assert bot.telegram.downloads == []


@pytest.mark.parametrize("kind", ["video", "document"])
async def test_a_file_of_a_kind_the_question_does_not_take_is_refused_unopened(
    tmp_path: Path, kind: str
) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "evidence")
        if kind == "video":
            calls = await client.send_video(b"\x00\x00\x00\x18ftypmp42")
        else:
            calls = await client.send_document(b"%PDF-1.4", "application/pdf")
        assert texts_of(calls) == [bot.ui("ru", "ui.error.wrong_media_kind")]
        assert bot.telegram.downloads == []
        assert len(bot.telegram.calls_of("getFile")) == 0


@pytest.mark.parametrize(
    ("qid", "text_id"), [("more", "ui.error.expected_text"), ("about", "ui.error.expected_button")]
)
async def test_a_photo_where_no_file_is_asked_for(tmp_path: Path, qid: str, text_id: str) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, qid)
        calls = await client.send_photo(jpeg_with_gps())
        assert texts_of(calls) == [bot.ui("ru", text_id)]
        assert bot.telegram.downloads == []


async def test_text_over_the_limit_is_refused(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "more")
        calls = await client.send("ж" * 2001)
        assert texts_of(calls) == [bot.ui("ru", "ui.error.too_long")]
        assert current_qid(client) == "more"


async def test_control_and_bidi_characters_are_stripped_before_sealing(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "more")
        calls = await client.send("\u202e\u2066\u200b\x07")
        assert texts_of(calls) == [bot.ui("ru", "ui.error.empty")]
        await client.send("Нам\u202e не\u200b пла\x07тят\u2069")
        await walk(client, {})
        await tap(client, Op.SUBMIT)
        [report] = await bot.reports()
        assert bot.open(report).answers["more"] == {"text": "Нам не платят"}


@pytest.mark.parametrize(
    ("typed", "text_id"), [("много", "ui.error.not_a_number"), ("25", "ui.error.out_of_range")]
)
async def test_numbers_that_do_not_fit(tmp_path: Path, typed: str, text_id: str) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "hours")
        calls = await client.send(typed)
        assert texts_of(calls) == [bot.ui("ru", text_id).format(min=0, max=24)]


async def test_out_of_range_states_the_range_and_units_are_understood(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "hours")
        [error] = texts_of(await client.send("30 часов"))
        assert "0" in error
        assert "24" in error
        assert "{" not in error
        await client.send("14 часов")
        assert current_qid(client) == "days_off"
