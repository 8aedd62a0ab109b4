"""Reading flows and texts from YAML, with problems a maintainer can act on.

``load_flow`` is the only way the project gets a :class:`bot.questionnaire.flow.Flow`: it reads the
structure file ``flows/<id>.yaml`` and the text files ``locales/<lang>/<id>.yaml`` (ko, ru, en),
checks every rule of ``docs/flows.md`` and raises :class:`FlowLoadError` with one :class:`Problem`
per broken rule (file, line, question or text id, what is wrong). ``Flow`` itself refuses to be
built while a rule is broken, so nothing can start on a flow that fails the check.

YAML is read strictly: only ``true``/``false`` are booleans (``yes``, ``no``, ``on``, ``off``
stay words, so they can be choice ids), dates stay strings, anchors and aliases are refused,
nesting is limited, and a key written twice is a problem instead of silently keeping the last.
Text files are flat mappings of text id to text; every value is taken as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.questionnaire.flow import (
    CONDITION_TAGS,
    LANGUAGES,
    Flow,
    FlowIssue,
    FlowSpec,
    Kind,
    MediaKind,
    Question,
    TextTable,
    closest,
    flow_issues,
    spec_text_ids,
    ui_text_issues,
)

MAX_FILE_BYTES = 1_000_000
"""A flow or text file larger than this is refused unread (a real one is a few kilobytes)."""

MAX_DEPTH = 32
"""Deepest YAML nesting accepted; a real flow needs about eight levels."""

UI_FILE = "ui.yaml"
"""The file of interface texts in each ``locales/<lang>/`` directory."""

PHRASEBOOK_STEM = "phrasebook"
"""``flows/phrasebook.yaml`` is the cover's phrasebook, not a flow: ``bot.phrasebook`` checks it."""

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow or text file, printed as ``file:line: id: problem``.

    ``line`` is 1-based, or None when the problem has no place in the file (a file that is
    missing). A missing text is placed where it belongs: the line after the text that comes
    before it in the other languages. ``where`` is a question id, a text id, ``flow`` (the file
    as a whole), ``ui`` or ``-`` (a file that cannot be read). ``fix`` says how to put it right.
    """

    file: str
    line: int | None
    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line is not None else self.file
        return problem_line(place, self.where, self.message, self.fix)

    def as_json(self) -> dict[str, str | int | None]:
        """The problem for editors and CI (``reportbot flows check --json``)."""
        return {
            "file": self.file,
            "line": self.line,
            "where": self.where,
            "message": self.message,
            "fix": self.fix,
        }


def problem_line(place: str, where: str, message: str, fix: str) -> str:
    """``place: where: message. Fix: fix``, the one shape of every problem maintainers read."""
    stop = " " if message.endswith(("?", ".")) else ". "
    return f"{place}: {where}: {message}{stop}Fix: {fix}" if fix else f"{place}: {where}: {message}"


class FlowLoadError(Exception):
    """A flow or its texts break the rules; ``problems`` says where and how."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class CheckReport:
    """What ``check_flows`` found: every problem, and the flows that passed."""

    problems: tuple[Problem, ...]
    flows: tuple[Flow, ...]


# ---- strict YAML ------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, no timestamps, no aliases and bounded nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # stubs lack it
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (*name) are not allowed here; write it out", mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # stubs lack it
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class _Parsed:
    """One file read and parsed: its node tree (for line numbers) and plain data."""

    file: str
    node: Node | None
    data: Any
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _display(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_text(path: Path, file: str) -> tuple[str | None, list[Problem]]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [
                Problem(
                    file,
                    None,
                    "-",
                    f"file too large ({size} bytes, limit {MAX_FILE_BYTES})",
                    "a flow is a few kilobytes: check that this is the file you meant",
                )
            ]
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(file, None, "-", "no such file", "check the path")]
    except OSError as exc:
        return None, [
            Problem(
                file,
                None,
                "-",
                f"cannot read: {exc.strerror or exc}",
                "check the file's permissions",
            )
        ]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                file,
                line,
                "-",
                f"not UTF-8 text (byte {exc.start})",
                "save the file as UTF-8 (in LibreOffice or Notepad: 'Save as', encoding UTF-8)",
            )
        ]


