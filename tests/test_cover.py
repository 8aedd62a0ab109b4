"""Cover mode (issue 15): to anyone who looks at the phone, the bot is a Korean-Russian phrasebook.

Through the real Application (``tests.bot_support.running_bot`` with ``**COVER_ON``): ``/start``
and ``/help`` show only the phrasebook, a report opens only with an entry code (typed or as a
``/start`` payload, several valid at once), the message carrying the code is deleted at once, a
wrong code is a search that finds nothing, entry attempts are limited, codes are compared in
constant time and never reach a log record or a file; and ``reportbot run`` refuses to start
with the cover on and no code.
"""

from __future__ import annotations

import hmac
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.app import Deps, build_application
from bot.ops.settings import Settings, SettingsError, load_settings
from bot.phrasebook import codes as codes_module
from bot.phrasebook.codes import CodeMatch, EntryCodes, code_problems, deep_link_payload
from bot.phrasebook.model import CALLBACK_PREFIX
from bot.sealing.keys import Recipients
from handlers.callbacks import Op
from reportbot_analyst.keys import AnalystSecretKey
from storage.memory import MemoryReportStore
from tests.bot_support import (
    COVER_ON,
    DURESS_CODE,
    ENTRY_CODE,
    FLOW_PATH,
    LOCALES,
    OLD_ENTRY_CODE,
    TEST_TOKEN,
    BotHarness,
    enter,
    logging_configured,
    make_settings,
    open_conversations,
    running_bot,
    screen_callbacks,
    shipped_flow,
    shipped_phrasebook,
    shipped_ui,
    tap,
    walk,
)
from tests.botclient import ReporterClient
from tests.storage_support import find_leaks
from tests.test_bot_canary import Capture, record_text

REPORTBOT = Path(sys.executable).parent / "reportbot"
BOOK = shipped_phrasebook()


def pb(lang: str, text_id: str) -> str:
    return BOOK.text(lang, text_id)


def only_phrasebook_buttons(client: ReporterClient) -> bool:
    return all(data.startswith(CALLBACK_PREFIX) for _, _, data in client.buttons())


def on_language_screen(client: ReporterClient) -> bool:
    return any(cb.op is Op.LANGUAGE for _, _, cb in screen_callbacks(client))


@pytest.fixture
def debug_capture() -> Iterator[tuple[Capture, io.StringIO]]:
    stream = io.StringIO()
    with logging_configured("DEBUG", stream):
        capture = Capture()
        logging.getLogger().addHandler(capture)
        yield capture, stream


# --- the setting --------------------------------------------------------------------------------


def test_cover_mode_is_on_unless_a_deployment_turns_it_off() -> None:
    settings = Settings(_env_file=None)
    assert settings.cover is True
    with pytest.raises(SettingsError) as exc:
        settings.require_cover_codes()
    line = str(exc.value)
    assert "\n" not in line
    assert "REPORTBOT_ENTRY_CODES" in line
    assert "REPORTBOT_COVER=false" in line


def test_codes_from_the_environment_are_separated_by_commas_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REPORTBOT_ENTRY_CODES", "blue river 42, 붉은 별 열하나")
    settings = Settings(_env_file=None)
    codes = [c.get_secret_value() for c in settings.entry_codes]
    assert codes == ["blue river 42", "붉은 별 열하나"]
    assert "blue river" not in repr(settings)  # SecretStr: never printed


def test_codes_from_a_secret_file_are_one_a_line(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "reportbot_entry_codes").write_text("blue river 42\nold code 7\n", encoding="utf-8")
    settings = load_settings(env_file=None, secrets_dir=secrets)
    assert [c.get_secret_value() for c in settings.entry_codes] == ["blue river 42", "old code 7"]


def test_a_duress_code_equal_to_an_entry_code_is_refused_without_naming_it() -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(_env_file=None, entry_codes=("Blue-River-42",), duress_codes=("blue river 42",))  # type: ignore[arg-type]
    assert "duress" in str(exc.value)
    assert "river" not in str(exc.value).lower()


