"""``reportbot db``: back up the database and check its health.

Both commands are safe while the bot runs. Neither prints anything stored: only counts, the
schema version, file modes and SQLite's own integrity verdict.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from storage.errors import StorageError
from storage.maintenance import backup_database, check_database

DATA_DIR_ENV = "REPORTBOT_DATA_DIR"

F = TypeVar("F", bound=Callable[..., Any])


def register(cli: click.Group) -> None:
    cli.add_command(db)


def data_dir_option(func: F) -> F:
    """``--data``: the bot's data directory, for every command that opens the database."""
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("data"),
        envvar=DATA_DIR_ENV,
        show_default=True,
        show_envvar=True,
        help="The bot's data directory (holds reports.sqlite3).",
    )(func)


@click.group()
def db() -> None:
    """The database: online backup and health check."""


@db.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@data_dir_option
def backup(path: Path, data_dir: Path) -> None:
    """Copy the live database to PATH (a new file, mode 0600) with SQLite's online backup."""
    try:
        result = backup_database(data_dir, path)
    except (StorageError, sqlite3.Error, OSError) as exc:
        raise click.ClickException(f"backup failed: {exc}") from None
    click.echo(f"backup written: {result.path} ({result.size} bytes, {result.pages} pages)")
    click.echo(
        "It holds what the database holds: ciphertext, random ids, days and counters. "
        "Keep it as safe as the data directory."
    )


@db.command()
@data_dir_option
def check(data_dir: Path) -> None:
    """Integrity check, schema version, counts by state and file modes. Exit 1 on a problem."""
    try:
        result = check_database(data_dir)
    except (StorageError, sqlite3.Error, OSError) as exc:
        raise click.ClickException(f"check failed: {exc}") from None
    integrity = "ok" if result.integrity == ("ok",) else "FAILED"
    click.echo(f"integrity: {integrity}")
    for line in result.integrity if integrity != "ok" else ():
        click.echo(f"  {line}")
    click.echo(f"schema version: {result.version} (this code: {result.latest})")
    counts = result.counts
    if counts is not None:
        reports = counts.reports
        click.echo(
            f"reports: open {reports['open']}, complete {reports['complete']}, "
            f"interrupted {reports['interrupted']} (carried by a digest: {reports['carried']})"
        )
        click.echo(f"answers: {counts.answers}, attachments: {counts.attachments}")
        digests = counts.digests
        click.echo(
            f"digests: pending {digests['pending']}, posted {digests['posted']}, "
            f"pruned {digests['pruned']}"
        )
        click.echo(f"receipts: {counts.receipts}, replies: {counts.replies}")
    for problem in result.problems:
        click.echo(f"problem: {problem}")
    if not result.ok:
        raise SystemExit(1)
