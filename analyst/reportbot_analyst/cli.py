"""``reportbot analyst``: verify and open digests, on an analyst's machine.

Every error is one line and a non-zero exit, never a traceback. ``reportbot_analyst`` (the code that
opens anything) is imported inside the commands only, so the bot process never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.keys import key_passphrase_file_option
from bot.questionnaire.flow import LANGUAGES
from bot.sealing.keys import BOT_PUB_FILE, BotVerifyKey, KeyFileError, load_bot_verify_key

if TYPE_CHECKING:
    from reportbot_analyst.toolkit import VerifyResult

BOT_KEY_ENV = "REPORTBOT_BOT_KEY"


def register(cli: click.Group) -> None:
    """The ``reportbot.commands`` entry point: every command of the analysts' distribution."""
    from reportbot_analyst import cli_channel, cli_demo, cli_keys, cli_reply

    cli.add_command(analyst)
    cli_channel.register(analyst)
    cli_reply.register(analyst)
    cli_keys.register()
    cli_demo.register(cli)


@click.group("analyst")
def analyst() -> None:
    """Verify and open digests saved from the analyst channel (analysts' machines only)."""


def _expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder stands for the files in it (sorted, not recursive)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            out.append(path)
    return out


def _pinned_bot_key(bot_key: str | None, key_paths: Sequence[Path]) -> BotVerifyKey:
    spec = bot_key or os.environ.get(BOT_KEY_ENV)
    if not spec:
        beside = [p.parent / BOT_PUB_FILE for p in key_paths if (p.parent / BOT_PUB_FILE).is_file()]
        if not beside:
            raise click.ClickException(
                f"no pinned bot key: pass --bot-key (bot.pub or its text), set {BOT_KEY_ENV}, "
                f"or put {BOT_PUB_FILE} next to your key file"
            )
        spec = str(beside[0])
    try:
        return load_bot_verify_key(spec)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None


@analyst.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--bot-key",
    help=f"The bot's verify key (bot.pub, or its rb-bot-verify-v1: text; or set {BOT_KEY_ENV}).",
)
def verify(files: tuple[Path, ...], bot_key: str | None) -> None:
    """Check signatures and the sequence of digests; no analyst key needed."""
    # Imported here, not at the top: the bot process registers this group too.
    from reportbot_analyst.toolkit import format_ranges, verify_files

    pinned = _pinned_bot_key(bot_key, [])
    result = verify_files(_expand(files), pinned)
    for outcome in result.outcomes:
        if outcome.status == "ok" and outcome.digest is not None:
            d = outcome.digest
            click.echo(
                f"ok        {outcome.path}: digest #{d.seq} of {d.day.isoformat()}, "
                f"{len(d.entries)} entries, {d.size} bytes"
            )
        elif outcome.status == "duplicate":
            click.echo(f"duplicate {outcome.path}: {outcome.message}")
        elif outcome.status == "envelope":
            click.echo(f"envelope  {outcome.path}: separate attachment envelope")
        else:
            click.echo(f"REJECTED  {outcome.path}: {outcome.message}", err=True)
    for notice in result.notices:
        click.echo(f"warning: {notice}", err=True)
    accepted = result.accepted
    if result.missing:
        click.echo(f"warning: missing digests: {format_ranges(result.missing)}", err=True)
    elif accepted:
        click.echo(f"sequence: #{accepted[0].seq}-#{accepted[-1].seq}, no gap")
    if result.rejected:
        raise click.ClickException(f"{len(result.rejected)} file(s) rejected")
    if not accepted:
        raise click.ClickException("no valid digest given")


def _report_files(verified: VerifyResult) -> None:
    """Rejected and duplicate files, notices and gaps: one line each, on stderr."""
    from reportbot_analyst.toolkit import format_ranges

    for outcome in verified.rejected:
        click.echo(f"REJECTED {outcome.path}: {outcome.message}", err=True)
    for outcome in verified.duplicates:
        click.echo(f"duplicate {outcome.path}: {outcome.message}", err=True)
    for notice in verified.notices:
        click.echo(f"warning: {notice}", err=True)
    if verified.missing:
        click.echo(f"warning: missing digests: {format_ranges(verified.missing)}", err=True)


