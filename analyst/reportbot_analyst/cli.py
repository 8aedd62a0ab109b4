"""``reportbot analyst``: verify and open digests, on an analyst's machine.

Every error is one line and a non-zero exit, never a traceback. ``reportbot_analyst`` (the code that
opens anything) is imported inside the commands only, so the bot process never loads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.keys import key_passphrase_file_option
from bot.questionnaire.flow import LANGUAGES
from bot.sealing.keys import BOT_PUB_FILE, BotVerifyKey, KeyFileError, load_bot_verify_key

if TYPE_CHECKING:
    from reportbot_analyst.assembly import OpenResult
    from reportbot_analyst.inputs import Inputs
    from reportbot_analyst.verifying import VerifyResult
    from reportbot_analyst.workspace import Added

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


def _pinned_bot_key(bot_key: str | None, folders: Sequence[Path]) -> BotVerifyKey:
    """``--bot-key``, else the environment, else the first ``bot.pub`` in ``folders`` (the key
    files' folders, the workspace: ``open`` keeps the key it verified with there)."""
    spec = bot_key or os.environ.get(BOT_KEY_ENV)
    if not spec:
        beside = [f / BOT_PUB_FILE for f in folders if (f / BOT_PUB_FILE).is_file()]
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


def _gathered(files: Sequence[Path]) -> Inputs:
    """Files, folders and Telegram Desktop exports as the files to verify; notices on stderr."""
    from reportbot_analyst.inputs import InputError, gather

    try:
        inputs = gather(files)
    except InputError as exc:
        raise click.ClickException(str(exc)) from None
    for notice in inputs.notices:
        click.echo(f"warning: {notice}", err=True)
    return inputs


@analyst.command(
    "verify",
    epilog="""\b
Examples:
  reportbot analyst verify ~/Downloads/Telegram\\ Desktop/ChatExport_2026-12-03
  reportbot analyst verify 000041.bin 000042.bin --bot-key ~/reportbot-keys/bot.pub
  reportbot analyst verify export/ --workspace ~/reports --json""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--bot-key",
    help=f"The bot's verify key (bot.pub, or its rb-bot-verify-v1: text; or set {BOT_KEY_ENV}).",
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also count the digests already opened into this workspace (and its bot.pub).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, then a summary.")
def verify(
    files: tuple[Path, ...], bot_key: str | None, workspace: Path | None, as_json: bool
) -> None:
    """Check signatures and the sequence of digests; no analyst key needed.

    Exits non-zero when a file is rejected, when two digests share a number, and when a
    digest is missing (with the command that asks the operator for it)."""
    # Imported here, not at the top: the bot process registers this group too.
    from reportbot_analyst.ledger import read_ledger
    from reportbot_analyst.verifying import verify_files
    from reportbot_analyst.workspace import resend_hint

    pinned = _pinned_bot_key(bot_key, [workspace] if workspace is not None else [])
    known = read_ledger(workspace, pinned) if workspace is not None and workspace.is_dir() else {}
    result = verify_files(_gathered(files).files, pinned, known=known)
    for outcome in result.outcomes:
        d = outcome.digest
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "file": str(outcome.path),
                        "status": outcome.status,
                        "seq": d.seq if d is not None else None,
                        "day": d.day.isoformat() if d is not None else None,
                        "message": outcome.message,
                    },
                    ensure_ascii=False,
                )
            )
        elif outcome.status == "ok" and d is not None:
            click.echo(
                f"ok        {outcome.path}: digest #{d.seq} of {d.day.isoformat()}, "
                f"{len(d.entries)} entries, {d.size} bytes"
            )
        elif outcome.status in ("duplicate", "seen") or outcome.status in ("envelope", "other"):
            click.echo(f"{outcome.status:<9} {outcome.path}: {outcome.message}")
        elif outcome.status == "conflict":
            click.echo(f"{outcome.path}: {outcome.message}", err=True)
        else:
            click.echo(f"REJECTED  {outcome.path}: {outcome.message}", err=True)
    for notice in result.notices:
        click.echo(f"warning: {notice}", err=True)
    numbers = sorted({o.digest.seq for o in result.outcomes if o.digest is not None} | set(known))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "summary": True,
                    "digests": numbers,
                    "missing": [n for a, b in result.missing for n in range(a, b + 1)],
                    "rejected": len(result.rejected),
                    "conflicts": len(result.conflicts),
                }
            )
        )
    elif numbers and not result.missing:
        click.echo(f"sequence: #{numbers[0]}-#{numbers[-1]}, no gap")
    if result.conflicts:
        raise click.ClickException(
            f"{len(result.conflicts)} digest(s) re-use a number with different content: "
            "see ALARM above"
        )
    if result.rejected:
        raise click.ClickException(f"{len(result.rejected)} file(s) rejected")
    if not numbers:
        raise click.ClickException("no valid digest given")
    if result.missing:
        raise click.ClickException(resend_hint(result.missing))


def _summary(added: Added, result: OpenResult, out_dir: Path, as_json: bool) -> None:
    """What one ``open`` did and what the workspace holds: lines, or one JSON object."""
    held = [d.seq for d in result.verify.accepted]
    statuses = [r.status for r in result.reports]
    summary = {
        "workspace": str(out_dir),
        "added": added.new,
        "already": len(added.verify.seen) + len(added.verify.duplicates),
        "digests": held,
        "missing": [n for a, b in result.verify.missing for n in range(a, b + 1)],
        "reports": len(result.reports),
        **{status: statuses.count(status) for status in ("complete", "interrupted", "unclosed")},
        "attachments": sum(len(r.attachments) for r in result.reports),
        "duplicate_records": result.duplicate_records,
        "replaced_answers": result.superseded,
        "not_for_your_keys": result.not_for_key,
        "conflicts": len(added.verify.conflicts),
        "rejected": len(added.verify.rejected),
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    click.echo(
        f"added {len(added.new)} new digest(s)"
        + (f" (#{added.new[0]}-#{added.new[-1]})" if added.new else "")
        + f", {summary['already']} already in the workspace; "
        f"workspace: {len(held)} digest(s) (#{held[0]}-#{held[-1]}), "
        f"{len(result.reports)} report(s) ({summary['complete']} complete, "
        f"{summary['interrupted']} interrupted, {summary['unclosed']} unclosed), "
        f"{summary['attachments']} attachment(s)"
    )
    click.echo(
        f"dropped: {result.duplicate_records} duplicate record(s), "
        f"{result.superseded} replaced answer(s)"
        + (
            f", {result.not_for_key} envelope(s) sealed to none of your keys"
            if result.not_for_key
            else ""
        )
    )
    click.echo(f"written to {out_dir}")


def _report_files(verified: VerifyResult) -> None:
    """Rejected files, conflicts and notices: one line each, on stderr. Seen and duplicate
    digests are the normal routine: counted in the summary, not listed."""
    for outcome in verified.rejected:
        label = "" if outcome.status == "conflict" else "REJECTED "
        click.echo(f"{label}{outcome.path}: {outcome.message}", err=True)
    for notice in verified.notices:
        click.echo(f"warning: {notice}", err=True)


@analyst.command(
    "open",
    epilog="""\b
Examples:
  reportbot analyst open ~/Downloads/Telegram\\ Desktop/ChatExport_2026-12-03 \\
      --key ~/reportbot-keys/alice.key --out ~/reports --lang ko
  reportbot analyst open 000042.bin 000043.bin --key alice.key --out ~/reports --html
  reportbot analyst open export/ --key alice.key --out ~/reports --json --no-progress
Open the same export again tomorrow, with more digests: only the new ones are added.""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--key",
    "key_paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your analyst key file (NAME.key); repeat it to also use retired keys.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The workspace folder (made mode 700; keep it on an encrypted disk). It only grows.",
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
    help="Flow files or folders, only for digests of older bots that carry no flow snapshot.",
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
@click.option(
    "--html", is_flag=True, help="Also write the offline HTML report (WORKSPACE/html/index.html)."
)
@key_passphrase_file_option
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
@click.option(
    "--json", "as_json", is_flag=True, help="The summary as one JSON object (warnings on stderr)."
)
def open_cmd(
    files: tuple[Path, ...],
    key_paths: tuple[Path, ...],
    out_dir: Path,
    bot_key: str | None,
    flow_paths: tuple[Path, ...],
    locales_dir: Path | None,
    lang: str,
    html: bool,
    passphrase_file: Path | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Add digests to the workspace OUT and write every report in it, in your language.

    FILES are digest files, folders, or a Telegram Desktop export of the channel (its folder
    or result.json). Digests already in the workspace are skipped silently; a different digest
    under a number already there is refused loudly; missing numbers are listed with the
    command that asks for them."""
    # Imported here, not at the top: the bot process registers this group too.
    from bot.cli.keys import passphrase_source
    from reportbot_analyst.assembly import open_digests
    from reportbot_analyst.catalog import FlowCatalog, shipped_flows_dir
    from reportbot_analyst.flows import read_workspace_flows
    from reportbot_analyst.keys import load_analyst_key
    from reportbot_analyst.output import write_output
    from reportbot_analyst.threads import colleagues_beside
    from reportbot_analyst.verifying import NothingToOpenError, ToolkitError
    from reportbot_analyst.workspace import Workspace, resend_hint

    pinned = _pinned_bot_key(bot_key, [*(p.parent for p in key_paths), out_dir])
    inputs = _gathered(files)
    try:
        keys = [
            load_analyst_key(
                path, passphrase_source(passphrase_file, prompt=f"Passphrase for {path}: ")
            )
            for path in key_paths
        ]
        given = bool(flow_paths)
        if not given:
            shipped = shipped_flows_dir()
            flow_paths = (shipped,) if shipped is not None else ()
        catalog, flow_problems = FlowCatalog.load(list(flow_paths), locales_dir)
        if not given:
            flow_problems = []  # a checkout's flows/ is a courtesy; its other files are not flows
        kept, kept_problems = read_workspace_flows(out_dir)
        for flow in kept:
            catalog.add(flow)
        for problem in [*flow_problems, *kept_problems]:
            click.echo(f"warning: {problem}", err=True)
        workspace = Workspace(out_dir, pinned)
        added = workspace.add(inputs.files, days=inputs.days)
        _report_files(added.verify)
        colleagues = colleagues_beside(key_paths)
        result = open_digests(
            workspace.files(), keys, pinned, progress=progress, colleagues=colleagues
        )
        write_output(result, out_dir, catalog, lang, pinned)
        if html:
            from reportbot_analyst.html import write_html
            from reportbot_analyst.private import write_private

            flows = {(f.id, f.version): f for f in catalog}
            write_html(result.documents, out_dir, flows, lang, write_private)
    except NothingToOpenError as exc:
        _report_files(exc.verify)
        raise click.ClickException(str(exc)) from None
    except (KeyFileError, ToolkitError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or out_dir}: {exc.strerror}") from None
    for notice in result.notices:
        click.echo(f"warning: {notice}", err=True)
    _summary(added, result, out_dir, as_json)
    if result.verify.missing:
        click.echo(f"warning: {resend_hint(result.verify.missing)}", err=True)
    if added.verify.conflicts:
        raise click.ClickException(
            f"{len(added.verify.conflicts)} digest(s) re-use a number with different content: "
            "see ALARM above; nothing from them was used"
        )
    if added.verify.rejected:
        raise click.ClickException(
            f"{len(added.verify.rejected)} file(s) rejected; nothing from them used"
        )
