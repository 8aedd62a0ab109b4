"""Posting the outbox to the analyst channel until Telegram confirms, and the digest clock.

:class:`DigestSender` posts every pending digest, oldest sequence first, each part as a document
(the separate documents first, the signed digest last), and records each confirmation in the
store as it comes. Before every single post it runs the channel checks
(``bot.delivery.channel_checks``); when one fails it posts nothing, keeps everything in the outbox
and logs one alert line naming the check; when the checks hold again it delivers everything held,
in order.

Transient failures (``RetryAfter``, timeouts, network errors) stop the round and set a time before
which the next round does not start: ``retry_after`` as Telegram asks, otherwise exponential
backoff with jitter. A crash between Telegram accepting a document and the store recording it
posts that document again after the restart: the same bytes, which the analysts' toolkit drops as
a duplicate. Nothing is ever removed from the outbox by a failure.

:class:`DigestService` is what the bot's job queue calls every few seconds (``tick``): it closes a
digest when the schedule says so and then lets the sender deliver. Both steps are quick; nothing
waits inside a job.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.delivery.channel_checks import (
    PERMANENT_ERRORS,
    ChannelChecker,
    Check,
    CheckResult,
)
from bot.delivery.digests import (
    ClosedDigest,
    DigestCloser,
    DigestSchedule,
    digest_caption,
    digest_file_name,
)
from bot.delivery.flow_snapshots import FlowSnapshots
from bot.ops.logging import exception_types
from bot.ops.settings import Settings
from bot.questionnaire.flow import Flow
from bot.sealing.keys import BotSigningKey, Recipients
from storage.base import DigestPart, DigestState, OutboxDigest, ReportStore
from storage.errors import StorageError

log = logging.getLogger("bot.delivery.outbox")

BACKOFF_BASE: Final = 2.0
BACKOFF_CAP: Final = 120.0
REFUSED_PAUSE: Final = 300.0
"""After Telegram refused a post outright (the checks held a moment before), wait this long."""
UPLOAD_RATE: Final = 64 * 1024
"""Bytes per second the upload timeout assumes at worst (a slow server link)."""
TICK_SECONDS: Final = 20.0
MAX_HELD_DIGESTS: Final = 28
"""While the channel checks hold, slots are not closed once this many digests wait (a week at
the default interval: 112 MiB at the default size); their reports wait in the store."""
CHECK_CACHE_SECONDS: Final = 60.0
"""A passing round of channel checks is trusted this long, so that on a bad link each upload
is one call instead of four; a failed check, a refused post or a restart asks again at once."""


class Outcome(StrEnum):
    DELIVERED = "delivered"  # the outbox is empty (everything confirmed)
    HELD = "held"  # a channel check failed: nothing posted, everything kept
    RETRY = "retry"  # a transient error: the next round waits for ``not_before``
    WAITING = "waiting"  # still inside a wait set by an earlier round


def retry_after_seconds(exc: RetryAfter) -> float:
    """``exc.retry_after`` in seconds, without PTB's int-or-timedelta deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    if isinstance(value, timedelta):
        return float(value.total_seconds())
    return float(value)


def upload_timeout(size: int) -> float:
    return max(60.0, size / UPLOAD_RATE)


@dataclass
class RoundReport:
    outcome: Outcome
    posted: int = 0  # documents Telegram confirmed in this round
    digests: int = 0  # digests fully confirmed in this round
    failed: Check | None = None


