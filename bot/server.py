"""Running the bot: loading what it needs, long polling or a webhook, and a clean stop.

Used by ``reportbot run`` (``bot.cli.run``). The webhook receiver is our own small aiohttp app:
it compares ``X-Telegram-Bot-Api-Secret-Token`` in constant time and answers 403 to a missing or
wrong header, and it writes no access log (client addresses). No connection can be held open:
headers are due within 10 s of a connection's opening (or its previous answer), a body within
10 s more, at most 100 connections are open at once (Telegram is told to use 40), and a stop
waits at most 3 s for requests in flight (:class:`WebhookLimits`). SIGTERM and SIGINT stop the bot
cleanly: updates in hand are finished, open conversations' reports are closed as interrupted,
and the store is closed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError

from bot.app import ALLOWED_UPDATES, App, Deps, build_application, runtime_of
from bot.ops.logging import asyncio_exception_handler, exception_types, roll_reporter_events
from bot.ops.settings import ENV_PREFIX, Settings, SettingsError
from bot.phrasebook.codes import codes_finding_phrases
from bot.phrasebook.loader import load_phrasebook
from bot.phrasebook.model import Phrasebook
from bot.questionnaire.flow import Flow
from bot.questionnaire.loader import FlowLoadError, load_flow, load_ui_texts
from bot.receipts.pepper import ReceiptPepper, load_pepper
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
    pepper: ReceiptPepper
    phrasebook: Phrasebook | None = None
    """Cover mode's phrasebook (None: the cover is off)."""


def load_cover(settings: Settings) -> Phrasebook | None:
    """Cover mode: the phrasebook and the codes, or SettingsError saying what to set."""
    if not settings.cover:
        return None
    settings.require_cover_codes()
    try:
        book = load_phrasebook(settings.phrasebook_path, settings.locales_dir)
    except FlowLoadError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "cannot be loaded"
        raise SettingsError(f"{ENV_PREFIX}PHRASEBOOK: {first}") from None
    codes = [c.get_secret_value() for c in (*settings.entry_codes, *settings.duress_codes)]
    if codes_finding_phrases(codes, book):
        raise SettingsError(
            f"{ENV_PREFIX}ENTRY_CODES: a code finds phrases in the phrasebook, so typing it "
            "would be a search; choose codes the phrasebook does not contain (docs/cover.md)"
        )
    return book


def load_receipt_pepper(settings: Settings) -> ReceiptPepper:
    """The pepper file, required, private, and not inside the data directory (backups)."""
    name = f"{ENV_PREFIX}RECEIPT_PEPPER"
    path = settings.receipt_pepper
    if path is None:
        raise SettingsError(
            f"{name}: required (a secret file made by `reportbot keys new-pepper`, kept with the "
            "bot's signing key and outside the data directory)"
        )
    try:
        inside = path.resolve().is_relative_to(settings.data_dir.resolve())
    except OSError:
        inside = False
    if inside:
        raise SettingsError(
            f"{name}: must not be inside the data directory (its backups would carry it)"
        )
    try:
        return load_pepper(path)
    except (KeyFileError, OSError) as exc:
        raise SettingsError(f"{name}: {exc}") from None


def load_everything(settings: Settings) -> Loaded:
    """Token, flow, texts and keys; SettingsError (one line naming the setting) if any is bad."""
    settings.require_token()
    book = load_cover(settings)  # before the rest: a missing entry code is the likeliest miss
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
    pepper = load_receipt_pepper(settings)
    return Loaded(settings, flow, ui, recipients, signing_key, pepper, book)


# --- webhook -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookLimits:
    """What one connection may cost the bot before it is cut off.

    Telegram opens at most ``telegram_connections`` connections (we tell it so in
    ``setWebhook``), sends small updates quickly and reconnects when a connection is closed, so
    anything slower or more numerous than this is not Telegram.
    """

    header_seconds: float = 10.0
    """From a connection's opening, or its previous answer, to the end of the next request's
    headers (this also closes idle keep-alive connections)."""
    body_seconds: float = 10.0
    """To read one request's body, once its headers are in."""
    max_connections: int = 100
    """Open connections at once; more are closed as soon as they open."""
    shutdown_seconds: float = 3.0
    """A stop waits at most this long for requests in flight (well under systemd's 60 s)."""
    telegram_connections: int = 40


