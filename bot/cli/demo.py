"""``reportbot demo`` and ``reportbot flows try``: the questionnaire in the terminal.

Both run :mod:`bot.terminal.demo` on the same engine as the Telegram bot and end by printing, as
JSON, the answers the engine would hand to sealing. Input comes from the terminal, from stdin when
it is not a terminal (one typed line per input, as in a terminal), or from an answers file
(``--answers FILE``, see ``docs/demo.md``). Any problem is one line on stderr and exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from bot.questionnaire.flow import LANGUAGES, Flow
from bot.questionnaire.loader import FlowLoadError, default_locales_dir, load_flow, load_ui_texts
from bot.terminal.demo import (
    DemoError,
    Item,
    MemorySink,
    Outcome,
    ReportSink,
    Session,
    Texts,
    UiTexts,
    load_answers,
    outcome_json,
    run_lines,
    run_script,
)


class RoundTrip(ReportSink, Protocol):
    """A sink that seals, stores, closes a digest and opens it (``reportbot_analyst.demo``)."""

    def close(self) -> None: ...


RoundTripFactory = Callable[[Path, Flow, str], RoundTrip]
"""Makes the round trip for ``--data DIR``; only the analysts' distribution provides one."""

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout (or install prefix) holding ``flows/`` and ``locales/`` beside ``bot/``."""

DEFAULT_FLOW_ID = "worker_report"

DEFAULT_DEMO_DATA = Path("demo-data")
"""Where an interactive ``reportbot demo`` keeps its database, keys and digests."""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def default_flow_path() -> Path:
    """The shipped default flow, found relative to this package (works from any directory)."""
    return REPO_ROOT / "flows" / f"{DEFAULT_FLOW_ID}.yaml"


def resolve_flow(flow: str | None) -> Path:
    """A flow given as a file, or as an id in the shipped ``flows/``; None is the default."""
    if flow is None:
        return default_flow_path()
    path = Path(flow)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return REPO_ROOT / "flows" / f"{flow}.yaml"


def load_texts(flow_path: Path, locales_dir: Path | None) -> tuple[Flow, UiTexts]:
    """The flow and the ui texts (from its locales, else the shipped ones); FlowLoadError if bad."""
    texts_dir = locales_dir or default_locales_dir(flow_path)
    flow = load_flow(flow_path, texts_dir)
    ui_dir = texts_dir
    if not all((texts_dir / lang / "ui.yaml").is_file() for lang in LANGUAGES):
        ui_dir = REPO_ROOT / "locales"
    return flow, load_ui_texts(ui_dir)


def _terminal_lines(ask: str) -> Iterator[str]:
    while True:
        try:
            yield input(ask)
        except EOFError:
            return


def _choose_language(ui: UiTexts) -> str:
    """Ask the language in the terminal, as the bot does first."""
    click.echo(ui["en"].get("ui.language.prompt", "Choose your language"))
    for n, lang in enumerate(LANGUAGES, start=1):
        click.echo(f"  {n}) {ui[lang].get(f'ui.language.{lang}', lang)}")
    for line in _terminal_lines("> "):
        word = line.strip()
        if word.isdigit() and 1 <= int(word) <= len(LANGUAGES):
            return LANGUAGES[int(word) - 1]
        if word in LANGUAGES:
            return word
    raise DemoError("input ended before a language was chosen")


def _is_interactive(answers: Path | None, is_tty: Callable[[], bool] | None) -> bool:
    """A person at a terminal answers (no answers file, stdin is a terminal)."""
    if answers is not None:
        return False
    if is_tty is not None:
        return is_tty()
    stdin = sys.stdin  # None when the process was started with stdin closed
    return stdin is not None and stdin.isatty()


def _round_trip(
    factory: RoundTripFactory | None, data_dir: Path, flow: Flow, lang: str
) -> RoundTrip:
    """Seal, store, close a digest into data_dir and open it as an analyst would."""
    if factory is None:
        raise DemoError(
            "--data needs the analysts' toolkit (reportbot-analyst), which opens digests"
        )
    return factory(data_dir, flow, lang)


def _run_session(
    session: Session, items: list[Item] | None, answers: Path | None, *, interactive: bool
) -> Outcome:
    """Feed the session from the answers file, the terminal, or stdin's lines."""
    if items is not None:
        return run_script(session, items, str(answers))
    if interactive:
        return run_lines(session, _terminal_lines("> "), echo=False)
    stdin = sys.stdin
    return run_lines(session, stdin if stdin is not None else (), echo=True)