class DigestSender:
    """Delivers the outbox; one instance per process, one round at a time."""

    def __init__(
        self,
        store: ReportStore,
        checker: ChannelChecker,
        *,
        bot_fingerprint: str,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.checker = checker
        self.bot_fingerprint = bot_fingerprint
        self._monotonic = monotonic
        self._rng = rng if rng is not None else random.SystemRandom()
        self._lock = asyncio.Lock()
        self.not_before = 0.0
        self._failures = 0
        self.held: Check | None = None
        self._refused = False
        self._checked_until = 0.0
        self.missing: tuple[int, ...] = ()  # listed analysts not in the channel (positions)
        self._clock = clock
        self._reminded: date | None = None  # the day of the last held alert

    # -- state -----------------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        self.not_before = self._monotonic() + seconds

    def _backoff(self) -> float:
        delay: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(self._failures, 30))
        self._failures += 1
        return delay * self._rng.uniform(0.5, 1.0)

    async def waiting(self) -> tuple[int, str]:
        """Digests waiting to be posted and the day of the oldest (no bytes read)."""
        pending = [d for d in await self.store.list_digests() if d.state is DigestState.PENDING]
        oldest = min((d.created_day for d in pending), default=None)
        return len(pending), "" if oldest is None else oldest.isoformat()

    async def _hold(self, failed: Check) -> None:
        today = self._clock().astimezone(UTC).date()
        if self.held != failed or self._reminded != today:
            # one alert when the checks start failing, then one a day while they keep failing
            waiting, since = await self.waiting()
            log.error(
                "channel_check_failed" if self.held != failed else "digests_still_held",
                extra={"fields": {"check": failed.value, "held_digests": waiting, "since": since}},
            )
            self._reminded = today
        self.held = failed

    def _release(self) -> None:
        if self.held is not None:
            log.warning("channel_checks_hold_again", extra={"fields": {"was": self.held.value}})
        self.held = None

    def _note_missing(self, missing: tuple[int, ...]) -> None:
        """One alert line when the set of listed analysts missing from the channel changes."""
        if missing == self.missing:
            return
        if missing:
            log.error(
                "channel_analyst_missing",
                extra={
                    "fields": {
                        "missing": ",".join(str(n) for n in missing),
                        "count": len(self.checker.listed),  # accounts listed
                    }
                },
            )
        else:
            log.warning("channel_analysts_present", extra={"fields": {}})
        self.missing = missing

    async def _checks(self, bot: Bot) -> CheckResult:
        """The channel checks, or a pass of the last CHECK_CACHE_SECONDS."""
        now = self._monotonic()
        if now < self._checked_until:
            return CheckResult()
        result = await self.checker.check(bot)
        if result.ok:
            self._checked_until = now + CHECK_CACHE_SECONDS
            self._failures = 0  # Telegram answered every check: the link works, progress
            self._note_missing(result.missing)
        else:
            self._checked_until = 0.0
        return result

    # -- posting ---------------------------------------------------------------------------

    async def _post(self, bot: Bot, channel_id: int, seq: int, part: DigestPart) -> None:
        message = await bot.send_document(
            channel_id,
            part.data,
            filename=digest_file_name(seq, part.part),
            caption=digest_caption(seq, self.bot_fingerprint, part.part),
            parse_mode=None,
            protect_content=False,  # analysts must be able to save the file
            disable_notification=True,
            disable_content_type_detection=True,
            read_timeout=60.0,
            write_timeout=upload_timeout(len(part.data)),
        )
        if message.chat.id != channel_id or message.document is None:
            raise NetworkError("Telegram's answer does not confirm the document")

    async def _checked_post(
        self, bot: Bot, digest: OutboxDigest, part: DigestPart, report: RoundReport
    ) -> bool:
        """Check, then post one part. False when the round must stop (held or waiting)."""
        result: CheckResult = await self._checks(bot)
        if not result.ok and result.failed is not None:
            await self._hold(result.failed)
            report.outcome, report.failed = Outcome.HELD, result.failed
            return False
        self._release()
        channel_id = self.checker.channel_id
        if channel_id is None:  # pragma: no cover - the check above fails first
            return False
        await self.store.record_attempt(digest.seq)
        await self._post(bot, channel_id, digest.seq, part)
        await self.store.mark_part_posted(digest.seq, part.part)
        report.posted += 1
        self._failures = 0  # the backoff is per document: a success starts it afresh
        return True

    @staticmethod
    def _order(digest: OutboxDigest, resend: bool) -> list[DigestPart]:
        """Separate documents first, the signed digest last; only unconfirmed ones unless
        resending."""
        parts = sorted(digest.parts, key=lambda p: (p.part == 0, p.part))
        return parts if resend else [p for p in parts if not p.posted]

    async def _guarded(self, coro: Awaitable[bool], report: RoundReport) -> bool:
        try:
            return await coro
        except RetryAfter as exc:
            self._wait(retry_after_seconds(exc) + 1.0)
        except PERMANENT_ERRORS as exc:
            # The checks held a moment ago and Telegram still refused (rights changed in
            # between?): keep everything and look again later.
            if not self._refused:
                log.error(
                    "channel_post_refused", extra={"fields": {"exc_type": exception_types(exc)}}
                )
            self._refused = True
            self._checked_until = 0.0  # something changed: check again before the next post
            self._wait(REFUSED_PAUSE)
        except (NetworkError, TelegramError) as exc:
            log.warning(
                "channel_post_retry",
                extra={"fields": {"exc_type": exception_types(exc), "failures": self._failures}},
            )
            self._wait(self._backoff())
        report.outcome = Outcome.RETRY
        return False

    async def deliver(self, bot: Bot) -> RoundReport:
        """One round: post what is pending until done, held, or a transient error."""
        if self._monotonic() < self.not_before:
            return RoundReport(Outcome.WAITING)
        async with self._lock:
            report = RoundReport(Outcome.DELIVERED)
            for digest in await self.store.pending_digests():
                for part in self._order(digest, resend=False):
                    if not await self._guarded(
                        self._checked_post(bot, digest, part, report), report
                    ):
                        return report
                await self.store.mark_digest_posted(digest.seq)
                report.digests += 1
                log.info("digest_posted", extra={"fields": {"seq": digest.seq}})
            self._failures = 0
            self._refused = False
            return report

    async def resend(self, bot: Bot, seq: int) -> RoundReport:
        """Post every part of a kept digest again (for analysts who lost it); state unchanged,
        except that a pending digest becomes posted once all its parts are confirmed."""
        async with self._lock:
            digest = await self.store.get_digest(seq)
            report = RoundReport(Outcome.DELIVERED)
            for part in self._order(digest, resend=True):
                if not await self._guarded(self._checked_post(bot, digest, part, report), report):
                    return report
            await self.store.mark_digest_posted(seq)
            report.digests = 1
            return report

    async def run_until(
        self,
        bot: Bot,
        action: Callable[[], Awaitable[RoundReport]],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_rounds: int = 50,
    ) -> RoundReport:
        """Repeat ``action`` through transient errors (sleeping as asked); stop when it is done
        or held. For the command line."""
        report = RoundReport(Outcome.WAITING)
        for _ in range(max_rounds):
            wait = self.not_before - self._monotonic()
            if wait > 0:
                await sleep(wait)
            report = await action()
            if report.outcome in (Outcome.DELIVERED, Outcome.HELD):
                return report
        return report


