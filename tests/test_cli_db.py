"""``reportbot db backup`` and ``reportbot db check``."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import db as cli_db
from storage import ReportState, SqliteReportStore, schema
from storage.schema import DB_FILENAME


@pytest.fixture
def db_cli() -> click.Group:
    group = click.Group("reportbot")
    cli_db.register(group)
    return group


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that would leave new files world-readable unless the code sets modes itself."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


async def _fill(data_dir: Path) -> bytes:
    async with await SqliteReportStore.open(data_dir) as store:
        kept = await store.open_report()
        await store.put_answer(kept, 3, b"sealed answer bytes")
        await store.close_report(kept, ReportState.COMPLETE, b"sealed manifest")
        await store.open_report()
        await store.add_digest(1, [b"signed digest"], [kept])
        return bytes.fromhex(kept)


def test_db_commands_are_registered_on_reportbot() -> None:
    from bot import cli

    cli._register()
    assert "db" in cli.cli.commands
    group = cli.cli.commands["db"]
    assert isinstance(group, click.Group)
    assert set(group.commands) == {"backup", "check"}


@pytest.mark.usefixtures("loose_umask")
async def test_backup_is_a_private_complete_copy(db_cli: click.Group, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    kept = await _fill(data_dir)
    dest = tmp_path / "copy.sqlite3"
    result = CliRunner().invoke(db_cli, ["db", "backup", str(dest), "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "backup written" in result.output
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    conn = sqlite3.connect(dest)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        row = conn.execute("SELECT envelope FROM answer WHERE report_id = ?", (kept,)).fetchone()
        assert row[0] == b"sealed answer bytes"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 1
    finally:
        conn.close()
    # the copy is a working data directory of its own
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    dest.rename(restored / DB_FILENAME)
    check = CliRunner().invoke(db_cli, ["db", "check", "--data", str(restored)])
    assert check.exit_code == 0, check.output
    assert "reports: open 1, complete 1, interrupted 0 (carried by a digest: 1)" in check.output


async def test_backup_never_overwrites_an_existing_file(
    db_cli: click.Group, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    await _fill(data_dir)
    dest = tmp_path / "precious"
    dest.write_bytes(b"somebody's file")
    result = CliRunner().invoke(db_cli, ["db", "backup", str(dest), "--data", str(data_dir)])
    assert result.exit_code == 1
    assert "exists already" in result.output
    assert "Traceback" not in result.output
    assert dest.read_bytes() == b"somebody's file"


async def test_backup_through_a_planted_symlink_is_refused(
    db_cli: click.Group, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    await _fill(data_dir)
    target = tmp_path / "elsewhere"
    link = tmp_path / "link.sqlite3"
    link.symlink_to(target)
    result = CliRunner().invoke(db_cli, ["db", "backup", str(link), "--data", str(data_dir)])
    assert result.exit_code == 1
    assert not target.exists()


def test_backup_without_a_database_says_so(db_cli: click.Group, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        db_cli, ["db", "backup", str(tmp_path / "x"), "--data", str(tmp_path / "none")]
    )
    assert result.exit_code == 1
    assert "no database at" in result.output
    assert not (tmp_path / "x").exists()


async def test_check_shows_version_and_counts_by_state(
    db_cli: click.Group, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    await _fill(data_dir)
    monkeypatch.setenv(cli_db.DATA_DIR_ENV, str(data_dir))
    result = CliRunner().invoke(db_cli, ["db", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "integrity: ok" in lines
    assert any(line.startswith(f"schema version: {schema.latest_version()}") for line in lines)
    assert "reports: open 1, complete 1, interrupted 0 (carried by a digest: 1)" in lines
    assert "answers: 1, attachments: 0" in lines
    assert "digests: pending 1, posted 0, pruned 0" in lines
    assert "sealed" not in result.output  # counts only, never content


def test_check_creates_nothing_where_there_is_no_database(
    db_cli: click.Group, tmp_path: Path
) -> None:
    result = CliRunner().invoke(db_cli, ["db", "check", "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "no database at" in result.output
    assert list(tmp_path.iterdir()) == []


async def test_check_flags_a_database_others_can_read(db_cli: click.Group, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await _fill(data_dir)
    os.chmod(data_dir / DB_FILENAME, 0o644)
    result = CliRunner().invoke(db_cli, ["db", "check", "--data", str(data_dir)])
    assert result.exit_code == 1
    assert "problem: reports.sqlite3 mode is 0644, not 0600" in result.output


def test_check_of_a_file_that_is_not_a_database_is_one_clear_line(
    db_cli: click.Group, tmp_path: Path
) -> None:
    tmp_path.chmod(0o700)
    (tmp_path / DB_FILENAME).write_bytes(b"this is not sqlite" * 100)
    (tmp_path / DB_FILENAME).chmod(0o600)
    result = CliRunner().invoke(db_cli, ["db", "check", "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "check failed:" in result.output
    assert "Traceback" not in result.output
