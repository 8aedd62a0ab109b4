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


def _load_or_exit(path: Path, locales_dir: Path | None, doing: str = "compared") -> Flow:
    try:
        return load_flow(path, locales_dir or default_locales_dir(path))
    except FlowLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{path}: the flow does not pass the check; nothing {doing}", err=True)
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


def _only_flow() -> str:
    found = sorted(p for p in DEFAULT_FLOWS_DIR.glob("*.yaml") if p.stem != "phrasebook")
    if len(found) != 1:
        names = ", ".join(p.stem for p in found) or "none"
        click.echo(f"flows/: name the flow to export (flows here: {names})", err=True)
        raise SystemExit(1)
    return str(found[0])


@flows.command("export")
@click.argument("flow", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The workbook to write. Default: <flow id>.xlsx here.",
)
@click.option("--force", is_flag=True, help="Replace the workbook if it exists.")
@_LOCALES_OPTION
def export(flow: str | None, output: Path | None, force: bool, locales_dir: Path | None) -> None:
    """Write FLOW (a file, or an id in flows/; default: the one flow there) as an XLSForm:
    survey, choices and settings sheets with label::/hint:: columns for ko, ru and en, for
    Excel, LibreOffice and KoboToolbox. `flows import` reads it back unchanged."""
    from bot.flowtools.workbook import write_tables
    from bot.flowtools.xlsform import export_tables

    path = resolve_flow_path(flow or _only_flow())
    loaded = _load_or_exit(path, locales_dir, doing="exported")
    target = output or Path(f"{loaded.id}.xlsx")
    if target.exists() and not force:
        click.echo(f"{target}: exists; nothing written (--force replaces it)", err=True)
        raise SystemExit(1)
    write_tables(export_tables(loaded), target)
    click.echo(
        f"wrote {target}: {loaded.id} version {loaded.version}, {len(loaded.questions)} questions"
    )


@flows.command("import")
@click.argument("form", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--flows-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_FLOWS_DIR,
    show_default=True,
    help="Where the structure file <form_id>.yaml is written.",
)
@_LOCALES_OPTION
@click.option(
    "--force",
    is_flag=True,
    help="Replace the flow's files if they exist (flows diff's words are printed first).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Map and check the workbook and say what would change; write nothing.",
)
def import_(
    form: Path, flows_dir: Path, locales_dir: Path | None, force: bool, dry_run: bool
) -> None:
    """Write a flow (flows/<form_id>.yaml and locales/<lang>/<form_id>.yaml) from the XLSForm
    FORM. Anything that does not map is refused with its sheet, row and column, and nothing is
    written; what was changed on the way (a group flattened) is said."""
    from bot.flowtools.importing import import_form

    texts_dir = locales_dir or flows_dir.parent / "locales"
    lines, problems, written = import_form(form, flows_dir, texts_dir, force=force, dry_run=dry_run)
    for line in lines:
        click.echo(line)
    for line in problems:
        click.echo(line)
    if problems:
        count = len(problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''}; nothing written", err=True)
        raise SystemExit(1)
    for line in written:
        click.echo(line)


def register(group: click.Group) -> None:
    """Add ``flows`` (check, show, diff, export, import) to the ``reportbot`` command group."""
    group.add_command(flows)
