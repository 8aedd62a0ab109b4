"""Reading the phrasebook: ``flows/phrasebook.yaml`` and ``locales/<lang>/phrasebook.yaml``.

The same strict YAML as the questionnaire (``bot.questionnaire.loader``: YAML 1.2 booleans, no
aliases, no duplicate keys, bounded size and nesting) and the same ``file:line: id: problem``
messages. The glossary (``locales/glossary.yaml``) gives the Southern forms a Korean text must
not use and the words the cover must never show.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from bot.phrasebook.model import (
    PHRASEBOOK_ID,
    Forbidden,
    Issue,
    Phrasebook,
    PhrasebookSpec,
    phrasebook_issues,
)
from bot.questionnaire.flow import LANGUAGES
from bot.questionnaire.loader import (
    FlowLoadError,
    Problem,
    _display,  # the questionnaire's reader, shared on purpose: one set of YAML rules
    _parse,
    _read_texts,
    _text_line,
    _TextFile,
    default_locales_dir,
)

GLOSSARY_FILE = "glossary.yaml"
FILE_NAME = f"{PHRASEBOOK_ID}.yaml"


def is_phrasebook_file(path: Path) -> bool:
    return path.name in (FILE_NAME, f"{PHRASEBOOK_ID}.yml")


def read_glossary(locales_dir: Path) -> tuple[list[str], Forbidden, list[Problem]]:
    """The checked Southern forms and the cover's forbidden words from the glossary."""
    path = locales_dir / GLOSSARY_FILE
    parsed = _parse(path, construct=True)
    if not parsed.ok:
        return [], Forbidden({}), list(parsed.problems)
    data = parsed.data if isinstance(parsed.data, dict) else {}
    southern: list[str] = []
    for term in data.get("terms") or []:
        if isinstance(term, dict) and term.get("check", True) is not False:
            southern += [str(form) for form in term.get("south") or []]
    raw = data.get("cover_forbidden")
    problems: list[Problem] = []
    words: dict[str, tuple[str, ...]] = {}
    if not isinstance(raw, dict) or any(lang not in raw for lang in LANGUAGES):
        problems.append(
            Problem(
                parsed.file,
                None,
                "cover_forbidden",
                f"the glossary needs cover_forbidden with word lists for {', '.join(LANGUAGES)}",
            )
        )
    else:
        words = {lang: tuple(str(w) for w in raw[lang] or ()) for lang in LANGUAGES}
    return southern, Forbidden(words), problems


def read_forbidden(locales_dir: Path) -> Forbidden:
    """The cover's forbidden words; FlowLoadError if the glossary lacks them."""
    _, forbidden, problems = read_glossary(locales_dir)
    if problems:
        raise FlowLoadError(problems)
    return forbidden


def _problem(issue: Issue, structure: str, texts: dict[str, _TextFile]) -> Problem:
    if issue.lang is None or issue.lang not in texts:
        return Problem(structure, None, issue.where, issue.message)
    text_file = texts[issue.lang]
    line = _text_line(text_file.parsed.node, issue.text_id) if issue.text_id else None
    return Problem(text_file.parsed.file, line, issue.where, issue.message)


def _load(path: Path, locales_dir: Path) -> tuple[Phrasebook | None, list[Problem]]:
    parsed = _parse(path, construct=True)
    problems = list(parsed.problems)
    spec: PhrasebookSpec | None = None
    if parsed.ok:
        try:
            spec = PhrasebookSpec.model_validate(parsed.data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                loc = ".".join(str(p) for p in error["loc"]) or "phrasebook"
                msg = str(error["msg"]).removeprefix("Value error, ")
                problems.append(Problem(parsed.file, None, loc, msg))
    texts, text_problems = _read_texts(locales_dir, FILE_NAME)
    problems += text_problems
    southern, forbidden, glossary_problems = read_glossary(locales_dir)
    problems += glossary_problems
    if spec is None or problems:
        return None, problems
    tables = {lang: dict(text_file.table) for lang, text_file in texts.items()}
    for issue in phrasebook_issues(spec, tables, southern, forbidden):
        problems.append(_problem(issue, parsed.file, texts))
    if problems:
        return None, problems
    return Phrasebook(spec=spec, texts=tables), []


def load_phrasebook(path: Path, locales_dir: Path) -> Phrasebook:
    """Read and check the phrasebook; FlowLoadError naming file and line for every problem."""
    book, problems = _load(path, locales_dir)
    if book is None:
        raise FlowLoadError(problems)
    return book


def phrasebook_files(paths: Iterable[Path]) -> list[Path]:
    """The phrasebook files among these flow files and directories."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and is_phrasebook_file(p))
        elif path.is_file() and is_phrasebook_file(path):
            found.append(path)
    return found


def check_phrasebooks(
    paths: Iterable[Path], locales_dir: Path | None = None
) -> tuple[list[Problem], list[Phrasebook]]:
    """``reportbot flows check`` for the phrasebook files among ``paths``."""
    problems: list[Problem] = []
    books: list[Phrasebook] = []
    for path in phrasebook_files(paths):
        texts_dir = locales_dir if locales_dir is not None else default_locales_dir(path)
        book, found = _load(path, texts_dir)
        problems += found
        if book is not None:
            books.append(book)
    return problems, books


def display(path: Path) -> str:
    return _display(path)
