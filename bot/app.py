"""The Application factory: settings + dependencies in, a python-telegram-bot Application out.

``build_application`` touches no network and no disk: the caller opens the store, loads keys,
flow and texts, and passes them in :class:`Deps`; ``reportbot run`` (``bot.cli.run``) does that
and then starts long polling or the webhook. Tests pass a recording ``BaseRequest`` instead of
HTTP and drive the same Application through ``process_update``.

What it assembles:

- one ``TypeHandler`` that sends private chats to :class:`handlers.private.ReporterChats` and
  everything else to :class:`handlers.groups.GroupChats`;
- our send scheduler (:class:`bot.delivery.ratelimit.FairSendScheduler`) for the bot's own
  sending: Telegram's limits per chat and overall, fair between chats, a 429 pausing one chat;
- ``Defaults``: ``protect_content`` on, no parse_mode, no link previews;
- jobs: idle-timeout sweep, pseudonym key rotation, retention;
- one error handler (:class:`handlers.errors.ErrorReporter`);
- at start (``post_init``): the command menu and descriptions per language (the phrasebook's in
  cover mode, docs/cover.md), and closing reports
  a previous run left open; at stop: closing the reports of conversations still open and, in
  cover mode, erasing their chats (``ReporterChats.close_all``).

No persistence object is ever given to PTB: nothing about a reporter is written by it. And the
Application is a :class:`ForgetfulApplication`, which never collects the chat and user ids of
updates for a persistence (PTB's plain Application keeps every one since start when there is none).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, Defaults, TypeHandler
from telegram.request import BaseRequest

from bot.delivery.channel_checks import ChannelVerifier
from bot.delivery.outbox import TICK_SECONDS, DigestService, build_service
from bot.delivery.ratelimit import FairSendScheduler, Priority, SendLimits
from bot.ops.logging import exception_types, roll_reporter_events
from bot.ops.settings import ENV_PREFIX, Settings, SettingsError
from bot.phrasebook.codes import EntryCodes
from bot.phrasebook.model import COMMAND_IDS, Phrasebook
from bot.questionnaire.flow import Flow
from bot.receipts.service import ReceiptService
from bot.sealing.keys import BotSigningKey, Recipients
from handlers.cover import Cover, CoverBook, EntryAttempts
from handlers.errors import ErrorReporter
from handlers.followup import ChannelReplies, Followups
from handlers.forms import FormRequest
from handlers.groups import GroupChats
from handlers.limits import FloodLimits, FloodPolicy
from handlers.private import COMMANDS, ReporterChats
from handlers.pseudonyms import PseudonymKeys
from handlers.render import Renderer, UiTexts
from handlers.reports import ReportWriter
from handlers.telegram_calls import RawResultBot
from storage.base import ReportStore, RetentionPolicy
from storage.retention import run_retention

log = logging.getLogger("bot.app")

App = Application[Any, Any, Any, Any, Any, Any]

RUNTIME_KEY: Final = "reportbot.runtime"
REPLIES_GROUP: Final = -2
"""Analysts' replies posted in the channel are taken before any other handler sees them."""
SWEEP_SECONDS: Final = 60.0
RETENTION_SECONDS: Final = 24 * 3600.0