class _ConnectionGuard:
    """Counts connections, refuses those over the limit, and closes slow or idle ones.

    Sits between asyncio and aiohttp's protocol (aiohttp's documented low-level server:
    ``loop.create_server(server, ...)``): aiohttp has no header read timeout of its own.
    """

    def __init__(self, server: web.Server, limits: WebhookLimits) -> None:
        self._server = server
        self._limits = limits
        self._deadlines: dict[asyncio.BaseTransport, asyncio.TimerHandle | None] = {}
        self.refused = 0
        self.cut_off = 0

    @property
    def open_connections(self) -> int:
        return len(self._deadlines)

    def protocol(self) -> asyncio.BaseProtocol:
        return _GuardedProtocol(self, self._server())

    def opened(self, transport: asyncio.BaseTransport) -> bool:
        if len(self._deadlines) >= self._limits.max_connections:
            self.refused += 1
            transport.abort()  # type: ignore[attr-defined]
            return False
        self._deadlines[transport] = None
        self.arm(transport)
        return True

    def closed(self, transport: asyncio.BaseTransport) -> None:
        handle = self._deadlines.pop(transport, None)
        if handle is not None:
            handle.cancel()

    def arm(self, transport: asyncio.BaseTransport) -> None:
        """The next request's headers must be in within ``header_seconds``."""
        if transport not in self._deadlines:
            return
        self.disarm(transport)
        loop = asyncio.get_running_loop()
        self._deadlines[transport] = loop.call_later(
            self._limits.header_seconds, self._expire, transport
        )

    def disarm(self, transport: asyncio.BaseTransport) -> None:
        handle = self._deadlines.get(transport)
        if handle is not None:
            handle.cancel()
            self._deadlines[transport] = None

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        if transport in self._deadlines:
            self.cut_off += 1
            transport.abort()  # type: ignore[attr-defined]

    def abort_all(self) -> None:
        for transport in list(self._deadlines):
            transport.abort()  # type: ignore[attr-defined]


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, opened only when the guard allows it."""

    def __init__(self, guard: _ConnectionGuard, inner: asyncio.BaseProtocol) -> None:
        self._guard = guard
        self._inner: Any = inner
        self._admitted = False
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._admitted = self._guard.opened(transport)
        if self._admitted:
            self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._admitted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._admitted:
            result: bool | None = self._inner.eof_received()
            return result
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard.closed(self._transport)
        if self._admitted:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()


@dataclass
class _GuardSlot:
    """Where the request handler finds the connection guard (made after the app is frozen)."""

    guard: _ConnectionGuard | None = None


_GUARD_KEY: Final = web.AppKey("connection_guard", _GuardSlot)


def make_webhook_app(
    app: App, secret: str, path: str, limits: WebhookLimits | None = None
) -> web.Application:
    """An aiohttp app that accepts Telegram's POSTs on ``path`` and queues them for ``app``."""
    expected = secret.encode()
    body_seconds = (limits or WebhookLimits()).body_seconds

    async def receive(request: web.Request) -> web.Response:
        slot = request.app.get(_GUARD_KEY)
        guard = slot.guard if slot is not None else None
        transport = request.transport
        if guard is not None and transport is not None:
            guard.disarm(transport)  # the headers are in; the body has its own deadline
        try:
            return await _receive(request)
        finally:
            if guard is not None and transport is not None:
                guard.arm(transport)  # idle from now: the next request's headers are due

    async def _receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403)
        try:
            async with asyncio.timeout(body_seconds):
                body = await request.read()
        except TimeoutError:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=408)
        try:
            data = json.loads(body)
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


@dataclass
class WebhookServer:
    """The running webhook receiver; :meth:`stop` is bounded by ``shutdown_seconds``."""

    runner: web.AppRunner
    tcp: asyncio.Server
    guard: _ConnectionGuard
    limits: WebhookLimits

    @property
    def port(self) -> int:
        port: int = self.tcp.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        self.tcp.close()
        server = self.runner.server
        try:
            if server is not None:
                await asyncio.wait_for(
                    server.shutdown(self.limits.shutdown_seconds),
                    timeout=self.limits.shutdown_seconds + 1,
                )
        except TimeoutError:
            pass
        finally:
            self.guard.abort_all()
            await self.runner.cleanup()


async def start_webhook_server(
    app: App,
    secret: str,
    path: str,
    host: str,
    port: int,
    limits: WebhookLimits | None = None,
) -> WebhookServer:
    """Listen for Telegram's POSTs with every limit of :class:`WebhookLimits` in force."""
    limits = limits or WebhookLimits()
    web_app = make_webhook_app(app, secret, path, limits)
    slot = _GuardSlot()
    web_app[_GUARD_KEY] = slot
    runner = web.AppRunner(
        web_app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=limits.header_seconds,
        shutdown_timeout=limits.shutdown_seconds,
    )
    await runner.setup()
    server = runner.server
    if server is None:  # pragma: no cover - setup always makes one
        raise RuntimeError("no server")
    guard = _ConnectionGuard(server, limits)
    slot.guard = guard
    loop = asyncio.get_running_loop()
    tcp = await loop.create_server(
        guard.protocol, host, port, backlog=limits.max_connections, reuse_address=True
    )
    return WebhookServer(runner, tcp, guard, limits)


async def start_webhook(app: App, settings: Settings) -> WebhookServer:
    if settings.webhook_secret is None or settings.webhook_url is None:  # pragma: no cover
        raise SettingsError(f"{ENV_PREFIX}WEBHOOK_SECRET: required when webhook_url is set")
    secret = settings.webhook_secret.get_secret_value()
    limits = WebhookLimits()
    server = await start_webhook_server(
        app, secret, settings.webhook_path, settings.webhook_listen, settings.webhook_port, limits
    )
    await app.bot.set_webhook(
        settings.webhook_url,
        secret_token=secret,
        allowed_updates=list(ALLOWED_UPDATES),
        max_connections=limits.telegram_connections,
    )
    return server


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
            phrasebook=loaded.phrasebook,
            # receipts: argon2id at the production limits, replies checked against these keys
            receipts=ReceiptService(store, loaded.recipients.keys, pepper=loaded.pepper),
        )
        app = build_application(settings, deps)
        runtime = runtime_of(app)
        async with app:
            await runtime.post_init(app)
            await app.start()
            runner: WebhookServer | None = None
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
                await runner.stop()
            elif app.updater is not None and app.updater.running:
                await app.updater.stop()
            await app.stop()
            await runtime.post_stop(app)
    roll_reporter_events(everything=True)  # the hour's counts so far: nothing is lost
    log.info("bot_stopped")
