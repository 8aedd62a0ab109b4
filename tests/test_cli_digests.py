"""``reportbot digests list|resend`` and ``reportbot channel check|verify``, on a fake Bot API."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from bot.cli import _register, cli
from bot.cli.digests import check_channel, resend_digest, start_verification
from bot.delivery.channel_checks import Check, key_fingerprints
from bot.delivery.digests import DigestCloser
from bot.delivery.outbox import Outcome
from bot.ops.settings import Settings
from bot.sealing.envelope import DIGEST_SIZE_BUCKETS
from bot.sealing.keys import write_private_file, write_public_file
from storage.base import ChannelBinding, RetentionPolicy
from storage.sqlite import open_store
from tests.channel_fake import ANALYST_IDS, CHANNEL_ID, TOKEN, FakeChannelApi
from tests.digest_support import Keys, add_report, make_keys


@pytest.fixture(scope="module", autouse=True)
def _commands() -> None:
    _register()


def _settings(tmp_path: Path, keys: Keys) -> Settings:
    pub = tmp_path / "analyst.pub"
    if not pub.exists():
        write_public_file(pub, keys.analyst.public.token())
        write_private_file(tmp_path / "bot.key", keys.signing.file_bytes())
    return Settings(
        _env_file=None,
        token=SecretStr(TOKEN),
        api_url="http://bot-api.test",
        data_dir=tmp_path / "data",
        analyst_public_keys=(pub,),
        bot_signing_key=tmp_path / "bot.key",
        channel_id=CHANNEL_ID,
        channel_admin_ids=ANALYST_IDS,
    )


async def _outbox(settings: Settings, keys: Keys, digests: int, *, bind: bool = True) -> None:
    async with open_store(settings.data_dir) as store:
        if bind:
            await store.set_channel_binding(
                ChannelBinding(CHANNEL_ID, key_fingerprints(keys.recipients), date(2026, 3, 1))
            )
        closer = DigestCloser(store, keys.signing, keys.recipients)
        for n in range(digests):
            await add_report(store, keys.recipients, f"r{n}")
            await closer.close()


def test_list_shows_the_outbox_without_contents(tmp_path: Path) -> None:
    keys = make_keys()
    settings = _settings(tmp_path, keys)

    async def setup() -> None:
        await _outbox(settings, keys, 2)
        async with open_store(settings.data_dir) as store:
            await store.mark_digest_posted(1)

    asyncio.run(setup())
    result = CliRunner().invoke(cli, ["digests", "list", "--data", str(settings.data_dir)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "seq",
        "day",
        "state",
        "tries",
        "posted",
        "parts",
        "reports",
        "bytes",
    ]
    first, second = lines[1].split(), lines[2].split()
    assert (first[0], first[2], first[5], first[6]) == ("1", "posted", "1", "1")
    assert (second[0], second[2], second[4]) == ("2", "pending", "-")
    assert int(first[7]) in DIGEST_SIZE_BUCKETS
    assert lines[-1] == "2 digest(s), 1 waiting to be posted"


def test_list_without_a_database_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["digests", "list", "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "no database here" in result.stderr


async def test_resend_posts_a_kept_digest_again(tmp_path: Path) -> None:
    keys = make_keys()
    settings = _settings(tmp_path, keys)
    await _outbox(settings, keys, 2)
    async with open_store(settings.data_dir) as store:
        await store.mark_digest_posted(1)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    report = await resend_digest(settings, 1, request=api)
    assert report.outcome is Outcome.DELIVERED
    assert [p.file_name for p in api.posted] == ["000001.bin"]
    assert api.posted[0].caption == f"#1 · {keys.signing.public.fingerprint}"
    async with open_store(settings.data_dir) as store:
        assert (await store.get_digest(1)).parts[0].data == api.posted[0].data
        assert (await store.get_digest(1)).attempts == 1


async def test_resend_goes_through_the_channel_checks(tmp_path: Path) -> None:
    keys = make_keys()
    settings = _settings(tmp_path, keys)
    await _outbox(settings, keys, 1)
    api = FakeChannelApi(admins=[*ANALYST_IDS, 4242])
    report = await resend_digest(settings, 1, request=api)
    assert (report.outcome, report.failed) == (Outcome.HELD, Check.UNKNOWN_ADMIN)
    assert api.posted == []


async def test_resend_of_an_unknown_or_pruned_digest_is_one_clear_line(tmp_path: Path) -> None:
    keys = make_keys()
    settings = _settings(tmp_path, keys)
    await _outbox(settings, keys, 1)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    with pytest.raises(click.ClickException, match="no digest #9"):
        await resend_digest(settings, 9, request=api)
    async with open_store(settings.data_dir) as store:
        await store.mark_digest_posted(1)
        await store.apply_retention(RetentionPolicy(report_days=0))
    with pytest.raises(click.ClickException, match="pruned by retention"):
        await resend_digest(settings, 1, request=api)
    assert api.posted == []


async def test_channel_check_reports_the_failing_check_and_the_binding(tmp_path: Path) -> None:
    keys = make_keys()
    settings = _settings(tmp_path, keys)
    await _outbox(settings, keys, 0)
    result, binding = await check_channel(
        settings, request=FakeChannelApi(admins=list(ANALYST_IDS))
    )
    assert result.ok
    assert binding is not None
    assert binding.channel_id == CHANNEL_ID
    public = FakeChannelApi(admins=list(ANALYST_IDS), username="everyone")
    result, _ = await check_channel(settings, request=public)
    assert result.failed is Check.PUBLIC_USERNAME


async def test_channel_verify_posts_a_challenge_per_key(tmp_path: Path) -> None:
    keys = make_keys()
    settings = _settings(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    challenges = await start_verification(settings, request=api)
    assert [c.file_name for c in challenges] == ["verify-1.bin"]
    assert challenges[0].fingerprint == keys.analyst.public.fingerprint
    assert [p.file_name for p in api.posted] == ["verify-1.bin"]
    refused = FakeChannelApi(admins=list(ANALYST_IDS), chat_type="supergroup")
    with pytest.raises(click.ClickException, match="not_a_channel"):
        await start_verification(settings, request=refused)


def test_commands_without_keys_or_token_fail_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REPORTBOT_DATA_DIR", str(tmp_path / "data"))
    for args in (["digests", "resend", "1"], ["channel", "check"], ["channel", "verify"]):
        result = CliRunner().invoke(cli, [*args, "--env-file", str(tmp_path / "none.env")])
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("Error: REPORTBOT_")
