"""The ``reportbot`` command line: one click group, each subcommand group in its own module.

Modules register themselves here by import so that a new capability adds one line below.
Every command reports errors as one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reportbot")
def cli() -> None:
    """reportbot: anonymous abuse reports over Telegram, sealed to analysts' keys."""


COMMANDS_ENTRY_POINTS = "reportbot.commands"
"""Entry-point group through which another distribution adds commands (``reportbot-analyst``)."""


def _register() -> None:
    # One line per command module; keep imports local so `reportbot --help` stays fast.
    from bot.cli import db, demo, digests, doctor, flows, keys, run

    flows.register(cli)
    keys.register(cli)
    run.register(cli)
    db.register(cli)
    demo.register(cli)
    digests.register(cli)
    doctor.register(cli)
    # The analysts' commands (open, verify, reply, new-analyst, demo) live in their own
    # distribution, so the server's install has none of the code that opens envelopes.
    for entry_point in entry_points(group=COMMANDS_ENTRY_POINTS):
        entry_point.load()(cli)


def main() -> None:
    # python-telegram-bot 22 warns on every RetryAfter unless durations are opted into timedelta;
    # our code reads both forms (bot.delivery.outbox.retry_after_seconds), so opt in for the
    # process.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    _register()
    cli()
