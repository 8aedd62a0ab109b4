"""Digests close on a clock of their own, at every slot.

With a fake clock: the close times are the same whether reports arrive or not (and whenever
they arrive), and an interval without reports still gets its digest, of the one size. That every
digest has the same size whatever it carries: ``tests/test_digest_fixed_size.py``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.delivery.channel_checks import ChannelChecker
from bot.delivery.digests import (
    DEFAULT_DIGEST_BYTES,
    DigestCloser,
    DigestSchedule,
    digest_caption,
    digest_file_name,
)
from bot.delivery.outbox import DigestSender, DigestService
from bot.ops.settings import Settings
from bot.sealing.envelope import (
    verify_digest,
)
from storage.memory import MemoryReportStore
from tests.digest_support import (
    Clock,
    Keys,
    add_report,
    make_keys,
)

SIX_HOURS = timedelta(hours=6)
HALF_HOUR = timedelta(minutes=30)
TICK = 60.0


def _service(store: MemoryReportStore, keys: Keys, clock: Clock, seed: int) -> DigestService:
    closer = DigestCloser(
        store, keys.signing, keys.recipients, clock=clock.wall, rng=random.Random(seed)
    )
    checker = ChannelChecker(store, channel_id=None, allowed_admins=(), recipients=keys.recipients)
    sender = DigestSender(store, checker, bot_fingerprint=keys.signing.public.fingerprint)
    schedule = DigestSchedule(SIX_HOURS, HALF_HOUR, rng=random.Random(seed))
    return DigestService(closer, sender, schedule, clock=clock.wall)


async def _simulate(keys: Keys, report_minutes: set[int], minutes: int) -> list[datetime]:
    """Run the digest clock minute by minute; reports arrive at ``report_minutes``."""
    clock = Clock()
    store = MemoryReportStore(clock=lambda: clock.now.date())
    service = _service(store, keys, clock, seed=7)
    closes: list[datetime] = []
    for minute in range(minutes):
        if minute in report_minutes:
            await add_report(store, keys.recipients, f"m{minute}", answers=1)
        if await service.close_if_due():
            closes.append(clock.now)
        clock.advance(TICK)
    carried = sum(d.reports for d in await store.list_digests())
    assert carried == len([m for m in report_minutes if m < minutes]) - len(
        await store.ready_reports()
    )
    return closes


async def test_digest_times_do_not_follow_report_times() -> None:
    keys = make_keys()
    two_days = 48 * 60
    quiet = await _simulate(keys, set(), two_days)
    # Reports in bursts right before and right after each slot, and scattered in between.
    rng = random.Random(3)
    slots = [360 * k - 7 for k in range(1, 9)]  # the clock starts at 00:07
    busy_minutes = {s + d for s in slots for d in (-2, -1, 1, 2)} | {
        rng.randrange(two_days) for _ in range(40)
    }
    busy = await _simulate(keys, busy_minutes, two_days)
    assert busy == quiet
    assert len(quiet) >= 7
    for close in quiet:
        slot = close.replace(minute=0, second=0, microsecond=0)
        assert slot.hour % 6 == 0
        assert timedelta(0) <= close - slot <= HALF_HOUR + timedelta(seconds=TICK)
    hours = [(c.day, c.hour) for c in quiet]
    assert len(set(hours)) == len(hours), "one digest per slot"


async def test_a_report_is_carried_by_the_next_digest_not_sooner() -> None:
    keys = make_keys()
    clock = Clock()
    store = MemoryReportStore(clock=lambda: clock.now.date())
    service = _service(store, keys, clock, seed=1)
    assert await service.close_if_due() == []  # schedules the first close
    await add_report(store, keys.recipients, "early")
    for _ in range(30):  # half an hour later: still no digest
        clock.advance(TICK)
        assert await service.close_if_due() == []
    assert await store.list_digests() == []
    while not await service.close_if_due():
        clock.advance(TICK)
    (info,) = await store.list_digests()
    assert info.reports == 1


async def test_an_empty_interval_still_produces_a_digest() -> None:
    keys = make_keys()
    clock = Clock()
    store = MemoryReportStore(clock=lambda: clock.now.date())
    service = _service(store, keys, clock, seed=2)
    closed: list[int] = []
    for _ in range(24 * 60):
        closed += await service.close_if_due()
        clock.advance(TICK)
    assert closed == [1, 2, 3, 4]
    infos = await store.list_digests()
    assert [d.reports for d in infos] == [0, 0, 0, 0]
    for seq in closed:
        data = (await store.get_digest(seq)).parts[0].data
        digest = verify_digest(data, keys.signing.public)
        assert len(data) == DEFAULT_DIGEST_BYTES
        assert len(digest.entries) == service.closer.slots


def test_names_and_captions_say_only_the_number_and_the_bot_key() -> None:
    fingerprint = "65112 03333 14576 68923 99757"
    assert digest_file_name(42) == "000042.bin"
    assert digest_file_name(42, 2) == "000042-2.bin"
    assert digest_caption(42, fingerprint) == f"#42 · {fingerprint}"
    assert digest_caption(42, fingerprint, 2) == f"#42/2 · {fingerprint}"


def test_a_jitter_of_half_the_interval_or_more_is_refused() -> None:
    with pytest.raises(ValueError, match="half the interval"):
        DigestSchedule(SIX_HOURS, timedelta(hours=3))
    with pytest.raises(ValidationError, match="half of REPORTBOT_DIGEST_INTERVAL_HOURS"):
        Settings(_env_file=None, digest_interval_hours=1.0, digest_jitter_minutes=30.0)
    settings = Settings(_env_file=None, digest_interval_hours=1.0, digest_jitter_minutes=29.0)
    assert settings.digest_jitter_minutes == 29.0


def test_close_times_are_slots_plus_jitter_independent_of_the_start() -> None:
    schedule = DigestSchedule(SIX_HOURS, HALF_HOUR, rng=random.Random(5))
    start = datetime(2026, 3, 1, 5, 59, 59, tzinfo=UTC)
    first = schedule.next_close(start)
    assert datetime(2026, 3, 1, 6, tzinfo=UTC) <= first < datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    second = schedule.next_close(first)
    assert datetime(2026, 3, 1, 12, tzinfo=UTC) <= second < datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
