"""``reportbot doctor``: a precise failing line for each broken setup, and a pass on a good one.

Each test builds a real installation in ``tmp_path`` (keys made by the real key code, a database
made by the real store), breaks one thing the way a deployer could, and checks the one line that
names it. The Telegram side runs against a fake Bot API (``tests.channel_fake``) that also knows
``getWebhookInfo`` and refuses a wrong token the way Telegram does.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from telegram.request import BaseRequest, RequestData

from bot.cli import doctor as cli_doctor
from bot.delivery.channel_checks import key_fingerprints
from bot.doctor import Report, Status, diagnose
from bot.doctor.cover import expected_profile
from bot.ops.settings import Settings
from bot.sealing.keys import Recipients, load_analyst_public_key, new_bot_key
from reportbot_analyst.keys import new_analyst_key
from storage import ChannelBinding, SqliteReportStore, schema
from tests.bot_support import DURESS_CODE, ENTRY_CODE, FLOW_PATH, LOCALES, shipped_phrasebook
from tests.channel_fake import ANALYST_IDS, BOT_ID, CHANNEL_ID, TOKEN, FakeChannelApi

WEBHOOK_URL = "https://bot.example.org/telegram-hook"


@dataclass
class DoctorApi(FakeChannelApi):
    """The channel fake plus ``getWebhookInfo`` and Telegram's answer to a revoked token."""

    token: str = TOKEN
    webhook_url: str = ""
    webhook_error: str | None = None
    seen: list[str] = field(default_factory=list)
    bot_name: tuple[str, str] = ("Русский разговорник", "ru_ko_phrases_bot")
    """(first name, @username) as getMe gives them: a name that fits the cover."""
    profile: dict[tuple[str, str], Any] = field(default_factory=dict)
    """Profile texts as published, by method and language code ("" for the default); unset:
    what ``reportbot run`` publishes in cover mode."""

    def _profile(self, api: str, code: str) -> Any:
        if (api, code) in self.profile:
            return self.profile[(api, code)]
        commands, description, short = expected_profile(shipped_phrasebook(), code or "ko")
        if api == "getMyCommands":
            return [{"command": c, "description": d} for c, d in commands]
        if api == "getMyDescription":
            return {"description": description}
        return {"short_description": short}

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api = url.rsplit("/", 1)[-1]
        self.seen.append(api)
        if f"/bot{self.token}/" not in url:
            body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return 401, json.dumps(body).encode()
        if api == "getMe":
            first, username = self.bot_name
            me = {"id": BOT_ID, "is_bot": True, "first_name": first, "username": username}
            return 200, json.dumps({"ok": True, "result": me}).encode()
        if api in ("getMyCommands", "getMyDescription", "getMyShortDescription"):
            params = dict(request_data.parameters) if request_data is not None else {}
            result = self._profile(api, str(params.get("language_code") or ""))
            return 200, json.dumps({"ok": True, "result": result}).encode()
        if api == "getWebhookInfo":
            info: dict[str, Any] = {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": 0,
            }
            if self.webhook_error:
                info["last_error_date"] = 1_700_000_000
                info["last_error_message"] = self.webhook_error
            return 200, json.dumps({"ok": True, "result": info}).encode()
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


@dataclass
class Install:
    root: Path
    bot_key: Path
    analyst_pub: Path
    analyst_private: Path
    data_dir: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "token": TOKEN,
            "api_url": "http://bot-api.test",
            "data_dir": self.data_dir,
            "bot_signing_key": self.bot_key,
            "analyst_public_keys": (self.analyst_pub,),
            "flow": FLOW_PATH,
            "locales_dir": LOCALES,
            "channel_id": CHANNEL_ID,
            "channel_admin_ids": ANALYST_IDS,
            "entry_codes": (ENTRY_CODE,),
            "duress_codes": (DURESS_CODE,),
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    def env(self) -> dict[str, str]:
        return {
            "REPORTBOT_TOKEN": TOKEN,
            "REPORTBOT_DATA_DIR": str(self.data_dir),
            "REPORTBOT_BOT_SIGNING_KEY": str(self.bot_key),
            "REPORTBOT_ANALYST_PUBLIC_KEYS": str(self.analyst_pub),
            "REPORTBOT_FLOW": str(FLOW_PATH),
            "REPORTBOT_LOCALES_DIR": str(LOCALES),
            "REPORTBOT_ENTRY_CODES": ENTRY_CODE,
            "REPORTBOT_DURESS_CODES": DURESS_CODE,
        }


