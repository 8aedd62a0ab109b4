"""File hygiene: private modes, no side files that keep old bytes, the pragmas that make SQLite
forget, and refusal of planted links."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import ReportState, SqliteReportStore, UnsafeFileError, schema

EXPECTED_PRAGMAS = {
    "trusted_schema": 0,
    "foreign_keys": 1,
    "secure_delete": 1,
    "temp_store": 2,  # MEMORY
    "journal_mode": "delete",
    "synchronous": 2,  # FULL
    "auto_vacuum": 1,  # FULL
}


@pytest.fixture
def no_umask() -> Iterator[None]:
    """umask 0: any file the code does not make private itself would be world-readable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("no_umask")
async def test_data_dir_and_database_are_private_even_with_umask_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with await SqliteReportStore.open(data_dir) as store:
        report = await store.open_report()
        await store.put_answer(report, 1, b"x" * 10_000)
        await store.close_report(report, ReportState.COMPLETE, b"m")
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / schema.DB_FILENAME) == 0o600
    # DELETE journal mode: after the last commit nothing lies beside the database
    assert sorted(p.name for p in data_dir.iterdir()) == [schema.DB_FILENAME]


@pytest.mark.usefixtures("no_umask")
def test_the_journal_of_an_open_write_is_private_too(tmp_path: Path) -> None:
    db = schema.prepare_database(tmp_path / "data")
    conn = schema.connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO report (id, created_day) VALUES (randomblob(16), '2026-01-01')")
        journal = db.with_name(db.name + "-journal")
        assert journal.exists()  # the rollback journal exists only now, during the write
        assert _mode(journal) == 0o600
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    assert not journal.exists()
    assert not db.with_name(db.name + "-wal").exists()
    assert not db.with_name(db.name + "-shm").exists()


async def test_an_existing_loose_database_is_tightened_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    schema.prepare_database(data_dir)
    os.chmod(data_dir, 0o755)  # noqa: S103 (made loose on purpose: the store must tighten it)
    os.chmod(data_dir / schema.DB_FILENAME, 0o644)
    async with await SqliteReportStore.open(data_dir):
        pass
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / schema.DB_FILENAME) == 0o600


async def test_every_connection_runs_with_the_forgetting_pragmas(tmp_path: Path) -> None:
    db = schema.prepare_database(tmp_path / "data")
    plain = schema.connect(db)
    try:
        for name, expected in EXPECTED_PRAGMAS.items():
            assert plain.execute(f"PRAGMA {name}").fetchone()[0] == expected, name
    finally:
        plain.close()
    # the store's own two connections (the writer's and the reader's), on their own threads
    async with await SqliteReportStore.open(tmp_path / "data") as store:
        for conn in (store._writer, store._reader):
            for name, expected in EXPECTED_PRAGMAS.items():

                def pragma(c: sqlite3.Connection, name: str = name) -> Any:
                    return c.execute(f"PRAGMA {name}").fetchone()[0]

                assert await conn.run(pragma) == expected, name


def test_a_database_planted_as_a_symlink_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    elsewhere = tmp_path / "attacker-readable.sqlite3"
    (data_dir / schema.DB_FILENAME).symlink_to(elsewhere)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        schema.prepare_database(data_dir)
    assert not elsewhere.exists()


def test_a_journal_planted_as_a_symlink_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    schema.prepare_database(data_dir)
    elsewhere = tmp_path / "copy-of-old-pages"
    (data_dir / (schema.DB_FILENAME + "-journal")).symlink_to(elsewhere)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        schema.prepare_database(data_dir)


def test_a_data_dir_planted_as_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "data").symlink_to(real)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        schema.prepare_database(tmp_path / "data")


async def test_no_column_can_hold_a_time_of_day(tmp_path: Path) -> None:
    """Dates are days: a timestamp written by mistake is refused by the schema itself."""
    db = schema.prepare_database(tmp_path / "data")
    conn = schema.connect(db)
    try:
        for value in ("2026-01-01 10:00:00", "2026-01-01T10:00", "1767261600", "2026-1-1"):
            with pytest.raises(Exception, match="CHECK constraint failed"):
                conn.execute(
                    "INSERT INTO report (id, created_day) VALUES (randomblob(16), ?)", (value,)
                )
        columns = [
            row[1]
            for table in ("report", "answer", "attachment", "digest", "receipt", "reply")
            for row in conn.execute(f"PRAGMA table_info({table})")
        ]
    finally:
        conn.close()
    assert not any("time" in c or c.endswith("_at") for c in columns), columns


async def test_the_schema_has_no_place_for_who_or_which_question(tmp_path: Path) -> None:
    db = schema.prepare_database(tmp_path / "data")
    conn = schema.connect(db)
    try:
        columns = {
            row[1].lower()
            for (table,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
            for row in conn.execute(f"PRAGMA table_info({table})")
        }
    finally:
        conn.close()
    for forbidden in ("user", "chat", "telegram", "name", "question", "qid", "branch", "text"):
        assert not any(forbidden in column for column in columns), (forbidden, columns)