_SYNTAX: tuple[tuple[str, str, str], ...] = (
    # (words in PyYAML's problem, what is wrong in ours, how to fix it)
    (
        "mapping values are not allowed here",
        "': ' inside a text that is not in quotes (YAML reads it as the start of a new key)",
        'put the whole text in quotes, e.g. key: "Write it: here" (or use |- for a text '
        "of several lines)",
    ),
    (
        "found character '\\t'",
        "a tab character: YAML indents with spaces only",
        "replace the tab with spaces",
    ),
    (
        "that cannot start any token",
        "a text starts with a character YAML keeps for itself (@, `, %, |, > ...)",
        "put the whole text in quotes",
    ),
    (
        "expected alphabetic or numeric character",
        "a text starts with & or *, which YAML reads as an anchor or alias",
        "put the whole text in quotes",
    ),
    (
        "could not find expected ':'",
        "a line that is neither 'key: value' nor part of the value above it",
        "write 'key: value' on one line, or indent a continued text under |-",
    ),
    (
        "found unknown escape character",
        'a backslash inside a "double-quoted" text starts an escape YAML does not know',
        "write \\\\ for a backslash, or use 'single quotes'",
    ),
    (
        "expected ',' or '}'",
        "a { ... } mapping is not closed, or two entries lack a comma between them",
        "close it with } and separate entries with ', '",
    ),
    (
        "expected ',' or ']'",
        "a [ ... ] list is not closed, or two items lack a comma between them",
        "close it with ] and separate items with ', '",
    ),
    (
        "expected <block end>",
        "this line does not line up with the lines above it, or text follows a closing quote",
        "indent it exactly like its neighbours; a quoted text ends at its closing quote",
    ),
    (
        "anchors and aliases",
        "anchors and aliases (*name) are not allowed: each value is written where it is used",
        "write the value out in full instead of &name / *name",
    ),
    (
        "nested more than",
        f"nested more than {MAX_DEPTH} levels deep",
        "write the structure flatter (a real flow needs about eight levels)",
    ),
    (
        "expected <block mapping start>",
        "the file does not start with 'key: value' lines",
        "start each line with a key, e.g. 'id: my_flow' or 'site.prompt: ...'",
    ),
)


