"""``reportbot keys``: make the analysts' and the bot's keys, and show fingerprints.

Analysts' key pairs are made by ``reportbot keys new-analyst``, which the analysts' distribution
(``reportbot_analyst.cli_keys``) adds to this group: the server's install has no such command.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.sealing.keys import (
    ANALYST_PUBLIC_PREFIX,
    ANALYST_SECRET_TYPE,
    BOT_SIGNING_TYPE,
    BOT_VERIFY_PREFIX,
    KeyFileError,
    check_private_file,
    new_bot_key,
    parse_analyst_public_key,
    parse_bot_verify_key,
    read_key_text,
)

PASSPHRASE_ENV = "REPORTBOT_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
"""For scripts: the passphrase of an analyst key file (prefer --passphrase-file)."""

key_passphrase_file_option = click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Read the key's passphrase from this file's first line (or {PASSPHRASE_ENV}).",
)
"""``--passphrase-file`` for the commands that open an analyst key (see ``passphrase_source``)."""


def register(cli: click.Group) -> None:
    cli.add_command(keys)


def _read_passphrase_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read the passphrase file ({exc})") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise click.ClickException(f"{path}: the passphrase file is empty")
    return lines[0]


def passphrase_source(
    passphrase_file: Path | None, *, prompt: str, confirm: bool = False
) -> Callable[[], str]:
    """Where a passphrase comes from: a file, ``REPORTBOT_PASSPHRASE``, or the terminal.

    Returned as a function, so nothing is asked unless a key file is protected.
    """

    def get() -> str:
        if passphrase_file is not None:
            return _read_passphrase_file(passphrase_file)
        from_env = os.environ.get(PASSPHRASE_ENV)
        if from_env:
            return from_env
        if not sys.stdin.isatty():
            raise click.ClickException(
                f"no passphrase: give --passphrase-file or set {PASSPHRASE_ENV} "
                "(no terminal to ask on)"
            )
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("Same passphrase again: ") != first:
            raise click.ClickException("the two passphrases differ; nothing was written")
        return first

    return get


@click.group("keys")
def keys() -> None:
    """Make and show keys: analysts' key pairs, the bot's signing key."""


@keys.command("new-bot")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder to write bot.key (private, mode 600) and bot.pub (to pin) into.",
)
def new_bot(out_dir: Path) -> None:
    """Make the bot's signing key; analysts pin bot.pub to check digests."""
    try:
        key, key_path, pub_path = new_bot_key(out_dir)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"signing key: {key_path} (mode 600; for the bot only)")
    click.echo(f"verify key:  {pub_path} (give to analysts to pin)")
    click.echo(key.public.token())
    click.echo(f"key id:      {key.key_id.hex()}")
    click.echo(f"fingerprint: {key.public.fingerprint}")


@keys.command("new-pepper")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder to write receipt.pepper (private, mode 600) into: the bot's key folder.",
)
def new_pepper(out_dir: Path) -> None:
    """Make the receipt pepper; keep it beside bot.key, never in the data directory."""
    from bot.receipts.pepper import new_pepper_file

    try:
        path = new_pepper_file(out_dir)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"receipt pepper: {path} (mode 600; for the bot only; set REPORTBOT_RECEIPT_PEPPER)")
    click.echo("back it up with bot.key, not with the database: without it no receipt opens")


def describe_key_file(path: Path) -> str:
    """One line: what the file is, its key id and fingerprint. Never asks a passphrase."""
    text = read_key_text(path)
    token = text.strip()
    if token.startswith(ANALYST_PUBLIC_PREFIX):
        pub = parse_analyst_public_key(token, source=str(path))
        return f"{path}: analyst public key, id {pub.key_id.hex()}, fingerprint {pub.fingerprint}"
    if token.startswith(BOT_VERIFY_PREFIX):
        bot = parse_bot_verify_key(token, source=str(path))
        return f"{path}: bot verify key, id {bot.key_id.hex()}, fingerprint {bot.fingerprint}"
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    kind = doc.get("type") if isinstance(doc, dict) else None
    public = doc.get("public") if isinstance(doc, dict) else None
    if kind not in (ANALYST_SECRET_TYPE, BOT_SIGNING_TYPE) or not isinstance(public, str):
        raise KeyFileError(f"{path}: not a reportbot key file")
    check_private_file(path)
    if kind == ANALYST_SECRET_TYPE:
        pub = parse_analyst_public_key(public, source=str(path))
        protected = isinstance(doc, dict) and doc.get("protection") == "argon2id"
        return (
            f"{path}: analyst PRIVATE key ({'passphrase' if protected else 'NO passphrase'}), "
            f"id {pub.key_id.hex()}, fingerprint {pub.fingerprint}"
        )
    bot = parse_bot_verify_key(public, source=str(path))
    return f"{path}: bot signing key, id {bot.key_id.hex()}, fingerprint {bot.fingerprint}"


@keys.command("show")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def show(paths: tuple[Path, ...]) -> None:
    """Print each key file's kind, key id and fingerprint (compare fingerprints aloud)."""
    failed = 0
    for path in paths:
        try:
            click.echo(describe_key_file(path))
        except KeyFileError as exc:
            click.echo(f"error: {exc}", err=True)
            failed += 1
    if failed:
        raise SystemExit(1)
