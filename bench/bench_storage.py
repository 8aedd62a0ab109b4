"""Storage benchmark: sealed-answer writes per second, against bare sqlite3 inserts of the same
bytes in the same run, and bytes on disk per report.

    .venv/bin/python -m bench.bench_storage [--answers 600] [--rounds 3] [--dir PATH]

- *bare*: one sqlite3 connection on its own thread, as the store's (the event loop must not wait
  on a disk), with the same pragmas (DELETE journal, synchronous=FULL, secure_delete): one
  ``INSERT`` committed per envelope, one trip to the thread each, one after another. This is the
  floor: what a durable commit costs on this disk.
- *store, one writer*: ``ReportStore.put_answer`` awaited one after another (each call commits
  before it returns, as when one reporter answers).
- *store, 50 writers*: 50 reporters answering at once; the queued writer commits them in groups.

Envelopes are real: sealed by ``bot.sealing.envelope`` to two analyst keys (outside the timed
loops). Bytes on disk per report: reports of 12 answers and a manifest, file size divided by
reports. The disk matters (fsync): run on the disk the bot will use (``--dir``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from bot.sealing.envelope import ReportContext, ReportStatus, seal_answer, seal_manifest
from bot.sealing.keys import AnalystPublicKey, Recipients
from storage import ReportState, SqliteReportStore
from storage.schema import CONNECTION_PRAGMAS, database_path, secure_data_dir

CONCURRENT = 50
ANSWERS_PER_REPORT = 12
FLOW_VERSION = "0123456789abcdef"


def _recipients() -> Recipients:
    return Recipients(
        AnalystPublicKey(PrivateKey.generate().public_key, SigningKey.generate().verify_key)
        for _ in range(2)
    )


def _context() -> ReportContext:
    return ReportContext(report_id="ab" * 16, flow_id="bench", flow_version=FLOW_VERSION, lang="ko")


def _envelopes(recipients: Recipients, n: int) -> list[bytes]:
    context = _context()
    return [
        seal_answer(
            recipients,
            context,
            slot=i % 60_000,
            question="what_happened",
            answer={"text": "로동 시간이 너무 길고 손전화를 빼앗겼습니다. " * 4},
        )
        for i in range(n)
    ]


async def bare_inserts(folder: Path, envelopes: list[bytes]) -> float:
    """Envelopes per second through bare sqlite3 on one thread, one committed INSERT each."""
    db = secure_data_dir(folder)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as thread:
        conn = await loop.run_in_executor(
            thread, lambda: sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        )
        try:
            for pragma in CONNECTION_PRAGMAS:
                await loop.run_in_executor(thread, conn.execute, pragma)
            await loop.run_in_executor(
                thread,
                conn.execute,
                "CREATE TABLE bare (id INTEGER PRIMARY KEY, envelope BLOB NOT NULL)",
            )
            insert = "INSERT INTO bare (envelope) VALUES (?)"
            start = time.perf_counter()
            for envelope in envelopes:
                await loop.run_in_executor(thread, conn.execute, insert, (envelope,))
            elapsed = time.perf_counter() - start
        finally:
            await loop.run_in_executor(thread, conn.close)
    return len(envelopes) / elapsed


async def store_sequential(folder: Path, envelopes: list[bytes]) -> float:
    async with await SqliteReportStore.open(folder) as store:
        reports = [await store.open_report() for _ in range(len(envelopes) // 10 + 1)]
        start = time.perf_counter()
        for i, envelope in enumerate(envelopes):
            await store.put_answer(reports[i // 10], i % 10, envelope)
        elapsed = time.perf_counter() - start
    return len(envelopes) / elapsed


async def store_concurrent(folder: Path, envelopes: list[bytes]) -> float:
    async with await SqliteReportStore.open(folder) as store:
        per_writer = len(envelopes) // CONCURRENT
        reports = [await store.open_report() for _ in range(CONCURRENT)]

        async def reporter(n: int) -> None:
            for k in range(per_writer):
                await store.put_answer(reports[n], k, envelopes[n * per_writer + k])

        start = time.perf_counter()
        await asyncio.gather(*(reporter(n) for n in range(CONCURRENT)))
        elapsed = time.perf_counter() - start
    return per_writer * CONCURRENT / elapsed


async def bytes_per_report(folder: Path, recipients: Recipients, reports: int) -> tuple[int, int]:
    """(bytes on disk per report, sealed bytes handed to the store per report)."""
    envelopes = _envelopes(recipients, ANSWERS_PER_REPORT)
    context = _context()
    manifest = seal_manifest(
        recipients,
        context,
        slot=60_001,
        status=ReportStatus.COMPLETE,
        slots=range(ANSWERS_PER_REPORT),
    )
    payload = sum(map(len, envelopes)) + len(manifest)
    async with await SqliteReportStore.open(folder) as store:
        empty = database_path(folder).stat().st_size

        async def one() -> None:
            report = await store.open_report()
            for slot, envelope in enumerate(envelopes):
                await store.put_answer(report, slot, envelope)
            await store.close_report(report, ReportState.COMPLETE, manifest)

        await asyncio.gather(*(one() for _ in range(reports)))
    size = database_path(folder).stat().st_size - empty
    return size // reports, payload


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=600, help="envelopes per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians kept")
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (a disk, not RAM)")
    args = parser.parse_args()
    recipients = _recipients()
    envelopes = _envelopes(recipients, args.answers)
    root = Path(tempfile.mkdtemp(prefix="bench-storage-", dir=args.dir))
    bares, ones, manys = [], [], []
    try:
        # alternate the three so that a slow moment of the disk does not favour one of them
        for n in range(args.rounds):
            bares.append(await bare_inserts(root / f"bare{n}", envelopes))
            ones.append(await store_sequential(root / f"one{n}", envelopes))
            manys.append(await store_concurrent(root / f"many{n}", envelopes))
        per_report, payload = await bytes_per_report(root / "size", recipients, args.reports)
    finally:
        shutil.rmtree(root)
    bare, one, many = (statistics.median(xs) for xs in (bares, ones, manys))
    print(f"envelope size: {len(envelopes[0])} bytes (sealed to 2 analyst keys)")
    print(f"medians of {args.rounds} rounds of {args.answers} writes:")
    print(f"  bare sqlite3, 1 commit per insert:   {bare:9.0f} writes/s")
    print(f"  store, one writer:                  {one:9.0f} writes/s  x{one / bare:.2f}")
    print(f"  store, {CONCURRENT} writers:                {many:9.0f} writes/s  x{many / bare:.2f}")
    print(
        f"bytes on disk per report ({ANSWERS_PER_REPORT} answers + manifest): {per_report} "
        f"(sealed payload {payload}, overhead x{per_report / payload:.2f})"
    )
    print()
    print(
        f"| storage: sealed-answer writes | {args.answers} envelopes of {len(envelopes[0])} B, "
        f"median of {args.rounds} | bare sqlite3 {bare:.0f}/s "
        f"| one writer {one:.0f}/s (x{one / bare:.2f}); "
        f"{CONCURRENT} writers {many:.0f}/s (x{many / bare:.2f}) "
        f"| {per_report} B on disk per report ({ANSWERS_PER_REPORT} answers + manifest, "
        f"sealed {payload} B) |"
    )


if __name__ == "__main__":
    asyncio.run(main())
