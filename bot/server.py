"""Running the bot: loading what it needs, long polling or a webhook, and a clean stop.

Used by ``reportbot run`` (``bot.cli.run``). The webhook receiver is our own small aiohttp app:
it compares ``X-Telegram-Bot-Api-Secret-Token`` in constant time and answers 403 to a missing or
wrong header, and it writes no access log (client addresses). SIGTERM and SIGINT stop the bot
cleanly: updates in hand are finished, open conversations' reports are closed as interrupted,
and the store is closed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError

from bot.app import ALLOWED_UPDATES, App, Deps, build_application, runtime_of
from bot.ops.logging import asyncio_exception_handler, exception_types
from bot.ops.settings import ENV_PREFIX, Settings, SettingsError
from bot.questionnaire.flow import Flow
from bot.questionnaire.loader import FlowLoadError, load_flow, load_ui_texts
from bot.receipts.service import ReceiptService
from bot.sealing.keys import (
    BotSigningKey,
    KeyFileError,
    Recipients,
    load_bot_signing_key,
    load_recipients,
)
from storage.sqlite import open_store

log = logging.getLogger("bot.run")

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
WEBHOOK_BODY_MAX: Final = 1024 * 1024
"""Telegram's updates are small; anything larger is not from Telegram."""


@dataclass(frozen=True)
class Loaded:
    """What ``run`` reads from disk before the event loop starts."""

    settings: Settings
    flow: Flow
    ui: dict[str, dict[str, str]]
    recipients: Recipients
    signing_key: BotSigningKey | None


def load_everything(settings: Settings) -> Loaded:
    """Token, flow, texts and keys; SettingsError (one line naming the setting) if any is bad."""
    settings.require_token()
    try:
        flow = load_flow(settings.flow, settings.locales_dir)
        ui = load_ui_texts(settings.locales_dir)
    except FlowLoadError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "cannot be loaded"
        raise SettingsError(f"{ENV_PREFIX}FLOW: {first}") from None
    if not settings.analyst_public_keys:
        raise SettingsError(
            f"{ENV_PREFIX}ANALYST_PUBLIC_KEYS: required (at least one analyst .pub file)"
        )
    try:
        recipients, _ = load_recipients(list(settings.analyst_public_keys))
    except (KeyFileError, OSError) as exc:
        raise SettingsError(f"{ENV_PREFIX}ANALYST_PUBLIC_KEYS: {exc}") from None
    signing_key = None
    if settings.bot_signing_key is not None:
        try:
            signing_key = load_bot_signing_key(settings.bot_signing_key)
        except (KeyFileError, OSError) as exc:
            raise SettingsError(f"{ENV_PREFIX}BOT_SIGNING_KEY: {exc}") from None
    return Loaded(settings, flow, ui, recipients, signing_key)


# --- webhook -----------------------------------------------------------------------------------


def make_webhook_app(app: App, secret: str, path: str) -> web.Application:
    """An aiohttp app that accepts Telegram's POSTs on ``path`` and queues them for ``app``."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, app.bot) if isinstance(data, dict) else None
        except Exception:  # any malformed body is the sender's problem: 400
            update = None
        if update is None:
            return web.Response(status=400)
        await app.update_queue.put(update)
        return web.Response(status=200)

    web_app = web.Application(client_max_size=WEBHOOK_BODY_MAX)
    web_app.router.add_post(path, receive)
    return web_app


async def start_webhook(app: App, settings: Settings) -> web.AppRunner:
    if settings.webhook_secret is None or settings.webhook_url is None:  # pragma: no cover
        raise SettingsError(f"{ENV_PREFIX}WEBHOOK_SECRET: required when webhook_url is set")
    secret = settings.webhook_secret.get_secret_value()
    runner = web.AppRunner(
        make_webhook_app(app, secret, settings.webhook_path), access_log=None, handle_signals=False
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_listen, settings.webhook_port)
    await site.start()
    await app.bot.set_webhook(
        settings.webhook_url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)
    )
    return runner


# --- running -----------------------------------------------------------------------------------


def _polling_error(exc: TelegramError) -> None:
    log.warning("polling_error", extra={"fields": {"exc_type": exception_types(exc)}})


async def serve(loaded: Loaded, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set); then stop cleanly."""
    settings = loaded.settings
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(asyncio_exception_handler)
    stop = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_store(settings.data_dir) as store:
        deps = Deps(
            store=store,
            recipients=loaded.recipients,
            flow=loaded.flow,
            ui=loaded.ui,
            signing_key=loaded.signing_key,
            # receipts: argon2id at the production limits, replies checked against these keys
            receipts=ReceiptService(store, loaded.recipients.keys),
        )
        app = build_application(settings, deps)
        runtime = runtime_of(app)
        async with app:
            await runtime.post_init(app)
            await app.start()
            runner: web.AppRunner | None = None
            if settings.webhook_url is not None:
                runner = await start_webhook(app, settings)
                mode = "webhook"
            else:
                updater = app.updater
                if updater is None:  # pragma: no cover - the builder always makes one
                    raise RuntimeError("no updater")
                await updater.start_polling(
                    allowed_updates=list(ALLOWED_UPDATES), error_callback=_polling_error
                )
                mode = "polling"
            log.info("bot_started", extra={"fields": {"mode": mode}})
            await stop.wait()
            log.info("bot_stopping")
            if runner is not None:
                await runner.cleanup()
            elif app.updater is not None and app.updater.running:
                await app.updater.stop()
            await app.stop()
            await runtime.post_stop(app)
    log.info("bot_stopped")