def _unclosed_quote(file: str, text: str, error_line: int) -> Problem | None:
    """A quote opened before ``error_line`` that swallowed the next lines (or the rest)."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.line >= error_line:
                return None
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ('"', "'")
                and token.end_mark.line > token.start_mark.line
            ):
                return _quote_problem(file, token.style, token.start_mark, token.end_mark.line)
    except yaml.scanner.ScannerError as exc:
        started = exc.context_mark
        if exc.context == "while scanning a quoted scalar" and started is not None:
            quote = text.splitlines()[started.line][started.column : started.column + 1]
            return _quote_problem(file, quote, started, None)
    except yaml.YAMLError:
        return None
    return None


def _quote_problem(file: str, quote: str, opened: yaml.Mark, closed_line: int | None) -> Problem:
    runs_to = (
        f"runs on to line {closed_line + 1}"
        if closed_line is not None
        else "runs to the end of the file"
    )
    return Problem(
        file,
        opened.line + 1,
        "-",
        f"YAML syntax error: the text opened with {quote} at column {opened.column + 1} is not "
        f"closed on this line, so it {runs_to} and swallows the lines between",
        f"end the text with {quote} on this line (or use |- for a text of several lines)",
    )


def _syntax_problem(file: str, text: str, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        quoted = _unclosed_quote(file, text, mark.line if mark is not None else 1 << 30)
        if quoted is not None:
            return quoted
        problem = exc.problem or "unreadable"
        what, fix = next(
            ((what, fix) for words, what, fix in _SYNTAX if words in problem),
            (problem, "compare this line with the lines around it (docs/flows.md)"),
        )
        column = f" at column {mark.column + 1}" if mark is not None else ""
        return Problem(file, line, "-", f"YAML syntax error{column}: {what}", fix)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return Problem(
            file,
            line,
            "-",
            f"YAML syntax error: character U+{exc.character:04X} is not allowed",
            "delete it (it is invisible in most editors)",
        )
    return Problem(file, None, "-", f"YAML syntax error: {exc}")  # pragma: no cover


def _parse(path: Path, *, construct: bool) -> _Parsed:
    file = _display(path)
    text, problems = _read_text(path, file)
    if text is None:
        return _Parsed(file, None, None, tuple(problems))
    try:
        loader = _StrictLoader(text)  # the reader already refuses control characters here
    except yaml.YAMLError as exc:
        return _Parsed(file, None, None, (_syntax_problem(file, text, exc),))
    try:
        node = loader.get_single_node()
        if node is None:
            return _Parsed(file, None, None, ())
        problems = _duplicate_keys(node, file)
        data = loader.construct_document(node) if construct and not problems else None
        return _Parsed(file, node, data, tuple(problems))
    except yaml.YAMLError as exc:
        return _Parsed(file, None, None, (_syntax_problem(file, text, exc),))
    finally:
        loader.dispose()


def _duplicate_keys(root: Node, file: str) -> list[Problem]:
    problems: list[Problem] = []
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in first:
                        where = _where(root, loc) if loc else key.value
                        problems.append(
                            Problem(
                                file,
                                line,
                                where,
                                f"duplicate key '{key.value}' (first at line {first[key.value]}): "
                                "YAML would silently keep only the last",
                                f"keep one '{key.value}' and delete the other",
                            )
                        )
                    else:
                        first[key.value] = line
                    stack.append((value, (*loc, key.value)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*loc, i)) for i, item in enumerate(node.value))
    problems.sort(key=lambda p: p.line or 0)
    return problems


_YAML11_BOOLEANS = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"}
)
"""Plain words that YAML 1.1 readers (PyYAML's safe_load, many editors and converters) take
for true or false. Our reader keeps them as words, but a file must mean the same to every
reader, so ``flows check`` asks for quotes."""

_TEXT_BOOLEANS = _YAML11_BOOLEANS | {"true", "True", "TRUE", "false", "False", "FALSE"}


def _boolean_problem(file: str, node: ScalarNode, where: str, shown: str) -> Problem:
    return Problem(
        file,
        node.start_mark.line + 1,
        where,
        f"{node.value} is written without quotes: other YAML readers (PyYAML's safe_load, "
        "editors, converters) read it as true/false, not as the word",
        f"write it in quotes: {shown}",
    )


def _unquoted_booleans(root: Node | None, file: str) -> list[Problem]:
    """Values of a structure file such as ``choices: [yes, no]`` (ids must be quoted or renamed)."""
    problems: list[Problem] = []
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())] if root is not None else []
    while stack:
        node, loc = stack.pop()
        if isinstance(node, MappingNode):
            stack.extend(
                (value, (*loc, str(key.value))) for key, value in node.value if key is not None
            )
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*loc, i)) for i, item in enumerate(node.value))
        elif isinstance(node, ScalarNode) and node.style is None and node.value in _YAML11_BOOLEANS:
            problems.append(_boolean_problem(file, node, _where(root, loc), f'"{node.value}"'))
    problems.sort(key=lambda p: p.line or 0)
    return problems


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node, MappingNode) and isinstance(part, str):
        found = None
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == part:
                found = value  # the last one, as YAML keeps
        return found
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: Node = node.value[part]
        return child
    return None


def _line(root: Node | None, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest node along ``loc`` (parts that are not in the file are skipped)."""
    if root is None:
        return None
    node = root
    for part in loc:
        child = _child(node, part)
        if child is not None:
            node = child
    return node.start_mark.line + 1


def _text_line(root: Node | None, text_id: str) -> int | None:
    if not isinstance(root, MappingNode):
        return None
    line = None
    for key, _value in root.value:
        if isinstance(key, ScalarNode) and key.value == text_id:
            line = key.start_mark.line + 1
    return line


def _where(root: Node | None, loc: Sequence[str | int]) -> str:
    """The question id for a place in a structure file (or ``flow`` outside the questions)."""
    if root is None or len(loc) < 2 or loc[0] != "questions" or not isinstance(loc[1], int):
        return "flow"
    questions = _child(root, "questions")
    question = _child(questions, loc[1]) if questions is not None else None
    qid = _child(question, "id") if question is not None else None
    if isinstance(qid, ScalarNode) and re.fullmatch(r"[a-z][a-z0-9_]*", qid.value):
        return str(qid.value)
    return f"question {loc[1] + 1}"


# ---- pydantic errors as maintainer messages ---------------------------------------------------

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _known_fields(loc: Sequence[str | int]) -> list[str]:
    if len(loc) == 3 and loc[0] == "questions":
        return list(Question.model_fields)
    if len(loc) == 1:
        return list(FlowSpec.model_fields)
    return []


_KIND_WORDS = {
    "select_one": "single",
    "choice": "single",
    "one": "single",
    "select_multiple": "multi",
    "multiple": "multi",
    "integer": "number",
    "decimal": "number",
    "note": "info",
    "string": "text",
    "photo": "media",
    "image": "media",
}
"""Kinds a maintainer may write from other tools (XLSForm's names among them)."""

_SPEC_FIXES = (
    ("needs choices", "add 'choices: [...]', or change the kind"),
    ("takes no choices", "remove 'choices', or make it single, multi or place"),
    ("'other' fits only", "remove 'other: true', or make it single or multi"),
    ("needs 'accept'", "add e.g. 'accept: [photo, document]'"),
    ("takes no 'accept'", "remove 'accept', or make it media"),
    ("takes no min/max", "remove 'min' and 'max', or make it number"),
    ("min <= max", "swap min and max"),
    ("max_length fits", "remove 'max_length', or add 'other: true'"),
)


def _validation_problems(exc: ValidationError, parsed: _Parsed) -> list[Problem]:
    grouped: dict[tuple[str | int, ...], list[Mapping[str, Any]]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in CONDITION_TAGS))
        if loc and loc[-1] in ("str", "int", "bool"):  # members of the Scalar union
            loc = loc[:-1]
        grouped.setdefault(loc, []).append(error)
    problems: list[Problem] = []
    for loc, errors in grouped.items():
        in_question = len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int)
        field = ".".join(str(p) for p in (loc[2:] if in_question else loc))
        messages: list[str] = []
        fixes: list[str] = []
        expected = [_EXPECTED[e["type"]] for e in errors if e["type"] in _EXPECTED]
        if expected:
            wanted = " or ".join(dict.fromkeys(expected))
            messages.append(f"{field or 'this'} must be {wanted}, not {_short(errors[0]['input'])}")
            fixes.append(f"write {wanted} here")
        for detail in errors:
            if detail["type"] in _EXPECTED:
                continue
            message, fix = _message(detail, field, loc)
            messages.append(message)
            fixes.append(fix)
        line = _line(parsed.node, loc)
        problems.append(
            Problem(
                parsed.file,
                line,
                _where(parsed.node, loc),
                "; ".join(dict.fromkeys(messages)),
                "; ".join(dict.fromkeys(f for f in fixes if f)),
            )
        )
    return problems


