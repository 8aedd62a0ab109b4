"""The report store on SQLite: one writer connection fed by a queue, one reader connection, each
on a thread of its own.

Writes are jobs put on a queue; a single writer task takes every job waiting and hands the whole
batch to the writer's thread in **one** round trip: there it runs them in one ``BEGIN IMMEDIATE``
transaction and commits once; only back on the event loop, after that commit, are the callers'
futures resolved (group commit). If a job fails, the transaction is rolled back and the batch
runs again (in the same trip) with each job inside its own SAVEPOINT: the failing job is undone
alone and its caller gets the error; the others still commit. (So a job may run twice, the first
run rolled back: it depends only on the database and on values computed before it was queued.)
Because only this task ever writes, hundreds of concurrent writers never meet ``database is
locked``; the reader connection waits on SQLite's busy handler for the few milliseconds a commit
holds the file.

Jobs are plain functions over a ``sqlite3.Connection``, run on the connection's own thread: a
step's statements cost one trip to that thread, not one per statement plus ``BEGIN`` and
``COMMIT`` (issue 13.5; ``tests/test_storage_commits_per_step.py`` counts them).

The erase journal (message ids to delete) may be written behind: :meth:`SqliteReportStore.\
note_messages` queues its rows at once and returns a future, so that they ride in the same
transaction as whatever the writer commits next (the step's answer) instead of a commit of their
own that the step waits for.

Reads run on the second connection, one at a time, each in its own read transaction (one trip)
so that a report is always seen whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from storage import schema
from storage.base import (
    CLOSED_STATES,
    ERASE_DAYS,
    MAX_ANSWER_BYTES,
    MAX_ATTACHMENT_BYTES,
    MAX_DIGEST_PART_BYTES,
    MAX_REPLY_BYTES,
    ChannelBinding,
    Clock,
    DigestInfo,
    DigestPart,
    DigestState,
    Dummy,
    OutboxDigest,
    ReceiptScheme,
    ReportId,
    ReportState,
    RetentionCounts,
    RetentionPolicy,
    StoreCounts,
    StoredReport,
    check_blob,
    check_erase_ids,
    check_slot,
    check_tag,
    check_tags,
    free_slots,
    join_fingerprints,
    new_report_id,
    padded_answer_rows,
    parse_report_id,
    utc_today,
)
from storage.errors import (
    DigestSequenceError,
    InvalidEnvelopeError,
    ReceiptExistsError,
    ReportClosedError,
    ReportNotReadyError,
    SchemaError,
    StoreClosedError,
    UnknownDigestError,
    UnknownReceiptError,
    UnknownReportError,
)
from storage.maintenance import count_file

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]

MAX_BATCH = 256
"""Most jobs committed in one transaction."""


@dataclass(slots=True)
class _Pending(Generic[T]):
    job: Job[T]
    future: asyncio.Future[T]


_Outcome = tuple[bool, Any]  # (succeeded, result or exception), one per job of a batch


def _rid(report_id: ReportId) -> bytes:
    return bytes.fromhex(parse_report_id(report_id))


def _from_rid(raw: bytes) -> ReportId:
    return ReportId(raw.hex())


CELL_ATTEMPTS = 4
"""Fresh cells drawn for one row before giving up (a new cell meets a taken one with odds of about
2^-44 in a table of a million rows; four clashes in a row mean the random source is broken)."""


def new_cell() -> int:
    """A random rowid for a ``report`` or ``answer`` row (migration 0007): rows lie in the order of
    their cells, so these must say nothing about when a row was written."""
    return int.from_bytes(secrets.token_bytes(8), "big", signed=True)


def _insert_with_cell(
    conn: sqlite3.Connection,
    table: str,
    sql: str,
    params: Sequence[Any],
    *,
    draw: Callable[[], int],
) -> int:
    """Run ``sql`` (an INSERT whose first parameter is the new row's cell) with a fresh cell, and
    again with another if the cell is taken. Returns the rows changed."""
    clash = f"UNIQUE constraint failed: {table}.cell"
    for _ in range(CELL_ATTEMPTS):
        try:
            return _changes(conn, sql, (draw(), *params))
        except sqlite3.IntegrityError as exc:
            if str(exc) != clash:
                raise
    raise sqlite3.IntegrityError(f"{CELL_ATTEMPTS} random cells of {table} taken in a row")


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def _one(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    return conn.execute(sql, params).fetchone()


def _changes(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    return conn.execute(sql, params).rowcount


def _report_state(conn: sqlite3.Connection, raw: bytes) -> ReportState | None:
    row = _one(conn, "SELECT state FROM report WHERE id = ?", (raw,))
    return None if row is None else ReportState(row[0])


def _why_not_open(conn: sqlite3.Connection, raw: bytes) -> Exception:
    """The error to raise when a write to an open report changed nothing."""
    if _report_state(conn, raw) is None:
        return UnknownReportError()
    return ReportClosedError()


def _run_together(conn: sqlite3.Connection, jobs: Sequence[Job[Any]]) -> list[_Outcome] | None:
    """Run the jobs inside the open transaction. The first failure in a batch of several
    returns None: the caller rolls back and runs the batch again with :func:`_run_isolated`,
    so that only the failing job is undone."""
    outcomes: list[_Outcome] = []
    for job in jobs:
        try:
            outcomes.append((True, job(conn)))
        except Exception as exc:
            if len(jobs) > 1:
                return None
            outcomes.append((False, exc))
    return outcomes


def _run_isolated(conn: sqlite3.Connection, jobs: Sequence[Job[Any]]) -> list[_Outcome]:
    """Run each job inside its own savepoint; a failing job is undone alone."""
    outcomes: list[_Outcome] = []
    for job in jobs:
        conn.execute("SAVEPOINT job")
        try:
            result = job(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            outcomes.append((False, exc))
        else:
            conn.execute("RELEASE job")
            outcomes.append((True, result))
    return outcomes


class _Connection:
    """A ``sqlite3`` connection used only on its own thread: :meth:`run` is one round trip."""

    def __init__(self, name: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None

    async def open(self, db: Path) -> None:
        self._conn = await self.run(lambda _: schema.connect(db))

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return fn(self._conn)  # type: ignore[arg-type]  # None only for the opening call

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._call, fn)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement (tests use it to inject faults through the store's own connection)."""
        await self.run(lambda conn: conn.execute(sql, params).close())

    async def close(self) -> None:
        try:
            if self._conn is not None:
                await self.run(lambda conn: conn.close())
        finally:
            self._thread.shutdown(wait=True)


def _commit(conn: sqlite3.Connection, jobs: Sequence[Job[Any]]) -> list[_Outcome]:
    """On the writer's thread: the whole batch, one transaction, one commit. Raises when BEGIN
    or COMMIT fails (disk full, I/O error) or SQLite rolled the transaction back under a job:
    then nothing of the batch is stored."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        outcomes = _run_together(conn, jobs)
        if outcomes is None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
            outcomes = _run_isolated(conn, jobs)
        if any(ok for ok, _ in outcomes):
            conn.execute("COMMIT")
        elif conn.in_transaction:
            conn.execute("ROLLBACK")
    except Exception:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return outcomes


def _read_whole(job: Job[T]) -> Callable[[sqlite3.Connection], T]:
    def read(conn: sqlite3.Connection) -> T:
        conn.execute("BEGIN")
        try:
            return job(conn)
        finally:
            conn.execute("COMMIT")

    return read


class SqliteReportStore:
    """:class:`storage.base.ReportStore` on one SQLite file under the data directory."""

    def __init__(
        self,
        db_path: Path,
        writer: _Connection,
        reader: _Connection,
        clock: Clock,
        cells: Callable[[], int] = new_cell,
    ) -> None:
        self.db_path = db_path
        self._writer = writer
        self._reader = reader
        self._clock = clock
        self._cells = cells
        self._queue: asyncio.Queue[_Pending[Any] | None] = asyncio.Queue()
        self._last: asyncio.Future[Any] | None = None
        self._read_lock = asyncio.Lock()
        self._closing = False
        self._closed = False
        self._task = asyncio.create_task(self._write_loop(), name="report-store-writer")

    @classmethod
    async def open(
        cls, data_dir: Path, *, clock: Clock = utc_today, cells: Callable[[], int] = new_cell
    ) -> SqliteReportStore:
        """Secure the data directory, create or upgrade the database, and start the writer.
        ``cells`` draws the random rowids of reports and answers (tests pass a clashing one)."""
        db = await asyncio.to_thread(schema.prepare_database, data_dir)
        writer, reader = _Connection("store-writer"), _Connection("store-reader")
        try:
            await writer.open(db)
            await reader.open(db)
        except BaseException:
            await writer.close()
            await reader.close()
            raise
        return cls(db, writer, reader, clock, cells)

    # -- the writer ---------------------------------------------------------------------------

    def _submit(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue a write now; the future resolves once its transaction is committed."""
        if self._closing or self._task.done():
            raise StoreClosedError
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(job, future))
        self._last = future
        return future

    async def _write(self, job: Job[T]) -> T:
        return await self._submit(job)

    async def settled(self) -> None:
        """Return once every write queued so far has been committed (or has failed)."""
        last = self._last
        if last is not None and not last.done():
            await asyncio.wait([last])

    async def _write_loop(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is None:
                break
            batch: list[_Pending[Any]] = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            # a caller that gave up before its job started gets nothing written
            batch = [p for p in batch if not p.future.done()]
            if batch:
                await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Pending[Any]]) -> None:
        jobs = [p.job for p in batch]
        try:
            outcomes = await self._writer.run(lambda conn: _commit(conn, jobs))
        except Exception as exc:
            log.error("storage: a write transaction failed (%s)", type(exc).__name__)
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        # only now, after COMMIT, is any caller told that its write is safe
        for pending, (ok, value) in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if ok:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)

    async def _read(self, job: Job[T]) -> T:
        if self._closing:
            raise StoreClosedError
        async with self._read_lock:
            return await self._reader.run(_read_whole(job))

    async def close(self) -> None:
        if self._closed:
            return
        if not self._closing:
            self._closing = True
            self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            if not self._closed:
                self._closed = True
                async with self._read_lock:
                    await self._reader.close()
                await self._writer.close()

    async def __aenter__(self) -> SqliteReportStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- reports ------------------------------------------------------------------------------

    async def open_report(self) -> ReportId:
        report_id = new_report_id()
        day = self._clock().isoformat()

        def job(conn: sqlite3.Connection) -> None:
            _insert_with_cell(
                conn,
                "report",
                "INSERT INTO report (cell, id, created_day) VALUES (?, ?, ?)",
                (_rid(report_id), day),
                draw=self._cells,
            )

        await self._write(job)
        return report_id

    async def _put(self, table: str, report_id: ReportId, slot: int, envelope: bytes) -> None:
        raw = _rid(report_id)
        check_slot(slot)
        limit = MAX_ANSWER_BYTES if table == "answer" else MAX_ATTACHMENT_BYTES
        data = check_blob(envelope, limit, f"a sealed {table}")
        # table is one of two literals chosen in this module, never caller input; answers have
        # a random cell (migration 0007), attachments are WITHOUT ROWID
        columns, values = ("cell, ", "?, ") if table == "answer" else ("", "")
        sql = (
            f"INSERT INTO {table} ({columns}report_id, slot, envelope) "  # noqa: S608
            f"SELECT {values}id, ?, ? FROM report WHERE id = ? AND state = 'open' "
            "ON CONFLICT (report_id, slot) DO UPDATE SET envelope = excluded.envelope"
        )

        def job(conn: sqlite3.Connection) -> None:
            params = (slot, data, raw)
            if table == "answer":
                changed = _insert_with_cell(conn, table, sql, params, draw=self._cells)
            else:
                changed = _changes(conn, sql, params)
            if changed == 0:
                raise _why_not_open(conn, raw)

        await self._write(job)

    async def _delete(self, table: str, report_id: ReportId, slot: int) -> bool:
        raw = _rid(report_id)
        check_slot(slot)

        def job(conn: sqlite3.Connection) -> bool:
            state = _report_state(conn, raw)
            if state is None:
                raise UnknownReportError
            if state is not ReportState.OPEN:
                raise ReportClosedError
            sql = f"DELETE FROM {table} WHERE report_id = ? AND slot = ?"  # noqa: S608 (literal)
            return _changes(conn, sql, (raw, slot)) > 0

        return await self._write(job)

    async def put_answer(self, report_id: ReportId, slot: int, envelope: bytes) -> None:
        await self._put("answer", report_id, slot, envelope)

    async def delete_answer(self, report_id: ReportId, slot: int) -> bool:
        return await self._delete("answer", report_id, slot)

    async def put_attachment(self, report_id: ReportId, slot: int, envelope: bytes) -> None:
        await self._put("attachment", report_id, slot, envelope)

    async def delete_attachment(self, report_id: ReportId, slot: int) -> bool:
        return await self._delete("attachment", report_id, slot)

    async def close_report(
        self,
        report_id: ReportId,
        state: ReportState,
        manifest: bytes,
        *,
        dummy: Dummy | None = None,
    ) -> None:
        raw = _rid(report_id)
        if state not in CLOSED_STATES:
            raise ValueError("a report is closed as complete or interrupted")
        data = check_blob(manifest, MAX_ANSWER_BYTES, "a sealed manifest")

        def job(conn: sqlite3.Connection) -> None:
            changed = _changes(
                conn,
                "UPDATE report SET state = ?, manifest = ? WHERE id = ? AND state = 'open'",
                (state.value, data, raw),
            )
            if changed == 0:
                raise _why_not_open(conn, raw)
            if dummy is not None:
                used = {
                    int(r[0])
                    for r in _rows(
                        conn,
                        "SELECT slot FROM answer WHERE report_id = ? UNION "
                        "SELECT slot FROM attachment WHERE report_id = ?",
                        (raw, raw),
                    )
                }
                count = _one(conn, "SELECT count(*) FROM answer WHERE report_id = ?", (raw,))
                real = int(count[0]) if count is not None else 0
                for slot in free_slots(used, padded_answer_rows(real) - real):
                    _insert_with_cell(
                        conn,
                        "answer",
                        "INSERT INTO answer (cell, report_id, slot, envelope) VALUES (?, ?, ?, ?)",
                        (raw, slot, check_blob(dummy(), MAX_ANSWER_BYTES, "a sealed dummy")),
                        draw=self._cells,
                    )

        await self._write(job)

    async def discard_report(self, report_id: ReportId) -> bool:
        raw = _rid(report_id)

        def job(conn: sqlite3.Connection) -> bool:
            return _changes(conn, "DELETE FROM report WHERE id = ?", (raw,)) > 0

        return await self._write(job)

    async def load_report(
        self, report_id: ReportId, *, with_attachments: bool = True
    ) -> StoredReport:
        raw = _rid(report_id)

        def job(conn: sqlite3.Connection) -> StoredReport:
            row = _one(
                conn,
                "SELECT state, created_day, manifest, digest_seq FROM report WHERE id = ?",
                (raw,),
            )
            if row is None:
                raise UnknownReportError
            answers = _rows(conn, "SELECT slot, envelope FROM answer WHERE report_id = ?", (raw,))
            attachments = (
                _rows(conn, "SELECT slot, envelope FROM attachment WHERE report_id = ?", (raw,))
                if with_attachments
                else []
            )
            return StoredReport(
                report_id=report_id,
                state=ReportState(row[0]),
                created_day=date.fromisoformat(row[1]),
                manifest=row[2],
                answers=dict(answers),
                attachments=dict(attachments),
                digest_seq=row[3],
            )

        return await self._read(job)

    async def _ids(self, sql: str, params: Sequence[Any] = ()) -> list[ReportId]:
        def job(conn: sqlite3.Connection) -> list[ReportId]:
            return [_from_rid(row[0]) for row in _rows(conn, sql, params)]

        return await self._read(job)

    async def open_reports(self) -> list[ReportId]:
        return await self._ids("SELECT id FROM report WHERE state = 'open' ORDER BY id")

    async def ready_reports(self) -> list[ReportId]:
        return await self._ids(
            "SELECT id FROM report WHERE state != 'open' AND digest_seq IS NULL ORDER BY id"
        )

    # -- digest outbox ------------------------------------------------------------------------

    async def next_digest_seq(self) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = _one(conn, "SELECT coalesce(max(seq), 0) + 1 FROM digest")
            return int(row[0])

        return await self._read(job)

    async def add_digest(
        self, seq: int, parts: Sequence[bytes], report_ids: Collection[ReportId]
    ) -> None:
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise DigestSequenceError
        if not parts:
            raise InvalidEnvelopeError("a digest has at least its signed part")
        blobs = [check_blob(p, MAX_DIGEST_PART_BYTES, "a digest part") for p in parts]
        raws = sorted({_rid(r) for r in report_ids})
        day = self._clock().isoformat()

        def job(conn: sqlite3.Connection) -> None:
            row = _one(conn, "SELECT coalesce(max(seq), 0) + 1 FROM digest")
            if seq != row[0]:
                raise DigestSequenceError
            conn.execute("INSERT INTO digest (seq, created_day) VALUES (?, ?)", (seq, day))
            conn.executemany(
                "INSERT INTO digest_part (seq, part, data) VALUES (?, ?, ?)",
                [(seq, n, blob) for n, blob in enumerate(blobs)],
            )
            for raw in raws:
                changed = _changes(
                    conn,
                    "UPDATE report SET digest_seq = ? "
                    "WHERE id = ? AND state != 'open' AND digest_seq IS NULL",
                    (seq, raw),
                )
                if changed == 0:
                    raise ReportNotReadyError

        await self._write(job)

    @staticmethod
    def _digest(conn: sqlite3.Connection, row: Any) -> OutboxDigest:
        parts = _rows(
            conn,
            "SELECT part, data, posted FROM digest_part WHERE seq = ? ORDER BY part",
            (row[0],),
        )
        return OutboxDigest(
            seq=row[0],
            created_day=date.fromisoformat(row[1]),
            state=DigestState(row[2]),
            attempts=row[3],
            posted_day=None if row[4] is None else date.fromisoformat(row[4]),
            parts=tuple(DigestPart(part=p, data=d, posted=bool(f)) for p, d, f in parts),
        )

    _DIGEST_COLUMNS = "seq, created_day, state, attempts, posted_day"

    async def pending_digests(self) -> list[OutboxDigest]:
        def job(conn: sqlite3.Connection) -> list[OutboxDigest]:
            rows = _rows(
                conn,
                f"SELECT {self._DIGEST_COLUMNS} FROM digest "  # noqa: S608 (constant columns)
                "WHERE state = 'pending' ORDER BY seq",
            )
            return [self._digest(conn, row) for row in rows]

        return await self._read(job)

    async def get_digest(self, seq: int) -> OutboxDigest:
        def job(conn: sqlite3.Connection) -> OutboxDigest:
            row = _one(
                conn,
                f"SELECT {self._DIGEST_COLUMNS} FROM digest WHERE seq = ?",  # noqa: S608
                (seq,),
            )
            if row is None:
                raise UnknownDigestError
            return self._digest(conn, row)

        return await self._read(job)

    async def list_digests(self) -> list[DigestInfo]:
        def job(conn: sqlite3.Connection) -> list[DigestInfo]:
            rows = _rows(
                conn,
                "SELECT d.seq, d.created_day, d.state, d.attempts, d.posted_day, "
                "(SELECT count(*) FROM digest_part p WHERE p.seq = d.seq), "
                "(SELECT count(*) FROM report r WHERE r.digest_seq = d.seq), "
                "(SELECT coalesce(sum(length(p.data)), 0) FROM digest_part p WHERE p.seq = d.seq) "
                "FROM digest d ORDER BY d.seq",
            )
            return [
                DigestInfo(
                    seq=r[0],
                    created_day=date.fromisoformat(r[1]),
                    state=DigestState(r[2]),
                    attempts=r[3],
                    posted_day=None if r[4] is None else date.fromisoformat(r[4]),
                    parts=r[5],
                    reports=r[6],
                    size=r[7],
                )
                for r in rows
            ]

        return await self._read(job)

    async def digest_reports(self, seq: int) -> list[ReportId]:
        return await self._ids("SELECT id FROM report WHERE digest_seq = ? ORDER BY id", (seq,))

    async def record_attempt(self, seq: int) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = _one(
                conn,
                "UPDATE digest SET attempts = attempts + 1 WHERE seq = ? RETURNING attempts",
                (seq,),
            )
            if row is None:
                raise UnknownDigestError
            return int(row[0])

        return await self._write(job)

    async def mark_part_posted(self, seq: int, part: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            changed = _changes(
                conn, "UPDATE digest_part SET posted = 1 WHERE seq = ? AND part = ?", (seq, part)
            )
            if changed == 0:
                raise UnknownDigestError

        await self._write(job)

    async def mark_digest_posted(self, seq: int) -> None:
        day = self._clock().isoformat()

        def job(conn: sqlite3.Connection) -> None:
            changed = _changes(
                conn,
                "UPDATE digest SET state = 'posted', posted_day = ? "
                "WHERE seq = ? AND state = 'pending'",
                (day, seq),
            )
            if changed:
                conn.execute("UPDATE digest_part SET posted = 1 WHERE seq = ?", (seq,))
            elif _one(conn, "SELECT 1 FROM digest WHERE seq = ?", (seq,)) is None:
                raise UnknownDigestError

        await self._write(job)

    # -- analyst channel ----------------------------------------------------------------------

    async def channel_binding(self) -> ChannelBinding | None:
        def job(conn: sqlite3.Connection) -> ChannelBinding | None:
            row = _one(
                conn, "SELECT channel_id, key_fingerprints, verified_day FROM channel_binding"
            )
            if row is None:
                return None
            return ChannelBinding(
                channel_id=row[0],
                key_fingerprints=tuple(row[1].split(",")),
                verified_day=date.fromisoformat(row[2]),
            )

        return await self._read(job)

    async def set_channel_binding(self, binding: ChannelBinding) -> None:
        fingerprints = join_fingerprints(binding.key_fingerprints)

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO channel_binding "
                "(id, channel_id, key_fingerprints, verified_day) VALUES (1, ?, ?, ?)",
                (binding.channel_id, fingerprints, binding.verified_day.isoformat()),
            )

        await self._write(job)

    async def clear_channel_binding(self) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM channel_binding")

        await self._write(job)

    # -- messages to erase from reporters' chats ---------------------------------------------

    async def remember_messages(
        self, conversation: bytes, message_ids: Sequence[int], *, keep: bool = False
    ) -> None:
        await self.note_messages(conversation, message_ids, keep=keep)

    def note_messages(
        self, conversation: bytes, message_ids: Sequence[int], *, keep: bool = False
    ) -> asyncio.Future[None]:
        ids = check_erase_ids(conversation, message_ids)
        if not ids:
            nothing: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            nothing.set_result(None)
            return nothing
        day = self._clock().isoformat()

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO erase_pending (conversation, message_id, keep, created_day) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (conversation, message_id) "
                "DO UPDATE SET keep = excluded.keep",
                [(conversation, mid, int(keep), day) for mid in ids],
            )

        return self._submit(job)

    async def forget_messages(
        self, conversation: bytes, message_ids: Sequence[int] | None = None
    ) -> None:
        ids = None if message_ids is None else check_erase_ids(conversation, message_ids)
        check_erase_ids(conversation, [])

        def job(conn: sqlite3.Connection) -> None:
            if ids is None:
                conn.execute("DELETE FROM erase_pending WHERE conversation = ?", (conversation,))
            else:
                conn.executemany(
                    "DELETE FROM erase_pending WHERE conversation = ? AND message_id = ?",
                    [(conversation, mid) for mid in ids],
                )

        if ids is None or ids:
            await self._write(job)

    async def messages_to_erase(self) -> dict[bytes, list[tuple[int, bool]]]:
        cutoff = (self._clock() - timedelta(days=ERASE_DAYS)).isoformat()

        def prune(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM erase_pending WHERE created_day < ?", (cutoff,))

        await self._write(prune)

        def job(conn: sqlite3.Connection) -> dict[bytes, list[tuple[int, bool]]]:
            out: dict[bytes, list[tuple[int, bool]]] = {}
            for key, mid, keep in _rows(
                conn, "SELECT conversation, message_id, keep FROM erase_pending"
            ):
                out.setdefault(bytes(key), []).append((int(mid), bool(keep)))
            return out

        return await self._read(job)

    # -- receipts and replies -----------------------------------------------------------------

    async def receipt_salt(self) -> bytes:
        def job(conn: sqlite3.Connection) -> bytes:
            row = _one(conn, "SELECT salt FROM receipt_salt WHERE id = 1")
            if row is None:
                raise SchemaError("the database has no receipt salt")
            return bytes(row[0])

        return await self._read(job)

    async def put_receipt(
        self, tag: bytes, report_id: ReportId, *, scheme: ReceiptScheme = ReceiptScheme.V2
    ) -> None:
        raw = _rid(report_id)
        tag = check_tag(tag)
        version = int(ReceiptScheme(scheme))
        day = self._clock().isoformat()

        def job(conn: sqlite3.Connection) -> None:
            if _report_state(conn, raw) is None:
                raise UnknownReportError
            try:
                conn.execute(
                    "INSERT INTO receipt (report_id, tag, created_day, scheme) VALUES (?, ?, ?, ?)",
                    (raw, tag, day, version),
                )
            except sqlite3.IntegrityError:
                raise ReceiptExistsError from None

        await self._write(job)

    async def find_receipts(
        self, tags: Sequence[bytes], *, scheme: ReceiptScheme
    ) -> tuple[int, ReportId] | None:
        wanted: dict[bytes, int] = {}
        for i, tag in enumerate(check_tags(tags)):
            wanted.setdefault(tag, i)
        version = int(ReceiptScheme(scheme))
        marks = ", ".join("?" * len(wanted))
        sql = f"SELECT tag, report_id FROM receipt WHERE scheme = ? AND tag IN ({marks})"  # noqa: S608 (placeholders only)

        def job(conn: sqlite3.Connection) -> tuple[int, ReportId] | None:
            rows = _rows(conn, sql, (version, *wanted))
            found = [(wanted[bytes(tag)], _from_rid(rid)) for tag, rid in rows]
            return min(found) if found else None

        return await self._read(job)

    async def holds_receipts(self, scheme: ReceiptScheme) -> bool:
        version = int(ReceiptScheme(scheme))

        def job(conn: sqlite3.Connection) -> bool:
            row = _one(conn, "SELECT 1 FROM receipt WHERE scheme = ? LIMIT 1", (version,))
            return row is not None

        return await self._read(job)

    async def add_reply(self, report_id: ReportId, sealed: bytes) -> bool:
        raw = _rid(report_id)
        data = check_blob(sealed, MAX_REPLY_BYTES, "a sealed reply")
        day = self._clock().isoformat()

        def job(conn: sqlite3.Connection) -> bool:
            if _one(conn, "SELECT 1 FROM receipt WHERE report_id = ?", (raw,)) is None:
                raise UnknownReceiptError
            if _one(conn, "SELECT 1 FROM reply WHERE report_id = ? AND sealed = ?", (raw, data)):
                return False
            conn.execute(
                "INSERT INTO reply (report_id, n, sealed, created_day) "
                "SELECT ?, coalesce(max(n), 0) + 1, ?, ? FROM reply WHERE report_id = ?",
                (raw, data, day, raw),
            )
            return True

        return await self._write(job)

    async def replies(self, report_id: ReportId) -> list[bytes]:
        raw = _rid(report_id)

        def job(conn: sqlite3.Connection) -> list[bytes]:
            rows = _rows(conn, "SELECT sealed FROM reply WHERE report_id = ? ORDER BY n", (raw,))
            return [bytes(r[0]) for r in rows]

        return await self._read(job)

    # -- upkeep -------------------------------------------------------------------------------

    async def apply_retention(self, policy: RetentionPolicy) -> RetentionCounts:
        today = self._clock()
        report_cutoff = (today - timedelta(days=policy.report_days)).isoformat()
        receipt_cutoff = (today - timedelta(days=policy.receipt_days)).isoformat()

        def job(conn: sqlite3.Connection) -> RetentionCounts:
            due = "SELECT seq FROM digest WHERE state = 'posted' AND posted_day <= ?"
            reports = _changes(
                conn,
                f"DELETE FROM report WHERE digest_seq IN ({due})",  # noqa: S608 (constant)
                (report_cutoff,),
            )
            conn.execute(
                f"DELETE FROM digest_part WHERE seq IN ({due})",  # noqa: S608 (constant)
                (report_cutoff,),
            )
            digests = _changes(
                conn,
                "UPDATE digest SET state = 'pruned' WHERE state = 'posted' AND posted_day <= ?",
                (report_cutoff,),
            )
            replies_row = _one(
                conn,
                "SELECT count(*) FROM reply WHERE report_id IN "
                "(SELECT report_id FROM receipt WHERE created_day <= ?)",
                (receipt_cutoff,),
            )
            receipts = _changes(
                conn, "DELETE FROM receipt WHERE created_day <= ?", (receipt_cutoff,)
            )
            return RetentionCounts(
                reports=reports, digests=digests, receipts=receipts, replies=int(replies_row[0])
            )

        return await self._write(job)

    async def counts(self) -> StoreCounts:
        if self._closing:
            raise StoreClosedError
        # the same queries as ``reportbot db check``, on a short-lived connection of their own
        return await asyncio.to_thread(count_file, self.db_path)


@contextlib.asynccontextmanager
async def open_store(
    data_dir: Path, *, clock: Clock = utc_today
) -> AsyncIterator[SqliteReportStore]:
    """``async with open_store(data_dir) as store:`` opens, and always closes, the store."""
    store = await SqliteReportStore.open(data_dir, clock=clock)
    try:
        yield store
    finally:
        await store.close()
