"""``reportbot doctor [--quick]``: one line per check with its fix; exit 1 if any check fails.

Reads the settings exactly as ``reportbot run`` does (``--env-file``, ``--secrets-dir``, default
``/run/secrets`` when present). ``--quick`` makes no network call: it is the container's health
check (``HEALTHCHECK`` in the Dockerfile).
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli_run import DEFAULT_SECRETS_DIR


def register(cli: click.Group) -> None:
    cli.add_command(doctor)


@click.command("doctor")
@click.option("--quick", is_flag=True, help="Skip the checks that call Telegram (health check).")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path(".env"),
    show_default=True,
    help="Settings file (REPORTBOT_* lines); skipped when it does not exist.",
)
@click.option(
    "--secrets-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="REPORTBOT_SECRETS_DIR",
    help="Directory with one file per secret setting (default: /run/secrets when present).",
)
def doctor(quick: bool, env_file: Path, secrets_dir: Path | None) -> None:
    """Check settings, keys, flow, database, Telegram and the analyst channel."""
    import asyncio

    from bot.doctor import diagnose, fail
    from bot.settings import SettingsError, load_settings

    if secrets_dir is None and DEFAULT_SECRETS_DIR.is_dir():
        secrets_dir = DEFAULT_SECRETS_DIR
    try:
        settings = load_settings(env_file=env_file, secrets_dir=secrets_dir)
    except SettingsError as exc:
        click.echo(fail("settings", str(exc), "correct that setting; docs/deploying.md").line())
        click.echo("doctor: the settings are wrong, nothing else was checked")
        raise SystemExit(1) from None
    click.echo("[ ok ] settings: read")
    report = asyncio.run(diagnose(settings, quick=quick))
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)