def _slug(value: object) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", str(value).strip().lower()).strip("_")
    return slug if re.fullmatch(r"[a-z][a-z0-9_]*", slug) else "q_" + slug


def _message(error: Mapping[str, Any], field: str, loc: Sequence[str | int]) -> tuple[str, str]:
    kind = error["type"]
    value = error.get("input")
    last = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"missing field '{last}'", f"add '{last}: ...'"
    if kind == "extra_forbidden":
        known = _known_fields(loc)
        guess = closest(last, known)
        if guess is not None:
            return f"unknown field '{last}': did you mean '{guess}'?", f"write '{guess}'"
        shown = f" (known: {', '.join(known)})" if known else ""
        return f"unknown field '{last}'{shown}", "remove it, or write one of the known fields"
    if kind == "string_pattern_mismatch":
        return (
            f"{field}: {_short(value)} is not a valid id: use lowercase ASCII letters, digits "
            "and _, starting with a letter",
            f"write e.g. '{_slug(value)}'",
        )
    if kind == "enum" and last == "kind":
        guess = _KIND_WORDS.get(str(value).lower()) or closest(str(value), list(Kind))
        fix = f"write 'kind: {guess}'" if guess else "write one of the kinds"
        return f"{_short(value)} is not a question kind (kinds: {', '.join(Kind)})", fix
    if kind == "enum":
        guess = closest(str(value), list(MediaKind))
        fix = f"write '{guess}'" if guess else f"write one of: {', '.join(MediaKind)}"
        return f"{field}: {_short(value)} is not one of: {', '.join(MediaKind)}", fix
    if kind == "too_short":
        return f"{field} must not be empty", f"add at least one item to {field}"
    if kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
        fix = next((f for words, f in _SPEC_FIXES if words in message), "")
        return message, fix
    if kind == "condition" or last in ("when", "end_if"):
        return f"{field}: {error['msg']}", "see docs/flows.md, 'Conditions'"
    text = f"{field}: {error['msg']}" if field else str(error["msg"])
    return text, "see docs/flows.md, 'Fields of a question'"