ALLOWED_UPDATES: Final[tuple[str, ...]] = (
    "message",
    "edited_message",
    "callback_query",
    "channel_post",
    "edited_channel_post",
    "my_chat_member",
)
"""The update types the bot asks Telegram for (polling and webhook alike)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def ids_are_numbers(update: Update) -> bool:
    """Whether the chat id, user id and message id of an update are integers.

    Telegram always sends numbers there, but python-telegram-bot does not check the types of the
    JSON it parses. An update with anything else (found by the fuzz suite,
    ``tests/test_proof_fuzz.py``) is dropped before a handler could keep a wrong-typed message id
    in a conversation, where it would later break that reporter's quick exit.
    """
    values: list[object] = []
    if update.effective_chat is not None:
        values.append(update.effective_chat.id)
    if update.effective_user is not None:
        values.append(update.effective_user.id)
    message = update.effective_message
    if message is not None:
        values.append(message.message_id)
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


class ForgetfulApplication(Application[Any, Any, Any, Any, Any, Any]):
    """An Application that never collects chat or user ids for persistence.

    python-telegram-bot's Application adds ``effective_chat.id`` and ``effective_user.id`` of
    every update (and a job's ids) to ``_chat_ids_to_be_updated_in_persistence`` /
    ``_user_ids_to_be_updated_in_persistence``; only the persistence updater empties those sets,
    and without a persistence it never runs, so the process would hold the raw id of every
    reporter since start. This bot has no persistence and never will (it would write ids and
    drafts), so nothing is ever marked. ``tests/test_memory_heap.py`` checks the sets stay empty
    and walks the heap for reporters' ids.
    """

    __slots__ = ()

    def _mark_for_persistence_update(
        self, *, update: object | None = None, job: object | None = None
    ) -> None:
        return None

    def mark_data_for_update_persistence(
        self, chat_ids: object | None = None, user_ids: object | None = None
    ) -> None:
        return None


@dataclass(frozen=True)
class Deps:
    """Everything the Application needs that is not a setting. Built by the caller."""

    store: ReportStore
    recipients: Recipients
    flow: Flow
    ui: UiTexts
    signing_key: BotSigningKey | None = None  # digests (issue 6)
    clock: Callable[[], datetime] = _utc_now
    monotonic: Callable[[], float] = time.monotonic
    random_bytes: Callable[[int], bytes] = os.urandom  # pseudonym keys
    request: BaseRequest | None = None  # tests: a recording request instead of HTTP
    get_updates_request: BaseRequest | None = None
    receipts: ReceiptService | None = None  # receipts and follow-ups (issue 7); None: none
    phrasebook: Phrasebook | None = None  # cover mode (issue 15): required when it is on


@dataclass(frozen=True)
class Profile:
    """What Telegram shows of the bot before and around a chat, in one language."""

    commands: tuple[BotCommand, ...]
    description: str
    short_description: str


COVER_COMMANDS: Final[tuple[str, ...]] = tuple(t.removeprefix("pb.command.") for t in COMMAND_IDS)
"""Cover mode's command menu: the phrasebook's first screen and how to use it."""


def build_cover(settings: Settings, deps: Deps, keys: PseudonymKeys) -> Cover | None:
    """Cover mode's phrasebook and codes; SettingsError when it is on without them."""
    if not settings.cover:
        return None
    settings.require_cover_codes()
    if deps.phrasebook is None:
        raise SettingsError(f"{ENV_PREFIX}PHRASEBOOK: cover mode is on and needs the phrasebook")
    codes = EntryCodes(
        (c.get_secret_value() for c in settings.entry_codes),
        (c.get_secret_value() for c in settings.duress_codes),
        key=deps.random_bytes(32),
    )
    attempts = EntryAttempts(
        keys,
        per_hour=settings.entry_attempts_per_hour,
        capacity=settings.max_open_conversations,
        monotonic=deps.monotonic,
    )
    return Cover(CoverBook(deps.phrasebook, settings.languages), codes, attempts)


@dataclass(frozen=True)
class BotRuntime:
    """The parts of a running bot, reachable from the Application (``runtime_of``)."""

    settings: Settings
    deps: Deps
    renderer: Renderer
    keys: PseudonymKeys
    limits: FloodLimits
    chats: ReporterChats
    groups: GroupChats
    errors: ErrorReporter

    async def dispatch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        if not ids_are_numbers(update):
            log.warning("malformed_update_dropped")
            return
        if chat.type == ChatType.PRIVATE:
            await self.chats.handle(update, context)
        else:
            await self.groups.handle(update, context)

    async def post_init(self, app: App) -> None:
        self.chats.attach(app.bot)  # cover mode: erasing at the idle timeout and at a stop
        await self._set_menu(app)
        await self.chats.load_orphans()  # message ids a previous run could not erase
        await self._close_orphans()

    async def post_stop(self, app: App) -> None:
        await self.chats.close_all()

    @property
    def commands(self) -> tuple[str, ...]:
        """The command menu: the phrasebook's in cover mode; else ``/followup`` after
        ``/start`` when receipts are on."""
        if self.chats.cover is not None:
            return COVER_COMMANDS
        if self.deps.receipts is None:
            return COMMANDS
        return (COMMANDS[0], "followup", *COMMANDS[1:])

    def profile(self, lang: str) -> Profile:
        """The command menu, description and short description shown in ``lang``."""
        cover = self.chats.cover
        if cover is not None:  # cover mode: only the phrasebook, in every language
            return Profile(
                tuple(
                    BotCommand(name, cover.book.text(lang, f"pb.command.{name}"))
                    for name in self.commands
                ),
                cover.book.text(lang, "pb.bot.description"),
                cover.book.text(lang, "pb.bot.short_description"),
            )
        ui = self.renderer.ui_text
        return Profile(
            tuple(BotCommand(name, ui(lang, f"ui.command.{name}")) for name in self.commands),
            ui(lang, "ui.bot.description"),
            ui(lang, "ui.bot.short_description"),
        )

    async def _set_menu(self, app: App) -> None:
        """The profile in every offered language, and for every other (``language_code``
        unset: the first offered language's texts)."""
        bot = app.bot
        languages = self.settings.languages
        try:
            for lang in (None, *languages):
                profile = self.profile(lang or languages[0])
                await bot.set_my_commands(profile.commands, language_code=lang)
                await bot.set_my_description(profile.description, language_code=lang)
                await bot.set_my_short_description(profile.short_description, language_code=lang)
        except TelegramError as exc:  # the menu is a convenience; the bot works without it
            log.warning("set_menu_failed", extra={"fields": {"exc_type": exception_types(exc)}})

    async def _close_orphans(self) -> None:
        orphans = await self.deps.store.open_reports()
        for report_id in orphans:
            await self.chats.writer.close_orphan(report_id)
        if orphans:
            log.info("orphan_reports_closed", extra={"fields": {"count": len(orphans)}})

    async def retention(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await run_retention(
            self.deps.store, RetentionPolicy(report_days=self.settings.retention_days)
        )


VERIFIER_GROUP: Final = -1
"""Handler group of the channel-answer handler: before the reporters' handler (group 0)."""


def install_digests(
    app: Application[Any, Any, Any, Any, Any, Any], settings: Settings, deps: Deps
) -> DigestService | None:
    """Add the digest job and the channel-answer handler to an Application.

    Without the bot's signing key nothing can be signed: digests are then not closed, reports
    wait in the store, and one error line says so.
    """
    verifier = ChannelVerifier(
        deps.store,
        settings.data_dir,
        channel_id=settings.channel_id,
        recipients=deps.recipients,
        allowed_admins=settings.channel_admin_ids,
        clock=deps.clock,
    )
    app.add_handler(TypeHandler(Update, verifier.handle_update), group=VERIFIER_GROUP)
    if deps.signing_key is None:
        log.error("digests_disabled", extra={"fields": {"missing": "REPORTBOT_BOT_SIGNING_KEY"}})
        return None
    service = build_service(
        settings,
        deps.store,
        deps.recipients,
        deps.signing_key,
        clock=deps.clock,
        monotonic=deps.monotonic,
        flows=[deps.flow],
    )
    jobs = app.job_queue
    if jobs is None:  # pragma: no cover - the job-queue extra is a dependency
        raise RuntimeError("python-telegram-bot's job queue is missing (install [job-queue])")
    jobs.run_repeating(service.job, interval=TICK_SECONDS, first=TICK_SECONDS, name="digests")
    return service


def build_runtime(settings: Settings, deps: Deps) -> BotRuntime:
    renderer = Renderer(deps.flow, deps.ui, cover=settings.cover)
    keys = PseudonymKeys(deps.random_bytes)
    policy = FloodPolicy(
        per_minute=float(settings.messages_per_minute),
        burst=float(settings.message_burst),
        ignore_after=settings.message_burst,
        ignore_seconds=settings.flood_ignore_minutes * 60.0,
    )
    limits = FloodLimits(
        keys,
        policy,
        reports_per_day=settings.reports_per_day,
        capacity=settings.max_open_conversations,
        monotonic=deps.monotonic,
        today=lambda: deps.clock().date(),
    )
    writer = ReportWriter(deps.store, deps.recipients, deps.flow)
    chats = ReporterChats(
        settings,
        deps.flow,
        renderer,
        writer,
        keys,
        clock=deps.clock,
        monotonic=deps.monotonic,
        limits=limits,
        cover=build_cover(settings, deps, keys),
    )
    if deps.receipts is not None:
        chats.receipts = Followups(chats, deps.receipts)
    groups = GroupChats(renderer, keys, tuple(settings.languages), settings.channel_id)
    errors = ErrorReporter(
        renderer,
        settings.languages,
        record=chats.record_external,
        resume=chats.resume,
        covered=chats.cover_word if chats.cover is not None else None,
    )
    return BotRuntime(settings, deps, renderer, keys, limits, chats, groups, errors)


def send_scheduler(settings: Settings) -> FairSendScheduler:
    """The bot's own sending, kept under Telegram's limits (``bot.delivery.ratelimit``)."""
    limits = SendLimits(
        private_per_second=settings.send_per_chat_per_second,
        private_burst=float(settings.send_chat_burst),
        overall_per_second=settings.send_per_second,
        overall_burst=min(10.0, settings.send_per_second),
    )
    return FairSendScheduler(limits, max_retries=settings.retry_after_retries)


def build_bot(settings: Settings, deps: Deps) -> RawResultBot[Priority]:
    """The Application's bot: PTB's ``ExtBot`` with our send scheduler, the ``Defaults`` below,
    and sends whose answer is read as JSON (``handlers.telegram_calls``)."""
    if deps.request is not None:
        request = deps.request
        get_updates_request = deps.get_updates_request or deps.request
    else:
        request = FormRequest(
            connection_pool_size=settings.concurrent_updates + 8,
            read_timeout=15.0,
            write_timeout=60.0,  # uploads of digests (issue 6)
            connect_timeout=10.0,
            pool_timeout=10.0,
        )
        get_updates_request = FormRequest(connection_pool_size=1, read_timeout=40.0)
    return RawResultBot(
        settings.require_token(),
        base_url=settings.bot_api_base_url,
        base_file_url=settings.bot_api_file_url,
        request=request,
        get_updates_request=get_updates_request,
        defaults=Defaults(
            protect_content=True,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        rate_limiter=send_scheduler(settings),
    )


async def _roll_log_hours(context: ContextTypes.DEFAULT_TYPE) -> None:
    roll_reporter_events()


def build_application(settings: Settings, deps: Deps) -> App:
    """Assemble the Application; no network is touched until it is initialised."""
    runtime = build_runtime(settings, deps)
    builder = (
        Application.builder()
        .application_class(ForgetfulApplication)
        .bot(build_bot(settings, deps))
        .concurrent_updates(settings.concurrent_updates)
        .post_init(runtime.post_init)
        .post_stop(runtime.post_stop)
    )
    app: App = builder.build()
    app.add_handler(TypeHandler(Update, runtime.dispatch))
    if deps.receipts is not None and settings.channel_id is not None:
        replies = ChannelReplies(deps.receipts, settings.channel_id)
        app.add_handler(TypeHandler(Update, replies.handle), group=REPLIES_GROUP)
    app.add_error_handler(runtime.errors.handle)
    jobs = app.job_queue
    if jobs is None:  # pragma: no cover - the job-queue extra is a dependency
        raise RuntimeError("python-telegram-bot's job queue is missing (install [job-queue])")
    sweep = min(SWEEP_SECONDS, settings.idle_timeout_seconds / 4)
    jobs.run_repeating(runtime.chats.sweep, interval=sweep, first=sweep, name="idle-sweep")
    rotation = settings.pseudonym_rotation_hours * 3600.0
    jobs.run_repeating(
        runtime.chats.rotate_keys, interval=rotation, first=rotation, name="pseudonym-rotation"
    )
    jobs.run_repeating(
        runtime.retention, interval=RETENTION_SECONDS, first=3600.0, name="retention"
    )
    # reporters' events reach the log as counts, once their hour is over (issue 17.4)
    jobs.run_repeating(_roll_log_hours, interval=60.0, first=60.0, name="log-hours")
    install_digests(app, settings, deps)  # digest clock + channel handshake
    app.bot_data[RUNTIME_KEY] = runtime
    return app


def runtime_of(app: App) -> BotRuntime:
    runtime = app.bot_data.get(RUNTIME_KEY)
    if not isinstance(runtime, BotRuntime):
        raise LookupError("not an Application made by build_application")
    return runtime
