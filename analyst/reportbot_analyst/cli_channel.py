"""``reportbot analyst verify-channel``: open a channel challenge on an analyst's machine."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.keys import key_passphrase_file_option, passphrase_source
from bot.sealing.keys import KeyFileError, load_bot_verify_key


def register(analyst: click.Group) -> None:
    """Add ``verify-channel`` to ``reportbot analyst``."""
    analyst.add_command(verify_channel)


@click.command(
    "verify-channel",
    epilog="""\b
Examples:
  reportbot analyst verify-channel verify-1.bin --key ~/reportbot-keys/alice.key \\
      --bot-key ~/reportbot-keys/bot.pub --channel -1001234567890
  reportbot analyst verify-channel verify-*.bin --key alice.key --bot-key bot.pub \\
      --channel -1001234567890   (only yours opens)""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your analyst key file.",
)
@click.option(
    "--bot-key",
    required=True,
    envvar="REPORTBOT_BOT_KEY",
    help="The bot's public key (bot.pub or its text), compared aloud at setup.",
)
@click.option(
    "--channel",
    "channel_id",
    required=True,
    type=int,
    help="The analyst channel's numeric id (-100...) you were told out of band.",
)
@key_passphrase_file_option
def verify_channel(
    files: tuple[Path, ...],
    key_path: Path,
    bot_key: str,
    channel_id: int,
    passphrase_file: Path | None,
) -> None:
    """Check a channel challenge (verify-N.bin) and print the code to send to the bot.

    The challenge must be signed by the pinned bot key and name the channel you give."""
    # Imported here: `reportbot run` registers the commands, and must never load the opening code.
    from reportbot_analyst.channel import ChallengeError, describe, read_challenge_file
    from reportbot_analyst.keys import load_analyst_key

    try:
        pinned = load_bot_verify_key(bot_key)
        key = load_analyst_key(
            key_path, passphrase_source(passphrase_file, prompt=f"Passphrase for {key_path}: ")
        )
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    opened = 0
    for path in files:
        try:
            challenge = read_challenge_file(path, [key], pinned, channel_id)
        except ChallengeError as exc:
            click.echo(f"skipped: {exc}", err=True)
            continue
        opened += 1
        click.echo(f"{path}:")
        for line in describe(challenge):
            click.echo(f"  {line}" if line else "")
    if not opened:
        raise click.ClickException("no challenge for your key among the files given")