# ---- texts ------------------------------------------------------------------------------------


def _text_table(parsed: _Parsed) -> tuple[TextTable, list[Problem]]:
    node = parsed.node
    table: TextTable = {}
    problems: list[Problem] = []
    if node is None:
        return table, problems
    if not isinstance(node, MappingNode):
        problems.append(
            Problem(
                parsed.file,
                node.start_mark.line + 1,
                "-",
                "a text file is a mapping of text id to text",
                "write one 'text.id: text' per line, e.g. 'site.prompt: ...'",
            )
        )
        return table, problems
    for key, value in node.value:
        line = key.start_mark.line + 1
        if not isinstance(key, ScalarNode):
            problems.append(
                Problem(
                    parsed.file,
                    line,
                    "-",
                    "a text id must be a plain word",
                    "write it like site.prompt",
                )
            )
            continue
        text_id = str(key.value)
        if isinstance(value, ScalarNode):
            table[text_id] = "" if value.tag == _NULL_TAG else str(value.value)
            if value.style is None and value.value in _TEXT_BOOLEANS:
                shown = f'{text_id}: "{value.value}"'
                problems.append(_boolean_problem(parsed.file, value, text_id, shown))
        elif isinstance(value, MappingNode):
            problems.append(
                Problem(
                    parsed.file,
                    line,
                    text_id,
                    "texts are flat: write the full id on each line, e.g. "
                    f"'{text_id}.prompt: ...', not a nested mapping",
                    f"write '{text_id}.prompt: ...' on one line for each text",
                )
            )
        else:
            problems.append(
                Problem(
                    parsed.file,
                    line,
                    text_id,
                    "a text must be a string",
                    "write the text on the same line, or under |- for several lines",
                )
            )
    return table, problems


@dataclass(frozen=True)
class _TextFile:
    path: Path
    parsed: _Parsed
    table: TextTable


def _read_texts(locales_dir: Path, name: str) -> tuple[dict[str, _TextFile], list[Problem]]:
    """Each language's ``locales/<lang>/<name>``; a language is missing if it is unusable."""
    files: dict[str, _TextFile] = {}
    problems: list[Problem] = []
    for lang in LANGUAGES:
        path = locales_dir / lang / name
        if not path.is_file():
            problems.append(
                Problem(
                    _display(path),
                    None,
                    "-",
                    f"missing text file for {lang}: every text is needed in {', '.join(LANGUAGES)}",
                    f"copy another language's file to {_display(path)} and translate every text",
                )
            )
            continue
        parsed = _parse(path, construct=False)
        table, table_problems = _text_table(parsed)
        problems += parsed.problems
        problems += table_problems
        if parsed.ok and not table_problems:
            files[lang] = _TextFile(path, parsed, table)
    return files, problems


def _entries(root: Node | None) -> list[tuple[str, int, int]]:
    """(text id, first line, line after its text) of each entry of a text file, 1-based."""
    if not isinstance(root, MappingNode):
        return []
    return [
        (str(key.value), key.start_mark.line + 1, _end_line(value))
        for key, value in root.value
        if isinstance(key, ScalarNode)
    ]


def _end_line(value: Node) -> int:
    end = value.end_mark
    # A block text (|-) ends at the start of the next line; a plain one within its own line.
    return end.line + 1 if end.column == 0 else end.line + 2


def _insert_line(text_id: str, order: Sequence[str], text_file: _TextFile) -> tuple[int, str]:
    """Where a missing text belongs: after the nearest text before it (in ``order``) that the
    file has, or at the first line when it has none of them."""
    here = {entry[0]: entry[2] for entry in _entries(text_file.parsed.node)}
    earlier = order[: order.index(text_id)] if text_id in order else []
    for before in reversed(earlier):
        if before in here:
            return here[before], f", after {before}"
    return 1, ""


def _issue_problem(
    issue: FlowIssue, flow: _Parsed, texts: Mapping[str, _TextFile], order: Sequence[str]
) -> Problem:
    if issue.lang is None:
        line = _line(flow.node, issue.loc)
        return Problem(flow.file, line, issue.where, issue.message, issue.fix)
    text_file = texts[issue.lang]
    line = _text_line(text_file.parsed.node, str(issue.loc[0])) if issue.loc else None
    fix = issue.fix
    if line is None:
        line, after = _insert_line(issue.where, order, text_file)
        fix = f"{fix} at line {line}{after}" if fix.startswith("add ") else fix
    return Problem(text_file.parsed.file, line, issue.where, issue.message, fix)