async def _make_install(root: Path, *, verified: bool = True) -> Install:
    keys = root / "keys"
    _, bot_key, _ = new_bot_key(keys)
    analyst_dir = root / "analyst-laptop"
    _, private, pub = new_analyst_key(analyst_dir, "alice", None)
    served = keys / "alice.pub"
    served.write_bytes(pub.read_bytes())
    served.chmod(0o644)
    data = root / "data"
    async with await SqliteReportStore.open(data) as store:
        if verified:
            recipients = Recipients([load_analyst_public_key(served)])
            await store.set_channel_binding(
                ChannelBinding(
                    channel_id=CHANNEL_ID,
                    key_fingerprints=key_fingerprints(recipients),
                    verified_day=date(2026, 3, 1),
                )
            )
    return Install(root, bot_key, served, private, data)


@pytest.fixture
async def install(tmp_path: Path) -> Install:
    return await _make_install(tmp_path)


def failing(report: Report) -> list[str]:
    assert all("\n" not in line for line in report.lines()), "a check took more than one line"
    return [c.line() for c in report.checks if c.status is Status.FAIL]


def line_of(report: Report, name: str) -> str:
    assert all("\n" not in line for line in report.lines()), "a check took more than one line"
    found = [c.line() for c in report.checks if c.name == name]
    assert found, f"no {name!r} check in {[c.name for c in report.checks]}"
    return found[0]


# --- the good installation ---------------------------------------------------------------------


async def test_a_good_installation_passes_every_check_including_telegram(install: Install) -> None:
    api = DoctorApi()
    report = await diagnose(install.settings(), quick=False, request=api)
    assert failing(report) == []
    assert all(c.status is Status.PASS for c in report.checks)
    names = [c.name for c in report.checks]
    for expected in (
        "token",
        "bot signing key",
        f"analyst key {install.analyst_pub}",
        "no analyst private key here",
        "flow",
        "cover mode",
        "phrasebook",
        "cover codes",
        "data directory",
        "database",
        "database schema",
        "database files",
        "database pragmas",
        "telegram token",
        "telegram mode",
        "bot name",
        "bot profile",
        "channel verification",
        "analyst channel",
    ):
        assert expected in names
    assert report.lines()[-1] == f"doctor: all {len(report.checks)} checks passed"
    assert {"getMe", "getWebhookInfo", "getChat", "getChatAdministrators"} <= set(api.seen)
    assert "sendDocument" not in api.seen  # the doctor only reads


async def test_quick_makes_no_telegram_call_and_passes(install: Install) -> None:
    api = DoctorApi()
    report = await diagnose(install.settings(), quick=True, request=api)
    assert report.ok
    assert api.seen == []
    assert [c.name for c in report.checks if c.status is Status.SKIP] == [
        "telegram",
        "analyst channel",
    ]