class DigestService:
    """The digest clock and the sender, driven by a repeating job (``tick``)."""

    def __init__(
        self,
        closer: DigestCloser,
        sender: DigestSender,
        schedule: DigestSchedule,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.closer = closer
        self.sender = sender
        self.schedule = schedule
        self._clock = clock
        self.next_close: datetime | None = None
        self._close_lock = asyncio.Lock()
        self._delivery: asyncio.Task[RoundReport] | None = None

    async def close_if_due(self) -> list[int]:
        """Close a digest if the schedule says so; returns the sequence numbers closed."""
        now = self._clock()
        async with self._close_lock:
            if self.next_close is None:
                self.next_close = self.schedule.next_close(now)
            if now < self.next_close:
                return []
            try:
                closed = await self._close_unless_full()
            except (StorageError, sqlite3.Error, OSError) as exc:
                # a full disk (or a failing one): nothing is dropped, the ready reports wait for
                # the next slot; new reports are refused by the store only when nothing fits
                log.error("digest_not_closed", extra={"fields": {"exc_type": type(exc).__name__}})
                closed = []
            # The next slot after this one; after a long pause, the next one after now.
            self.next_close = self.schedule.next_close(max(self.next_close, now))
            return [c.seq for c in closed]

    async def _close_unless_full(self) -> list[ClosedDigest]:
        """Close the slot's digest, unless the checks hold and a week of digests already waits:
        then the slot is left out (its reports wait in the store, which costs far less than
        digests piling up), so a held channel cannot fill the disk (issue 17.8)."""
        if self.sender.held is not None:
            waiting, since = await self.sender.waiting()
            if waiting >= MAX_HELD_DIGESTS:
                log.warning(
                    "digest_slot_skipped_while_held",
                    extra={"fields": {"held_digests": waiting, "since": since}},
                )
                return []
        return await self.closer.close()

    async def job(self, context: Any) -> None:
        """The job queue's callback: close if due, then start a delivery round in the
        background (an upload may outlast the job's interval; the job itself returns at once,
        so the scheduler never skips a run). ``context.bot`` is the Application's bot."""
        await self.close_if_due()
        if self._delivery is None or self._delivery.done():
            self._delivery = context.application.create_task(
                self.sender.deliver(context.bot), name="digest-delivery"
            )


def build_service(
    settings: Settings,
    store: ReportStore,
    recipients: Recipients,
    signing_key: BotSigningKey,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    flows: Sequence[Flow] = (),
) -> DigestService:
    """The closer, the checker, the sender and the schedule, from the settings.

    ``flows`` (the running flows) travel as sealed snapshots in every digest."""
    checker = ChannelChecker(
        store,
        channel_id=settings.channel_id,
        allowed_admins=settings.channel_admin_ids,
        recipients=recipients,
    )
    sender = DigestSender(
        store,
        checker,
        bot_fingerprint=signing_key.public.fingerprint,
        monotonic=monotonic,
        rng=rng,
        clock=clock,
    )
    snapshots = FlowSnapshots(recipients, flows, settings.data_dir) if flows else None
    closer = DigestCloser(
        store,
        signing_key,
        recipients,
        digest_bytes=settings.digest_size_kib * 1024,
        clock=clock,
        rng=rng,
        snapshots=snapshots,
    )
    schedule = DigestSchedule(
        timedelta(hours=settings.digest_interval_hours),
        timedelta(minutes=settings.digest_jitter_minutes),
        rng=rng,
    )
    return DigestService(closer, sender, schedule, clock=clock)
