"""One contract for every ReportStore implementation: the SQLite store and the in-memory one.

Each test is named after the failure it blocks. Storage-only facts (files, crashes, reopening)
live in the other test_storage_* files.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from storage import (
    ChannelBinding,
    DigestSequenceError,
    DigestState,
    InvalidEnvelopeError,
    InvalidReportIdError,
    InvalidSlotError,
    MemoryReportStore,
    ReceiptExistsError,
    ReportClosedError,
    ReportId,
    ReportNotReadyError,
    ReportState,
    ReportStore,
    RetentionPolicy,
    SqliteReportStore,
    StoreClosedError,
    UnknownDigestError,
    UnknownReceiptError,
    UnknownReportError,
)
from storage.base import MAX_ANSWER_BYTES, MAX_SLOT, ReceiptScheme
from tests.storage_support import FakeDay


def _conforms(
    sqlite_store: SqliteReportStore, memory_store: MemoryReportStore
) -> list[ReportStore]:
    """mypy proves here that both implementations satisfy the ReportStore protocol."""
    return [sqlite_store, memory_store]


@pytest.fixture
def day() -> FakeDay:
    return FakeDay()


@pytest.fixture(params=["sqlite", "memory"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, day: FakeDay
) -> AsyncIterator[ReportStore]:
    impl: ReportStore
    if request.param == "sqlite":
        impl = await SqliteReportStore.open(tmp_path / "data", clock=day)
    else:
        impl = MemoryReportStore(clock=day)
    try:
        yield impl
    finally:
        await impl.close()


async def _closed_report(store: ReportStore, answers: dict[int, bytes] | None = None) -> ReportId:
    report = await store.open_report()
    for slot, envelope in (answers or {7: b"sealed-answer"}).items():
        await store.put_answer(report, slot, envelope)
    await store.close_report(report, ReportState.COMPLETE, b"sealed-manifest")
    return report


# -- reports --------------------------------------------------------------------------------


async def test_report_ids_are_fresh_random_hex_never_reused(store: ReportStore) -> None:
    ids = {await store.open_report() for _ in range(50)}
    assert len(ids) == 50
    for report_id in ids:
        assert len(report_id) == 32
        assert int(report_id, 16) >= 0
        assert report_id == report_id.lower()


async def test_answer_comes_back_byte_for_byte_under_its_slot(store: ReportStore) -> None:
    report = await store.open_report()
    envelopes = {0: b"\x00\xff" * 40, 4242: bytes(range(256)), MAX_SLOT: b"x"}
    for slot, envelope in envelopes.items():
        await store.put_answer(report, slot, envelope)
    loaded = await store.load_report(report)
    assert dict(loaded.answers) == envelopes
    assert loaded.state is ReportState.OPEN
    assert loaded.manifest is None
    assert loaded.digest_seq is None


async def test_changed_answer_replaces_the_old_envelope(store: ReportStore) -> None:
    report = await store.open_report()
    await store.put_answer(report, 3, b"first answer")
    await store.put_answer(report, 3, b"changed answer")
    assert dict((await store.load_report(report)).answers) == {3: b"changed answer"}


async def test_dropped_branch_answer_is_deleted(store: ReportStore) -> None:
    report = await store.open_report()
    await store.put_answer(report, 1, b"kept")
    await store.put_answer(report, 2, b"branch no longer taken")
    assert await store.delete_answer(report, 2) is True
    assert await store.delete_answer(report, 2) is False
    assert dict((await store.load_report(report)).answers) == {1: b"kept"}


async def test_attachments_are_kept_apart_and_can_be_left_out_of_a_load(
    store: ReportStore,
) -> None:
    report = await store.open_report()
    await store.put_answer(report, 1, b"answer")
    await store.put_attachment(report, 1, b"photo" * 1000)
    await store.put_attachment(report, 2, b"voice")
    assert await store.delete_attachment(report, 2) is True
    full = await store.load_report(report)
    assert dict(full.attachments) == {1: b"photo" * 1000}
    assert dict(full.answers) == {1: b"answer"}
    light = await store.load_report(report, with_attachments=False)
    assert dict(light.attachments) == {}
    assert dict(light.answers) == {1: b"answer"}


async def test_interruption_keeps_every_answer_already_given(store: ReportStore) -> None:
    report = await store.open_report()
    await store.put_answer(report, 1, b"a1")
    await store.put_attachment(report, 9, b"att")
    await store.close_report(report, ReportState.INTERRUPTED, b"manifest")
    loaded = await store.load_report(report)
    assert loaded.state is ReportState.INTERRUPTED
    assert loaded.manifest == b"manifest"
    assert dict(loaded.answers) == {1: b"a1"}
    assert dict(loaded.attachments) == {9: b"att"}


async def test_closed_report_refuses_any_change(store: ReportStore) -> None:
    report = await _closed_report(store, {1: b"a"})
    with pytest.raises(ReportClosedError):
        await store.put_answer(report, 2, b"late")
    with pytest.raises(ReportClosedError):
        await store.put_answer(report, 1, b"rewritten")
    with pytest.raises(ReportClosedError):
        await store.delete_answer(report, 1)
    with pytest.raises(ReportClosedError):
        await store.put_attachment(report, 1, b"late")
    with pytest.raises(ReportClosedError):
        await store.delete_attachment(report, 1)
    with pytest.raises(ReportClosedError):
        await store.close_report(report, ReportState.INTERRUPTED, b"other manifest")
    loaded = await store.load_report(report)
    assert dict(loaded.answers) == {1: b"a"}
    assert loaded.manifest == b"sealed-manifest"
    assert loaded.state is ReportState.COMPLETE


async def test_a_report_cannot_be_closed_as_open(store: ReportStore) -> None:
    report = await store.open_report()
    with pytest.raises(ValueError, match="complete or interrupted"):
        await store.close_report(report, ReportState.OPEN, b"manifest")
    assert (await store.load_report(report)).state is ReportState.OPEN


async def test_unknown_report_is_refused_everywhere(store: ReportStore) -> None:
    ghost = ReportId("0" * 32)
    with pytest.raises(UnknownReportError):
        await store.put_answer(ghost, 1, b"x")
    with pytest.raises(UnknownReportError):
        await store.delete_answer(ghost, 1)
    with pytest.raises(UnknownReportError):
        await store.put_attachment(ghost, 1, b"x")
    with pytest.raises(UnknownReportError):
        await store.close_report(ghost, ReportState.COMPLETE, b"x")
    with pytest.raises(UnknownReportError):
        await store.load_report(ghost)
    assert await store.discard_report(ghost) is False


@pytest.mark.parametrize(
    "bad_id", ["", "0" * 31, "0" * 33, "A" * 32, "g" * 32, "../../etc/passwd", "0" * 30 + "\n0"]
)
async def test_malformed_report_id_is_refused_before_any_query(
    store: ReportStore, bad_id: str
) -> None:
    with pytest.raises(InvalidReportIdError):
        await store.put_answer(ReportId(bad_id), 1, b"x")
    with pytest.raises(InvalidReportIdError):
        await store.load_report(ReportId(bad_id))


@pytest.mark.parametrize("bad_slot", [-1, MAX_SLOT + 1, 2**63, True, "1", 1.0])
async def test_slot_outside_the_range_is_refused(store: ReportStore, bad_slot: object) -> None:
    report = await store.open_report()
    with pytest.raises(InvalidSlotError):
        await store.put_answer(report, bad_slot, b"x")  # type: ignore[arg-type]  # the attack
    with pytest.raises(InvalidSlotError):
        await store.put_attachment(report, bad_slot, b"x")  # type: ignore[arg-type]  # same
    assert dict((await store.load_report(report)).answers) == {}


@pytest.mark.parametrize("bad", [b"", b"x" * (MAX_ANSWER_BYTES + 1), "text, not bytes"])
async def test_empty_oversized_or_text_envelope_is_refused(store: ReportStore, bad: object) -> None:
    report = await store.open_report()
    with pytest.raises(InvalidEnvelopeError):
        await store.put_answer(report, 1, bad)  # type: ignore[arg-type]  # the attack
    with pytest.raises(InvalidEnvelopeError):
        await store.close_report(report, ReportState.COMPLETE, bad)  # type: ignore[arg-type]
    assert (await store.load_report(report)).state is ReportState.OPEN


async def test_discard_deletes_the_report_and_every_envelope_at_once(store: ReportStore) -> None:
    report = await store.open_report()
    other = await _closed_report(store)
    await store.put_answer(report, 1, b"a")
    await store.put_attachment(report, 2, b"b")
    assert await store.discard_report(report) is True
    with pytest.raises(UnknownReportError):
        await store.load_report(report)
    counts = await store.counts()
    assert counts.answers == 1  # only the other report's
    assert counts.attachments == 0
    assert (await store.load_report(other)).state is ReportState.COMPLETE


async def test_open_reports_are_listed_for_recovery_after_a_restart(store: ReportStore) -> None:
    open_one = await store.open_report()
    closed = await _closed_report(store)
    assert await store.open_reports() == [open_one]
    assert await store.ready_reports() == [closed]


async def test_reports_are_dated_by_day_only(store: ReportStore, day: FakeDay) -> None:
    day.today = date(2026, 5, 17)
    report = await store.open_report()
    loaded = await store.load_report(report)
    assert loaded.created_day == date(2026, 5, 17)
    assert type(loaded.created_day) is date  # never a datetime


# -- digest outbox --------------------------------------------------------------------------


async def test_digest_sequence_has_no_gap_and_no_reuse(store: ReportStore) -> None:
    assert await store.next_digest_seq() == 1
    await store.add_digest(1, [b"digest one"], [])
    assert await store.next_digest_seq() == 2
    with pytest.raises(DigestSequenceError):
        await store.add_digest(1, [b"replayed"], [])
    with pytest.raises(DigestSequenceError):
        await store.add_digest(3, [b"gap"], [])
    with pytest.raises(DigestSequenceError):
        await store.add_digest(0, [b"zero"], [])
    await store.add_digest(2, [b"digest two"], [])
    assert [d.seq for d in await store.list_digests()] == [1, 2]


async def test_empty_interval_digest_is_kept_like_any_other(store: ReportStore) -> None:
    await store.add_digest(1, [b"padding and dummies only"], [])
    (pending,) = await store.pending_digests()
    assert pending.parts[0].data == b"padding and dummies only"
    assert await store.digest_reports(1) == []


async def test_digest_carries_closed_reports_once(store: ReportStore) -> None:
    first = await _closed_report(store)
    second = await _closed_report(store)
    await store.add_digest(1, [b"d1", b"large attachment"], [first, second])
    assert await store.ready_reports() == []
    assert sorted(await store.digest_reports(1)) == sorted([first, second])
    assert (await store.load_report(first)).digest_seq == 1
    with pytest.raises(ReportNotReadyError):
        await store.add_digest(2, [b"d2"], [first])


async def test_digest_refusing_an_open_report_leaves_nothing_behind(store: ReportStore) -> None:
    ready = await _closed_report(store)
    still_open = await store.open_report()
    with pytest.raises(ReportNotReadyError):
        await store.add_digest(1, [b"d1"], [ready, still_open])
    assert await store.list_digests() == []
    assert await store.ready_reports() == [ready]
    assert await store.next_digest_seq() == 1
    with pytest.raises(ReportNotReadyError):
        await store.add_digest(1, [b"d1"], [ReportId("f" * 32)])
    assert await store.list_digests() == []


async def test_digest_stays_in_the_outbox_until_confirmed(store: ReportStore, day: FakeDay) -> None:
    report = await _closed_report(store)
    await store.add_digest(1, [b"signed", b"doc"], [report])
    assert await store.record_attempt(1) == 1
    assert await store.record_attempt(1) == 2
    await store.mark_part_posted(1, 1)
    (pending,) = await store.pending_digests()
    assert pending.seq == 1
    assert pending.attempts == 2
    assert pending.state is DigestState.PENDING
    assert [(p.part, p.data, p.posted) for p in pending.parts] == [
        (0, b"signed", False),
        (1, b"doc", True),
    ]
    day.advance(2)
    await store.mark_digest_posted(1)
    await store.mark_digest_posted(1)  # a second confirmation changes nothing
    assert await store.pending_digests() == []
    posted = await store.get_digest(1)
    assert posted.state is DigestState.POSTED
    assert posted.posted_day == day.today
    assert all(p.posted for p in posted.parts)
    (info,) = await store.list_digests()
    assert (info.seq, info.parts, info.reports, info.size) == (1, 2, 1, len(b"signeddoc"))


async def test_unknown_digest_is_reported_not_invented(store: ReportStore) -> None:
    with pytest.raises(UnknownDigestError):
        await store.get_digest(5)
    with pytest.raises(UnknownDigestError):
        await store.record_attempt(5)
    with pytest.raises(UnknownDigestError):
        await store.mark_digest_posted(5)
    await store.add_digest(1, [b"d"], [])
    with pytest.raises(UnknownDigestError):
        await store.mark_part_posted(1, 3)


async def test_digest_without_its_signed_part_is_refused(store: ReportStore) -> None:
    with pytest.raises(InvalidEnvelopeError):
        await store.add_digest(1, [], [])
    with pytest.raises(InvalidEnvelopeError):
        await store.add_digest(1, [b"ok", b""], [])
    assert await store.list_digests() == []


# -- retention ------------------------------------------------------------------------------


async def test_report_is_kept_until_n_days_after_its_digest_was_posted(
    store: ReportStore, day: FakeDay
) -> None:
    policy = RetentionPolicy(report_days=30)
    report = await _closed_report(store)
    await store.add_digest(1, [b"digest"], [report])
    day.advance(100)  # pending for a long time: nothing may go
    assert (await store.apply_retention(policy)).reports == 0
    await store.mark_digest_posted(1)
    day.advance(29)
    assert (await store.apply_retention(policy)).reports == 0
    assert (await store.load_report(report)).manifest == b"sealed-manifest"
    day.advance(1)
    counts = await store.apply_retention(policy)
    assert (counts.reports, counts.digests) == (1, 1)
    with pytest.raises(UnknownReportError):
        await store.load_report(report)
    pruned = await store.get_digest(1)
    assert pruned.state is DigestState.PRUNED
    assert pruned.parts == ()
    assert await store.next_digest_seq() == 2  # the sequence continues after pruning


async def test_retention_never_touches_undelivered_or_open_reports(
    store: ReportStore, day: FakeDay
) -> None:
    open_one = await store.open_report()
    ready = await _closed_report(store)
    day.advance(1000)
    counts = await store.apply_retention(RetentionPolicy(report_days=0))
    assert counts.reports == 0
    assert await store.open_reports() == [open_one]
    assert await store.ready_reports() == [ready]


async def test_receipts_and_replies_expire_after_their_own_period(
    store: ReportStore, day: FakeDay
) -> None:
    report = await _closed_report(store)
    await store.put_receipt(b"t" * 32, report)
    await store.add_reply(report, b"sealed reply 1")
    await store.add_reply(report, b"sealed reply 2")
    policy = RetentionPolicy(report_days=30, receipt_days=180)
    day.advance(179)
    assert (await store.apply_retention(policy)).receipts == 0
    day.advance(1)
    counts = await store.apply_retention(policy)
    assert (counts.receipts, counts.replies) == (1, 2)
    assert await store.find_receipts([b"t" * 32], scheme=ReceiptScheme.V2) is None
    assert await store.replies(report) == []


# -- channel binding ------------------------------------------------------------------------


async def test_channel_binding_is_recorded_replaced_and_cleared(store: ReportStore) -> None:
    assert await store.channel_binding() is None
    first = ChannelBinding(-1001234567890, ("SHA256:aa", "SHA256:bb"), date(2026, 3, 1))
    await store.set_channel_binding(first)
    assert await store.channel_binding() == first
    second = ChannelBinding(-1009876543210, ("SHA256:cc",), date(2026, 4, 1))
    await store.set_channel_binding(second)
    assert await store.channel_binding() == second
    await store.clear_channel_binding()
    assert await store.channel_binding() is None


@pytest.mark.parametrize("fingerprints", [(), ("a,b",), ("",), ("with space",)])
async def test_channel_binding_with_unusable_fingerprints_is_refused(
    store: ReportStore, fingerprints: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match=r"fingerprint|analyst key"):
        await store.set_channel_binding(ChannelBinding(-100, fingerprints, date(2026, 1, 1)))
    assert await store.channel_binding() is None


# -- receipts and replies -------------------------------------------------------------------


async def test_receipt_salt_is_random_16_bytes_and_stable(store: ReportStore) -> None:
    salt = await store.receipt_salt()
    assert len(salt) == 16
    assert salt != bytes(16)
    assert await store.receipt_salt() == salt


async def test_receipt_tag_finds_its_report_and_nothing_else(store: ReportStore) -> None:
    report = await _closed_report(store)
    await store.put_receipt(b"\x01" * 32, report)
    assert await store.find_receipts([b"\x01" * 32], scheme=ReceiptScheme.V2) == (0, report)
    assert await store.find_receipts([b"\x02" * 32], scheme=ReceiptScheme.V2) is None


async def test_candidate_tags_are_looked_up_at_once_and_the_one_found_is_named(
    store: ReportStore,
) -> None:
    report = await _closed_report(store)
    await store.put_receipt(b"\x01" * 32, report)
    candidates = [bytes([n]) * 32 for n in range(2, 18)]
    candidates[11] = b"\x01" * 32
    assert await store.find_receipts(candidates, scheme=ReceiptScheme.V2) == (11, report)
    del candidates[11]
    assert await store.find_receipts(candidates, scheme=ReceiptScheme.V2) is None


async def test_a_tag_is_found_only_under_the_scheme_it_was_made_with(store: ReportStore) -> None:
    new, old = await _closed_report(store), await _closed_report(store)
    assert not await store.holds_receipts(ReceiptScheme.V1)
    await store.put_receipt(b"\x01" * 32, new)  # receipts made now are scheme 2
    assert not await store.holds_receipts(ReceiptScheme.V1)
    assert await store.holds_receipts(ReceiptScheme.V2)
    await store.put_receipt(b"\x02" * 32, old, scheme=ReceiptScheme.V1)
    assert await store.holds_receipts(ReceiptScheme.V1)
    assert await store.find_receipts([b"\x01" * 32], scheme=ReceiptScheme.V1) is None
    assert await store.find_receipts([b"\x02" * 32], scheme=ReceiptScheme.V2) is None
    assert await store.find_receipts([b"\x02" * 32], scheme=ReceiptScheme.V1) == (0, old)


async def test_receipt_tag_or_report_cannot_be_taken_twice(store: ReportStore) -> None:
    report = await _closed_report(store)
    other = await _closed_report(store)
    await store.put_receipt(b"\x01" * 32, report)
    with pytest.raises(ReceiptExistsError):
        await store.put_receipt(b"\x01" * 32, other)
    with pytest.raises(ReceiptExistsError):
        await store.put_receipt(b"\x03" * 32, report)
    assert await store.find_receipts([b"\x03" * 32], scheme=ReceiptScheme.V2) is None


async def test_receipt_for_unknown_report_or_with_bad_tag_is_refused(store: ReportStore) -> None:
    with pytest.raises(UnknownReportError):
        await store.put_receipt(b"\x01" * 32, ReportId("a" * 32))
    report = await _closed_report(store)
    for bad in (b"short", b"x" * 65):
        with pytest.raises(InvalidEnvelopeError):
            await store.put_receipt(bad, report)
        with pytest.raises(InvalidEnvelopeError):
            await store.find_receipts([bad], scheme=ReceiptScheme.V2)
    for bad_list in ([], [b"\x01" * 32] * 257, b"\x01" * 32):
        with pytest.raises(InvalidEnvelopeError):
            await store.find_receipts(bad_list, scheme=ReceiptScheme.V2)  # type: ignore[arg-type]


async def test_replies_come_back_in_order_and_a_repost_is_not_doubled(
    store: ReportStore,
) -> None:
    report = await _closed_report(store)
    await store.put_receipt(b"\x01" * 32, report)
    assert await store.add_reply(report, b"reply one") is True
    assert await store.add_reply(report, b"reply two") is True
    assert await store.add_reply(report, b"reply one") is False
    assert await store.replies(report) == [b"reply one", b"reply two"]


async def test_reply_to_a_report_without_receipt_is_refused(store: ReportStore) -> None:
    report = await _closed_report(store)
    with pytest.raises(UnknownReceiptError):
        await store.add_reply(report, b"nobody could read this")
    assert await store.replies(report) == []


async def test_receipt_outlives_the_reports_envelopes(store: ReportStore, day: FakeDay) -> None:
    report = await _closed_report(store)
    await store.put_receipt(b"\x05" * 32, report)
    await store.add_digest(1, [b"d"], [report])
    await store.mark_digest_posted(1)
    day.advance(31)
    assert (await store.apply_retention(RetentionPolicy())).reports == 1
    assert await store.find_receipts([b"\x05" * 32], scheme=ReceiptScheme.V2) == (0, report)
    assert await store.add_reply(report, b"late reply") is True


# -- the store as a whole -------------------------------------------------------------------


async def test_counts_tell_how_many_never_what(store: ReportStore) -> None:
    await store.open_report()
    done = await _closed_report(store, {1: b"a", 2: b"b"})
    interrupted = await store.open_report()
    await store.close_report(interrupted, ReportState.INTERRUPTED, b"m")
    await store.add_digest(1, [b"d"], [done])
    counts = await store.counts()
    assert dict(counts.reports) == {"open": 1, "complete": 1, "interrupted": 1, "carried": 1}
    assert counts.answers == 2
    assert dict(counts.digests) == {"pending": 1, "posted": 0, "pruned": 0}


async def test_closed_store_refuses_work(store: ReportStore) -> None:
    report = await store.open_report()
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreClosedError):
        await store.put_answer(report, 1, b"x")
    with pytest.raises(StoreClosedError):
        await store.open_report()
    with pytest.raises(StoreClosedError):
        await store.load_report(report)


async def test_concurrent_writers_to_one_report_all_land(store: ReportStore) -> None:
    report = await store.open_report()
    await asyncio.gather(*(store.put_answer(report, n, bytes([n % 256]) * 10) for n in range(200)))
    assert len((await store.load_report(report)).answers) == 200


async def test_one_failing_write_does_not_sink_its_neighbours(store: ReportStore) -> None:
    report = await store.open_report()
    closed = await _closed_report(store)
    results = await asyncio.gather(
        store.put_answer(report, 1, b"ok 1"),
        store.put_answer(closed, 1, b"refused"),
        store.put_answer(report, 2, b"ok 2"),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], ReportClosedError)
    assert results[2] is None
    assert dict((await store.load_report(report)).answers) == {1: b"ok 1", 2: b"ok 2"}


def test_retention_policy_refuses_negative_periods() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        RetentionPolicy(report_days=-1)
    assert RetentionPolicy().report_days == 30
    assert timedelta(days=RetentionPolicy().receipt_days) > timedelta(days=30)


# -- messages to erase --------------------------------------------------------------------------


async def test_message_ids_to_erase_survive_until_forgotten_and_at_most_two_days(
    store: ReportStore, day: FakeDay
) -> None:
    a, b = bytes(range(16)), bytes(range(1, 17))
    await store.remember_messages(a, [10, 11, 12])
    await store.remember_messages(a, [13], keep=True)  # a receipt: stays on screen
    day.advance(1)
    await store.remember_messages(b, [40])
    assert {k: sorted(v) for k, v in (await store.messages_to_erase()).items()} == {
        a: [(10, False), (11, False), (12, False), (13, True)],
        b: [(40, False)],
    }
    await store.forget_messages(a, [10, 11])  # deleted
    await store.forget_messages(b)
    assert await store.messages_to_erase() == {a: [(12, False), (13, True)]}
    day.advance(2)  # noted three days ago: Telegram would no longer delete them
    assert await store.messages_to_erase() == {}


async def test_erase_keys_and_message_ids_of_the_wrong_shape_are_refused(
    store: ReportStore,
) -> None:
    for key, ids in ((b"short", [1]), (bytes(16), [0]), (bytes(16), [-5]), (bytes(16), [True])):
        with pytest.raises(ValueError, match=r"erase key|message ids"):
            await store.remember_messages(key, ids)
    assert await store.messages_to_erase() == {}
