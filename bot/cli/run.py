"""``reportbot run``: start the bot with long polling, or behind a webhook when one is configured.

Settings are read once here (environment, ``.env``, secrets directory) and passed down; a bad
one stops the start with one line naming it, never its value. The heavy imports (Telegram,
aiohttp, the store) happen inside the command, so ``reportbot --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final, ParamSpec, TypeVar

import click

DEFAULT_SECRETS_DIR: Final = Path("/run/secrets")

P = ParamSpec("P")
R = TypeVar("R")


def register(cli: click.Group) -> None:
    cli.add_command(run)


def settings_options(func: Callable[P, R]) -> Callable[P, R]:
    """``--env-file`` and ``--secrets-dir``, as every command that reads the settings takes them."""
    func = click.option(
        "--secrets-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        envvar="REPORTBOT_SECRETS_DIR",
        help="Directory with one file per secret setting (default: /run/secrets when present).",
    )(func)
    return click.option(
        "--env-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=Path(".env"),
        show_default=True,
        help="Settings file (REPORTBOT_* lines); skipped when it does not exist.",
    )(func)


def secrets_dir_or_default(secrets_dir: Path | None) -> Path | None:
    """The ``--secrets-dir`` given, else ``/run/secrets`` when that directory exists."""
    if secrets_dir is None and DEFAULT_SECRETS_DIR.is_dir():
        return DEFAULT_SECRETS_DIR
    return secrets_dir


@click.command("run")
@settings_options
def run(env_file: Path, secrets_dir: Path | None) -> None:
    """Run the bot: long polling, or a webhook when REPORTBOT_WEBHOOK_URL is set."""
    import asyncio
    import logging

    from telegram.error import TelegramError

    from bot.ops.hardening import HardeningError, forbid_core_dumps
    from bot.ops.logging import configure_logging, install_exception_hooks, log_exception
    from bot.ops.settings import ENV_PREFIX, SettingsError, load_settings
    from bot.server import load_everything, serve
    from storage.errors import StorageError

    log = logging.getLogger("bot.run")
    try:
        # before any secret is read: a crash must never write answers or keys into a core file
        hardening = forbid_core_dumps()
    except (HardeningError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot forbid core dumps: {exc}") from None
    secrets_dir = secrets_dir_or_default(secrets_dir)
    try:
        settings = load_settings(env_file=env_file, secrets_dir=secrets_dir)
        configure_logging(settings.log_level, settings.log_format)
        install_exception_hooks()
        log.info(
            "process_hardened",
            extra={
                "fields": {
                    "core_limit": hardening.core_limit,
                    "dumpable": "unknown" if hardening.dumpable is None else hardening.dumpable,
                }
            },
        )
        loaded = load_everything(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        asyncio.run(serve(loaded))
    except (StorageError, OSError) as exc:
        incident = log_exception(log, "bot_failed", exc)
        raise click.ClickException(
            f"the bot stopped: {type(exc).__name__} (incident {incident})"
        ) from None
    except TelegramError as exc:
        incident = log_exception(log, "bot_failed", exc)
        raise click.ClickException(
            f"the bot stopped: Telegram said no ({type(exc).__name__}, incident {incident}); "
            f"check {ENV_PREFIX}TOKEN and {ENV_PREFIX}API_URL"
        ) from None
