"""Scheme 2 receipts (issue 13.5): a secret salt ``r`` makes a receipt cost one argon2id run and
a lookup (or a guess) 2^k runs, without storing ``r`` and without losing older receipts.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

import nacl.hash
import nacl.pwhash
import pytest
from nacl.encoding import RawEncoder

import bot.receipts.service as service_module
from bot.receipts import derivation
from bot.receipts.codes import ReceiptCode, new_code
from bot.receipts.derivation import (
    INTERACTIVE,
    PRODUCTION_KDF,
    SCHEME_2,
    TEST_KDF,
    KdfLimits,
    ReceiptKdf,
    derive_v1,
    derive_v2,
    reply_key_token,
    slow_hash_v2,
)
from bot.receipts.pepper import ReceiptPepper
from bot.receipts.service import ReceiptService
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.replies import seal_reply
from storage.base import ReceiptScheme, ReportStore, RetentionPolicy
from storage.memory import MemoryReportStore
from storage.sqlite import SqliteReportStore
from tests.storage_support import FakeDay

PEPPER = ReceiptPepper.generate()
ANALYST = AnalystSecretKey.generate()


def _service(
    store: ReportStore, r: int | None = None, kdf: ReceiptKdf = TEST_KDF
) -> ReceiptService:
    def draw(bound: int) -> int:
        assert bound == kdf.secret_salts
        return 0 if r is None else r

    return ReceiptService(store, [ANALYST.public], pepper=PEPPER, kdf=kdf, secret_salt=draw)


class Runs:
    """Counts argon2id runs by scheme (the real function still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.v1 = 0
        self.v2 = 0
        real_v1, real_v2 = derivation.slow_hash_v1, derivation.slow_hash_v2
        lock = threading.Lock()

        def v1(*args: object) -> bytes:
            with lock:
                self.v1 += 1
            return real_v1(*args)  # type: ignore[arg-type]

        def v2(*args: object) -> bytes:
            with lock:
                self.v2 += 1
            return real_v2(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(service_module, "slow_hash_v1", v1)
        monkeypatch.setattr(service_module, "slow_hash_v2", v2)

    def reset(self) -> None:
        self.v1 = self.v2 = 0


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Runs:
    return Runs(monkeypatch)


# --- the cost, as data -----------------------------------------------------------------------


def test_a_guess_costs_no_less_than_one_interactive_run_of_scheme_1() -> None:
    """2^k scheme-2 runs per guess: at least the passes, the passes x memory and the area-time
    (memory held x time, ~ memory^2 x passes per run) of libsodium's interactive limits, which
    every guess cost before. A later change cannot quietly weaken it."""
    kdf = PRODUCTION_KDF
    ops = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
    mem = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    assert kdf.secret_salts * kdf.v2.opslimit * kdf.v2.memlimit >= ops * mem
    assert kdf.secret_salts * kdf.v2.opslimit >= ops
    assert kdf.secret_salts * kdf.v2.opslimit * kdf.v2.memlimit**2 >= ops * mem**2
    # scheme 1 keeps the limits its receipts were made with
    assert kdf.v1 == INTERACTIVE == KdfLimits(ops, mem)
    # and making a receipt is the cheap side: one run, a fraction of scheme 1's
    assert kdf.v2.opslimit * kdf.v2.memlimit * 8 <= ops * mem


def test_the_secret_salt_has_at_most_eight_bits() -> None:
    with pytest.raises(ValueError, match="0 to 8 bits"):
        ReceiptKdf(v2=TEST_KDF.v2, secret_salt_bits=9, v1=TEST_KDF.v1)
    with pytest.raises(ValueError, match="whole number"):
        slow_hash_v2(new_code(), -1, bytes(16), TEST_KDF.v2)


# --- making and finding ----------------------------------------------------------------------


@pytest.mark.parametrize("r", range(TEST_KDF.secret_salts))
async def test_a_receipt_made_now_is_found_from_its_code_whatever_its_secret_salt(
    r: int, runs: Runs
) -> None:
    store = MemoryReportStore()
    service = _service(store, r)
    report = await store.open_report()
    issued = await service.issue(report)
    assert (runs.v1, runs.v2) == (0, 1)  # one argon2id run to make it
    runs.reset()
    match = await service.find(issued.code)
    assert match is not None
    assert match.report_id == report
    assert (runs.v1, runs.v2) == (0, TEST_KDF.secret_salts)
    # the reply key opened is the one of the matching r, the one sealed in the manifest
    salt = await store.receipt_salt()
    assert match.derived == derive_v2(issued.code, r, salt, TEST_KDF.v2, PEPPER.secret)
    await store.add_reply(report, seal_reply(ANALYST, report, issued.reply_key, "답", day=_DAY))
    assert [reply.text for reply in await service.replies(match)] == ["답"]


_DAY = date(2026, 12, 6)


async def test_a_wrong_code_finds_nothing_and_costs_every_secret_salt(runs: Runs) -> None:
    store = MemoryReportStore()
    service = _service(store, 7)
    issued = await service.issue(await store.open_report())
    runs.reset()
    wrong = new_code()
    assert wrong != issued.code
    assert await service.find(wrong) is None
    # 2^k runs, and no scheme-1 run: the database holds no scheme-1 tag
    assert (runs.v1, runs.v2) == (0, TEST_KDF.secret_salts)


async def test_receipts_made_with_scheme_1_are_still_found_and_their_replies_open(
    runs: Runs,
) -> None:
    store = MemoryReportStore()
    salt = await store.receipt_salt()
    old_report, new_report = await store.open_report(), await store.open_report()
    old_code = ReceiptCode("111111111222222222")
    old = derive_v1(old_code, salt, TEST_KDF.v1, PEPPER.secret)  # as the bot did before 13.5
    await store.put_receipt(old.tag, old_report, scheme=ReceiptScheme.V1)
    token = reply_key_token(old.reply_public)
    await store.add_reply(old_report, seal_reply(ANALYST, old_report, token, "old", day=_DAY))
    service = _service(store, 3)
    issued = await service.issue(new_report)
    runs.reset()

    match = await service.find(old_code)
    assert match is not None
    assert match.report_id == old_report
    assert match.derived == old
    assert [reply.text for reply in await service.replies(match)] == ["old"]
    # while a scheme-1 tag is kept, every lookup runs scheme 1 too (the same work either way)
    assert (runs.v1, runs.v2) == (1, TEST_KDF.secret_salts)
    new_match = await service.find(issued.code)
    assert new_match is not None
    assert new_match.report_id == new_report
    assert await service.find(new_code()) is None
    assert (runs.v1, runs.v2) == (3, 3 * TEST_KDF.secret_salts)


async def test_once_retention_prunes_the_last_scheme_1_receipt_lookups_stop_paying_for_it(
    runs: Runs,
) -> None:
    day = FakeDay()
    store = MemoryReportStore(clock=day)
    salt = await store.receipt_salt()
    old_code = new_code()
    old_report = await store.open_report()
    old = derive_v1(old_code, salt, TEST_KDF.v1, PEPPER.secret)
    await store.put_receipt(old.tag, old_report, scheme=ReceiptScheme.V1)
    service = _service(store, 9)
    day.advance(100)
    issued = await service.issue(await store.open_report())
    runs.reset()
    assert await service.find(old_code) is not None
    assert runs.v1 == 1
    day.advance(80)  # the scheme-1 receipt is 180 days old, the new one 80
    assert (await store.apply_retention(RetentionPolicy(receipt_days=180))).receipts == 1
    runs.reset()
    assert await service.find(old_code) is None
    assert await service.find(issued.code) is not None
    assert (runs.v1, runs.v2) == (0, 2 * TEST_KDF.secret_salts)


async def test_a_scheme_1_tag_is_not_found_as_scheme_2_nor_the_reverse() -> None:
    """Different prefixes and personalisations: a v1 tag never matches a v2 lookup."""
    store = MemoryReportStore()
    salt = await store.receipt_salt()
    code = new_code()
    v1 = derive_v1(code, salt, TEST_KDF.v1, PEPPER.secret)
    v2 = [derive_v2(code, r, salt, TEST_KDF.v2, PEPPER.secret) for r in range(16)]
    assert v1.tag not in {d.tag for d in v2}
    assert v1.seed not in {d.seed for d in v2}
    assert len({d.tag for d in v2}) == 16


# --- r is never kept ---------------------------------------------------------------------------


async def test_the_secret_salt_is_never_stored(tmp_path: Path) -> None:
    """With r injected (k = 8, r = 0xA7), nothing written under the data directory holds r or
    what r alone would give away (the argon2id password, its output, the master key, the seed),
    and the receipt row has no column but the tag that depends on r."""
    kdf = ReceiptKdf(v2=TEST_KDF.v2, secret_salt_bits=8, v1=TEST_KDF.v1)
    r = 0xA7
    data_dir = tmp_path / "data"
    store = await SqliteReportStore.open(data_dir)
    try:
        service = _service(store, r, kdf)
        report = await store.open_report()
        issued = await service.issue(report)
        salt = await store.receipt_salt()
        match = await service.find(issued.code)
        assert match is not None
        candidates = [
            derive_v2(issued.code, n, salt, kdf.v2, PEPPER.secret).tag for n in range(256)
        ]
        assert await store.find_receipts(candidates, scheme=ReceiptScheme.V2) == (r, report)
        # what the caller gets back holds the code and the reply key, nothing of r
        assert [f.name for f in dataclasses.fields(issued)] == ["code", "reply_key"]
    finally:
        await store.close()

    password = SCHEME_2.prefix + issued.code.digits.encode() + b":" + str(r).encode()
    slow = slow_hash_v2(issued.code, r, salt, kdf.v2)
    master = nacl.hash.blake2b(
        slow, digest_size=32, key=PEPPER.secret, person=SCHEME_2.pepper_person, encoder=RawEncoder
    )
    secrets_of_r = [password, str(r).encode() + b":", slow, master, match.derived.seed]
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for value in secrets_of_r:
            for form in (value, value.hex().encode(), base64.b64encode(value)):
                assert form not in data, (path.name, value[:4])

    conn = sqlite3.connect(data_dir / "reports.sqlite3")
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(receipt)")]
        rows = conn.execute("SELECT tag, scheme FROM receipt").fetchall()
    finally:
        conn.close()
    assert columns == ["report_id", "tag", "created_day", "scheme"]
    assert rows == [(candidates[r], 2)]


# --- a flood of wrong codes ---------------------------------------------------------------------


async def test_a_flood_of_wrong_codes_takes_one_core_and_receipts_are_still_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lookups (2^k runs each) go one at a time in one thread: concurrent wrong codes never run
    two lookups at once, and a reporter finishing a report meanwhile gets a receipt without
    waiting for the queue of lookups."""
    store = MemoryReportStore()
    service = _service(store)
    report = await store.open_report()
    running = 0
    most = 0
    lock = threading.Lock()
    real = service._lookup_runs

    def slow_lookup(code: ReceiptCode, salt: bytes, with_v1: bool) -> list[bytes]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.03)  # a lookup's 2^k runs take a while
            return real(code, salt, with_v1)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(service, "_lookup_runs", slow_lookup)
    finished: list[str] = []

    async def guess() -> None:
        assert await service.find(new_code()) is None
        finished.append("lookup")

    async def make() -> None:
        await asyncio.sleep(0.01)  # arrives once the flood is queued
        await service.issue(report)
        finished.append("receipt")

    await asyncio.gather(*(guess() for _ in range(8)), make())
    assert most == 1
    assert finished.index("receipt") <= 2  # not behind the eight lookups
    assert finished.count("lookup") == 8


async def test_a_secret_salt_out_of_range_makes_no_receipt() -> None:
    """r = 2^k would give a tag that no lookup tries: refused before anything is stored."""
    store = MemoryReportStore()
    service = ReceiptService(
        store, [ANALYST.public], pepper=PEPPER, kdf=TEST_KDF, secret_salt=lambda bound: bound
    )
    report = await store.open_report()
    with pytest.raises(ValueError, match="out of range"):
        await service.issue(report)
    assert not await store.holds_receipts(ReceiptScheme.V2)


def test_two_argon2id_slots_at_least() -> None:
    with pytest.raises(ValueError, match="two argon2id slots"):
        ReceiptService(MemoryReportStore(), [ANALYST.public], pepper=PEPPER, concurrency=1)
