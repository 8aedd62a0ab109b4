"""Digests close on a clock of their own, at every slot, in a few fixed sizes.

With a fake clock: the close times are the same whether reports arrive or not (and whenever
they arrive), an interval without reports still gets its digest, and every digest file and
every separate document has one of the sizes written down in ``docs/digests.md``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.delivery.channel_checks import ChannelChecker
from bot.delivery.digests import (
    DigestCloser,
    DigestSchedule,
    close_to_folder,
    digest_caption,
    digest_file_name,
)
from bot.delivery.outbox import DigestSender, DigestService
from bot.ops.settings import Settings
from bot.sealing.envelope import (
    DIGEST_ENTRY_BUCKETS,
    DIGEST_SIZE_BUCKETS,
    NONCE_BYTES,
    PAD_BUCKETS,
    RECIPIENT_BYTES,
    TAG_BYTES,
    ExternalEntry,
    verify_digest,
)
from bot.sealing.keys import KEY_ID_BYTES
from storage.memory import MemoryReportStore
from tests.digest_support import (
    Clock,
    Keys,
    add_report,
    answer_texts,
    make_keys,
    open_files,
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
        assert len(data) in DIGEST_SIZE_BUCKETS
        assert len(digest.entries) == DIGEST_ENTRY_BUCKETS[0]


def _envelope_overhead(recipients: int) -> int:
    return 6 + RECIPIENT_BYTES * recipients + NONCE_BYTES + TAG_BYTES


@pytest.mark.parametrize("reports", [0, 1, 5, 20, 70])
async def test_every_digest_has_one_of_the_documented_sizes(reports: int, tmp_path: Path) -> None:
    keys = make_keys(analysts=2)
    clock = Clock()
    store = MemoryReportStore(clock=lambda: clock.now.date())
    for n in range(reports):
        await add_report(store, keys.recipients, f"r{n}", answers=3)
    if reports:
        await add_report(store, keys.recipients, "inline", attachment=b"%PDF" + b"x" * 150_000)
        await add_report(store, keys.recipients, "outside", attachment=b"%PDF" + b"y" * 1_500_000)
    closer = DigestCloser(store, keys.signing, keys.recipients, clock=clock.wall)
    paths = await close_to_folder(closer, tmp_path)
    digest_data = paths[0].read_bytes()
    digest = verify_digest(digest_data, keys.signing.public)
    assert len(digest_data) in DIGEST_SIZE_BUCKETS
    assert len(digest.entries) in DIGEST_ENTRY_BUCKETS
    for entry in digest.entries:
        size = entry.length if isinstance(entry, ExternalEntry) else len(entry)
        assert size - _envelope_overhead(2) in PAD_BUCKETS
    assert len(digest.key_ids) == 2
    assert all(len(k) == KEY_ID_BYTES for k in digest.key_ids)
    for extra in paths[1:]:
        assert extra.stat().st_size - _envelope_overhead(2) in PAD_BUCKETS
    assert len(paths) == (2 if reports else 1)  # only the 1.5 MB file goes on its own
    result = open_files(paths, keys)
    assert len(result.reports) == (reports + 2 if reports else 0)
    assert all(count == 1 for count in answer_texts(result).values())


async def test_too_many_reports_for_one_digest_go_into_consecutive_digests(
    tmp_path: Path,
) -> None:
    keys = make_keys()
    store = MemoryReportStore()
    for n in range(40):
        await add_report(store, keys.recipients, f"r{n}", answers=3)
    closer = DigestCloser(
        store,
        keys.signing,
        keys.recipients,
        entry_buckets=(16, 64),
        size_buckets=(2**15, 2**16, 2**17),
        max_file=2**17,
    )
    closed = await closer.close()
    assert [c.seq for c in closed] == list(range(1, len(closed) + 1))
    assert len(closed) > 1
    assert sum(c.reports for c in closed) == 40
    assert await store.ready_reports() == []
    paths = await close_to_folder(closer, tmp_path)  # the next slot: empty
    for c in closed:
        data = (await store.get_digest(c.seq)).parts[0].data
        assert len(data) in (2**15, 2**16, 2**17)
        path = tmp_path / digest_file_name(c.seq)
        path.write_bytes(data)
        paths.append(path)
    result = open_files(paths, keys)
    texts = answer_texts(result)
    assert len(result.reports) == 40
    assert set(texts.values()) == {1}
    assert len(texts) == 120
    assert result.verify.missing == []


async def test_an_attachment_too_large_for_a_digest_travels_as_its_own_document(
    tmp_path: Path,
) -> None:
    keys = make_keys()
    store = MemoryReportStore()
    evidence = b"%PDF-1.4 " + bytes(range(256)) * 400
    await add_report(store, keys.recipients, "big", attachment=evidence)
    closer = DigestCloser(store, keys.signing, keys.recipients, inline_envelope_max=64 * 1024)
    paths = await close_to_folder(closer, tmp_path)
    assert [p.name for p in paths] == [digest_file_name(1), digest_file_name(1, 1)]
    whole = open_files(paths, keys)
    (report,) = whole.reports
    (attachment,) = report.attachments
    assert attachment.data == evidence
    without = open_files(paths[:1], keys)
    assert any("refers to a separate file" in n for n in without.notices)
    assert without.reports[0].attachments == []


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
