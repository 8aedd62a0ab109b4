"""``reportbot keys new-analyst``: make an analyst's key pair (on the analyst's machine)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from bot.cli.keys import PASSPHRASE_ENV, keys, passphrase_source
from bot.sealing.keys import KeyFileError

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def register() -> None:
    """Add ``new-analyst`` to ``reportbot keys``."""
    keys.add_command(new_analyst)


@click.command(
    "new-analyst",
    epilog="""\b
Examples:
  reportbot keys new-analyst --out ~/reportbot-keys --name alice
  (asks for a passphrase twice; give alice.pub to the operator, keep alice.key)""",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder to write NAME.key (private, mode 600) and NAME.pub (public) into.",
)
@click.option("--name", default="analyst", show_default=True, help="File name stem.")
@click.option(
    "--no-passphrase", is_flag=True, help="Leave the private key unprotected (not advised)."
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Read the passphrase from this file's first line (or set {PASSPHRASE_ENV}).",
)
@click.option(
    "--kdf-limits",
    type=click.Choice(["moderate", "interactive", "min"]),
    default="moderate",
    hidden=True,  # "min" is for tests only
)
def new_analyst(
    out_dir: Path,
    name: str,
    no_passphrase: bool,
    passphrase_file: Path | None,
    kdf_limits: str,
) -> None:
    """Make an analyst's key pair; give the .pub file to whoever runs the bot."""
    # Imported here: `reportbot run` registers the commands, and must never load the key code.
    from reportbot_analyst.keys import KDF_LIMITS, new_analyst_key

    if not _NAME_RE.fullmatch(name):
        raise click.ClickException("--name: use 1-64 letters, digits, _ or -")
    if kdf_limits not in KDF_LIMITS:  # pragma: no cover - click checks the choice
        raise click.ClickException("--kdf-limits: unknown")
    passphrase = None
    if not no_passphrase:
        passphrase = passphrase_source(
            passphrase_file, prompt="New passphrase for the key: ", confirm=True
        )()
    try:
        key, key_path, pub_path = new_analyst_key(
            out_dir,
            name,
            passphrase,
            limits=kdf_limits,
        )
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    public = key.public
    protection = "no passphrase" if passphrase is None else "passphrase-protected"
    click.echo(f"private key: {key_path} (mode 600, {protection}; keep it off the server)")
    click.echo(f"public key:  {pub_path}")
    click.echo(public.token())
    click.echo(f"key id:      {public.key_id.hex()}")
    click.echo(f"fingerprint: {public.fingerprint}")
