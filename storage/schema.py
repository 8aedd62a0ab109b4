"""The database file: where it lives, how it is secured, which pragmas every connection uses,
and the numbered migrations that build its schema.

This module is synchronous (plain ``sqlite3``): the async store runs :func:`prepare_database` once
in a worker thread at start, and the ``reportbot db`` commands use :func:`connect` directly.
See ``docs/storage.md`` for why each pragma is set the way it is.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import quote

from storage.errors import SchemaError, UnsafeFileError

DB_FILENAME = "reports.sqlite3"
SIDE_SUFFIXES = ("-journal", "-wal", "-shm")
"""Files SQLite may create beside the database. In DELETE journal mode only ``-journal`` appears,
and only while a write transaction is open."""

FILE_MODE = 0o600
DIR_MODE = 0o700
BUSY_TIMEOUT_MS = 30_000

CONNECTION_PRAGMAS: tuple[str, ...] = (
    # schema code (CHECKs, defaults) may use only functions marked innocuous
    "PRAGMA trusted_schema = OFF",
    "PRAGMA foreign_keys = ON",
    # deleted content is overwritten with zeros in the database file (and so in the journal)
    "PRAGMA secure_delete = ON",
    # sorting and temporary tables stay in memory: no stray temp files outside the data dir
    "PRAGMA temp_store = MEMORY",
    # rollback journal, deleted at each commit: no -wal holding old pages between checkpoints
    "PRAGMA journal_mode = DELETE",
    # fsync the journal and the database at each commit: a committed report survives a crash of
    # the process and of the machine
    "PRAGMA synchronous = FULL",
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA cell_size_check = ON",
)

_FORBIDDEN_FIRST_WORDS = frozenset(
    {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "VACUUM", "ATTACH", "DETACH"}
)
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(folder: Traversable | None = None) -> tuple[Migration, ...]:
    """Every ``storage/migrations/NNNN_name.sql``, checked to be numbered 1, 2, 3... with no gap.

    A migration runs inside the transaction the runner opens, so it must not open or end one
    itself, nor set ``user_version`` (the runner does, in the same transaction).
    """
    if folder is None:
        folder = resources.files("storage") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is None:
            raise SchemaError(f"migration file name {entry.name!r} is not NNNN_name.sql")
        sql = entry.read_text(encoding="utf-8")
        for statement in _statements(sql):
            words = re.findall(r"[A-Za-z_]+", _code_of(statement))
            if (
                not words
                or words[0].upper() in _FORBIDDEN_FIRST_WORDS
                or "user_version" in statement.lower()
            ):
                raise SchemaError(
                    f"migration {entry.name} must not manage transactions or versions"
                )
        found.append(Migration(int(match.group(1)), match.group(2), sql))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise SchemaError("migrations must be numbered 0001, 0002, ... without gaps")
    return tuple(found)


def latest_version() -> int:
    return len(load_migrations())


def database_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME


def _refuse_symlink(path: Path) -> None:
    if path.is_symlink():
        raise UnsafeFileError(f"{path} is a symbolic link; refusing to use it")


def secure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (mode 0700) and the database file (mode 0600) if missing, and
    tighten the modes of what exists. Returns the database path."""
    _refuse_symlink(data_dir)
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(data_dir, DIR_MODE)
    db = database_path(data_dir)
    _refuse_symlink(db)
    # O_NOFOLLOW: never create or open the database through a planted link
    fd = os.open(db, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFileError(f"{db} is not a regular file")
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in SIDE_SUFFIXES:
        _tighten_side_file(db.with_name(db.name + suffix))
    return db


def _tighten_side_file(side: Path) -> None:
    """Tighten a side file's mode if it exists at this instant.

    SQLite deletes ``-journal`` at every commit, so another connection (or process) may remove it
    at any moment: no "exists, then chmod". The file is opened without following a link and
    without creating it, checked to be a regular file, and changed through that descriptor; a file
    already gone is simply not there to tighten. (SQLite holds no lock on ``-journal``, so opening
    and closing it here cannot drop one; in DELETE mode ``-wal`` and ``-shm`` do not appear.)
    """
    try:
        fd = os.open(side, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(f"{side} is a symbolic link; refusing to use it") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFileError(f"{side} is not a regular file")
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def connect(db: Path, *, must_exist: bool = True) -> sqlite3.Connection:
    """A plain connection with every pragma of :data:`CONNECTION_PRAGMAS`, in autocommit mode
    (transactions are opened explicitly). ``must_exist`` refuses to create a missing file."""
    uri = f"file:{quote(db.resolve().as_posix())}?mode={'rw' if must_exist else 'rwc'}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        for pragma in CONNECTION_PRAGMAS:
            conn.execute(pragma)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "delete":
            raise SchemaError(f"could not set the journal mode to DELETE (it is {mode})")
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()
    return bool(row[0])


def migrate(
    conn: sqlite3.Connection,
    *,
    target: int | None = None,
    migrations: Sequence[Migration] | None = None,
) -> int:
    """Bring the schema up to ``target`` (default: the latest), one migration per transaction.

    Returns the version reached. Safe to run from several processes at once: each step re-reads
    the version under the write lock. ``migrations`` replaces the packaged ones (tests only).
    """
    if migrations is None:
        migrations = load_migrations()
    goal = len(migrations) if target is None else target
    if not 0 <= goal <= len(migrations):
        raise SchemaError(f"no schema version {goal}")
    conn.execute("BEGIN")  # read the version and the tables from one snapshot
    try:
        current = schema_version(conn)
        foreign = current == 0 and _has_tables(conn)
    finally:
        conn.execute("COMMIT")
    if current > len(migrations):
        raise SchemaError(
            f"the database has schema version {current}, newer than this code knows "
            f"({len(migrations)}); use a newer reportbot"
        )
    if foreign:
        raise SchemaError("the file holds tables but no reportbot schema version")
    if current == 0:
        # must precede the first table; a database made without it is converted below
        conn.execute("PRAGMA auto_vacuum = FULL")
    elif conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 1:
        conn.execute("PRAGMA auto_vacuum = FULL")
        conn.execute("VACUUM")
    for migration in migrations[current:goal]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= migration.version:  # another process got here first
                conn.execute("ROLLBACK")
                continue
            # executescript would COMMIT first; run statement by statement inside our transaction
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 1:
        raise SchemaError("auto_vacuum is not FULL; freed pages would keep old bytes")
    return schema_version(conn)


def _code_of(statement: str) -> str:
    """The statement without its ``--`` comment lines (migrations use no block comments)."""
    return "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))


def _statements(sql: str) -> list[str]:
    """Split a migration into statements with SQLite's own completeness test."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        not ln.strip() or ln.strip().startswith("--") for ln in buffer.splitlines()
    ):
        raise SchemaError("a migration ends with an incomplete statement")
    return statements


def prepare_database(data_dir: Path) -> Path:
    """Secure the data directory, create or upgrade the database, and check it is fit to use."""
    db = secure_data_dir(data_dir)
    conn = connect(db)
    try:
        migrate(conn)
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise SchemaError("the database breaks its own foreign keys")
    finally:
        conn.close()
    return db
