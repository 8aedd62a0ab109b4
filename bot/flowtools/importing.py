"""``reportbot flows import FORM.xlsx``: an XLSForm read, mapped, checked and written as our
files, or refused with every problem by sheet, row and column and nothing written."""

from __future__ import annotations

import re
from pathlib import Path

from bot.flowtools.diff import flow_diff
from bot.flowtools.workbook import WorkbookError, read_tables
from bot.flowtools.xlsform import Imported, import_tables, tables_version_note
from bot.flowtools.yamlout import flow_yaml, texts_yaml
from bot.questionnaire.flow import LANGUAGES, Flow
from bot.questionnaire.loader import FlowLoadError, load_flow


def _default_id(form: Path) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", form.stem.lower()).strip("_")
    return slug if re.fullmatch(r"[a-z][a-z0-9_]*", slug) else f"f_{slug}"


def read_form(form: Path) -> Imported:
    """The XLSForm at ``form`` mapped onto a flow (or its problems); WorkbookError if unreadable."""
    return import_tables(read_tables(form), form.name, _default_id(form))


def _existing(path: Path, locales_dir: Path) -> Flow | None:
    try:
        return load_flow(path, locales_dir)
    except FlowLoadError:
        return None


def import_form(
    form: Path, flows_dir: Path, locales_dir: Path, *, force: bool, dry_run: bool = False
) -> tuple[list[str], list[str], list[str]]:
    """Notes, problems and what was written (one line each); nothing is written on a problem,
    nor with ``dry_run`` (which says what would change and be written)."""
    try:
        imported = read_form(form)
    except WorkbookError as exc:
        return [], [f"{exc}. Fix: save it as an Excel workbook (.xlsx)"], []
    notes = [str(note) for note in imported.notes]
    if imported.spec is None:
        return notes, [str(problem) for problem in imported.problems], []
    flow = Flow(spec=imported.spec, texts=imported.texts, source=form.name)
    version_note = tables_version_note(imported, flow, form.name)
    if version_note is not None:
        notes.append(str(version_note))
    target = flows_dir / f"{flow.id}.yaml"
    text_files = {lang: locales_dir / lang / f"{flow.id}.yaml" for lang in LANGUAGES}
    present = [p for p in (target, *text_files.values()) if p.exists()]
    old = _existing(target, locales_dir) if present else None
    changes = flow_diff(old, flow) if old is not None else []
    if dry_run:
        would = [f"would write {path}" for path in (target, *text_files.values())]
        ok = f"ok  {flow.id}  version {flow.version}  {len(flow.questions)} questions"
        return [*notes, *changes], [], [*would, ok]
    if present and not force:
        return (
            [*notes, *changes],
            [f"{present[0]}: exists. Fix: add --force to replace the flow's files"],
            [],
        )
    flows_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(flow_yaml(flow.spec, form.name), "utf-8")
    for lang, path in text_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts_yaml(flow.spec, flow.texts[lang], lang), "utf-8")
    again = load_flow(target, locales_dir)  # what was written passes the check, as written
    written = [f"wrote {target}", *(f"wrote {path}" for path in text_files.values())]
    written.append(f"ok  {again.id}  version {again.version}  {len(again.questions)} questions")
    return notes, [], written
