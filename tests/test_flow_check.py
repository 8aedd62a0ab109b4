"""The flow check: every broken flow in tests/flows_broken/ is refused with file, line, id and
problem; the valid fixture and the shipped flow pass; nothing but FlowLoadError ever escapes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.cli.flows import register
from bot.questionnaire.flow import (
    BUTTON_LABEL_MAX,
    CALLBACK_DATA_MAX,
    ENGINE_CHOICE_IDS,
    Flow,
    FlowSpec,
    callback_bytes,
    flow_issues,
    spec_text_ids,
)
from bot.questionnaire.loader import (
    FlowLoadError,
    Problem,
    check_flows,
    check_paths,
    load_flow,
    load_ui_texts,
)
from bot.questionnaire.outline import dot, mermaid, outline

TESTS = Path(__file__).parent
BROKEN = TESTS / "flows_broken"
OK = TESTS / "flows_ok"
PROJECT = TESTS.parent

# case: (file, line or None, question / text id, words the problem must contain)
EXPECTED: dict[str, tuple[str, int | None, str, str]] = {
    "missing_text_ru": ("locales/ru/x.yaml", 5, "site.choice.factory", "missing text in ru"),
    "missing_text_ko": ("locales/ko/x.yaml", 3, "site.prompt", "missing text in ko"),
    "missing_title": ("locales/en/x.yaml", 1, "flow.title", "missing text in en"),
    "missing_language_file": ("locales/en/x.yaml", None, "-", "missing text file for en"),
    "unknown_text_id": (
        "locales/en/x.yaml",
        8,
        "site.choice.office",
        "unknown text id: question 'site' has no choice 'office'",
    ),
    "help_without_has_help": (
        "flows/x.yaml",
        7,
        "site.help",
        "question 'site' has no 'has_help: true' (the text is in ko, ru and en)",
    ),
    "unknown_condition_id": (
        "flows/x.yaml",
        13,
        "site_note",
        "unknown question 'sight': did you mean 'site'?",
    ),
    "condition_on_later": ("flows/x.yaml", 7, "consent", "when refers to later question 'site'"),
    "end_if_on_later": ("flows/x.yaml", 7, "consent", "end_if refers to later question 'site'"),
    "condition_on_itself": ("flows/x.yaml", 13, "site_note", "a cycle (site_note -> site_note)"),
    "cycle": ("flows/x.yaml", 7, "site", "cycle: site -> site_note -> site"),
    "unreachable_unknown_choice": (
        "flows/x.yaml",
        13,
        "site_note",
        "unreachable: 'when site = office' can never be true ('site' has no choice 'office'",
    ),
    "unreachable_chain": (
        "flows/x.yaml",
        13,
        "site_note",
        "unreachable: 'when site = office' can never be true ('site' has no choice 'office'; its "
        "choices: construction, factory, other); for the same reason so is 'site_more'",
    ),
    "unreachable_after_end": (
        "flows/x.yaml",
        13,
        "site_note",
        "unreachable: the flow always ends at 'site' before this question",
    ),
    "unreachable_number_range": (
        "flows/x.yaml",
        17,
        "site_note",
        "unreachable: 'when hours = 30' can never be true ('hours' is a whole number from 0 to 24)",
    ),
    "unreachable_info_answered": (
        "flows/x.yaml",
        15,
        "site_note",
        "unreachable: 'when intro answered' can never be true",
    ),
    "condition_value_typo": (
        "flows/x.yaml",
        13,
        "site_note",
        "can never be an answer: 'site' has no choice 'fabric'",
    ),
    "end_if_never": ("flows/x.yaml", 11, "site", "end_if can never be true"),
    "duplicate_question_id": ("flows/x.yaml", 14, "site", "duplicate question id"),
    "duplicate_choice_id": ("flows/x.yaml", 9, "site", "duplicate choice id 'construction'"),
    "duplicate_other_choice": ("flows/x.yaml", 9, "site", "duplicate choice id 'other'"),
    "duplicate_text_key": ("locales/en/x.yaml", 8, "site.prompt", "duplicate key 'site.prompt'"),
    "duplicate_yaml_key": ("flows/x.yaml", 9, "site", "duplicate key 'kind' (first at line 8)"),
    "label_too_long": (
        "locales/ru/x.yaml",
        5,
        "site.choice.factory",
        f"button label too long: 33 characters in ru, over {BUTTON_LABEL_MAX}",
    ),
    "text_too_long": (
        "locales/en/x.yaml",
        7,
        "site_note.prompt",
        "text too long: 4100 characters in en, over 4096",
    ),
    "prompt_and_help_too_long": (
        "locales/ko/x.yaml",
        8,
        "site_note.help",
        "prompt and help together are 4202 characters in ko, over 4096",
    ),
    "callback_long_question_id": (
        "flows/x.yaml",
        11,
        "site_note_with_a_very_long_identifier_for_tests",
        "71 bytes of callback_data, over Telegram's 64",
    ),
    "callback_long_choice_id": (
        "flows/x.yaml",
        9,
        "site",
        "70 bytes of callback_data, over Telegram's 64",
    ),
    "yaml_syntax_flow": (
        "flows/x.yaml",
        9,
        "-",
        "YAML syntax error at column 4: this line does not line up with the lines above it",
    ),
    "yaml_syntax_texts": (
        "locales/ko/x.yaml",
        3,
        "-",
        'the text opened with " at column 14 is not closed on this line, so it '
        "runs to the end of the file",
    ),
    "placeholders_differ": (
        "locales/ko/x.yaml",
        3,
        "site.prompt",
        "placeholders differ between languages: ko has {name}, the others none",
    ),
    "empty_text": ("locales/ru/x.yaml", 3, "site.prompt", "empty text in ru"),
    "null_text": ("locales/en/x.yaml", 3, "site.prompt", "empty text in en"),
    "bad_question_id": ("flows/x.yaml", 11, "question 3", "'Site-Note' is not a valid id"),
    "unknown_field": (
        "flows/x.yaml",
        11,
        "site",
        "unknown field 'requird': did you mean 'required'?",
    ),
    "bad_kind": ("flows/x.yaml", 8, "site", "'choice' is not a question kind"),
    "fields_do_not_fit_kind": ("flows/x.yaml", 11, "site_note", "a text question takes no choices"),
    "bad_condition": ("flows/x.yaml", 13, "site_note", "when: not a condition"),
    "flow_id_mismatch": ("flows/x.yaml", 2, "flow", "flow id 'y' differs from the file name"),
    "nested_texts": ("locales/en/x.yaml", 4, "site", "texts are flat"),
    "aliases": ("flows/x.yaml", 16, "-", "anchors and aliases (*name) are not allowed"),
    "not_utf8": ("locales/ko/x.yaml", 2, "-", "not UTF-8 text"),
    "empty_flow": ("flows/x.yaml", 1, "-", "empty file"),
    "not_a_mapping": ("flows/x.yaml", 2, "-", "a flow file is a mapping with 'id' and 'questions'"),
    "invisible_control": (
        "locales/ko/x.yaml",
        3,
        "site.prompt",
        "invisible control character U+202E in ko",
    ),
    "ui_keys_differ": ("locales/ru/ui.yaml", 1, "ui.button.back", "missing text in ru"),
    "unquoted_boolean_label": (
        "locales/en/x.yaml",
        5,
        "site.choice.factory",
        "Yes is written without quotes: other YAML readers (PyYAML's safe_load, editors, "
        "converters) read it as true/false, not as the word",
    ),
    "unquoted_boolean_choice": ("flows/x.yaml", 9, "site", "no is written without quotes"),
    "yaml_colon_in_text": (
        "locales/en/x.yaml",
        6,
        "-",
        "YAML syntax error at column 21: ': ' inside a text that is not in quotes",
    ),
    "renamed_question": (
        "flows/x.yaml",
        11,
        "site_more.prompt",
        "question 'site_more' has no texts in ko, ru and en, but the texts of 'site_note' (no "
        "such question) fit it: was it renamed?",
    ),
    "unknown_choice_text_typo": (
        "locales/ko/x.yaml",
        5,
        "site.choice.factroy",
        "unknown text id: did you mean site.choice.factory? (that text is missing in ko)",
    ),
    "unclosed_quote_closed_later": (
        "locales/ru/x.yaml",
        3,
        "-",
        'the text opened with " at column 14 is not closed on this line, so it runs on to line 6',
    ),
    "ui_button_too_long": (
        "locales/ko/ui.yaml",
        2,
        "ui.button.skip",
        f"button label too long: 26 characters in ko, over {BUTTON_LABEL_MAX}",
    ),
    "ui_placeholder_broken": ("locales/en/ui.yaml", 3, "ui.done.receipt", "broken placeholder"),
    "ui_placeholder_differs": (
        "locales/ru/ui.yaml",
        3,
        "ui.done.receipt",
        "placeholders differ between languages: ru has none, the others {code}",
    ),
}

# case: the exact fix the problem gives (every problem says how to put it right)
FIXES: dict[str, str] = {
    "unquoted_boolean_label": 'write it in quotes: site.choice.factory: "Yes"',
    "unquoted_boolean_choice": 'write it in quotes: "no"',
    "yaml_colon_in_text": (
        'put the whole text in quotes, e.g. key: "Write it: here" (or use |- for a text of '
        "several lines)"
    ),
    "renamed_question": (
        "rename the texts site_note.* to site_more.* in every language (or the question back to "
        "'site_note')"
    ),
    "unknown_choice_text_typo": "rename it site.choice.factory",
    "unclosed_quote_closed_later": (
        'end the text with " on this line (or use |- for a text of several lines)'
    ),
    "aliases": "write the value out in full instead of &name / *name",
    "bad_condition": "see docs/flows.md, 'Conditions'",
    "bad_kind": "write 'kind: single'",
    "bad_question_id": "write e.g. 'site_note'",
    "callback_long_choice_id": (
        "shorten the choice id "
        "'factory_for_sewing_clothes_and_other_textile_goods' (question id + "
        "choice id under 40 characters)"
    ),
    "callback_long_question_id": (
        "shorten the question id (question id + choice id under 40 characters)"
    ),
    "condition_on_itself": (
        "make the condition read an earlier question (or use end_if to end the flow after this one)"
    ),
    "condition_on_later": (
        "move 'site' above 'consent', or make the condition read an earlier question"
    ),
    "condition_value_typo": "compare with one of its choices: construction, factory, other",
    "cycle": "remove one of these conditions so that each reads only earlier questions",
    "duplicate_choice_id": "remove the second 'construction' or give it a new id",
    "duplicate_other_choice": "remove 'other' from choices (or drop 'other: true')",
    "duplicate_question_id": (
        "give one of the two a new id (answers and texts are keyed by it; if "
        "you copied a question, rename the copy and its texts)"
    ),
    "duplicate_text_key": "keep one 'site.prompt' and delete the other",
    "duplicate_yaml_key": "keep one 'kind' and delete the other",
    "empty_flow": "start from a copy of flows/worker_report.yaml (docs/flows.md)",
    "empty_text": "write the text after the ':' (a reporter would see nothing)",
    "end_if_never": "compare with one of its choices: construction, factory, other",
    "end_if_on_later": (
        "move 'site' above 'consent', or make the condition read an earlier question"
    ),
    "fields_do_not_fit_kind": "remove 'choices', or make it single, multi or place",
    "flow_id_mismatch": "name the file y.yaml, or write 'id: x'",
    "help_without_has_help": (
        "add 'has_help: true' to 'site', or delete site.help in every language"
    ),
    "invisible_control": "delete it (retype the text around it if your editor does not show it)",
    "label_too_long": "shorten it by 9 characters or more",
    "missing_language_file": (
        "copy another language's file to locales/en/x.yaml and translate every text"
    ),
    "missing_text_ko": "add 'site.prompt: ...' at line 3, after consent.prompt",
    "missing_text_ru": "add 'site.choice.factory: ...' at line 5, after site.choice.construction",
    "missing_title": "add 'flow.title: ...' at line 1",
    "nested_texts": "write 'site.prompt: ...' on one line for each text",
    "not_a_mapping": "start it with 'id: <flow id>' and 'questions:' (docs/flows.md)",
    "not_utf8": "save the file as UTF-8 (in LibreOffice or Notepad: 'Save as', encoding UTF-8)",
    "null_text": "write the text after the ':' (a reporter would see nothing)",
    "placeholders_differ": "remove {name} from the ko text: the others have no placeholder",
    "prompt_and_help_too_long": "shorten the prompt or the help by 106 characters or more",
    "text_too_long": "shorten it by 4 characters or more",
    "ui_button_too_long": "shorten it by 2 characters or more",
    "ui_keys_differ": "add 'ui.button.back: ...' at line 1",
    "ui_placeholder_broken": "write {name} for a value the bot fills in, {{ and }} for a brace",
    "ui_placeholder_differs": "use exactly {code} in the ru text, as the others do",
    "unknown_condition_id": "write 'site' instead of 'sight'",
    "unknown_field": "write 'required'",
    "unknown_text_id": "add 'office' to the choices of 'site', or delete this text",
    "unreachable_after_end": (
        "give 'site' an end_if that can also be false, or move this question above 'site'"
    ),
    "unreachable_chain": "compare with one of its choices: construction, factory, other",
    "unreachable_info_answered": "read a question that holds an answer instead of 'intro'",
    "unreachable_number_range": (
        "change the condition so that it can hold (this question is never asked), or remove it"
    ),
    "unreachable_unknown_choice": "compare with one of its choices: construction, factory, other",
    "yaml_syntax_flow": (
        "indent it exactly like its neighbours; a quoted text ends at its closing quote"
    ),
    "yaml_syntax_texts": 'end the text with " on this line (or use |- for a text of several lines)',
}


def _cli() -> click.Group:
    """A root group with only the flows commands (others' commands play no part here)."""
    root = click.Group("reportbot")
    register(root)
    return root


@pytest.fixture
def in_dir() -> Iterator[None]:
    """Restore the working directory after a test that changes it."""
    before = Path.cwd()
    yield
    os.chdir(before)


def _problems_of(case: str) -> list[Problem]:
    os.chdir(BROKEN / case)
    return check_paths([Path("flows")])


def test_every_broken_case_has_an_expectation() -> None:
    on_disk = {p.name for p in BROKEN.iterdir() if p.is_dir()}
    assert on_disk == set(EXPECTED) == set(FIXES)


@pytest.mark.usefixtures("in_dir")
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_broken_flow_is_refused_naming_file_line_id_and_problem(case: str) -> None:
    file, line, where, words = EXPECTED[case]
    problems = _problems_of(case)
    matching = [p for p in problems if p.file == file and p.where == where and words in p.message]
    assert matching, "\n".join(str(p) for p in problems)
    assert matching[0].line == line
    assert matching[0].fix == FIXES[case]
    place = f"{file}:{line}" if line is not None else file
    assert str(matching[0]).startswith(f"{place}: {where}: ")
    assert str(matching[0]).endswith(f"Fix: {FIXES[case]}")


@pytest.mark.usefixtures("in_dir")
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_one_root_cause_gives_one_line(case: str) -> None:
    # Each directory breaks one rule; the fixtures whose texts are the same in every language
    # legitimately break it once per language.
    per_language = {"prompt_and_help_too_long": 3}
    assert len(_problems_of(case)) == per_language.get(case, 1), _problems_of(case)


@pytest.mark.usefixtures("in_dir")
@pytest.mark.parametrize(
    "case",
    [
        "missing_text_ru",
        "cycle",
        "unreachable_unknown_choice",
        "yaml_syntax_flow",
        "ui_keys_differ",
    ],
)
def test_cli_check_exits_non_zero_and_prints_the_problem_line(case: str) -> None:
    file, line, where, words = EXPECTED[case]
    os.chdir(BROKEN / case)
    result = CliRunner().invoke(_cli(), ["flows", "check"])
    assert result.exit_code == 1
    place = f"{file}:{line}" if line is not None else file
    assert any(
        row.startswith(f"{place}: {where}: ") and words in row for row in result.stdout.splitlines()
    ), result.output
    assert "ok " not in result.stdout


@pytest.mark.usefixtures("in_dir")
def test_broken_flow_cannot_be_loaded_for_the_bot_or_demo() -> None:
    os.chdir(BROKEN / "missing_text_ru")
    with pytest.raises(FlowLoadError) as caught:
        load_flow(Path("flows/x.yaml"), Path("locales"))
    assert any(p.where == "site.choice.factory" for p in caught.value.problems)
    assert "locales/ru/x.yaml:5: site.choice.factory: missing text in ru" in str(caught.value)


def test_flow_missing_a_ru_text_cannot_even_be_constructed_directly() -> None:
    flow = load_flow(OK / "flows" / "sample.yaml", OK / "locales")
    texts = {lang: dict(table) for lang, table in flow.texts.items()}
    del texts["ru"]["site.prompt"]
    with pytest.raises(ValidationError, match=r"site\.prompt: missing text in ru"):
        Flow(spec=flow.spec, texts=texts)


def test_flow_without_a_language_cannot_be_constructed() -> None:
    flow = load_flow(OK / "flows" / "sample.yaml", OK / "locales")
    texts = {lang: table for lang, table in flow.texts.items() if lang != "ko"}
    with pytest.raises(ValidationError, match="no texts in ko"):
        Flow(spec=flow.spec, texts=texts)


# ---- passing flows ---------------------------------------------------------------------------


def test_valid_fixture_flow_and_its_ui_texts_pass() -> None:
    report = check_flows([OK / "flows"])
    assert report.problems == ()
    assert [f.id for f in report.flows] == ["sample"]


@pytest.mark.usefixtures("in_dir")
def test_cli_check_passes_the_valid_fixture_with_a_summary() -> None:
    os.chdir(OK)
    result = CliRunner().invoke(_cli(), ["flows", "check", "flows/sample.yaml"])
    assert result.exit_code == 0, result.output
    flow = load_flow(Path("flows/sample.yaml"), Path("locales"))
    assert (
        result.stdout == f"ok  sample  version {flow.version}  12 questions  (flows/sample.yaml)\n"
    )


def test_shipped_flows_pass_the_check() -> None:
    problems = check_paths([PROJECT / "flows"])
    assert problems == [], "\n".join(str(p) for p in problems)


def test_locales_option_points_at_another_text_directory(tmp_path: Path) -> None:
    shutil.copytree(OK / "locales", tmp_path / "texts")
    shutil.copy(OK / "flows" / "sample.yaml", tmp_path / "sample.yaml")
    runner = CliRunner()
    without = runner.invoke(_cli(), ["flows", "check", str(tmp_path / "sample.yaml")])
    assert without.exit_code == 1
    assert "missing text file for ko" in without.stdout
    result = runner.invoke(
        _cli(),
        ["flows", "check", str(tmp_path / "sample.yaml"), "--locales", str(tmp_path / "texts")],
    )
    assert result.exit_code == 0, result.output


def test_directory_without_flows_and_missing_path_fail(tmp_path: Path) -> None:
    problems = check_paths([tmp_path, tmp_path / "nope.yaml"])
    assert [p.message for p in problems] == [
        "no flow files (*.yaml) in this directory",
        "no such file or directory",
    ]


def test_same_flow_id_in_two_directories_is_a_problem(tmp_path: Path) -> None:
    for name in ("a", "b"):
        shutil.copytree(OK, tmp_path / name)
    problems = check_paths(
        [tmp_path / "a" / "flows", tmp_path / "b" / "flows"], locales_dir=OK / "locales"
    )
    assert len(problems) == 1
    assert "flow id 'sample' is also used by" in problems[0].message
    assert problems[0].line == 3  # the line of 'id: sample' in the second file
    assert problems[0].fix == "give one of the two flows a new id (and rename its files)"


def test_ui_texts_load_with_the_same_keys_in_every_language() -> None:
    ui = load_ui_texts(OK / "locales")
    assert set(ui) == {"ko", "ru", "en"}
    assert set(ui["ko"]) == set(ui["ru"]) == set(ui["en"])
    assert ui["en"]["ui.done.receipt"] == "Your number: {code}"


def test_ui_texts_with_a_missing_key_refuse_to_load() -> None:
    with pytest.raises(FlowLoadError, match=r"ui\.button\.back: missing text in ru"):
        load_ui_texts(BROKEN / "ui_keys_differ" / "locales")


# ---- what loading keeps exact ----------------------------------------------------------------


def test_yes_and_no_stay_words_not_booleans() -> None:
    flow = load_flow(OK / "flows" / "sample.yaml", OK / "locales")
    assert flow.question("safe_now").choices == ["yes", "not_now"]
    assert flow.texts["en"]["safe_now.choice.yes"] == "Yes"


def test_changing_one_text_changes_the_version(tmp_path: Path) -> None:
    shutil.copytree(OK, tmp_path / "ok")
    before = load_flow(tmp_path / "ok" / "flows" / "sample.yaml", tmp_path / "ok" / "locales")
    ru = tmp_path / "ok" / "locales" / "ru" / "sample.yaml"
    ru.write_text(ru.read_text("utf-8").replace("Стройка", "Стройплощадка"), "utf-8")
    after = load_flow(tmp_path / "ok" / "flows" / "sample.yaml", tmp_path / "ok" / "locales")
    assert before.version != after.version
    again = load_flow(tmp_path / "ok" / "flows" / "sample.yaml", tmp_path / "ok" / "locales")
    assert again.version == after.version


def test_yaml_comments_order_and_quoting_do_not_change_the_version(tmp_path: Path) -> None:
    flow_path, locales = _fresh(tmp_path)
    before = load_flow(flow_path, locales).version
    en = locales / "en" / "sample.yaml"
    lines = en.read_text("utf-8").splitlines(keepends=True)
    tail = "".join(reversed(lines[-5:])).replace(
        "more.prompt: Anything else, in your own words?",
        "more.prompt: 'Anything else, in your own words?'",
    )
    en.write_text("# a comment\n" + "".join(lines[:-5]) + tail, "utf-8")
    assert load_flow(flow_path, locales).version == before


def test_every_id_leaves_room_for_engine_buttons_in_callback_data() -> None:
    flow = load_flow(OK / "flows" / "sample.yaml", OK / "locales")
    for q in flow.questions:
        for cid in [*q.choices, *ENGINE_CHOICE_IDS]:
            assert callback_bytes(q.id, cid) <= CALLBACK_DATA_MAX


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    big = tmp_path / "flows" / "x.yaml"
    big.write_bytes(b"# " + b"x" * 1_000_001)
    with pytest.raises(FlowLoadError, match="file too large"):
        load_flow(big, tmp_path / "locales")


def test_deep_nesting_is_refused_without_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    deep = tmp_path / "flows" / "x.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "utf-8")
    with pytest.raises(FlowLoadError, match="nested more than"):
        load_flow(deep, tmp_path / "locales")


# ---- flows show ------------------------------------------------------------------------------


@pytest.mark.usefixtures("in_dir")
def test_show_prints_numbered_outline_with_conditions_in_the_language() -> None:
    os.chdir(OK)
    result = CliRunner().invoke(_cli(), ["flows", "show", "sample", "--lang", "ru"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert " 5. site_note  [text up to 500 characters, skippable]" in text
    assert "when site = other" in text
    assert "when troubles in [beaten, unpaid] and not (troubles = none)" in text
    assert "when hours in [16, 18, 20, 22, 24] or hours not answered" in text
    assert "- construction  Стройка" in text
    assert " 4. site  [single, required]" in text
    assert "end_if safe_now = not_now  -> ends with:" in text
    assert "| Хорошо. Возвращайтесь позже." in text


@pytest.mark.usefixtures("in_dir")
def test_show_writes_mermaid_and_dot_diagrams_of_the_branches() -> None:
    os.chdir(OK)
    runner = CliRunner()
    merm = runner.invoke(_cli(), ["flows", "show", "flows/sample.yaml", "--diagram", "mermaid"])
    assert merm.exit_code == 0, merm.output
    assert merm.stdout.startswith("flowchart TD\n")
    assert '    q_site -->|"when site = other"| q_site_note\n' in merm.stdout
    assert '    q_site -->|"otherwise"| q_troubles\n' in merm.stdout
    assert '    q_safe_now -->|"end_if safe_now = not_now"| end_safe_now\n' in merm.stdout
    graph = runner.invoke(_cli(), ["flows", "show", "sample", "--diagram", "dot", "--lang", "en"])
    assert graph.exit_code == 0, graph.output
    assert graph.stdout.startswith('digraph "sample" {\n')
    assert graph.stdout.endswith("}\n")
    assert '    q_site -> q_site_note [label="when site = other"];\n' in graph.stdout
    assert "q_more -> review;" in graph.stdout


def test_diagram_labels_cannot_break_out_of_their_quotes() -> None:
    flow = load_flow(OK / "flows" / "sample.yaml", OK / "locales")
    texts = {lang: dict(table) for lang, table in flow.texts.items()}
    for table in texts.values():
        table["hours.prompt"] = 'Say "hi" <b> #1 \\ end'
    tricky = Flow(spec=flow.spec, texts=texts)
    m = mermaid(tricky, "en")
    assert 'q_hours["8. hours (number)<br/>Say #quot;hi#quot; #lt;b#gt; #35;1 \\ end"]' in m
    d = dot(tricky, "en")
    assert 'label="8. hours (number)\\nSay \\"hi\\" <b> #1 \\\\ end"' in d
    assert outline(tricky, "en").count('Say "hi"') == 1


@pytest.mark.usefixtures("in_dir")
def test_show_refuses_a_broken_flow_with_its_problems() -> None:
    os.chdir(BROKEN / "cycle")
    result = CliRunner().invoke(_cli(), ["flows", "show", "x"])
    assert result.exit_code == 1
    assert "flows/x.yaml:7: site: cycle: site -> site_note -> site" in result.stderr
    assert result.stdout == ""


def test_register_adds_the_flows_group() -> None:
    group = click.Group("root")
    register(group)
    flows = group.commands["flows"]
    assert isinstance(flows, click.Group)
    assert set(flows.commands) >= {"check", "show"}


# ---- robustness ------------------------------------------------------------------------------


def _fresh(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "w"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(OK, work)
    return work / "flows" / "sample.yaml", work / "locales"


def _load_or_refuse(flow_path: Path, locales: Path) -> None:
    try:
        load_flow(flow_path, locales)
    except FlowLoadError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    assert all(isinstance(p, Problem) and p.message for p in problems)


_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_as_a_flow_file_raise_only_flow_load_error(
    tmp_path: Path, data: bytes
) -> None:
    flow_path, locales = _fresh(tmp_path)
    flow_path.write_bytes(data)
    _load_or_refuse(flow_path, locales)


@_SETTINGS
@given(data=st.binary(max_size=600), lang=st.sampled_from(["ko", "ru", "en"]))
def test_random_bytes_as_a_text_file_raise_only_flow_load_error(
    tmp_path: Path, data: bytes, lang: str
) -> None:
    flow_path, locales = _fresh(tmp_path)
    (locales / lang / "sample.yaml").write_bytes(data)
    _load_or_refuse(flow_path, locales)


_YAMLISH = st.lists(
    st.sampled_from(
        [
            "id: sample\n",
            "questions:\n",
            "  - id: a\n",
            "    kind: single\n",
            "    kind: text\n",
            "    choices: [a, b]\n",
            "    when: {q: a, equals: b}\n",
            "    when: {not: {all: []}}\n",
            "    end_if: {any: [{q: a, one_of: [1, 2]}]}\n",
            "    min: 5\n",
            "    max: 1\n",
            "- ",
            ": ",
            "{",
            "}",
            "[",
            "]",
            "&a ",
            "*a",
            "!!python/object:os.system ",
            "'",
            '"',
            "\t",
            "\n",
            "  ",
            "#",
            "---\n",
            "...\n",
            "? ",
            "|\n",
            ">-\n",
            "%YAML 1.1\n",
            "\x00",
            "\ufeff",
            "null",
            "~",
            "yes",
            "1e9999",
            "0x1F",
            "2024-03-01",
            "<<: {a: 1}\n",
            "=",
        ]
    ),
    max_size=40,
).map("".join)


@_SETTINGS
@given(text=_YAMLISH)
def test_malformed_yaml_flow_raises_only_flow_load_error(tmp_path: Path, text: str) -> None:
    flow_path, locales = _fresh(tmp_path)
    flow_path.write_text(text, "utf-8")
    _load_or_refuse(flow_path, locales)


@_SETTINGS
@given(text=_YAMLISH)
def test_malformed_yaml_texts_raise_only_flow_load_error(tmp_path: Path, text: str) -> None:
    flow_path, locales = _fresh(tmp_path)
    (locales / "ru" / "sample.yaml").write_text(text, "utf-8")
    _load_or_refuse(flow_path, locales)


@_SETTINGS
@given(data=st.data())
def test_mutated_valid_flow_loads_or_is_refused_cleanly(
    tmp_path: Path, data: st.DataObject
) -> None:
    flow_path, locales = _fresh(tmp_path)
    target = data.draw(
        st.sampled_from([flow_path, locales / "ko" / "sample.yaml", locales / "en" / "ui.yaml"])
    )
    lines = target.read_text("utf-8").splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "copy", "indent", "cut"]))
        if action == "drop" and len(lines) > 1:
            del lines[i]
        elif action == "copy":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = " " + lines[i]
        else:
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))] + "\n"
    target.write_text("".join(lines), "utf-8")
    _load_or_refuse(flow_path, locales)


