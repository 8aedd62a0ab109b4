"""``reportbot analyst reply``: answer a reporter, sealed to their report's reply key and signed.

Runs on an analyst's machine. The result is a small file to post in the analyst channel; the bot
checks its signature against the analysts' keys, keeps it sealed, and shows it only to whoever
types the report's receipt code. Errors are one line and a non-zero exit.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.keys import key_passphrase_file_option
from bot.sealing.keys import KeyFileError

MAX_TEXT_FILE_BYTES = 64 * 1024


def register(analyst: click.Group) -> None:
    """Add ``reply`` to ``reportbot analyst``."""
    analyst.add_command(reply)


def _write_new(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` or, if taken, ``path`` with -2, -3... before the suffix."""
    candidate = path
    for n in range(2, 1000):
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return candidate
    raise click.ClickException(f"{path}: too many files of that name already")


def _read_text_file(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TEXT_FILE_BYTES:
            raise click.ClickException(f"{path}: too large for a reply (at most 4000 characters)")
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read ({exc.strerror})") from None


@click.command(
    "reply",
    epilog="""\b
Examples:
  reportbot analyst reply 3f2a... --text "Thank you. We read it." --key alice.key --opened ~/reports
  reportbot analyst reply 3f2a... --file reply.txt --key alice.key --opened ~/reports
Then post the reply file it writes in the analyst channel. With --opened WORKSPACE your own
copy of the text stays in the workspace: its report page shows what you replied.""",
)
@click.argument("report_id")
@click.option("--text", help="The reply, as it will be shown to the reporter.")
@click.option(
    "--file",
    "text_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the reply from this UTF-8 text file instead (at most 4000 characters).",
)
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your analyst key file: the reply is signed with it.",
)
@click.option(
    "--opened",
    "opened_dir",
    type=click.Path(path_type=Path),
    help="The folder `reportbot analyst open` wrote (its reports.jsonl has the reply key).",
)
@click.option("--reply-key", help="The report's reply key (rb-reply-pub-v1:...), instead.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the reply file (default: reply-<report>.bin here; never overwritten).",
)
@key_passphrase_file_option
def reply(
    report_id: str,
    text: str | None,
    text_file: Path | None,
    key_path: Path,
    opened_dir: Path | None,
    reply_key: str | None,
    out_path: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Seal a reply to REPORT_ID's reporter and sign it; post the file in the analyst channel."""
    # Imported here, not at the top: the bot process registers this command too.
    from bot.cli.keys import passphrase_source
    from reportbot_analyst.keys import load_analyst_key
    from reportbot_analyst.replies import (
        ReplyInputError,
        clean_reply_text,
        reply_key_from_opened,
        seal_reply,
    )

    report_id = report_id.strip().lower()
    if text is not None and text_file is None:
        body = text
    elif text_file is not None and text is None:
        body = _read_text_file(text_file)
    else:
        raise click.ClickException("give the reply as --text or as --file (one of them)")
    try:
        if reply_key is not None and opened_dir is None:
            key = reply_key
        elif opened_dir is not None and reply_key is None:
            key = reply_key_from_opened(opened_dir, report_id)
        else:
            raise click.ClickException(
                "say where the report's reply key is: --opened DIR (from `analyst open`) "
                "or --reply-key (one of them)"
            )
        analyst = load_analyst_key(
            key_path, passphrase_source(passphrase_file, prompt=f"Passphrase for {key_path}: ")
        )
        today = datetime.now(UTC).date()
        data = seal_reply(analyst, report_id, key, body, day=today)
    except (KeyFileError, ReplyInputError) as exc:
        raise click.ClickException(str(exc)) from None
    target = out_path or Path(f"reply-{report_id[:8]}.bin")
    try:
        written = _write_new(target, data)
    except OSError as exc:
        raise click.ClickException(f"{target}: cannot write ({exc.strerror})") from None
    click.echo(f"reply to report {report_id}, signed by your key {analyst.public.fingerprint}")
    click.echo(f"written to {written}: post this file in the analyst channel (as a file)")
    if opened_dir is not None and opened_dir.is_dir():
        from reportbot_analyst.threads import keep_written

        try:
            kept = keep_written(
                opened_dir,
                data,
                report=report_id,
                day=today,
                text=clean_reply_text(body),
                signer=analyst.key_id,
            )
        except OSError as exc:
            message = f"{opened_dir}: cannot keep your copy ({exc.strerror})"
            raise click.ClickException(message) from None
        click.echo(f"your own copy (nobody else can read the reply): {kept}")