def test_reportbot_run_refuses_to_start_with_the_cover_on_and_no_entry_code(
    tmp_path: Path,
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "REPORTBOT_TOKEN": TEST_TOKEN,
        "REPORTBOT_FLOW": str(FLOW_PATH),
        "REPORTBOT_LOCALES_DIR": str(LOCALES),
    }
    run = subprocess.run(
        [str(REPORTBOT), "run", "--env-file", str(tmp_path / "absent.env")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    # one line for the operator (the log lines before it are JSON records)
    lines = [ln for ln in run.stderr.splitlines() if ln.strip() and not ln.startswith("{")]
    assert len(lines) == 1, run.stderr
    assert "REPORTBOT_ENTRY_CODES" in lines[0]
    assert "REPORTBOT_COVER=false" in lines[0]


async def test_the_application_is_not_built_with_the_cover_on_and_no_code(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", cover=True)
    deps = Deps(
        store=MemoryReportStore(),
        recipients=Recipients([AnalystSecretKey.generate().public]),
        flow=shipped_flow(),
        ui=shipped_ui(),
        phrasebook=BOOK,
    )
    with pytest.raises(SettingsError, match="REPORTBOT_ENTRY_CODES"):
        build_application(settings, deps)


# --- the codes ----------------------------------------------------------------------------------


class _HmacCounting:
    """``hmac`` as ``bot.phrasebook.codes`` sees it, with ``compare_digest`` counted."""

    def __init__(self, compare: Any) -> None:
        self.new = hmac.new
        self.compare_digest = compare


def test_every_code_is_compared_as_a_digest_in_constant_time_whatever_is_typed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(codes_module, "hmac", _HmacCounting(counting))
    codes = EntryCodes([ENTRY_CODE, OLD_ENTRY_CODE], [DURESS_CODE], key=os.urandom(32))
    for typed in ("x", ENTRY_CODE, DURESS_CODE, "a much longer text than any code " * 10):
        calls.clear()
        codes.match(typed)
        assert calls == [(32, 32)] * 3, typed  # every code, as 32-byte digests, no early exit
    assert codes.match(ENTRY_CODE.lower().replace("-", " ")) is CodeMatch.ENTRY
    assert codes.match(f"  {OLD_ENTRY_CODE.upper()}_") is CodeMatch.ENTRY
    assert codes.match(DURESS_CODE) is CodeMatch.DURESS
    assert codes.match(ENTRY_CODE[:-1]) is CodeMatch.NONE


def test_a_code_as_a_deep_link_and_what_makes_a_code_weak() -> None:
    assert deep_link_payload("Blue River 42") == "blue-river-42"
    assert deep_link_payload("붉은 별") is None  # Telegram's payloads are A-Z a-z 0-9 _ -
    assert code_problems(ENTRY_CODE, BOOK) == []
    assert any("fewer than" in p for p in code_problems("bird 7", BOOK))
    assert any("phrasebook" in p for p in code_problems("аптека", BOOK))
    assert all("аптека" not in p for p in code_problems("аптека", BOOK))  # never quoted


# --- the chat -----------------------------------------------------------------------------------


async def test_start_and_help_show_only_the_phrasebook(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ko")
        await client.send("/start")
        assert client.last_text() == pb("ko", "pb.home")
        assert only_phrasebook_buttons(client)
        assert client.labels()
        await client.send("/help")
        assert client.last_text() == pb("ko", "pb.help")
        for command in ("/safety", "/language", "/cancel", "/followup"):
            await client.send(command)  # outside a report there is no such command
            assert client.last_text() == pb("ko", "pb.home"), command
        assert only_phrasebook_buttons(client)
        assert open_conversations(bot) == 0


async def test_the_phrasebook_is_browsed_with_buttons_in_place(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        home_mid = client.buttons()[0][0]
        topic = BOOK.spec.topics[0]
        section = topic.sections[0]
        await client.click(pb("ru", f"topic.{topic.id}"))
        assert pb("ru", f"topic.{topic.id}") in client.last_text()
        await client.click(pb("ru", f"section.{section.id}"))
        assert client.last_text() == BOOK.section_page("ru", section.id)
        assert client.buttons()[0][0] == home_mid  # one message, edited: not a pile
        await client.click(pb("ru", "pb.button.back"))
        assert pb("ru", "pb.topic") in client.last_text()
        await client.click(pb("ru", "pb.button.home"))
        await client.click(pb("ko", "pb.language"))  # the same screens in Korean
        assert client.last_text() == pb("ko", "pb.home")
        await client.press(home_mid, f"{CALLBACK_PREFIX}ko:s:no_such_section")
        assert bot.telegram.calls_of("answerCallbackQuery")[-1].params.get("text") == pb(
            "ko", "pb.old_button"
        )


async def test_a_typed_word_is_a_search_and_a_wrong_code_a_search_that_finds_nothing(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ko")
        await client.send("аптека")
        assert client.last_text().startswith(pb("ko", "pb.search.found"))
        await client.send(ENTRY_CODE + "x")
        assert client.last_text() == pb("ko", "pb.search.none")
        assert client.chat.messages[client.sent_ids[-1]].text == ENTRY_CODE + "x"  # stays
        await client.send_sticker()
        assert client.last_text() == pb("ko", "pb.not_text")
        assert open_conversations(bot) == 0
        assert not on_language_screen(client)


@pytest.mark.parametrize(
    "typed",
    [ENTRY_CODE, ENTRY_CODE.lower().replace("-", " "), OLD_ENTRY_CODE, f"/start {ENTRY_CODE}"],
    ids=["code", "code-as-typed-loosely", "older-code-still-valid", "deep-link"],
)
async def test_an_entry_code_is_deleted_at_once_and_opens_the_report(
    tmp_path: Path, typed: str
) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.send(typed)
        code_mid = client.sent_ids[-1]
        assert code_mid not in client.chat.messages  # the code never stays on the phone
        assert on_language_screen(client)
        await client.click("Русский")
        await tap(client, Op.CHOOSE, "intro", "continue")
        await tap(client, Op.CHOOSE, "consent", "agree")
        await walk(client, {"about": [("choose", "me")]}, stop_at="site")
        assert open_conversations(bot) == 1
        await client.send("/help")  # inside a report: the report's own help
        assert client.last_text() == bot.ui("ru", "ui.help")


async def test_the_deep_link_payload_carries_a_code_with_dashes_for_spaces(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, cover=True, entry_codes=("Blue River 4242 Quiet",)) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start blue-river-4242-quiet")
        assert client.sent_ids[-1] not in client.chat.messages
        assert on_language_screen(client)


async def test_wrong_codes_are_limited_per_account_and_hour(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON, entry_attempts_per_hour=3) as bot:
        guesser = bot.client(language_code="ru")
        for n in range(3):
            await guesser.send(f"guess{n}qqzz")
        await guesser.send(ENTRY_CODE)  # the right code, after the hour's attempts: a search
        assert guesser.last_text() == pb("ru", "pb.search.none")
        assert not on_language_screen(guesser)
        assert guesser.sent_ids[-1] in guesser.chat.messages
        other = bot.client(language_code="ru")
        await enter(other)  # another account is not held back
        assert on_language_screen(other)
        bot.clock.advance(3601)
        await enter(guesser)
        assert on_language_screen(guesser)


async def test_entry_attempts_count_against_the_flood_limits(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON, message_burst=3, messages_per_minute=1) as bot:
        client = bot.client(language_code="ru")
        for n in range(3):
            await client.send(f"guess{n}qqzz")
        await enter(client)  # over the limit: not even compared, the phrasebook says slow down
        assert client.last_text() == pb("ru", "pb.slow_down")
        assert not on_language_screen(client)
        await enter(client)  # dropped: silence
        assert not on_language_screen(client)
        bot.clock.advance(600)
        await enter(client)
        assert on_language_screen(client)


async def test_phrasebook_searches_do_not_count_as_entry_attempts(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **COVER_ON, entry_attempts_per_hour=2) as bot:
        client = bot.client(language_code="ko")
        for _ in range(5):
            await client.send("аптека")
        await enter(client)
        assert on_language_screen(client)


async def test_the_command_menu_and_profile_texts_are_the_phrasebook_in_every_language(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, **COVER_ON) as bot:
        menus = {c.params.get("language_code"): c for c in bot.telegram.calls_of("setMyCommands")}
        descriptions = {
            c.params.get("language_code"): c.params["description"]
            for c in bot.telegram.calls_of("setMyDescription")
        }
        shorts = {
            c.params.get("language_code"): c.params["short_description"]
            for c in bot.telegram.calls_of("setMyShortDescription")
        }
        assert set(menus) == {None, "ko", "ru", "en"}
        for code, call in menus.items():
            lang = code or "ko"
            commands = _commands(call.params["commands"])
            assert commands == {
                "start": pb(lang, "pb.command.start"),
                "help": pb(lang, "pb.command.help"),
            }
            assert descriptions[code] == pb(lang, "pb.bot.description")
            assert shorts[code] == pb(lang, "pb.bot.short_description")


def _commands(raw: Any) -> dict[str, str]:
    import json

    items = json.loads(raw) if isinstance(raw, str) else raw
    return {str(c["command"]): str(c["description"]) for c in items}


async def _enter_and_leave(bot: BotHarness) -> None:
    client = bot.client(language_code="ru")
    await client.send("/start")
    await client.send(f"/start {ENTRY_CODE}")
    await enter(client, OLD_ENTRY_CODE.lower())
    await client.click("Русский")
    await tap(client, Op.CHOOSE, "intro", "continue")
    await client.send("/panic")
    await client.send(DURESS_CODE)
    await client.send(ENTRY_CODE + "x")


async def test_no_code_in_any_log_record_or_file_at_debug(
    tmp_path: Path, debug_capture: tuple[Capture, io.StringIO]
) -> None:
    capture, stream = debug_capture
    async with running_bot(tmp_path, **COVER_ON) as bot:
        await _enter_and_leave(bot)
        data_dir = bot.data_dir
    canaries = ["ENTRYCANARY", "OLDCANARY", "DURESSCANARY", "Kvass", "Birch"]
    texts = [record_text(r) for r in capture.records] + [stream.getvalue()]
    assert capture.records, "nothing was logged: the test would prove nothing"
    assert [c for c in canaries if any(c.lower() in t.lower() for t in texts)] == []
    assert find_leaks(data_dir, canaries) == []
    assert find_leaks(data_dir, [c.lower() for c in canaries]) == []