def test_unsafe_yaml_tags_are_refused_not_executed(tmp_path: Path) -> None:
    flow_path, locales = _fresh(tmp_path)
    flow_path.write_text("id: !!python/object/apply:os.system ['true']\nquestions: []\n", "utf-8")
    with pytest.raises(FlowLoadError, match="YAML syntax error"):
        load_flow(flow_path, locales)


# ---- the reachability analysis is sound: what it calls impossible never happens ------------

_POOL = ["a", "b", "other", "z"]
_KINDS = ["single", "multi", "number", "text", "info", "date", "place", "consent", "media"]


def _question(kind: str, qid: str, required: bool) -> dict[str, object]:
    q: dict[str, object] = {"id": qid, "kind": kind}
    if kind in ("single", "multi", "place"):
        q["choices"] = ["a", "b"]
    if kind in ("single", "multi"):
        q["other"] = True
    if kind == "number":
        q["min"], q["max"] = 0, 3
    if kind == "date":
        q["min_year"] = 2020
    if kind == "media":
        q["accept"] = ["photo"]
    if required and kind not in ("media", "info"):
        q["required"] = True
    return q


@st.composite
def _conditions(draw: st.DrawFn, earlier: list[str], depth: int = 0) -> dict[str, object]:
    shape = draw(
        st.sampled_from(["eq", "one", "ans"] + (["not", "all", "any"] if depth < 2 else []))
    )
    q = draw(st.sampled_from(earlier))
    value = st.sampled_from([*_POOL, 0, 2, 7, True, False, 2019, 2021, "unknown"])
    if shape == "eq":
        return {"q": q, "equals": draw(value)}
    if shape == "one":
        return {"q": q, "one_of": draw(st.lists(value, min_size=1, max_size=3))}
    if shape == "ans":
        return {"q": q, "answered": draw(st.booleans())}
    if shape == "not":
        return {"not": draw(_conditions(earlier, depth + 1))}
    items = draw(st.lists(_conditions(earlier, depth + 1), min_size=1, max_size=3))
    return {"all" if shape == "all" else "any": items}


