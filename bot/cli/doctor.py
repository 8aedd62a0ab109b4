"""``reportbot doctor [--quick]``: one line per check with its fix; exit 1 if any check fails.

Reads the settings exactly as ``reportbot run`` does (``--env-file``, ``--secrets-dir``, default
``/run/secrets`` when present). ``--quick`` makes no network call: it is the container's health
check (``HEALTHCHECK`` in the Dockerfile).
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.run import secrets_dir_or_default, settings_options


def register(cli: click.Group) -> None:
    cli.add_command(doctor)


@click.command("doctor")
@click.option("--quick", is_flag=True, help="Skip the checks that call Telegram (health check).")
@settings_options
def doctor(quick: bool, env_file: Path, secrets_dir: Path | None) -> None:
    """Check settings, keys, flow, database, Telegram and the analyst channel."""
    import asyncio

    from bot.doctor import diagnose, fail
    from bot.ops.settings import SettingsError, load_settings

    secrets_dir = secrets_dir_or_default(secrets_dir)
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
