"""Held digests (issue 17.8): a reminder every day, a ceiling on what piles up, a calm full disk.

While a channel check fails nothing is posted and everything is kept. The operator hears it once
when it starts and then once a day (how many wait, since which day) instead of never again; after a
week of waiting digests no further slot is closed, so a channel nobody fixes cannot fill the disk
with 4 MiB digests (the reports wait in the store); a digest that cannot be written (disk full)
drops nothing: its reports go into the next slot's digest. ``reportbot doctor`` says how many wait
and since when.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.channel_checks import ChannelChecker
from bot.delivery.digests import DigestCloser, DigestSchedule
from bot.delivery.outbox import MAX_HELD_DIGESTS, DigestSender, DigestService
from bot.doctor.database import check_waiting_digests
from storage.base import DigestState, ReportId, ReportStore
from storage.memory import MemoryReportStore
from storage.sqlite import SqliteReportStore
from tests.bot_support import make_settings
from tests.channel_fake import FakeChannelApi, make_bot
from tests.digest_support import Clock, Keys, add_report, make_keys

TICK = 600.0  # ten minutes


def _service(store: ReportStore, keys: Keys, clock: Clock) -> DigestService:
    checker = ChannelChecker(store, channel_id=None, allowed_admins=(), recipients=keys.recipients)
    sender = DigestSender(
        store,
        checker,
        bot_fingerprint=keys.signing.public.fingerprint,
        monotonic=clock.monotonic,
        clock=clock.wall,
    )
    closer = DigestCloser(
        store, keys.signing, keys.recipients, digest_bytes=256 * 1024, clock=clock.wall
    )
    schedule = DigestSchedule(timedelta(hours=6), timedelta(minutes=30), rng=random.Random(8))
    return DigestService(closer, sender, schedule, clock=clock.wall)


async def _run(service: DigestService, clock: Clock, hours: float) -> None:
    async with make_bot(FakeChannelApi(admins=[])) as bot:
        for _ in range(int(hours * 3600 / TICK)):
            await service.close_if_due()
            await service.sender.deliver(bot)
            clock.advance(TICK)


async def test_held_digests_are_recalled_once_a_day_with_how_many_and_since_when(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.delivery.outbox")
    keys = make_keys()
    clock = Clock()
    store = MemoryReportStore(clock=lambda: clock.now.date())
    service = _service(store, keys, clock)
    first_day = clock.now.date()
    await _run(service, clock, hours=72)
    alerts = [r for r in caplog.records if r.name == "bot.delivery.outbox"]
    events = [r.getMessage() for r in alerts]
    assert events[0] == "channel_check_failed"
    assert events.count("digests_still_held") in (2, 3)  # one per new day, not one per round
    assert len(events) <= 4
    last = alerts[-1].__dict__["fields"]
    assert last["check"] == "no_channel_configured"
    assert last["held_digests"] >= 8
    assert last["since"] == first_day.isoformat()


async def test_a_held_channel_stops_piling_digests_after_a_week_and_loses_no_report() -> None:
    keys = make_keys()
    clock = Clock()
    store = MemoryReportStore(clock=lambda: clock.now.date())
    service = _service(store, keys, clock)
    await _run(service, clock, hours=24 * 9)
    await add_report(store, keys.recipients, "late")
    await _run(service, clock, hours=24)
    infos = await store.list_digests()
    assert len(infos) == MAX_HELD_DIGESTS
    assert all(d.state is DigestState.PENDING for d in infos)
    assert len(await store.ready_reports()) == 1  # waiting in the store, not lost


class _FullDisk(MemoryReportStore):
    """A store whose disk is full for the next ``n`` digests."""

    full = 0

    async def add_digest(
        self, seq: int, parts: Sequence[bytes], report_ids: Collection[ReportId]
    ) -> None:
        if self.full:
            self.full -= 1
            raise sqlite3.OperationalError("database or disk is full")
        await super().add_digest(seq, parts, report_ids)


async def test_a_full_disk_at_closing_drops_nothing_and_the_next_slot_carries_the_reports(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = make_keys()
    clock = Clock()
    store = _FullDisk(clock=lambda: clock.now.date())
    service = _service(store, keys, clock)
    await add_report(store, keys.recipients, "kept")
    store.full = 1
    with caplog.at_level(logging.ERROR, logger="bot.delivery.outbox"):
        closed: list[int] = []
        while not closed:  # the first slot fails calmly
            closed = await service.close_if_due()
            if any(r.getMessage() == "digest_not_closed" for r in caplog.records):
                break
            clock.advance(TICK)
    assert closed == []
    assert await store.list_digests() == []
    assert len(await store.ready_reports()) == 1
    for _ in range(int(7 * 3600 / TICK)):  # the next slot
        clock.advance(TICK)
        if await service.close_if_due():
            break
    (info,) = await store.list_digests()
    assert info.reports == 1
    assert await store.ready_reports() == []


async def test_doctor_says_how_many_digests_wait_and_since_when(tmp_path: Path) -> None:
    keys = make_keys()
    days = iter([date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2)])
    day = [date(2026, 3, 1)]
    async with await SqliteReportStore.open(tmp_path, clock=lambda: day[0]) as store:
        closer = DigestCloser(
            store,
            keys.signing,
            keys.recipients,
            digest_bytes=256 * 1024,
            clock=lambda: datetime(2026, 3, 1, tzinfo=UTC),
        )
        for when in days:
            day[0] = when
            await closer.close()
    settings = make_settings(tmp_path)
    check = check_waiting_digests(settings, today=date(2026, 3, 4))
    assert check.failed
    assert "3 digest(s) wait" in check.line()
    assert "since 2026-03-01" in check.line()
    assert "channel checks hold them" in check.line()
    fresh = check_waiting_digests(settings, today=date(2026, 3, 1))
    assert not fresh.failed
    assert "posting" in fresh.line()