@st.composite
def _flows(draw: st.DrawFn) -> FlowSpec:
    questions: list[dict[str, object]] = []
    for i in range(draw(st.integers(1, 6))):
        qid = f"q{i}"
        q = _question(draw(st.sampled_from(_KINDS)), qid, draw(st.booleans()))
        ids = [str(x["id"]) for x in questions]
        conditional: bool = draw(st.booleans())
        if ids and conditional:
            q["when"] = draw(_conditions(ids))
        if draw(st.integers(0, 3)) == 0:
            q["end_if"] = draw(_conditions([*ids, qid]))
        questions.append(q)
    return FlowSpec.model_validate({"id": "gen", "questions": questions})


def _answer(data: st.DataObject, kind: str) -> dict[str, object] | None:
    match kind:
        case "single" | "place":
            return {
                "choice": data.draw(
                    st.sampled_from(["a", "b", "other"] if kind == "single" else ["a", "b"])
                )
            }
        case "multi":
            return {
                "choices": data.draw(
                    st.lists(st.sampled_from(["a", "b", "other"]), min_size=1, unique=True)
                )
            }
        case "number":
            return {"number": data.draw(st.integers(0, 3))}
        case "text":
            return {"text": data.draw(st.sampled_from(["a", "z", "other"]))}
        case "date":
            dates: list[dict[str, object]] = [
                {"year": 2021, "month": None},
                {"year": 2020, "month": 3},
                {"unknown": True},
            ]
            return data.draw(st.sampled_from(dates))
        case "consent":
            return {"consent": True}
        case "media":
            return {"media": [{"kind": "photo", "ref": "r"}]}
    return None