# ---- loading ----------------------------------------------------------------------------------


def default_locales_dir(flow_path: Path) -> Path:
    """``locales/`` beside the directory holding the flow (``flows/x.yaml`` -> ``locales/``)."""
    return flow_path.absolute().parent.parent / "locales"


def _load(path: Path, locales_dir: Path) -> tuple[Flow | None, list[Problem]]:
    parsed = _parse(path, construct=True)
    problems = list(parsed.problems)
    spec: FlowSpec | None = None
    flow_id = path.stem
    if parsed.ok and parsed.node is None and not problems:
        problems.append(
            Problem(
                parsed.file,
                1,
                "-",
                "empty file: a flow needs id and questions",
                "start from a copy of flows/worker_report.yaml (docs/flows.md)",
            )
        )
    elif parsed.ok and parsed.node is not None:
        if not isinstance(parsed.data, dict):
            problems.append(
                Problem(
                    parsed.file,
                    parsed.node.start_mark.line + 1,
                    "-",
                    "a flow file is a mapping with 'id' and 'questions'",
                    "start it with 'id: <flow id>' and 'questions:' (docs/flows.md)",
                )
            )
        else:
            problems += _unquoted_booleans(parsed.node, parsed.file)
            raw_id = parsed.data.get("id")
            if isinstance(raw_id, str) and re.fullmatch(r"[a-z][a-z0-9_]*", raw_id):
                flow_id = raw_id
            try:
                spec = FlowSpec.model_validate(parsed.data)
            except ValidationError as exc:
                problems += _validation_problems(exc, parsed)
    if flow_id != path.stem:
        problems.append(
            Problem(
                parsed.file,
                _line(parsed.node, ("id",)),
                "flow",
                f"flow id '{flow_id}' differs from the file name",
                f"name the file {flow_id}.yaml, or write 'id: {path.stem}'",
            )
        )
        return None, problems  # which text files belong to it is unclear until this is fixed
    texts, text_problems = _read_texts(locales_dir, f"{flow_id}.yaml")
    problems += text_problems
    if spec is None:
        return None, problems
    tables = {lang: text_file.table for lang, text_file in texts.items()}
    for issue in flow_issues(spec, tables):
        if issue.lang is not None and issue.lang not in texts:
            continue  # that language's file is missing or broken: already reported
        problems.append(_issue_problem(issue, parsed, texts, spec_text_ids(spec)))
    if problems:
        return None, problems
    return Flow(spec=spec, texts=tables, source=parsed.file), []


def load_flow(path: Path, locales_dir: Path) -> Flow:
    """Read and check ``path`` and its texts in ``locales_dir``; raise FlowLoadError if broken."""
    flow, problems = _load(path, locales_dir)
    if flow is None:
        raise FlowLoadError(problems)
    return flow


def _load_ui(locales_dir: Path) -> tuple[dict[str, TextTable], list[Problem]]:
    files, problems = _read_texts(locales_dir, UI_FILE)
    tables = {lang: text_file.table for lang, text_file in files.items()}
    order = list(dict.fromkeys(text_id for table in tables.values() for text_id in table))
    for issue in ui_text_issues(tables):
        if issue.lang is not None and issue.lang not in files:
            continue
        if issue.lang is None:  # pragma: no cover - every ui rule names its language
            problems.append(Problem(_display(locales_dir), None, issue.where, issue.message))
            continue
        problems.append(_issue_problem(issue, files[issue.lang].parsed, files, order))
    return tables, problems


def load_ui_texts(locales_dir: Path) -> dict[str, dict[str, str]]:
    """``locales/<lang>/ui.yaml`` for every language; raise FlowLoadError if any rule is broken."""
    tables, problems = _load_ui(locales_dir)
    if problems:
        raise FlowLoadError(problems)
    return tables


