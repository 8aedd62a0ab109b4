"""Schema migrations: every earlier version upgrades to the latest with its data intact."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage import ReportId, ReportState, SchemaError, SqliteReportStore, schema
from storage.base import DigestState, ReceiptScheme

REPORT_OPEN = bytes.fromhex("11" * 16)
REPORT_DONE = bytes.fromhex("22" * 16)
REPORT_CARRIED = bytes.fromhex("33" * 16)


def _seed_v1(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO report (id, state, created_day, manifest) VALUES (?, ?, ?, ?)",
        [
            (REPORT_OPEN, "open", "2025-01-02", None),
            (REPORT_DONE, "complete", "2025-01-03", b"manifest-done"),
            (REPORT_CARRIED, "interrupted", "2025-01-04", b"manifest-carried"),
        ],
    )
    conn.executemany(
        "INSERT INTO answer (report_id, slot, envelope) VALUES (?, ?, ?)",
        [(REPORT_OPEN, 5, b"open-5"), (REPORT_DONE, 1, b"done-1"), (REPORT_CARRIED, 2, b"c-2")],
    )
    conn.execute(
        "INSERT INTO attachment (report_id, slot, envelope) VALUES (?, 9, ?)",
        (REPORT_DONE, b"photo"),
    )


def _seed_v2(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO digest (seq, created_day, state, attempts, posted_day) "
        "VALUES (1, '2025-01-05', 'posted', 3, '2025-01-06')"
    )
    conn.execute("INSERT INTO digest_part (seq, part, data, posted) VALUES (1, 0, x'aa', 1)")
    conn.execute("UPDATE report SET digest_seq = 1 WHERE id = ?", (REPORT_CARRIED,))
    conn.execute(
        "INSERT INTO channel_binding (id, channel_id, key_fingerprints, verified_day) "
        "VALUES (1, -1001, 'fp1,fp2', '2025-01-01')"
    )


def _seed_v3(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO receipt (report_id, tag, created_day) VALUES (?, ?, '2025-01-03')",
        (REPORT_DONE, b"\x07" * 32),
    )
    conn.execute(
        "INSERT INTO reply (report_id, n, sealed, created_day) VALUES (?, 1, x'bb', '2025-01-07')",
        (REPORT_DONE,),
    )


ERASE_KEY = bytes(range(16))


def _seed_v4(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO erase_pending (conversation, message_id, keep, created_day) "
        "VALUES (?, 77, 1, date('now'))",
        (ERASE_KEY,),
    )


REPORT_V5 = bytes([5]) * 16


def _seed_v5(conn: sqlite3.Connection) -> None:
    # the rebuilt tables (WITHOUT ROWID, issue 17.1) take rows with their old shape
    conn.execute(
        "INSERT INTO report (id, state, created_day, manifest) VALUES (?, 'complete', "
        "'2025-01-08', x'cc')",
        (REPORT_V5,),
    )
    conn.execute(
        "INSERT INTO answer (report_id, slot, envelope) VALUES (?, 3, x'dd')", (REPORT_V5,)
    )


def _seed_v6(conn: sqlite3.Connection) -> None:
    # a receipt made with scheme 2 beside the older (scheme 1) one
    conn.execute(
        "INSERT INTO receipt (report_id, tag, created_day, scheme) VALUES (?, ?, '2025-01-08', 2)",
        (REPORT_V5, b"\x08" * 32),
    )


REPORT_V7 = bytes([7]) * 16


def _seed_v7(conn: sqlite3.Connection) -> None:
    # reports and answers have a cell of their own again (a random rowid, migration 0007)
    conn.execute(
        "INSERT INTO report (cell, id, created_day) VALUES (-4242424242424242, ?, '2025-01-09')",
        (REPORT_V7,),
    )
    conn.execute(
        "INSERT INTO answer (cell, report_id, slot, envelope) "
        "VALUES (7373737373737373, ?, 4, x'ee')",
        (REPORT_V7,),
    )


SEEDS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _seed_v1,
    2: _seed_v2,
    3: _seed_v3,
    4: _seed_v4,
    5: _seed_v5,
    6: _seed_v6,
    7: _seed_v7,
}


def test_every_migration_has_seed_data_for_the_upgrade_test() -> None:
    # a new migration must come with rows that the upgrade test carries through it
    assert sorted(SEEDS) == list(range(1, schema.latest_version() + 1))


def _build(data_dir: Path, version: int) -> None:
    """A database as an older reportbot left it: migrated to ``version``, holding that
    version's data."""
    db = schema.secure_data_dir(data_dir)
    conn = schema.connect(db)
    try:
        for step in range(1, version + 1):
            schema.migrate(conn, target=step)
            conn.execute("BEGIN")
            SEEDS[step](conn)
            conn.execute("COMMIT")
    finally:
        conn.close()