def test_cli_quick_on_a_good_installation_exits_zero(
    install: Install, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("REPORTBOT_"):
            monkeypatch.delenv(name)
    group = click.Group("reportbot")
    cli_doctor.register(group)
    empty_secrets = tmp_path / "no-secrets"
    empty_secrets.mkdir()
    result = CliRunner().invoke(
        group,
        [
            "doctor",
            "--quick",
            "--env-file",
            str(tmp_path / "none.env"),
            "--secrets-dir",
            str(empty_secrets),
        ],
        env=install.env(),
    )
    assert result.exit_code == 0, result.output
    assert "[FAIL]" not in result.output
    assert result.output.splitlines()[-1].startswith("doctor: all ")
    assert TOKEN not in result.output
    assert TOKEN.split(":")[1] not in result.output


# --- each broken setup: one precise line ---------------------------------------------------------


async def test_missing_token_fails_naming_the_setting(install: Install) -> None:
    report = await diagnose(install.settings(token=None), quick=True)
    assert not report.ok
    assert line_of(report, "token").startswith("[FAIL] token: REPORTBOT_TOKEN is not set -> fix:")


def test_cli_missing_token_exits_non_zero(
    install: Install, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("REPORTBOT_"):
            monkeypatch.delenv(name)
    env = install.env()
    del env["REPORTBOT_TOKEN"]
    group = click.Group("reportbot")
    cli_doctor.register(group)
    empty_secrets = tmp_path / "no-secrets"
    empty_secrets.mkdir()
    result = CliRunner().invoke(
        group,
        [
            "doctor",
            "--quick",
            "--env-file",
            str(tmp_path / "none.env"),
            "--secrets-dir",
            str(empty_secrets),
        ],
        env=env,
    )
    assert result.exit_code == 1
    assert "[FAIL] token: REPORTBOT_TOKEN is not set" in result.output
    assert "doctor: 1 of " in result.output


def test_cli_bad_setting_is_one_failing_line_without_its_value(
    install: Install, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("REPORTBOT_"):
            monkeypatch.delenv(name)
    env = install.env()
    env["REPORTBOT_TOKEN"] = "not-a-token-SECRETVALUE"
    group = click.Group("reportbot")
    cli_doctor.register(group)
    result = CliRunner().invoke(
        group, ["doctor", "--quick", "--env-file", str(tmp_path / "none.env")], env=env
    )
    assert result.exit_code == 1
    assert result.output.startswith("[FAIL] settings: bad setting REPORTBOT_TOKEN:")
    assert "SECRETVALUE" not in result.output


async def test_world_readable_bot_key_fails_with_chmod_fix(install: Install) -> None:
    install.bot_key.chmod(0o644)
    report = await diagnose(install.settings(), quick=True)
    line = line_of(report, "bot signing key")
    assert line.startswith("[FAIL] bot signing key:")
    assert "can be read by others (mode 0644)" in line
    assert f"fix: chmod 600 {install.bot_key}" in line


async def test_group_readable_bot_key_fails_too(install: Install) -> None:
    install.bot_key.chmod(0o640)
    report = await diagnose(install.settings(), quick=True)
    assert "(mode 0640)" in line_of(report, "bot signing key")


async def test_analyst_private_key_given_as_public_key_fails(install: Install) -> None:
    settings = install.settings(analyst_public_keys=(install.analyst_private,))
    report = await diagnose(settings, quick=True)
    line = line_of(report, f"analyst key {install.analyst_private}")
    assert line.startswith(f"[FAIL] analyst key {install.analyst_private}:")
    assert "is an analyst PRIVATE key" in line
    assert f"fix: delete {install.analyst_private} from this server at once" in line


async def test_analyst_private_key_given_as_bot_key_fails(install: Install) -> None:
    report = await diagnose(install.settings(bot_signing_key=install.analyst_private), quick=True)
    line = line_of(report, "bot signing key")
    assert "is an analyst PRIVATE key, not the bot's signing key" in line
    assert "remove" in line.split("fix:")[1]


async def test_analyst_private_key_lying_beside_the_bot_keys_fails(install: Install) -> None:
    stray = install.bot_key.parent / "alice-backup.key"
    stray.write_bytes(install.analyst_private.read_bytes())
    stray.chmod(0o600)
    report = await diagnose(install.settings(), quick=True)
    line = line_of(report, "no analyst private key here")
    assert line.startswith(
        f"[FAIL] no analyst private key here: analyst PRIVATE key found on the server: {stray}"
    )


async def test_public_key_others_can_replace_fails(install: Install) -> None:
    install.analyst_pub.chmod(0o666)
    report = await diagnose(install.settings(), quick=True)
    line = line_of(report, f"analyst key {install.analyst_pub}")
    assert "can be changed by other users (mode 0666)" in line
    assert "reads every new report" in line


async def test_missing_signing_key_setting_fails(install: Install) -> None:
    report = await diagnose(install.settings(bot_signing_key=None), quick=True)
    assert "REPORTBOT_BOT_SIGNING_KEY is not set" in line_of(report, "bot signing key")


async def test_corrupted_database_header_fails_with_restore_fix(install: Install) -> None:
    db = schema.database_path(install.data_dir)
    with db.open("r+b") as fh:
        fh.write(b"this is not SQLite at all")
    report = await diagnose(install.settings(), quick=True)
    line = line_of(report, "database")
    assert line.startswith(f"[FAIL] database: {db} is damaged: SQLite says")
    assert "restore the newest backup" in line


async def test_corrupted_database_page_fails_the_integrity_check(install: Install) -> None:
    db = schema.database_path(install.data_dir)
    page = 4096
    with sqlite3.connect(db) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    size = db.stat().st_size
    assert size >= 3 * page
    with db.open("r+b") as fh:  # scribble over the second page (a table's b-tree)
        fh.seek(page)
        fh.write(b"\xff" * 64)
    report = await diagnose(install.settings(), quick=True)
    line = line_of(report, "database")
    assert line.startswith(f"[FAIL] database: {db} failed SQLite's integrity check:")
    assert "\n" not in line
    assert "restore the newest backup" in line


async def test_missing_database_says_how_to_create_it(tmp_path: Path) -> None:
    install = await _make_install(tmp_path)
    schema.database_path(install.data_dir).unlink()
    report = await diagnose(install.settings(), quick=True)
    assert "no database at" in line_of(report, "database")
    assert "reportbot run" in line_of(report, "database")


async def test_old_schema_fails_and_the_doctor_does_not_migrate(tmp_path: Path) -> None:
    install = await _make_install(tmp_path, verified=False)
    db = schema.database_path(install.data_dir)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 2")
    before = db.read_bytes()
    report = await diagnose(install.settings(), quick=True)
    line = line_of(report, "database schema")
    assert line.startswith("[FAIL] database schema: version 2, this reportbot expects")
    assert db.read_bytes() == before, "the doctor changed the database"


async def test_loose_data_directory_fails(install: Install) -> None:
    install.data_dir.chmod(0o755)
    report = await diagnose(install.settings(), quick=True)
    assert "has mode 0755" in line_of(report, "data directory")


async def test_broken_flow_fails_naming_the_problem(install: Install, tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: broken\nquestions: [\n", encoding="utf-8")
    report = await diagnose(install.settings(flow=bad), quick=True)
    line = line_of(report, "flow")
    assert line.startswith("[FAIL] flow:")
    assert "reportbot flows check" in line


# --- Telegram ----------------------------------------------------------------------------------


async def test_revoked_token_fails_without_printing_it(install: Install) -> None:
    api = DoctorApi(token="999:other")
    report = await diagnose(install.settings(), quick=False, request=api)
    line = line_of(report, "telegram token")
    assert line.startswith("[FAIL] telegram token: Telegram refused the token")
    assert all(TOKEN.split(":")[1] not in out for out in report.lines())


async def test_webhook_left_at_telegram_while_polling_fails(install: Install) -> None:
    api = DoctorApi(webhook_url="https://somewhere.example/hook")
    report = await diagnose(install.settings(), quick=False, request=api)
    line = line_of(report, "telegram mode")
    assert "long polling is configured, but a webhook is set at Telegram" in line


async def test_configured_webhook_missing_at_telegram_fails(install: Install) -> None:
    settings = install.settings(webhook_url=WEBHOOK_URL, webhook_secret="s" * 40)
    report = await diagnose(settings, quick=False, request=DoctorApi())
    assert "but Telegram has no webhook" in line_of(report, "telegram mode")


async def test_webhook_delivery_error_fails(install: Install) -> None:
    settings = install.settings(webhook_url=WEBHOOK_URL, webhook_secret="s" * 40)
    api = DoctorApi(webhook_url=WEBHOOK_URL, webhook_error="Connection refused")
    report = await diagnose(settings, quick=False, request=api)
    assert "last delivery failed: Connection refused" in line_of(report, "telegram mode")


async def test_webhook_as_configured_passes(install: Install) -> None:
    settings = install.settings(webhook_url=WEBHOOK_URL, webhook_secret="s" * 40)
    report = await diagnose(settings, quick=False, request=DoctorApi(webhook_url=WEBHOOK_URL))
    assert line_of(report, "telegram mode").startswith("[ ok ] telegram mode: webhook set")


# --- the analyst channel -------------------------------------------------------------------------


async def test_wrong_channel_id_fails_both_channel_checks(install: Install) -> None:
    wrong = CHANNEL_ID - 1
    report = await diagnose(install.settings(channel_id=wrong), quick=False, request=DoctorApi())
    assert line_of(report, "channel verification").startswith(
        "[FAIL] channel verification: wrong_id: the configured channel is not the one that was "
        "verified"
    )
    assert line_of(report, "analyst channel").startswith(
        "[FAIL] analyst channel: channel_unreachable:"
    )
    assert "REPORTBOT_CHANNEL_ID" in line_of(report, "analyst channel")


async def test_unverified_channel_fails_with_the_verify_command(tmp_path: Path) -> None:
    install = await _make_install(tmp_path, verified=False)
    report = await diagnose(install.settings(), quick=False, request=DoctorApi())
    line = line_of(report, "channel verification")
    assert line.startswith("[FAIL] channel verification: not_verified:")
    assert "reportbot channel verify" in line
    assert line_of(report, "analyst channel").startswith("[ ok ]")


async def test_channel_verified_for_other_keys_fails(install: Install, tmp_path: Path) -> None:
    _, _, other_pub = new_analyst_key(tmp_path / "other", "boris", None)
    served = install.bot_key.parent / "boris.pub"
    served.write_bytes(other_pub.read_bytes())
    served.chmod(0o644)
    settings = install.settings(analyst_public_keys=(install.analyst_pub, served))
    report = await diagnose(settings, quick=False, request=DoctorApi())
    assert "not_verified" in line_of(report, "channel verification")


async def test_no_channel_configured_fails(install: Install) -> None:
    report = await diagnose(install.settings(channel_id=None), quick=False, request=DoctorApi())
    assert line_of(report, "channel verification").startswith(
        "[FAIL] channel verification: no_channel_configured:"
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"username": "public_analysts"}, "public_username"),
        ({"chat_type": "supergroup"}, "not_a_channel"),
        ({"bot_status": "member"}, "bot_not_admin"),
        ({"bot_can_post": False}, "bot_cannot_post"),
        ({"admins": [ANALYST_IDS[0], 5_555_555]}, "unknown_admin"),
    ],
)
async def test_each_failing_channel_check_is_named(
    install: Install, change: dict[str, Any], code: str
) -> None:
    api = DoctorApi(**change)
    report = await diagnose(install.settings(), quick=False, request=api)
    line = line_of(report, "analyst channel")
    assert line.startswith(f"[FAIL] analyst channel: {code}:")
    assert "-> fix:" in line


async def test_doctor_names_listed_analysts_missing_from_the_channel(install: Install) -> None:
    api = DoctorApi(admins=[ANALYST_IDS[0]])  # the second listed analyst left the channel
    report = await diagnose(install.settings(), quick=False, request=api)
    [line] = [c for c in report.checks if c.name == "analysts in the channel"]
    assert line.failed
    text = "\n".join(report.lines())
    assert "#2 of the 2 in REPORTBOT_CHANNEL_ADMIN_IDS" in text
    assert "read by nobody in the channel" in text
    assert str(ANALYST_IDS[1]) not in text
    assert "nobody in the channel holds the key" not in text  # no handshake recorded: unknown


async def test_doctor_says_whose_key_nobody_in_the_channel_holds(install: Install) -> None:
    from bot.delivery.channel_checks import record_key_holder

    fingerprint = load_analyst_public_key(install.analyst_pub).fingerprint
    # At the handshake, the second analyst's account sent this key's code.
    record_key_holder(install.data_dir, fingerprint.replace(" ", ""), ANALYST_IDS[1])
    api = DoctorApi(admins=[ANALYST_IDS[0]])  # ... and has left the channel since
    report = await diagnose(install.settings(), quick=False, request=api)
    text = "\n".join(report.lines())
    assert f"nobody in the channel holds the key with fingerprint {fingerprint}" in text
    # The key proven again (a new handshake) by an account still there: read, so not named.
    record_key_holder(install.data_dir, fingerprint.replace(" ", ""), ANALYST_IDS[0])
    report = await diagnose(
        install.settings(), quick=False, request=DoctorApi(admins=[ANALYST_IDS[0]])
    )
    assert "nobody in the channel holds the key" not in "\n".join(report.lines())