def _flow_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.suffix in (".yaml", ".yml")
                and not p.name.startswith(".")
                and p.stem != PHRASEBOOK_STEM
                and p.is_file()
            )
            if not found:
                problems.append(
                    Problem(
                        _display(path),
                        None,
                        "-",
                        "no flow files (*.yaml) in this directory",
                        "name a flow file or the flows/ directory",
                    )
                )
            files += found
        elif path.is_file() and path.stem == PHRASEBOOK_STEM:
            continue
        elif path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            problems.append(
                Problem(
                    _display(path),
                    None,
                    "-",
                    "an XLSForm workbook, not a flow file",
                    f"check it with: reportbot flows import {_display(path)} --dry-run",
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            problems.append(
                Problem(_display(path), None, "-", "no such file or directory", "check the path")
            )
    return files, problems


def check_flows(paths: Iterable[Path], locales_dir: Path | None = None) -> CheckReport:
    """Check flow files and directories of them, and the ui texts beside them.

    Texts come from ``locales_dir``, or else from ``locales/`` beside each flow's directory.
    A locales directory's ``ui.yaml`` files are checked when any language has one.
    """
    files, problems = _flow_files(paths)
    flows: list[Flow] = []
    first_file: dict[str, str] = {}
    ui_dirs: dict[Path, None] = {}
    for path in files:
        texts_dir = locales_dir if locales_dir is not None else default_locales_dir(path)
        ui_dirs[texts_dir.absolute()] = None
        flow, found = _load(path, texts_dir)
        problems += found
        if flow is None:
            continue
        if flow.id in first_file:
            problems.append(
                Problem(
                    flow.source,
                    _line(_parse(path, construct=False).node, ("id",)),
                    "flow",
                    f"flow id '{flow.id}' is also used by {first_file[flow.id]}",
                    "give one of the two flows a new id (and rename its files)",
                )
            )
            continue
        first_file[flow.id] = flow.source
        flows.append(flow)
    for texts_dir in ui_dirs:
        if any((texts_dir / lang / UI_FILE).is_file() for lang in LANGUAGES):
            problems += _load_ui(texts_dir)[1]
        problems += southern_spelling_problems(texts_dir, [f.id for f in flows])
    return CheckReport(tuple(problems), tuple(flows))


def check_paths(paths: Iterable[Path], locales_dir: Path | None = None) -> list[Problem]:
    """Every problem in the given flow files and directories (empty when all pass)."""
    return list(check_flows(paths, locales_dir).problems)


# ---- the North's spelling (issue 14.5) ---------------------------------------------------------

GLOSSARY_FILE = "glossary.yaml"
"""``locales/glossary.yaml``: the word choices of the Korean (and Russian) texts, with reasons."""

SPELLING_EXCEPTIONS = frozenset({"ui.language.ko"})
"""Texts that may name a Southern form on purpose: the language button "조선말 (한국어)"
serves readers from both sides."""


def _southern_forms(locales_dir: Path) -> tuple[list[str], list[Problem]]:
    parsed = _parse(locales_dir / GLOSSARY_FILE, construct=True)
    if not parsed.ok:
        return [], list(parsed.problems)
    data = parsed.data if isinstance(parsed.data, dict) else {}
    forms: list[str] = []
    for term in data.get("terms") or []:
        if isinstance(term, dict) and term.get("check", True) is not False:
            forms += [str(form) for form in term.get("south") or [] if str(form)]
    return forms, []


def southern_spelling_problems(locales_dir: Path, flow_ids: Iterable[str]) -> list[Problem]:
    """A Southern form from the glossary in a Korean flow or ui text, named by file and line.

    Nothing is checked when ``locales_dir`` has no glossary (a test's own texts).
    """
    if not (locales_dir / GLOSSARY_FILE).is_file():
        return []
    forms, problems = _southern_forms(locales_dir)
    for name in [*(f"{flow_id}.yaml" for flow_id in flow_ids), UI_FILE]:
        path = locales_dir / "ko" / name
        if not path.is_file():
            continue
        parsed = _parse(path, construct=False)
        table, _ = _text_table(parsed)
        for text_id, text in table.items():
            hits = [form for form in forms if form in text]
            if hits and text_id not in SPELLING_EXCEPTIONS:
                problems.append(
                    Problem(
                        parsed.file,
                        _text_line(parsed.node, text_id),
                        text_id,
                        f"Southern spelling {', '.join(hits)} in ko: write the North's form "
                        f"(locales/{GLOSSARY_FILE}, docs/glossary.md)",
                        "use the North's form the glossary gives for it",
                    )
                )
    return problems