def run_demo(
    flow_path: Path,
    *,
    lang: str | None,
    locales_dir: Path | None = None,
    answers: Path | None = None,
    this_year: int | None = None,
    quiet: bool = False,
    trace: bool = False,
    sink: ReportSink | None = None,
    data_dir: Path | None = None,
    is_tty: Callable[[], bool] | None = None,
    round_trip_factory: RoundTripFactory | None = None,
) -> int:
    """Run the questionnaire once; print the final answers as JSON, then what the sink says
    became of them (with ``--data``: sealed, a digest, the report opened). Returns the exit code."""
    try:
        flow, ui = load_texts(flow_path, locales_dir)
    except FlowLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"error: {flow_path}: the flow does not pass the check; not started", err=True)
        return EXIT_ERROR
    interactive = _is_interactive(answers, is_tty)
    if sink is None and data_dir is None and interactive:
        data_dir = DEFAULT_DEMO_DATA  # a person at a terminal gets the whole round trip
    round_trip: RoundTrip | None = None
    try:
        items = load_answers(answers) if answers is not None else None
        if lang is None:
            lang = _choose_language(ui) if interactive else "en"
        year = this_year if this_year is not None else datetime.now(UTC).year
        show: Callable[[str], None] = (lambda _line: None) if quiet else click.echo
        if sink is None and data_dir is not None:
            sink = round_trip = _round_trip(round_trip_factory, data_dir, flow, lang)
        session = Session(
            flow, Texts(flow, ui), lang, year, sink or MemorySink(), show, trace=trace
        )
        outcome = _run_session(session, items, answers, interactive=interactive)
    except DemoError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("\ninterrupted; nothing was kept", err=True)
        return EXIT_INTERRUPTED
    finally:
        if round_trip is not None:
            round_trip.close()
    if not quiet:
        click.echo("")
    click.echo(outcome_json(flow, lang, outcome))
    if not quiet:  # what became of the answers (the round trip) ends the screen, after the JSON
        for line in session.closing_lines:
            click.echo(line)
    return EXIT_OK


FLOW_HELP = "Flow file, or an id in the shipped flows/ (default: worker_report)."
LOCALES_HELP = "Directory of texts (<lang>/<flow id>.yaml). Default: locales/ beside flows/."
ANSWERS_HELP = "Run without a terminal: a YAML or JSON list of inputs (see docs/demo.md)."
DATA_HELP = (
    "Seal the answers into the database in DIR, close a digest into DIR/digests and open it "
    "with a demo analyst key kept in DIR/keys (made on the first run). Default in a terminal: "
    "demo-data."
)
YEAR_HELP = "Pretend the current year is YEAR (date buttons), for reproducible runs."
TRACE_HELP = "Also show each answer kept and dropped."

_F = TypeVar("_F", bound=Callable[..., Any])


def questionnaire_options(*, lang_default: str | None, lang_help: str) -> Callable[[_F], _F]:
    """The options ``reportbot flows try`` and ``reportbot demo`` share, spelled once:
    ``--lang``, ``--locales``, ``--answers``, ``--year``, ``--trace`` (in that order in --help).

    ``lang_default``: the language when none is given (None: ``run_demo`` asks, or uses English).
    """

    def decorate(command: _F) -> _F:
        for option in reversed(
            [
                click.option(
                    "--lang",
                    type=click.Choice(LANGUAGES),
                    default=lang_default,
                    show_default=lang_default is not None,
                    help=lang_help,
                ),
                click.option(
                    "--locales",
                    "locales_dir",
                    type=click.Path(file_okay=False, path_type=Path),
                    default=None,
                    help=LOCALES_HELP,
                ),
                click.option(
                    "--answers",
                    type=click.Path(dir_okay=False, path_type=Path),
                    default=None,
                    help=ANSWERS_HELP,
                ),
                click.option(
                    "--year",
                    "this_year",
                    type=click.IntRange(1950, 2100),
                    default=None,
                    help=YEAR_HELP,
                ),
                click.option("--trace", is_flag=True, help=TRACE_HELP),
            ]
        ):
            command = option(command)
        return command

    return decorate


@click.command("try")
@click.argument("flow")
@questionnaire_options(lang_default="ko", lang_help="Language.")
def try_flow(
    flow: str,
    lang: str,
    locales_dir: Path | None,
    answers: Path | None,
    this_year: int | None,
    trace: bool,
) -> None:
    """Walk FLOW (a file, or an id in flows/) in the terminal as a reporter would."""
    raise SystemExit(
        run_demo(
            resolve_flow(flow),
            lang=lang,
            locales_dir=locales_dir,
            answers=answers,
            this_year=this_year,
            trace=trace,
        )
    )


def register(group: click.Group) -> None:
    """Add ``try`` to ``reportbot flows`` (``demo`` comes with the analysts' toolkit)."""
    from bot.cli.flows import flows

    flows.add_command(try_flow)
