"""The analyst channel: configured by numeric id, verified with the current analyst keys, and the
checks the bot makes before every post (``bot.delivery.channel_checks``)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Final

from bot.doctor.database import read_channel_binding
from bot.doctor.result import Check, fail, ok, skip
from bot.ops.settings import ENV_PREFIX, Settings
from bot.sealing.keys import KeyFileError, load_recipients
from storage.errors import StorageError

if TYPE_CHECKING:
    from telegram import Bot


_CHANNEL_FIX: Final[dict[str, str]] = {
    "no_channel_configured": (
        f"set {ENV_PREFIX}CHANNEL_ID to the channel's numeric id (-100...), docs/setup.md step 4"
    ),
    "wrong_id": (
        f"put the verified channel's id back in {ENV_PREFIX}CHANNEL_ID, or verify the new "
        "channel: `reportbot channel verify`"
    ),
    "not_verified": (
        "run `reportbot channel verify`; each analyst opens the challenge with "
        "`reportbot analyst verify-channel` and sends the code to the bot (docs/setup.md step 6)"
    ),
    "channel_unreachable": (
        f"check {ENV_PREFIX}CHANNEL_ID (the numeric -100... id, docs/setup.md step 4) and add "
        "the bot to the channel as an administrator"
    ),
    "not_a_channel": f"{ENV_PREFIX}CHANNEL_ID must name a channel, not a group or a chat",
    "public_username": (
        "channel settings > Channel type > Private (remove the public link); a public channel "
        "can be read by anyone"
    ),
    "bot_not_admin": "make the bot an administrator of the channel",
    "bot_cannot_post": "give the bot the right to post messages in the channel",
    "unknown_admin": (
        "remove the unknown administrator from the channel, or, if it is an analyst, add their "
        f"Telegram account id to {ENV_PREFIX}CHANNEL_ADMIN_IDS"
    ),
}


def _channel_line(name: str, failed: object, explanation: str, good: str) -> Check:
    if failed is None:
        return ok(name, good)
    code = str(failed)
    return fail(name, f"{code}: {explanation}", _CHANNEL_FIX.get(code, "see docs/setup.md"))


async def channel_checks(settings: Settings, bot: Bot) -> list[Check]:
    """The checks the bot makes before every digest (``channel_checks.ChannelChecker``)."""
    from bot.delivery.channel_checks import ChannelChecker
    from storage.memory import MemoryReportStore

    try:
        recipients, _ = load_recipients(list(settings.analyst_public_keys))
    except (KeyFileError, OSError):
        return [skip("analyst channel", "needs working analyst keys (see above)")]
    store = MemoryReportStore()
    try:
        binding = read_channel_binding(settings)
    except (sqlite3.Error, StorageError):
        binding = None
    if binding is not None:
        await store.set_channel_binding(binding)
    checker = ChannelChecker(
        store,
        channel_id=settings.channel_id,
        allowed_admins=settings.channel_admin_ids,
        recipients=recipients,
    )
    checks: list[Check] = []
    local = await checker.binding_check()
    verified = (
        f"channel {settings.channel_id} verified for the {len(recipients)} current analyst key(s)"
    )
    checks.append(_channel_line("channel verification", local.failed, local.explanation, verified))
    if settings.channel_id is None:
        return checks
    from telegram.error import TelegramError

    try:
        remote = await checker.telegram_check(bot)
    except TelegramError as exc:
        checks.append(
            fail(
                "analyst channel",
                f"Telegram did not answer ({type(exc).__name__})",
                "run the doctor again in a minute",
            )
        )
        return checks
    checks.append(
        _channel_line(
            "analyst channel",
            remote.failed,
            remote.explanation,
            f"channel {settings.channel_id}: private, the bot may post, every administrator "
            "is the bot or an allowed analyst",
        )
    )
    if remote.ok and remote.missing:
        from bot.delivery.channel_checks import keys_held_by

        listed = len(settings.channel_admin_ids)
        where = ", ".join(f"#{n}" for n in remote.missing)
        accounts = list(settings.channel_admin_ids)
        missing = [accounts[n - 1] for n in remote.missing]
        present = [a for a in accounts if a not in missing]
        held = keys_held_by(settings.data_dir, accounts)
        still_read = {fp for a in present for fp in held.get(a, [])}
        orphaned = sorted({fp for a in missing for fp in held.get(a, [])} - still_read)
        whose = (
            "; nobody in the channel holds the key with fingerprint "
            + ", ".join(" ".join(fp[i : i + 5] for i in range(0, 25, 5)) for fp in orphaned)
            if orphaned
            else ""
        )
        checks.append(
            fail(
                "analysts in the channel",
                f"account(s) {where} of the {listed} in REPORTBOT_CHANNEL_ADMIN_IDS are not "
                "administrators of the channel: digests still go out, but the analyst key "
                f"held by that account is read by nobody in the channel{whose}",
                "add them as administrators (docs/setup.md, step 4), or remove their id and "
                "their key (then run reportbot channel verify)",
            )
        )
    return checks
