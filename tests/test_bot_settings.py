"""Settings: one clear line naming a bad setting, never its value; every source works."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ops.settings import Settings, SettingsError, load_settings

GOOD_TOKEN = "123456:" + "A" * 35
CANARY = "CANARYsecretVALUE"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("REPORTBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _error(**env: str) -> str:
    mp = pytest.MonkeyPatch()
    try:
        for key, value in env.items():
            mp.setenv(f"REPORTBOT_{key.upper()}", value)
        with pytest.raises(SettingsError) as caught:
            load_settings(env_file=None)
        return str(caught.value)
    finally:
        mp.undo()


def test_short_webhook_secret_stops_the_start_naming_the_setting() -> None:
    message = _error(webhook_url="https://example.org/hook", webhook_secret="short" + CANARY)
    assert message.startswith("bad setting REPORTBOT_WEBHOOK_SECRET:")
    assert "\n" not in message
    assert CANARY not in message


def test_webhook_secret_with_forbidden_characters_is_refused() -> None:
    message = _error(
        webhook_url="https://example.org/hook", webhook_secret="a" * 31 + "!" + "b" * 8
    )
    assert "REPORTBOT_WEBHOOK_SECRET" in message


def test_webhook_without_secret_is_refused() -> None:
    assert "REPORTBOT_WEBHOOK_SECRET" in _error(webhook_url="https://example.org/hook")


def test_plain_http_webhook_is_refused() -> None:
    message = _error(webhook_url="http://example.org/hook", webhook_secret="s" * 40)
    assert "REPORTBOT_WEBHOOK_URL" in message


def test_malformed_token_is_named_but_never_echoed() -> None:
    message = _error(token="12:" + CANARY)
    assert message.startswith("bad setting REPORTBOT_TOKEN:")
    assert CANARY not in message


def test_non_number_limit_names_the_setting() -> None:
    assert "REPORTBOT_MESSAGES_PER_MINUTE" in _error(messages_per_minute="lots")


def test_idle_timeout_beyond_telegram_deletion_window_is_refused() -> None:
    assert "REPORTBOT_IDLE_TIMEOUT_HOURS" in _error(idle_timeout_hours="48")


def test_reporter_languages_cannot_be_left_out() -> None:
    assert "REPORTBOT_LANGUAGES" in _error(languages="en")
    assert "REPORTBOT_LANGUAGES" in _error(languages="ko,ru,xx")


def test_missing_token_is_one_line_when_running() -> None:
    settings = load_settings(env_file=None)
    with pytest.raises(SettingsError, match=r"^REPORTBOT_TOKEN: required"):
        settings.require_token()


def test_typo_in_env_file_is_named(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("OTHER_TOOL=1\nREPORTBOT_TOKNE=" + CANARY + "\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=env)
    assert str(caught.value).startswith("bad setting REPORTBOT_TOKNE: unknown setting")
    assert CANARY not in str(caught.value)


def test_env_file_and_secrets_dir_are_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FOREIGN=ignored\nREPORTBOT_DATA_DIR=/srv/reportbot\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "reportbot_token").write_text(GOOD_TOKEN)
    settings = load_settings(env_file=tmp_path / ".env", secrets_dir=secrets)
    assert settings.data_dir == Path("/srv/reportbot")
    assert settings.require_token() == GOOD_TOKEN
    assert GOOD_TOKEN not in repr(settings)


def test_environment_beats_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("REPORTBOT_REPORTS_PER_DAY=3\n")
    monkeypatch.setenv("REPORTBOT_REPORTS_PER_DAY", "7")
    assert load_settings(env_file=tmp_path / ".env").reports_per_day == 7


def test_missing_secrets_dir_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="REPORTBOT_SECRETS_DIR"):
        load_settings(env_file=None, secrets_dir=tmp_path / "nope")


def test_lists_come_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTBOT_LANGUAGES", "ru, ko")
    monkeypatch.setenv("REPORTBOT_CHANNEL_ADMIN_IDS", "11,22")
    monkeypatch.setenv("REPORTBOT_ANALYST_PUBLIC_KEYS", "a.pub,b.pub")
    settings = load_settings(env_file=None)
    assert settings.languages == ("ru", "ko")
    assert settings.channel_admin_ids == (11, 22)
    assert settings.analyst_public_keys == (Path("a.pub"), Path("b.pub"))


def test_settings_cannot_change_after_start() -> None:
    settings = load_settings(env_file=None)
    with pytest.raises(ValueError, match="frozen"):
        settings.reports_per_day = 1000  # type: ignore[misc]  # the point: it is frozen


def test_self_hosted_api_url_gives_both_base_urls() -> None:
    settings = Settings(_env_file=None, api_url="http://127.0.0.1:8081/")
    assert settings.bot_api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.bot_api_file_url == "http://127.0.0.1:8081/file/bot"
