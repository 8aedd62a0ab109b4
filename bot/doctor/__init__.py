"""``reportbot doctor``: is this installation fit to run? One line per check, each with its fix.

One module per area: :mod:`~bot.doctor.credentials` (token and keys), :mod:`~bot.doctor.flow`,
:mod:`~bot.doctor.cover` (cover mode),
:mod:`~bot.doctor.database` (data directory and database), :mod:`~bot.doctor.bot_api` (Telegram)
and :mod:`~bot.doctor.channel` (the analyst channel); :mod:`~bot.doctor.result` is a line and
the report. This module runs them in order.

Checks, in order (the local ones also run as the container's health check, ``--quick``):

- settings: read exactly as ``reportbot run`` reads them (environment, ``.env``, secrets dir);
- the bot token is set (``--quick``) and Telegram accepts it (``getMe``);
- the bot's signing key: present, a bot signing key (not an analyst's private key), mode 0600;
- every analyst public key: a public key (an analyst PRIVATE key is refused), not replaceable by
  other users; and no analyst private key lies beside them on this machine;
- the flow and the bot's texts load (the rules of ``reportbot flows check``);
- cover mode (:mod:`~bot.doctor.cover`, docs/cover.md): on, the phrasebook loads, every entry and
  duress code has enough letters and digits and is no phrasebook word;
- the data directory and database: present, writable by this user, integrity, schema version,
  file modes and the pragmas every connection must have (``secure_delete``, ``trusted_schema``...);
- Telegram's side: webhook or long polling as configured (``getWebhookInfo``); in cover mode
  the bot's name holds no forbidden word and its profile texts are the phrasebook's
  (``getMyCommands``, ``getMyDescription``, ``getMyShortDescription`` per language);
- the analyst channel: configured by numeric id, verified with the current analyst keys, and the
  checks the bot makes before every post (``bot.delivery.channel_checks``).

Nothing here writes: the database is read with plain ``sqlite3`` (no migration, no chmod), and the
Bot API methods called only read. No line carries a secret: the token, the webhook secret and key
material are never printed; paths, modes, fingerprints, ids of configured chats are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.doctor.bot_api import telegram_checks
from bot.doctor.cover import check_cover
from bot.doctor.credentials import (
    check_analyst_keys,
    check_no_analyst_private_keys,
    check_signing_key,
    check_token,
)
from bot.doctor.database import check_data_dir, check_database_health, check_waiting_digests
from bot.doctor.flow import check_flow
from bot.doctor.result import Check, Report, Status, fail, ok, skip
from bot.ops.settings import Settings

if TYPE_CHECKING:
    from telegram.request import BaseRequest

__all__ = ["Check", "Report", "Status", "diagnose", "fail", "local_checks", "ok", "skip"]


def local_checks(settings: Settings) -> list[Check]:
    """Everything that needs no network: what ``--quick`` (the health check) runs."""
    checks = [check_token(settings), check_signing_key(settings)]
    checks += check_analyst_keys(settings)
    checks.append(check_no_analyst_private_keys(settings))
    checks.append(check_flow(settings))
    checks += check_cover(settings)
    data = check_data_dir(settings)
    checks.append(data)
    if not data.failed or "does not exist" not in data.detail:
        checks += check_database_health(settings)
    return checks


def skipped_network_checks() -> list[Check]:
    reason = "--quick skips the checks that call Telegram"
    return [skip("telegram", reason), skip("analyst channel", reason)]


async def diagnose(
    settings: Settings, *, quick: bool, request: BaseRequest | None = None
) -> Report:
    """Run every check; the Telegram ones (through ``request``) unless ``quick``."""
    checks = local_checks(settings)
    if quick:
        checks += skipped_network_checks()
    else:
        checks.append(check_waiting_digests(settings))  # held digests: how many, since when
        checks += await telegram_checks(settings, request)
    return Report(tuple(checks))