def _schema_sql(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    finally:
        conn.close()
    return [(name, sql) for name, sql in rows]


@pytest.mark.parametrize("start", range(schema.latest_version()))
async def test_upgrade_from_every_earlier_version_keeps_the_data(
    tmp_path: Path, start: int
) -> None:
    old = tmp_path / "old"
    _build(old, start)
    fresh = tmp_path / "fresh"
    schema.prepare_database(fresh)

    async with await SqliteReportStore.open(old) as store:
        counts = await store.counts()
        if start >= 1:
            loaded = await store.load_report(ReportId(REPORT_DONE.hex()))
            assert loaded.state is ReportState.COMPLETE
            assert dict(loaded.answers) == {1: b"done-1"}
            assert dict(loaded.attachments) == {9: b"photo"}
            assert loaded.manifest == b"manifest-done"
            assert await store.open_reports() == [ReportId(REPORT_OPEN.hex())]
        else:
            assert sum(counts.reports.values()) == 0
        if start >= 2:
            digest = await store.get_digest(1)
            assert (digest.state, digest.attempts) == (DigestState.POSTED, 3)
            assert await store.digest_reports(1) == [ReportId(REPORT_CARRIED.hex())]
            binding = await store.channel_binding()
            assert binding is not None
            assert binding.key_fingerprints == ("fp1", "fp2")
        elif start == 1:
            # reports made before the outbox existed are not carried by any digest yet
            assert sorted(await store.ready_reports()) == sorted(
                [ReportId(REPORT_DONE.hex()), ReportId(REPORT_CARRIED.hex())]
            )
        if start >= 3:
            # made before migration 6: a scheme-1 tag, found as one
            found = await store.find_receipts([b"\x07" * 32], scheme=ReceiptScheme.V1)
            assert found == (0, ReportId(REPORT_DONE.hex()))
            assert await store.find_receipts([b"\x07" * 32], scheme=ReceiptScheme.V2) is None
            assert await store.replies(ReportId(REPORT_DONE.hex())) == [b"\xbb"]
        if start >= 4:
            assert await store.messages_to_erase() == {ERASE_KEY: [(77, True)]}
        if start >= 5:
            rebuilt = await store.load_report(ReportId(REPORT_V5.hex()))
            assert (rebuilt.manifest, dict(rebuilt.answers)) == (b"\xcc", {3: b"\xdd"})
        # the upgraded database takes every kind of write
        report = await store.open_report()
        await store.put_answer(report, 1, b"new")
        await store.close_report(report, ReportState.COMPLETE, b"m")
        await store.put_receipt(b"\x09" * 32, report)
        assert await store.find_receipts([b"\x09" * 32], scheme=ReceiptScheme.V2) == (0, report)
        seq = await store.next_digest_seq()
        await store.add_digest(seq, [b"d"], [report])

    db = schema.database_path(old)
    conn = schema.connect(db)
    try:
        assert schema.schema_version(conn) == schema.latest_version()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 1
        # no table of reports, envelopes, receipts or replies keeps rows in insertion order:
        # reports and answers lie in the order of random cells (those carried over included:
        # SQLite's own numbering would have given 1, 2, 3...), the rest have no rowid at all
        for table in ("report", "answer"):
            cells = [c for (c,) in conn.execute(f"SELECT cell FROM {table}")]  # noqa: S608
            assert cells, table
            assert all(abs(c) > 2**32 for c in cells), (table, cells)
            assert [c for (c,) in conn.execute(f"SELECT rowid FROM {table}")] == cells  # noqa: S608
        for table in ("attachment", "receipt", "reply"):
            with pytest.raises(sqlite3.OperationalError, match="no such column: rowid"):
                conn.execute(f"SELECT rowid FROM {table}")  # noqa: S608 (literal names)
    finally:
        conn.close()
    assert _schema_sql(db) == _schema_sql(schema.database_path(fresh))


def test_database_from_a_newer_reportbot_is_refused_untouched(tmp_path: Path) -> None:
    db = schema.prepare_database(tmp_path)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaError, match="newer than this code"):
        schema.prepare_database(tmp_path)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    conn.close()


def test_a_file_that_is_not_a_reportbot_database_is_refused(tmp_path: Path) -> None:
    db = schema.secure_data_dir(tmp_path)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE somebody_elses (x)")
    conn.close()
    with pytest.raises(SchemaError, match="no reportbot schema version"):
        schema.prepare_database(tmp_path)


