"""``reportbot demo``: the questionnaire in the terminal, then the analysts' side of the round trip.

The questionnaire part is :func:`bot.cli.demo.run_demo` (the server has it too, as
``reportbot flows try``); ``--data`` seals, stores, closes a digest and opens it with a demo analyst
key, which needs this distribution's opening code.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.demo import (
    DATA_HELP,
    FLOW_HELP,
    RoundTrip,
    questionnaire_options,
    resolve_flow,
    run_demo,
)
from bot.questionnaire.flow import Flow


@click.command(
    "demo",
    epilog="""\b
Examples:
  reportbot demo                      (answer in the terminal, see what analysts get)
  reportbot demo --lang ko --data demo-data""",
)
@questionnaire_options(lang_default=None, lang_help="Language (else asked).")
@click.option("--flow", "flow", default=None, help=FLOW_HELP)
@click.option("--quiet", is_flag=True, help="Print only the final JSON.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="REPORTBOT_DEMO_DATA",
    help=DATA_HELP,
)
def demo(
    lang: str | None,
    flow: str | None,
    locales_dir: Path | None,
    answers: Path | None,
    this_year: int | None,
    quiet: bool,
    trace: bool,
    data_dir: Path | None,
) -> None:
    """Answer the questionnaire in the terminal, on the same engine as the bot.

    Ends by printing, as JSON, the answers the engine would hand to sealing. Numbers choose,
    b = back, s = skip, d = done, q = quick exit, ? = help; anything else is typed text.
    """
    raise SystemExit(
        run_demo(
            resolve_flow(flow),
            lang=lang,
            locales_dir=locales_dir,
            answers=answers,
            this_year=this_year,
            quiet=quiet,
            trace=trace,
            data_dir=data_dir,
            round_trip_factory=_round_trip,
        )
    )


def _round_trip(data_dir: Path, flow: Flow, lang: str) -> RoundTrip:
    # Imported here: `reportbot run` registers the commands, and must never load the opening code.
    from reportbot_analyst.demo import RoundTripSink

    return RoundTripSink(data_dir, flow, lang)


def register(group: click.Group) -> None:
    """Add ``demo`` to ``reportbot``."""
    group.add_command(demo)
