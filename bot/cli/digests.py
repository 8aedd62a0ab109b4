"""``reportbot digests`` and ``reportbot channel``: the outbox and the analyst channel by hand.

- ``reportbot digests list``: the outbox (sequence, day, state, attempts, sizes); no contents.
- ``reportbot digests resend SEQ``: post a kept digest again (analysts who lost it), through the
  same channel checks as every post.
- ``reportbot channel check``: run every channel check once and say which fails.
- ``reportbot channel verify``: post the sealed challenges of the setup handshake.
- ``reportbot analyst verify-channel FILE --key KEY``: on an analyst's machine, open a challenge
  and print the code to send to the bot.

Errors are one line and a non-zero exit. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.db import data_dir_option
from bot.cli.run import secrets_dir_or_default, settings_options

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.request import BaseRequest

    from bot.delivery.channel_checks import Challenge, CheckResult
    from bot.delivery.outbox import RoundReport
    from bot.ops.settings import Settings
    from bot.sealing.keys import BotSigningKey, Recipients
    from storage.base import ChannelBinding


def register(cli: click.Group) -> None:
    cli.add_command(digests)
    cli.add_command(channel)


# --------------------------------------------------------------------------------------------
# Shared: settings, keys, a Bot
# --------------------------------------------------------------------------------------------


def _load_settings(env_file: Path, secrets_dir: Path | None) -> Settings:
    from bot.ops.logging import configure_logging
    from bot.ops.settings import SettingsError, load_settings

    try:
        settings = load_settings(env_file=env_file, secrets_dir=secrets_dir_or_default(secrets_dir))
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _recipients(settings: Settings) -> Recipients:
    from bot.sealing.keys import KeyFileError, load_recipients

    if not settings.analyst_public_keys:
        raise click.ClickException("REPORTBOT_ANALYST_PUBLIC_KEYS: required")
    try:
        recipients, _ = load_recipients(list(settings.analyst_public_keys))
    except (KeyFileError, OSError) as exc:
        raise click.ClickException(f"REPORTBOT_ANALYST_PUBLIC_KEYS: {exc}") from None
    return recipients


def _signing_key(settings: Settings) -> BotSigningKey:
    from bot.sealing.keys import KeyFileError, load_bot_signing_key

    if settings.bot_signing_key is None:
        raise click.ClickException("REPORTBOT_BOT_SIGNING_KEY: required")
    try:
        return load_bot_signing_key(settings.bot_signing_key)
    except (KeyFileError, OSError) as exc:
        raise click.ClickException(f"REPORTBOT_BOT_SIGNING_KEY: {exc}") from None


def make_bot(settings: Settings, request: BaseRequest | None = None) -> Bot:
    from telegram import Bot
    from telegram.request import HTTPXRequest

    if request is None:
        request = HTTPXRequest(
            connection_pool_size=2, read_timeout=60.0, write_timeout=120.0, connect_timeout=10.0
        )
    return Bot(
        settings.require_token(),
        base_url=settings.bot_api_base_url,
        base_file_url=settings.bot_api_file_url,
        request=request,
        get_updates_request=request,
    )


def _run(coro: Awaitable[None]) -> None:
    from telegram.error import TelegramError

    from storage.errors import StorageError

    async def main() -> None:
        await coro

    try:
        asyncio.run(main())
    except StorageError as exc:
        raise click.ClickException(f"database: {exc}") from None
    except TelegramError as exc:
        raise click.ClickException(
            f"Telegram: {type(exc).__name__}; check REPORTBOT_TOKEN, REPORTBOT_API_URL and the "
            "network, then try again"
        ) from None


# --------------------------------------------------------------------------------------------
# The work, callable from tests with a fake Bot API
# --------------------------------------------------------------------------------------------


async def resend_digest(
    settings: Settings,
    seq: int,
    *,
    request: BaseRequest | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RoundReport:
    """Post every part of digest ``seq`` again, through the channel checks."""
    from bot.delivery.channel_checks import ChannelChecker
    from bot.delivery.outbox import DigestSender
    from storage.errors import UnknownDigestError
    from storage.sqlite import open_store

    recipients, signing = _recipients(settings), _signing_key(settings)
    async with open_store(settings.data_dir) as store:
        try:
            digest = await store.get_digest(seq)
        except UnknownDigestError:
            raise click.ClickException(f"no digest #{seq} in the outbox") from None
        if not digest.parts:
            raise click.ClickException(
                f"digest #{seq} was pruned by retention: its bytes are gone (it was posted on "
                f"{digest.posted_day}); analysts who lost it cannot get it back from the bot"
            )
        checker = ChannelChecker(
            store,
            channel_id=settings.channel_id,
            allowed_admins=settings.channel_admin_ids,
            recipients=recipients,
        )
        sender = DigestSender(store, checker, bot_fingerprint=signing.public.fingerprint)
        async with make_bot(settings, request) as bot:
            return await sender.run_until(bot, lambda: sender.resend(bot, seq), sleep=sleep)


async def check_channel(
    settings: Settings, *, request: BaseRequest | None = None
) -> tuple[CheckResult, ChannelBinding | None]:
    from bot.delivery.channel_checks import ChannelChecker
    from storage.sqlite import open_store

    recipients = _recipients(settings)
    async with open_store(settings.data_dir) as store:
        checker = ChannelChecker(
            store,
            channel_id=settings.channel_id,
            allowed_admins=settings.channel_admin_ids,
            recipients=recipients,
        )
        binding = await store.channel_binding()
        async with make_bot(settings, request) as bot:
            return await checker.check(bot), binding


async def start_verification(
    settings: Settings, *, request: BaseRequest | None = None
) -> list[Challenge]:
    from bot.delivery.channel_checks import ChannelChecker, ChannelError, ChannelVerifier
    from storage.sqlite import open_store

    recipients, signing = _recipients(settings), _signing_key(settings)
    async with open_store(settings.data_dir) as store:
        checker = ChannelChecker(
            store,
            channel_id=settings.channel_id,
            allowed_admins=settings.channel_admin_ids,
            recipients=recipients,
        )
        verifier = ChannelVerifier(
            store,
            settings.data_dir,
            channel_id=settings.channel_id,
            recipients=recipients,
            allowed_admins=settings.channel_admin_ids,
        )
        async with make_bot(settings, request) as bot:
            try:
                return await verifier.start(bot, checker, signing)
            except ChannelError as exc:
                raise click.ClickException(str(exc)) from None


# --------------------------------------------------------------------------------------------
# reportbot digests
# --------------------------------------------------------------------------------------------


@click.group()
def digests() -> None:
    """The digest outbox: what waits for the analyst channel and what was posted."""


@digests.command("list")
@data_dir_option
def list_cmd(data_dir: Path) -> None:
    """Show the outbox: sequence, day, state, attempts, parts, reports carried, bytes."""
    from storage.base import DigestInfo
    from storage.sqlite import open_store

    if not (data_dir / "reports.sqlite3").is_file():
        raise click.ClickException(f"{data_dir}: no database here (reports.sqlite3)")
    rows: list[DigestInfo] = []

    async def work() -> None:
        async with open_store(data_dir) as store:
            rows.extend(await store.list_digests())

    _run(work())
    if not rows:
        click.echo("the outbox is empty: no digest closed yet")
        return
    click.echo(
        f"{'seq':>6}  {'day':10}  {'state':7}  {'tries':>5}  {'posted':10}  parts  reports  bytes"
    )
    for r in rows:
        posted = r.posted_day.isoformat() if r.posted_day else "-"
        click.echo(
            f"{r.seq:>6}  {r.created_day.isoformat():10}  {r.state.value:7}  {r.attempts:>5}  "
            f"{posted:10}  {r.parts:>5}  {r.reports:>7}  {r.size}"
        )
    pending = sum(1 for r in rows if r.state.value == "pending")
    click.echo(f"{len(rows)} digest(s), {pending} waiting to be posted")


@digests.command("resend")
@click.argument("seq", type=click.IntRange(min=1))
@settings_options
def resend_cmd(seq: int, env_file: Path, secrets_dir: Path | None) -> None:
    """Post digest SEQ (and its separate documents) to the channel again."""
    from bot.delivery.outbox import Outcome

    settings = _load_settings(env_file, secrets_dir)
    box: list[RoundReport] = []

    async def work() -> None:
        box.append(await resend_digest(settings, seq))

    _run(work())
    report = box[0]
    if report.outcome is Outcome.HELD and report.failed is not None:
        from bot.delivery.channel_checks import CheckResult

        raise click.ClickException(
            f"not posted: channel check {report.failed.value} failed: "
            f"{CheckResult(report.failed).explanation}"
        )
    if report.outcome is not Outcome.DELIVERED:
        raise click.ClickException("not posted: Telegram kept failing; try again later")
    click.echo(f"digest #{seq} posted again ({report.posted} document(s))")


# --------------------------------------------------------------------------------------------
# reportbot channel
# --------------------------------------------------------------------------------------------


@click.group()
def channel() -> None:
    """The analyst channel: check it, verify it once at setup."""


@channel.command("check")
@settings_options
def check_cmd(env_file: Path, secrets_dir: Path | None) -> None:
    """Run every check the bot runs before posting, and say which one fails."""

    settings = _load_settings(env_file, secrets_dir)
    box: list[tuple[CheckResult, ChannelBinding | None]] = []

    async def work() -> None:
        box.append(await check_channel(settings))

    _run(work())
    result, binding = box[0]
    if binding is None:
        click.echo("verified: never (run: reportbot channel verify)")
    else:
        click.echo(
            f"verified: channel {binding.channel_id} on {binding.verified_day}, "
            f"{len(binding.key_fingerprints)} analyst key(s)"
        )
    if not result.ok:
        raise click.ClickException(f"{result.failed}: {result.explanation}")
    click.echo("all channel checks hold: digests will be posted")


@channel.command("verify")
@settings_options
def verify_cmd(env_file: Path, secrets_dir: Path | None) -> None:
    """Post one challenge per analyst key; each analyst sends its code back to the bot."""
    settings = _load_settings(env_file, secrets_dir)
    box: list[list[Challenge]] = []

    async def work() -> None:
        box.append(await start_verification(settings))

    _run(work())
    click.echo(f"posted {len(box[0])} challenge(s) to channel {settings.channel_id}:")
    for challenge in box[0]:
        click.echo(f"  {challenge.file_name}: for the analyst key {challenge.fingerprint}")
    click.echo(
        "Each analyst: save the document for your key from the channel, run\n"
        "  reportbot analyst verify-channel FILE --key YOUR.key\n"
        "and send the code it prints to the bot from your own Telegram account (one of\n"
        "REPORTBOT_CHANNEL_ADMIN_IDS) while the bot runs. When every key's code is in, the bot\n"
        "records the channel and starts posting digests. The challenge is valid for 7 days."
    )
