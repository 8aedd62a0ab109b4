"""The ``reportbot`` command line: one click group, each subcommand group in its own module.

Modules register themselves here by import so that a new capability adds one line below.
Every command reports errors as one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reportbot")
def cli() -> None:
    """reportbot: anonymous abuse reports over Telegram, sealed to analysts' keys."""


def _register() -> None:
    # One line per command module; keep imports local so `reportbot --help` stays fast.
    from bot import cli_analyst, cli_db, cli_demo, cli_flows, cli_keys, cli_run

    cli_flows.register(cli)
    cli_keys.register(cli)
    cli_analyst.register(cli)
    cli_run.register(cli)
    cli_db.register(cli)
    from bot import cli_reply  # analyst replies (receipts)

    cli_reply.register(cli)
    cli_demo.register(cli)
    from bot import cli_digests  # digests outbox, analyst channel

    cli_digests.register(cli)
    from bot import cli_doctor  # reportbot doctor: health of an installation

    cli_doctor.register(cli)


def main() -> None:
    # python-telegram-bot 22 warns on every RetryAfter unless durations are opted into timedelta;
    # our code reads both forms (bot.delivery.retry_after_seconds), so opt in for the process.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    _register()
    cli()
