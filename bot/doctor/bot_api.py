"""Telegram's side: the token (``getMe``), webhook or long polling (``getWebhookInfo``), then
the analyst channel (:mod:`bot.doctor.channel`). The Bot API methods called only read."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from bot.doctor.channel import channel_checks
from bot.doctor.cover import profile_checks
from bot.doctor.result import Check, fail, ok
from bot.ops.settings import ENV_PREFIX, Settings

if TYPE_CHECKING:
    from telegram.request import BaseRequest


async def telegram_checks(settings: Settings, request: BaseRequest | None = None) -> list[Check]:
    """The token (``getMe``), webhook or polling (``getWebhookInfo``), and the analyst channel.

    ``request``: how to reach the Bot API (tests pass a fake one); by default plain HTTPS to
    ``REPORTBOT_API_URL`` with short timeouts.
    """
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError
    from telegram.request import HTTPXRequest

    if settings.token is None:
        return [
            fail(
                "telegram",
                "cannot ask Telegram without a token",
                f"set {ENV_PREFIX}TOKEN (see the token line above)",
            )
        ]
    if request is None:
        request = HTTPXRequest(connect_timeout=10.0, read_timeout=15.0, pool_timeout=10.0)
    bot = Bot(
        settings.token.get_secret_value(),
        base_url=settings.bot_api_base_url,
        base_file_url=settings.bot_api_file_url,
        request=request,
        get_updates_request=request,
    )
    checks: list[Check] = []
    try:
        try:
            await bot.initialize()  # getMe
        except InvalidToken:
            # str(exc) quotes the token: never print it
            return [
                fail(
                    "telegram token",
                    "Telegram refused the token (Unauthorized)",
                    "copy the token again from @BotFather (/mybots > API Token); if it was "
                    f"revoked, put the new one in {ENV_PREFIX}TOKEN",
                )
            ]
        except NetworkError as exc:
            return [
                fail(
                    "telegram",
                    f"cannot reach {settings.api_url} ({type(exc).__name__})",
                    "let this server make HTTPS connections to api.telegram.org (or to "
                    f"{ENV_PREFIX}API_URL), then run the doctor again",
                )
            ]
        checks.append(ok("telegram token", f"valid: the bot is @{bot.username} (id {bot.id})"))
        try:
            info = await bot.get_webhook_info()
        except TelegramError as exc:
            checks.append(
                fail(
                    "telegram mode",
                    f"getWebhookInfo failed ({type(exc).__name__})",
                    "run the doctor again; if it persists, check the Bot API server",
                )
            )
        else:
            checks.append(_mode_check(settings, info.url, info.last_error_message))
        checks += await profile_checks(settings, bot)
        checks += await channel_checks(settings, bot)
    finally:
        with contextlib.suppress(TelegramError):
            await bot.shutdown()
    return checks


def _mode_check(settings: Settings, url: str, last_error: str | None) -> Check:
    name = "telegram mode"
    if settings.webhook_url is None:
        if url:
            return fail(
                name,
                "long polling is configured, but a webhook is set at Telegram",
                "start the bot (`reportbot run` removes the webhook when it starts polling); "
                "if the webhook comes back, another server uses this token: revoke the token",
            )
        return ok(name, "long polling (no webhook set at Telegram)")
    if url != settings.webhook_url:
        where = "no webhook" if not url else "a different webhook URL"
        return fail(
            name,
            f"{ENV_PREFIX}WEBHOOK_URL is configured, but Telegram has {where}",
            "start the bot (it sets its webhook when it starts); if another URL comes back, "
            "another server uses this token: revoke the token",
        )
    if last_error:
        return fail(
            name,
            f"webhook set, but Telegram's last delivery failed: {last_error[:200]}",
            "check that the webhook URL reaches this bot over HTTPS (proxy, certificate, port)",
        )
    return ok(name, "webhook set to the configured URL, no delivery error")
