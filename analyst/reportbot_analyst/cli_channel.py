"""``reportbot analyst verify-channel``: open a channel challenge on an analyst's machine."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.keys import key_passphrase_file_option, passphrase_source
from bot.sealing.keys import KeyFileError


def register(analyst: click.Group) -> None:
    """Add ``verify-channel`` to ``reportbot analyst``."""
    analyst.add_command(verify_channel)


@click.command(
    "verify-channel",
    epilog="""\b
Examples:
  reportbot analyst verify-channel verify-1.bin --key ~/reportbot-keys/alice.key
  reportbot analyst verify-channel verify-*.bin --key alice.key   (only yours opens)""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your analyst key file.",
)
@key_passphrase_file_option
def verify_channel(files: tuple[Path, ...], key_path: Path, passphrase_file: Path | None) -> None:
    """Open a channel challenge (verify-N.bin) and print the code to send to the bot."""
    # Imported here: `reportbot run` registers the commands, and must never load the opening code.
    from reportbot_analyst.channel import ChallengeError, describe, read_challenge_file
    from reportbot_analyst.keys import load_analyst_key

    try:
        key = load_analyst_key(
            key_path, passphrase_source(passphrase_file, prompt=f"Passphrase for {key_path}: ")
        )
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    opened = 0
    for path in files:
        try:
            challenge = read_challenge_file(path, [key])
        except ChallengeError as exc:
            click.echo(f"skipped: {exc}", err=True)
            continue
        opened += 1
        click.echo(f"{path}:")
        for line in describe(challenge):
            click.echo(f"  {line}" if line else "")
    if not opened:
        raise click.ClickException("no challenge for your key among the files given")
