"""Errors that teach (issue 18.3), tried on a copy of the shipped flow the way a new maintainer
breaks it: each mistake gives one line with file, line, what is wrong and the fix, in our words.

The broken fixtures of tests/flows_broken/ (tests/test_flow_check.py) hold every error class
with its exact line and fix; here the same classes meet a real flow of 35 questions, where
knock-on problems and misplaced lines used to show.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.questionnaire.loader import Problem, check_paths

PROJECT = Path(__file__).parent.parent
FLOW = "flows/worker_report.yaml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the shipped flows and texts to break."""
    shutil.copytree(PROJECT / "flows", tmp_path / "flows")
    shutil.copytree(PROJECT / "locales", tmp_path / "locales")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in ``path``; the 1-based line where it was."""
    text = path.read_text("utf-8")
    at = text.index(old)
    path.write_text(text.replace(old, new, 1), "utf-8")
    return text[:at].count("\n") + 1


def _line_of(path: Path, start: str) -> int:
    lines = path.read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(start))


def _problems(project: Path) -> list[Problem]:
    return [
        Problem(str(Path(p.file).relative_to(project)), p.line, p.where, p.message, p.fix)
        for p in check_paths([project / FLOW])
    ]


def test_the_shipped_flow_passes(project: Path) -> None:
    assert _problems(project) == []


def test_a_typo_in_a_condition_says_did_you_mean(project: Path) -> None:
    line = _edit(project / FLOW, "{q: danger, equals: in_danger}", "{q: dangr, equals: in_danger}")
    assert [str(p) for p in _problems(project)] == [
        f"{FLOW}:{line}: danger_note: when refers to unknown question 'dangr': did you mean "
        "'danger'? Fix: write 'danger' instead of 'dangr'"
    ]


def test_a_misspelt_field_says_did_you_mean(project: Path) -> None:
    line = _edit(project / FLOW, "    has_help: true\n", "    has_hlep: true\n")
    [problem] = _problems(project)
    assert (problem.file, problem.line) == (FLOW, line)
    assert problem.message == "unknown field 'has_hlep': did you mean 'has_help'?"
    assert problem.fix == "write 'has_help'"


def test_a_duplicate_question_id_is_one_problem_not_twenty(project: Path) -> None:
    # Renaming 'ongoing' to an id already taken used to give 20 knock-on lines (missing and
    # unknown texts in every language, an unreachable follow-up).
    _edit(project / FLOW, "  - id: ongoing\n", "  - id: danger\n")
    rows = (project / FLOW).read_text("utf-8").splitlines()
    first, second = (i for i, row in enumerate(rows, start=1) if row == "  - id: danger")
    [problem] = _problems(project)
    assert (problem.file, problem.line, problem.where) == (FLOW, second, "danger")
    assert first < second
    assert problem.message.startswith("duplicate question id (question 6 has it too; this is ")
    assert problem.fix.startswith("give one of the two a new id")


def test_a_missing_russian_text_names_the_line_where_it_belongs(project: Path) -> None:
    ru = project / "locales" / "ru" / "worker_report.yaml"
    before = _line_of(ru, "ongoing.choice.still:")
    text = ru.read_text("utf-8").splitlines(keepends=True)
    del text[before - 1]
    ru.write_text("".join(text), "utf-8")
    assert [str(p) for p in _problems(project)] == [
        f"locales/ru/worker_report.yaml:{before}: ongoing.choice.still: missing text in ru (ko "
        f"and en have it). Fix: add 'ongoing.choice.still: ...' at line {before}, after "
        "ongoing.prompt"
    ]


def test_a_new_question_without_any_text_is_one_line_on_the_structure_file(
    project: Path,
) -> None:
    line = _edit(
        project / FLOW,
        "  - id: ongoing\n",
        "  - id: paid_late\n    kind: single\n    choices: [often, never]\n\n  - id: ongoing\n",
    )
    assert [str(p) for p in _problems(project)] == [
        f"{FLOW}:{line}: paid_late.prompt: question 'paid_late' has no texts in ko, ru and en. "
        "Fix: add paid_late.prompt, paid_late.choice.often, paid_late.choice.never to each "
        "language's text file"
    ]


def test_an_unclosed_quote_is_reported_where_it_opens(project: Path) -> None:
    # PyYAML reported this seven lines further down, where the next quote happened to be.
    ru = project / "locales" / "ru" / "worker_report.yaml"
    opened = _line_of(ru, "what.prompt:")
    _edit(ru, "what.prompt: ", 'what.prompt: "')
    [problem] = _problems(project)
    assert (problem.file, problem.line, problem.where) == (
        "locales/ru/worker_report.yaml",
        opened,
        "-",
    )
    assert problem.message.startswith(
        'YAML syntax error: the text opened with " at column 14 is not closed on this line, so '
        "it runs on to line "
    )
    assert problem.fix == 'end the text with " on this line (or use |- for a text of several lines)'


def test_a_colon_in_an_unquoted_text_says_to_quote_it(project: Path) -> None:
    en = project / "locales" / "en" / "worker_report.yaml"
    line = _line_of(en, "what.prompt:")
    _edit(en, "what.prompt: What happened?", "what.prompt: What happened: tell us")
    [problem] = _problems(project)
    assert (problem.file, problem.line) == ("locales/en/worker_report.yaml", line)
    assert problem.message == (
        "YAML syntax error at column 27: ': ' inside a text that is not in quotes (YAML reads it "
        "as the start of a new key)"
    )
    assert problem.fix.startswith("put the whole text in quotes")


def test_a_tab_says_to_indent_with_spaces(project: Path) -> None:
    line = _edit(project / FLOW, "    kind: single\n", "\tkind: single\n")
    [problem] = _problems(project)
    assert (problem.file, problem.line) == (FLOW, line)
    assert "a tab character: YAML indents with spaces only" in problem.message
    assert problem.fix == "replace the tab with spaces"


@pytest.mark.parametrize("word", ["Yes", "No", "on", "off"])
def test_an_unquoted_boolean_label_is_one_line_with_the_fix(project: Path, word: str) -> None:
    # issue 14.6: this passed flows check and then failed make test with a pydantic traceback
    en = project / "locales" / "en" / "worker_report.yaml"
    line = _edit(en, 'sick_care.choice.can_rest: "Yes"', f"sick_care.choice.can_rest: {word}")
    assert [str(p) for p in _problems(project)] == [
        f"locales/en/worker_report.yaml:{line}: sick_care.choice.can_rest: {word} is written "
        "without quotes: other YAML readers (PyYAML's safe_load, editors, converters) read it "
        "as true/false, not as the word. Fix: write it in quotes: "
        f'sick_care.choice.can_rest: "{word}"'
    ]


def test_an_unquoted_boolean_choice_id_is_one_line_with_the_fix(project: Path) -> None:
    line = _edit(project / FLOW, "choices: [ok_now, not_now]", "choices: [ok_now, no]")
    problems = [p for p in _problems(project) if "without quotes" in p.message]
    assert [str(p) for p in problems] == [
        f"{FLOW}:{line}: alone: no is written without quotes: other YAML readers (PyYAML's "
        "safe_load, editors, converters) read it as true/false, not as the word. Fix: write it "
        'in quotes: "no"'
    ]


def test_quoted_booleans_are_words_and_pass(project: Path) -> None:
    en = project / "locales" / "en" / "worker_report.yaml"
    _edit(en, 'sick_care.choice.can_rest: "Yes"', "sick_care.choice.can_rest: 'Yes'")
    assert _problems(project) == []


def test_a_renamed_question_is_one_line_that_names_its_old_texts(project: Path) -> None:
    line = _edit(project / FLOW, "  - id: ongoing\n", "  - id: still_going\n")
    assert [str(p) for p in _problems(project)] == [
        f"{FLOW}:{line}: still_going.prompt: question 'still_going' has no texts in ko, ru and "
        "en, but the texts of 'ongoing' (no such question) fit it: was it renamed? Fix: rename "
        "the texts ongoing.* to still_going.* in every language (or the question back to "
        "'ongoing')"
    ]


def test_a_workbook_given_to_flows_check_points_at_the_import(project: Path) -> None:
    book = project / "form.xlsx"
    book.write_bytes(b"PK")
    [problem] = check_paths([book])
    assert problem.message == "an XLSForm workbook, not a flow file"
    assert problem.fix.startswith("check it with: reportbot flows import ")
    assert problem.fix.endswith("form.xlsx --dry-run")
