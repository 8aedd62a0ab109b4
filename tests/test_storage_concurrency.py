"""Concurrency: hundreds of writers, readers and a backup at once, and never ``database is
locked``."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from storage import ReportClosedError, ReportId, ReportState, SqliteReportStore, schema
from storage import sqlite as sqlite_store
from storage.maintenance import backup_database

WRITERS = 400
ANSWERS = 4


async def _one_reporter(store: SqliteReportStore, n: int) -> ReportId:
    report = await store.open_report()
    for slot in range(ANSWERS):
        await store.put_answer(report, slot, f"{n}:{slot}".encode() * 30)
    await store.close_report(report, ReportState.COMPLETE, f"manifest {n}".encode())
    return report


async def test_hundreds_of_concurrent_writers_meet_no_lock_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stop = threading.Event()
    outside_errors: list[BaseException] = []

    def outside_reader() -> None:
        """Another process's view: ``reportbot db check`` and backups while the bot writes."""
        n = 0
        try:
            while not stop.is_set():
                conn = schema.connect(schema.database_path(data_dir))
                try:
                    conn.execute("SELECT count(*) FROM answer").fetchone()
                finally:
                    conn.close()
                backup_database(data_dir, tmp_path / f"copy-{n}.sqlite3")
                n += 1
        except BaseException as exc:  # collected and asserted below
            outside_errors.append(exc)

    async with await SqliteReportStore.open(data_dir) as store:
        thread = threading.Thread(target=outside_reader)
        thread.start()
        try:
            readers_done = 0

            async def reader() -> None:
                nonlocal readers_done
                for _ in range(20):
                    await store.counts()
                    for report_id in await store.ready_reports():
                        await store.load_report(report_id)
                        break
                    await asyncio.sleep(0)
                readers_done += 1

            results = await asyncio.gather(
                *(_one_reporter(store, n) for n in range(WRITERS)),
                *(reader() for _ in range(20)),
                return_exceptions=True,
            )
        finally:
            stop.set()
            await asyncio.to_thread(thread.join)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == []
        assert outside_errors == []
        assert readers_done == 20
        counts = await store.counts()
        assert counts.reports["complete"] == WRITERS
        assert counts.answers == WRITERS * ANSWERS
        reports = [r for r in results[:WRITERS] if isinstance(r, str)]
        sample = await store.load_report(reports[123])
        assert sample.manifest == b"manifest 123"


async def test_a_full_disk_fails_each_write_and_keeps_nothing_of_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with await SqliteReportStore.open(data_dir) as store:
        report = await store.open_report()
        # the file may not grow: every write that needs a page fails like on a full disk
        # fault injection through the private writer connection
        await store._writer.execute("PRAGMA max_page_count = 1")
        results = await asyncio.gather(
            *(store.put_answer(report, n, b"x" * 5000) for n in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
        await store._writer.execute("PRAGMA max_page_count = 1073741823")
        assert dict((await store.load_report(report)).answers) == {}
        await store.put_answer(report, 1, b"fine again")
        assert dict((await store.load_report(report)).answers) == {1: b"fine again"}


async def test_a_failed_commit_fails_every_caller_of_the_batch_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    """No caller is told its write is safe when the COMMIT itself fails."""
    data_dir = tmp_path / "data"
    async with await SqliteReportStore.open(data_dir) as store:
        report = await store.open_report()
        # fault injection through the private writer connection: give up on locks quickly
        await store._writer.execute("PRAGMA busy_timeout = 50")
        blocker = schema.connect(schema.database_path(data_dir))
        try:
            # a reader that holds its shared lock: COMMIT cannot take the exclusive lock
            blocker.execute("BEGIN")
            blocker.execute("SELECT count(*) FROM report").fetchone()
            results = await asyncio.gather(
                *(store.put_answer(report, n, b"y" * 100) for n in range(5)),
                return_exceptions=True,
            )
            blocker.execute("COMMIT")
        finally:
            blocker.close()
        assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
        assert dict((await store.load_report(report)).answers) == {}
        await store.put_answer(report, 1, b"fine again")
        assert dict((await store.load_report(report)).answers) == {1: b"fine again"}


async def test_a_refused_write_inside_a_busy_batch_is_undone_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing job in a group commit: the batch is re-run with savepoints, the others land."""
    async with await SqliteReportStore.open(tmp_path / "data") as store:
        report = await store.open_report()
        closed = await store.open_report()
        await store.close_report(closed, ReportState.COMPLETE, b"m")
        isolated_runs = 0
        run_isolated = sqlite_store._run_isolated

        def spy(conn: Any, jobs: Any) -> Any:
            nonlocal isolated_runs
            isolated_runs += 1
            return run_isolated(conn, jobs)

        # a spy on the fallback path (it runs on the writer's thread)
        monkeypatch.setattr(sqlite_store, "_run_isolated", spy)
        writes = [store.put_answer(report, n, b"fine %d" % n) for n in range(50)]
        writes.insert(25, store.put_answer(closed, 1, b"refused"))
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert isolated_runs >= 1
        assert isinstance(results[25], ReportClosedError)
        assert [r for i, r in enumerate(results) if i != 25] == [None] * 50
        assert len((await store.load_report(report)).answers) == 50
        assert dict((await store.load_report(closed)).answers) == {}