@analyst.command("open")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--key",
    "key_paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your analyst key file; repeat it to also use retired keys for older digests.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for reports.jsonl, reports-<flow>.csv and attachments/ (made mode 700).",
)
@click.option(
    "--bot-key",
    help=f"The bot's verify key (default: {BOT_PUB_FILE} next to your key, or {BOT_KEY_ENV}).",
)
@click.option(
    "--flows",
    "flow_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Flow files or folders for labels of digests that carry no flow snapshot (older bots). "
    "Repeatable; not needed otherwise: digests carry their flows.",
)
@click.option(
    "--locales",
    "locales_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Texts for --flows (default: locales/ beside the flows folder).",
)
@click.option(
    "--lang", type=click.Choice(LANGUAGES), default="en", show_default=True, help="Labels in."
)
@key_passphrase_file_option
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
def open_cmd(
    files: tuple[Path, ...],
    key_paths: tuple[Path, ...],
    out_dir: Path,
    bot_key: str | None,
    flow_paths: tuple[Path, ...],
    locales_dir: Path | None,
    lang: str,
    passphrase_file: Path | None,
    progress: bool,
) -> None:
    """Verify, decrypt and reassemble reports from digests into OUT."""
    # Imported here, not at the top: the bot process registers this group too.
    from bot.cli.keys import passphrase_source
    from reportbot_analyst.flows import read_workspace_flows
    from reportbot_analyst.keys import load_analyst_key
    from reportbot_analyst.toolkit import (
        FlowCatalog,
        NothingToOpenError,
        ToolkitError,
        open_digests,
        read_ledger,
        shipped_flows_dir,
        write_output,
    )

    pinned = _pinned_bot_key(bot_key, key_paths)
    try:
        keys = [
            load_analyst_key(
                path, passphrase_source(passphrase_file, prompt=f"Passphrase for {path}: ")
            )
            for path in key_paths
        ]
        if not flow_paths:
            shipped = shipped_flows_dir()
            flow_paths = (shipped,) if shipped is not None else ()
        catalog, flow_problems = FlowCatalog.load(list(flow_paths), locales_dir)
        kept, kept_problems = read_workspace_flows(out_dir)
        for flow in kept:
            catalog.add(flow)
        for problem in [*flow_problems, *kept_problems]:
            click.echo(f"warning: {problem}", err=True)
        known = read_ledger(out_dir, pinned) if out_dir.is_dir() else {}
        result = open_digests(_expand(files), keys, pinned, known=known, progress=progress)
        write_output(result, out_dir, catalog, lang, pinned)
    except NothingToOpenError as exc:
        _report_files(exc.verify)
        raise click.ClickException(str(exc)) from None
    except (KeyFileError, ToolkitError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or out_dir}: {exc.strerror}") from None
    verified = result.verify
    _report_files(verified)
    for notice in result.notices:
        click.echo(f"warning: {notice}", err=True)
    accepted = verified.accepted
    statuses = [r.status for r in result.reports]
    click.echo(
        f"opened {len(accepted)} digest(s) (#{accepted[0].seq}-#{accepted[-1].seq}): "
        f"{len(result.reports)} report(s) ({statuses.count('complete')} complete, "
        f"{statuses.count('interrupted')} interrupted, {statuses.count('unclosed')} unclosed), "
        f"{sum(len(r.attachments) for r in result.reports)} attachment(s)"
    )
    dropped = (
        f"dropped: {len(verified.duplicates)} duplicate digest(s), "
        f"{result.duplicate_records} duplicate record(s), {result.superseded} replaced answer(s)"
    )
    click.echo(dropped)
    click.echo(f"written to {out_dir}")
    if verified.rejected:
        raise click.ClickException(
            f"{len(verified.rejected)} file(s) rejected; nothing from them used"
        )
