"""Upkeep of the database file for ``reportbot db``: online backup and a health check.

Both work on the file directly with plain ``sqlite3`` and are safe while the bot runs: the
backup uses SQLite's online backup API (a consistent copy under a read lock held for the copy
only), the check only reads. Neither migrates or changes anything in the database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from storage import schema
from storage.base import DigestState, ReportState, StoreCounts
from storage.errors import StorageError, UnsafeFileError


class NoDatabaseError(StorageError):
    """The data directory holds no database."""


class BackupTargetError(StorageError):
    """The backup cannot be written where asked (exists already, or its folder is missing)."""


def count_rows(conn: sqlite3.Connection) -> StoreCounts:
    """How many of each thing the database holds, never what they hold."""
    reports = {state.value: 0 for state in ReportState}
    for state, n in conn.execute("SELECT state, count(*) FROM report GROUP BY state"):
        reports[state] = n
    reports["carried"] = conn.execute(
        "SELECT count(*) FROM report WHERE digest_seq IS NOT NULL"
    ).fetchone()[0]
    digests = {state.value: 0 for state in DigestState}
    for state, n in conn.execute("SELECT state, count(*) FROM digest GROUP BY state"):
        digests[state] = n

    def count(table: str) -> int:
        # table names are the literals below, never input
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

    return StoreCounts(
        reports=reports,
        answers=count("answer"),
        attachments=count("attachment"),
        digests=digests,
        receipts=count("receipt"),
        replies=count("reply"),
    )


def count_file(db: Path) -> StoreCounts:
    conn = schema.connect(db)
    try:
        conn.execute("BEGIN")
        try:
            return count_rows(conn)
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()


def waiting_digests(db: Path) -> tuple[int, date | None]:
    """How many digests wait in the outbox (not confirmed posted), and the day of the oldest."""
    conn = schema.connect(db)
    try:
        count, oldest = conn.execute(
            "SELECT count(*), min(created_day) FROM digest WHERE state = 'pending'"
        ).fetchone()
    finally:
        conn.close()
    return int(count), None if oldest is None else date.fromisoformat(oldest)


def _existing_database(data_dir: Path) -> Path:
    db = schema.database_path(data_dir)
    if db.is_symlink():
        raise UnsafeFileError(f"{db} is a symbolic link; refusing to use it")
    if not db.is_file():
        raise NoDatabaseError(f"no database at {db}")
    return db


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    pages: int
    size: int


def backup_database(data_dir: Path, dest: Path) -> BackupResult:
    """Copy the live database to ``dest`` (created with mode 0600; never overwritten) through
    SQLite's online backup API, then check the copy's integrity. The copy holds exactly what the
    database holds: ciphertext, ids, days, counters, and the receipt salt it needs to be useful.
    """
    db = _existing_database(data_dir)
    if dest.is_symlink() or dest.exists():
        raise BackupTargetError(f"{dest} exists already; choose a new file name")
    if not dest.parent.is_dir():
        raise BackupTargetError(f"folder {dest.parent} does not exist")
    try:
        fd = os.open(
            dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
    except FileExistsError:
        raise BackupTargetError(f"{dest} exists already; choose a new file name") from None
    os.fchmod(fd, schema.FILE_MODE)
    os.close(fd)
    try:
        source = schema.connect(db)
        try:
            target = sqlite3.connect(dest, isolation_level=None)
            try:
                # the copy's own journal, while it is written, inherits the file's mode 0600
                source.backup(target)
                check = target.execute("PRAGMA integrity_check").fetchone()[0]
                pages = int(target.execute("PRAGMA page_count").fetchone()[0])
            finally:
                target.close()
        finally:
            source.close()
        if check != "ok":
            raise StorageError(f"the backup copy failed its integrity check: {check}")
    except BaseException:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise
    os.chmod(dest, schema.FILE_MODE)
    return BackupResult(path=dest, pages=pages, size=dest.stat().st_size)


@dataclass(frozen=True, slots=True)
class CheckResult:
    integrity: tuple[str, ...]
    version: int
    latest: int
    counts: StoreCounts | None
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.integrity == ("ok",) and not self.problems


def _mode_problems(data_dir: Path, db: Path) -> list[str]:
    problems = []
    dir_mode = stat.S_IMODE(data_dir.stat().st_mode)
    if dir_mode & 0o077:
        problems.append(f"data directory mode is {dir_mode:04o}, not 0700")
    for path in [db, *(db.with_name(db.name + s) for s in schema.SIDE_SUFFIXES)]:
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                problems.append(f"{path.name} mode is {mode:04o}, not 0600")
    for suffix in ("-wal", "-shm"):
        if db.with_name(db.name + suffix).exists():
            problems.append(f"{db.name}{suffix} exists: the database was used in WAL mode")
    return problems


def check_database(data_dir: Path) -> CheckResult:
    """Integrity, schema version, counts by state and file hygiene, without changing anything."""
    db = _existing_database(data_dir)
    problems = _mode_problems(data_dir, db)
    conn = schema.connect(db)
    try:
        integrity = tuple(row[0] for row in conn.execute("PRAGMA integrity_check"))
        version = schema.schema_version(conn)
        latest = schema.latest_version()
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 1:
            problems.append("auto_vacuum is not FULL: freed pages may keep old bytes")
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            problems.append("foreign key check failed")
        counts = None
        if version > latest:
            problems.append(f"schema version {version} is newer than this code knows ({latest})")
        elif version < latest:
            problems.append(f"schema version {version} is older than {latest}; start the bot")
        else:
            conn.execute("BEGIN")
            try:
                counts = count_rows(conn)
            finally:
                conn.execute("COMMIT")
    finally:
        conn.close()
    return CheckResult(
        integrity=integrity, version=version, latest=latest, counts=counts, problems=tuple(problems)
    )