def test_a_failing_migration_leaves_the_previous_version_whole(tmp_path: Path) -> None:
    _build(tmp_path, schema.latest_version())
    broken = schema.Migration(
        schema.latest_version() + 1,
        "broken",
        "CREATE TABLE half_done (x);\nINSERT INTO no_such_table VALUES (1);\n",
    )
    conn = schema.connect(schema.database_path(tmp_path))
    try:
        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            schema.migrate(conn, migrations=(*schema.load_migrations(), broken))
        assert schema.schema_version(conn) == schema.latest_version()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema")}
        assert "half_done" not in tables
        # the reports every seed wrote (v1's three, v5's and v7's) are all still there
        assert conn.execute("SELECT count(*) FROM report").fetchone()[0] == 5
    finally:
        conn.close()


def test_database_made_without_auto_vacuum_is_converted(tmp_path: Path) -> None:
    db = schema.secure_data_dir(tmp_path)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum = NONE")
    for statement in schema._statements(schema.load_migrations()[0].sql):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    conn.close()
    schema.prepare_database(tmp_path)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 1
    conn.close()


@pytest.mark.parametrize(
    ("name", "sql", "message"),
    [
        ("0001_a.sql", "BEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n", "transactions"),
        ("0001_a.sql", "PRAGMA user_version = 5;\n", "transactions or versions"),
        ("0002_a.sql", "CREATE TABLE t (x);\n", "without gaps"),
        ("1_a.sql", "CREATE TABLE t (x);\n", "NNNN_name"),
        ("0001_a.sql", "CREATE TABLE t (x", "incomplete"),
    ],
)
def test_malformed_migration_files_are_refused_at_load(
    tmp_path: Path, name: str, sql: str, message: str
) -> None:
    (tmp_path / name).write_text(sql)
    with pytest.raises(SchemaError, match=message):
        schema.load_migrations(tmp_path)


def test_trigger_bodies_are_not_mistaken_for_transactions(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text(
        "CREATE TABLE t (x);\n"
        "-- a comment; with a semicolon\n"
        "CREATE TRIGGER t_guard BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END;\n"
    )
    (migration,) = schema.load_migrations(tmp_path)
    assert len(schema._statements(migration.sql)) == 2


_START_WHEN_TOLD = """
import sys, time
from pathlib import Path
from storage import schema
go = Path(sys.argv[2])
deadline = time.monotonic() + 60
while not go.exists():  # every process waits here, then all start at once
    if time.monotonic() > deadline:
        sys.exit("never told to start")
    time.sleep(0.001)
schema.prepare_database(Path(sys.argv[1]))
print("prepared")
"""


def test_two_processes_starting_at_once_migrate_once(tmp_path: Path) -> None:
    """Real processes (each its own sqlite3 and its own locks), released together."""
    data_dir = tmp_path / "data"
    go = tmp_path / "go"
    root = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START_WHEN_TOLD, str(data_dir), str(go)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    assert [
        (p.returncode, out, err[-2000:]) for p, (out, err) in zip(procs, results, strict=True)
    ] == [(0, "prepared\n", "")] * len(procs)
    conn = schema.connect(schema.database_path(data_dir))
    try:
        assert schema.schema_version(conn) == schema.latest_version()
        assert conn.execute("SELECT count(*) FROM receipt_salt").fetchone()[0] == 1
    finally:
        conn.close()


_CHURN_JOURNAL = """
import sys, time
from pathlib import Path
journal, stop = Path(sys.argv[1]), Path(sys.argv[2])
deadline = time.monotonic() + 30
while not stop.exists() and time.monotonic() < deadline:
    journal.write_bytes(b"j")
    journal.unlink(missing_ok=True)
"""


def test_a_side_file_vanishing_while_the_data_dir_is_secured_is_no_error(tmp_path: Path) -> None:
    """SQLite deletes ``-journal`` at every commit of another connection, at any moment: here
    another process creates and deletes it as fast as it can while the data dir is secured."""
    db = schema.secure_data_dir(tmp_path)
    journal = db.with_name(db.name + "-journal")
    stop = tmp_path / "stop"
    churn = subprocess.Popen([sys.executable, "-c", _CHURN_JOURNAL, str(journal), str(stop)])
    try:
        while not journal.exists() and churn.poll() is None:
            time.sleep(0.001)
        deadline = time.monotonic() + 3
        for _ in range(50_000):  # about a second's worth; bounded in time too
            schema.secure_data_dir(tmp_path)
            if time.monotonic() > deadline:
                break
    finally:
        stop.touch()
        churn.wait(timeout=60)