@settings(max_examples=200, deadline=None)
@given(spec=_flows(), data=st.data())
def test_nothing_called_unreachable_is_ever_asked(spec: FlowSpec, data: st.DataObject) -> None:
    from bot.questionnaire.conditions import evaluate
    from bot.questionnaire.flow import Kind

    texts = {lang: dict.fromkeys(spec_text_ids(spec), "t") for lang in ("ko", "ru", "en")}
    issues = flow_issues(spec, texts)
    never_asked = {i.where for i in issues if i.message.startswith("unreachable")}
    never_ends = {i.where for i in issues if i.message.startswith("end_if can never be true")}
    kinds = {q.id: q.kind for q in spec.questions}
    answers: dict[str, dict[str, object]] = {}
    for q in spec.questions:
        if q.when is not None and not evaluate(q.when, kinds, answers):
            continue
        assert q.id not in never_asked, (q.id, issues, answers)
        if q.kind is Kind.CONSENT and data.draw(st.booleans()):
            return  # declined: the flow ends, nothing more is asked
        skip = not q.required and data.draw(st.booleans())
        answer = None if skip else _answer(data, str(q.kind))
        if answer is not None:
            answers[q.id] = answer
        if q.end_if is not None and evaluate(q.end_if, kinds, answers):
            assert q.id not in never_ends, (q.id, issues, answers)
            return


def test_a_condition_contradicting_itself_is_not_claimed_unreachable() -> None:
    # Documented limit: questions are abstracted independently, so this goes unnoticed
    # (never a false alarm, sometimes a miss).
    spec = FlowSpec.model_validate(
        yaml.safe_load(
            """
            id: gen
            questions:
              - {id: a, kind: single, choices: [x, y]}
              - {id: b, kind: text, when: {all: [{q: a, equals: x}, {q: a, equals: y}]}}
            """
        )
    )
    texts = {lang: dict.fromkeys(spec_text_ids(spec), "t") for lang in ("ko", "ru", "en")}
    assert flow_issues(spec, texts) == []
