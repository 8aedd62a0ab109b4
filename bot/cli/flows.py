"""``reportbot flows``: check flow files, show a flow as an outline or a diagram, compare two
versions, and bring flows in from and out to XLSForm.

Every problem is one line ``file:line: id: problem. Fix: how`` and a non-zero exit; never a
traceback. Other command modules may add subcommands to :data:`flows` (e.g. ``flows try``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.questionnaire.flow import LANGUAGES, Flow
from bot.questionnaire.loader import FlowLoadError, check_flows, default_locales_dir, load_flow
from bot.questionnaire.outline import dot, mermaid, outline

DEFAULT_FLOWS_DIR = Path("flows")

_LOCALES_OPTION = click.option(
    "--locales",
    "locales_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of texts (<lang>/<flow id>.yaml). Default: locales/ beside the flows folder.",
)


@click.group("flows")
def flows() -> None:
    """Check and show question flows (flows/*.yaml with texts in locales/<lang>/)."""


@flows.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_LOCALES_OPTION
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object (problems with file, line, where, message, fix; flows that "
    "passed) for editors and CI. The exit status is the same.",
)
def check(paths: tuple[Path, ...], locales_dir: Path | None, as_json: bool) -> None:
    """Check flow files or directories of them (default: flows/).

    Prints one line per problem (file:line: question or text id: problem. Fix: how) and exits 1
    if there is any; otherwise prints each flow's id, version and number of questions.
    """
    from bot.phrasebook.loader import check_phrasebooks

    report = check_flows(paths or (DEFAULT_FLOWS_DIR,), locales_dir)
    book_problems, books = check_phrasebooks(paths or (DEFAULT_FLOWS_DIR,), locales_dir)
    problems = [*report.problems, *book_problems]
    if as_json:
        document = {
            "ok": not problems,
            "problems": [problem.as_json() for problem in problems],
            "flows": [
                {
                    "id": flow.id,
                    "version": flow.version,
                    "questions": len(flow.questions),
                    "file": flow.source,
                }
                for flow in report.flows
            ],
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        raise SystemExit(1 if problems else 0)
    if problems:
        for problem in problems:
            click.echo(str(problem))
        count = len(problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
        raise SystemExit(1)
    for flow in report.flows:
        n = len(flow.questions)
        click.echo(f"ok  {flow.id}  version {flow.version}  {n} questions  ({flow.source})")
    for book in books:
        click.echo(f"ok  phrasebook  {len(book.spec.topics)} topics  {book.phrase_count} phrases")


def resolve_flow_path(flow: str) -> Path:
    """A flow given as a file path, or as an id looked up as flows/<id>.yaml."""
    path = Path(flow)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return DEFAULT_FLOWS_DIR / f"{flow}.yaml"


@flows.command("show")
@click.argument("flow")
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="ko",
    show_default=True,
    help="Language of the texts shown.",
)
@click.option(
    "--diagram",
    type=click.Choice(["mermaid", "dot"]),
    default=None,
    help="Write the branch diagram as Mermaid or Graphviz (dot) text instead of the outline.",
)
@_LOCALES_OPTION
def show(flow: str, lang: str, diagram: str | None, locales_dir: Path | None) -> None:
    """Print FLOW (a file, or an id in flows/) as a numbered outline, or as a diagram."""
    path = resolve_flow_path(flow)
    try:
        loaded = load_flow(path, locales_dir or default_locales_dir(path))
    except FlowLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{path}: the flow does not pass the check; nothing shown", err=True)
        raise SystemExit(1) from None
    if diagram == "mermaid":
        click.echo(mermaid(loaded, lang), nl=False)
    elif diagram == "dot":
        click.echo(dot(loaded, lang), nl=False)
    else:
        click.echo(outline(loaded, lang), nl=False)


def _load_or_exit(path: Path, locales_dir: Path | None) -> Flow:
    try:
        return load_flow(path, locales_dir or default_locales_dir(path))
    except FlowLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{path}: the flow does not pass the check; nothing compared", err=True)
        raise SystemExit(1) from None


@flows.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--old-locales",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Texts of OLD. Default: locales/ beside OLD's folder.",
)
@click.option(
    "--new-locales",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Texts of NEW. Default: locales/ beside NEW's folder.",
)
def diff(old: Path, new: Path, old_locales: Path | None, new_locales: Path | None) -> None:
    """What changed from flow file OLD to NEW: questions added, removed, moved, reworded,
    choices and conditions changed, in every language. Both must pass the check."""
    from bot.flowtools.diff import flow_diff

    before = _load_or_exit(old, old_locales)
    after = _load_or_exit(new, new_locales)
    for line in flow_diff(before, after):
        click.echo(line)


def register(group: click.Group) -> None:
    """Add ``flows`` (check, show) to the ``reportbot`` command group."""
    group.add_command(flows)
