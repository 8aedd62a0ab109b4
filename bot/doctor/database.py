"""The data directory and the database, read with plain ``sqlite3`` (no migration, no chmod):
present, writable, integrity, schema version, file modes, pragmas; and the recorded channel
verification."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from bot.doctor.result import Check, fail, ok, skip
from bot.ops.settings import ENV_PREFIX, Settings
from storage import schema
from storage.base import ChannelBinding
from storage.errors import StorageError
from storage.maintenance import NoDatabaseError, check_database, waiting_digests

PRAGMAS_EXPECTED: Final[dict[str, object]] = {
    "secure_delete": 1,
    "trusted_schema": 0,
    "foreign_keys": 1,
    "journal_mode": "delete",
    "synchronous": 2,  # FULL
    "auto_vacuum": 1,  # FULL
    "temp_store": 2,  # MEMORY
}
"""What every connection to the database must report (``storage.schema.CONNECTION_PRAGMAS`` and
the schema's own ``auto_vacuum``); ``docs/storage.md`` says why each one."""


def check_data_dir(settings: Settings) -> Check:
    data_dir = settings.data_dir
    name = "data directory"
    if not data_dir.exists():
        return fail(
            name,
            f"{data_dir} does not exist",
            f"create it (mode 0700, owned by the bot's user) or correct {ENV_PREFIX}DATA_DIR",
        )
    if data_dir.is_symlink() or not data_dir.is_dir():
        return fail(name, f"{data_dir} is not a plain directory", "use a real directory")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return fail(
            name,
            f"{data_dir} is not writable by this user (uid {os.getuid()})",
            f"chown {os.getuid()} {data_dir}; chmod 700 {data_dir}",
        )
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        return fail(name, f"{data_dir} has mode {mode:04o}", f"chmod 700 {data_dir}")
    return ok(name, f"{data_dir}, mode 0700, writable")


def _pragmas(db: Path) -> dict[str, object]:
    conn = schema.connect(db)
    try:
        found: dict[str, object] = {}
        for pragma in PRAGMAS_EXPECTED:
            row = conn.execute(f"PRAGMA {pragma}").fetchone()  # names are the constants above
            found[pragma] = row[0] if row else None
        return found
    finally:
        conn.close()


def check_database_health(settings: Settings) -> list[Check]:
    db = schema.database_path(settings.data_dir)
    restore = (
        "stop the bot, move the damaged file aside (do not delete it), restore the newest "
        "backup (docs/backups.md), start the bot, run `reportbot doctor` again"
    )
    try:
        result = check_database(settings.data_dir)
    except NoDatabaseError:
        return [
            fail(
                "database",
                f"no database at {db}",
                "start the bot once (`reportbot run` creates it), or restore a backup",
            )
        ]
    except sqlite3.DatabaseError as exc:
        return [fail("database", f"{db} is damaged: SQLite says '{exc}'", restore)]
    except (StorageError, OSError) as exc:
        return [fail("database", f"{db}: {exc}", restore)]
    checks: list[Check] = []
    if result.integrity != ("ok",):
        found = [
            line.strip()
            for entry in result.integrity
            for line in entry.splitlines()
            if line.strip() and not line.startswith("***")
        ]
        shown = "; ".join(found[:2])[:200] or "no answer"
        more = f" (and {len(found) - 2} more)" if len(found) > 2 else ""
        checks.append(
            fail("database", f"{db} failed SQLite's integrity check: {shown}{more}", restore)
        )
    else:
        checks.append(ok("database", f"{db}: integrity ok"))
    if result.version != result.latest:
        fix = (
            "start the bot: it upgrades the schema at start (take a backup first)"
            if result.version < result.latest
            else "this reportbot is older than the database: install the newer version again"
        )
        checks.append(
            fail(
                "database schema",
                f"version {result.version}, this reportbot expects {result.latest}",
                fix,
            )
        )
    else:
        checks.append(ok("database schema", f"version {result.version} (current)"))
    if result.problems:
        checks.extend(
            fail(
                "database files",
                problem,
                "chmod 700 the data directory and 600 its files; see docs/storage.md",
            )
            for problem in result.problems
        )
    else:
        checks.append(ok("database files", "modes 0600, no leftover -wal/-shm"))
    try:
        pragmas = _pragmas(db)
    except (sqlite3.Error, StorageError) as exc:
        checks.append(fail("database pragmas", f"cannot read them ({exc})", restore))
        return checks
    wrong = {k: v for k, v in pragmas.items() if v != PRAGMAS_EXPECTED[k]}
    if wrong:
        shown = ", ".join(f"{k}={v} (want {PRAGMAS_EXPECTED[k]})" for k, v in wrong.items())
        checks.append(
            fail(
                "database pragmas",
                shown,
                "this SQLite build or the file ignores a pragma the bot relies on; "
                "use the container image or a Python with a standard SQLite",
            )
        )
    else:
        checks.append(ok("database pragmas", ", ".join(f"{k}={v}" for k, v in pragmas.items())))
    return checks


def read_channel_binding(settings: Settings) -> ChannelBinding | None:
    """The recorded channel verification, read with plain sqlite3 (nothing is written)."""
    db = schema.database_path(settings.data_dir)
    if not db.is_file():
        return None
    conn = schema.connect(db)
    try:
        with contextlib.suppress(sqlite3.OperationalError):  # an old schema has no such table
            row = conn.execute(
                "SELECT channel_id, key_fingerprints, verified_day FROM channel_binding"
            ).fetchone()
            if row is not None:
                return ChannelBinding(
                    channel_id=int(row[0]),
                    key_fingerprints=tuple(f for f in str(row[1]).split(",") if f),
                    verified_day=date.fromisoformat(str(row[2])),
                )
        return None
    finally:
        conn.close()


def check_waiting_digests(settings: Settings, today: date | None = None) -> Check:
    """How many digests wait to be posted and since when (issue 17.8): more than a day means the
    channel checks hold them. Not part of ``--quick``: a restart would not post them."""
    db = schema.database_path(settings.data_dir)
    if not db.is_file():
        return skip("digests waiting", "no database yet")
    try:
        count, oldest = waiting_digests(db)
    except (sqlite3.Error, StorageError, OSError) as exc:
        detail = f"cannot read the outbox ({type(exc).__name__})"
        return fail("digests waiting", detail, "see the database checks above")
    if count == 0 or oldest is None:
        return ok("digests waiting", "none: every digest closed so far is posted")
    today = today or datetime.now(UTC).date()
    line = f"{count} digest(s) wait, the oldest since {oldest.isoformat()}"
    if (today - oldest).days < 1:
        return ok("digests waiting", f"{line} (posting)")
    return fail(
        "digests waiting",
        f"{line}: nothing has been posted since; the channel checks hold them (nothing is lost)",
        "fix the failing channel check below (`reportbot doctor` names it), or verify the channel "
        "again (`reportbot channel verify`); the bot then posts every waiting digest in order",
    )
