"""XLSForm in and out (issue 18.1, 18.2): ``reportbot flows export`` writes a workbook that
pyxform (what ODK and KoboToolbox use) converts; ``flows import`` reads it back to the very same
flow; real forms from pyxform's own test suite (tests/forms/pyxform/) import or are refused
with every reason by sheet, row and column; each kind of refusal names its cell and fix."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook  # type: ignore[import-untyped]  # no type hints

from bot.cli.flows import register
from bot.flowtools.expressions import ExpressionError, parse_relevant, write_relevant
from bot.flowtools.importing import read_form
from bot.flowtools.workbook import WorkbookError, read_tables, write_tables
from bot.flowtools.xlsform import Table, export_tables, import_tables
from bot.questionnaire.flow import Flow, FlowSpec, Kind, Question
from bot.questionnaire.loader import default_locales_dir, load_flow

TESTS = Path(__file__).parent
PROJECT = TESTS.parent
FORMS = TESTS / "forms" / "pyxform"
SHIPPED = PROJECT / "flows" / "worker_report.yaml"


def _cli() -> click.Group:
    root = click.Group("reportbot")
    register(root)
    return root


def _shipped() -> Flow:
    return load_flow(SHIPPED, default_locales_dir(SHIPPED))


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    before = Path.cwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(before)


# ---- the round trip ----------------------------------------------------------------------------


def test_the_shipped_flow_exported_and_imported_again_is_identical(tmp_path: Path) -> None:
    flow = _shipped()
    book = tmp_path / "worker_report.xlsx"
    write_tables(export_tables(flow), book)
    imported = read_form(book)
    assert imported.problems == ()
    assert imported.notes == ()
    assert imported.spec == flow.spec
    assert imported.texts == flow.texts
    assert Flow(spec=imported.spec, texts=imported.texts).version == flow.version
    assert imported.version == flow.version  # the settings sheet carries it


def test_round_trip_through_the_commands_writes_files_that_pass_the_check(in_tmp: Path) -> None:
    shutil.copytree(PROJECT / "flows", in_tmp / "flows")
    shutil.copytree(PROJECT / "locales", in_tmp / "locales")
    runner = CliRunner()
    out = runner.invoke(_cli(), ["flows", "export", "worker_report", "-o", "wr.xlsx"])
    assert out.exit_code == 0, out.output
    version = _shipped().version
    assert out.stdout == f"wrote wr.xlsx: worker_report version {version}, 35 questions\n"
    os.mkdir("fresh")
    os.chdir("fresh")
    back = runner.invoke(_cli(), ["flows", "import", "../wr.xlsx"])
    assert back.exit_code == 0, back.output
    assert back.stdout.splitlines() == [
        "wrote flows/worker_report.yaml",
        "wrote locales/ko/worker_report.yaml",
        "wrote locales/ru/worker_report.yaml",
        "wrote locales/en/worker_report.yaml",
        f"ok  worker_report  version {version}  35 questions",
    ]
    check = runner.invoke(_cli(), ["flows", "check"])
    assert check.exit_code == 0, check.output
    assert f"version {version}" in check.stdout


def test_import_over_existing_files_shows_the_diff_and_needs_force(in_tmp: Path) -> None:
    shutil.copytree(PROJECT / "flows", in_tmp / "flows")
    shutil.copytree(PROJECT / "locales", in_tmp / "locales")
    flow = _shipped()
    tables = export_tables(flow)
    survey = tables["survey"]
    rows = [
        (n, (*v[:4], "Is it still going on?", *v[5:]) if v[1] == "ongoing" else v)
        for n, v in survey.rows
    ]
    tables["survey"] = Table(survey.name, survey.headers, tuple(rows))
    write_tables(tables, in_tmp / "changed.xlsx")
    runner = CliRunner()
    refused = runner.invoke(_cli(), ["flows", "import", "changed.xlsx"])
    assert refused.exit_code == 1
    lines = refused.stdout.splitlines()
    assert lines[0].startswith("changed.xlsx: settings row 2, column version: flow: the workbook")
    assert lines[1] == f"worker_report: version {flow.version} -> {lines[1].split()[-1]}"
    assert lines[2:] == [
        'reworded ongoing.prompt in en: "Is it still going on now?" -> "Is it still going on?"',
        "flows/worker_report.yaml: exists. Fix: add --force to replace the flow's files",
    ]
    assert "nothing written" in refused.stderr
    assert load_flow(Path("flows/worker_report.yaml"), Path("locales")).version == flow.version
    forced = runner.invoke(_cli(), ["flows", "import", "changed.xlsx", "--force"])
    assert forced.exit_code == 0, forced.output
    after = load_flow(Path("flows/worker_report.yaml"), Path("locales"))
    assert after.texts["en"]["ongoing.prompt"] == "Is it still going on?"


def test_export_does_not_replace_a_workbook_without_force(in_tmp: Path) -> None:
    shutil.copytree(PROJECT / "flows", in_tmp / "flows")
    shutil.copytree(PROJECT / "locales", in_tmp / "locales")
    (in_tmp / "worker_report.xlsx").write_bytes(b"keep me")
    result = CliRunner().invoke(_cli(), ["flows", "export"])
    assert result.exit_code == 1
    assert result.stderr == "worker_report.xlsx: exists; nothing written (--force replaces it)\n"
    assert (in_tmp / "worker_report.xlsx").read_bytes() == b"keep me"
    forced = CliRunner().invoke(_cli(), ["flows", "export", "--force"])
    assert forced.exit_code == 0, forced.output


EVERY_KIND = [
    TESTS / "flows_ok" / "flows" / "sample.yaml",  # every kind, every form of condition
    TESTS / "flows_engine" / "flows" / "branchy.yaml",  # branches, nested all/any
]


@pytest.mark.parametrize("path", EVERY_KIND, ids=lambda p: p.stem)
def test_flows_with_every_kind_and_condition_survive_the_round_trip(
    tmp_path: Path, path: Path
) -> None:
    flow = load_flow(path, default_locales_dir(path))
    book = tmp_path / "flow.xlsx"
    write_tables(export_tables(flow), book)
    imported = read_form(book)
    assert imported.problems == ()
    assert imported.spec == flow.spec
    assert imported.texts == flow.texts


@pytest.mark.parametrize("path", [SHIPPED, *EVERY_KIND], ids=lambda p: p.stem)
def test_the_yaml_written_by_import_reads_back_to_the_same_version(
    tmp_path: Path, path: Path
) -> None:
    from bot.flowtools.yamlout import flow_yaml, texts_yaml

    flow = load_flow(path, default_locales_dir(path))
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / f"{flow.id}.yaml").write_text(flow_yaml(flow.spec, "x.xlsx"), "utf-8")
    for lang, table in flow.texts.items():
        (tmp_path / "locales" / lang).mkdir(parents=True)
        (tmp_path / "locales" / lang / f"{flow.id}.yaml").write_text(
            texts_yaml(flow.spec, table, lang), "utf-8"
        )
    again = load_flow(tmp_path / "flows" / f"{flow.id}.yaml", tmp_path / "locales")
    assert again.version == flow.version


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(codec="utf-8"), min_size=1))
def test_any_text_is_written_so_that_yaml_reads_it_back_unchanged(text: str) -> None:
    import yaml

    from bot.flowtools.yamlout import texts_yaml

    spec = FlowSpec.model_validate({"id": "f", "questions": [{"id": "q", "kind": "text"}]})
    written = texts_yaml(spec, {"q.prompt": text}, "en")
    assert yaml.safe_load(written) == {"q.prompt": text}


# ---- what pyxform (ODK, KoboToolbox) makes of the export -----------------------------------------


def test_pyxform_converts_the_exported_workbook_with_every_question_and_language(
    tmp_path: Path,
) -> None:
    from pyxform.xls2xform import convert  # type: ignore[import-untyped]  # no type hints

    flow = _shipped()
    book = tmp_path / "worker_report.xlsx"
    write_tables(export_tables(flow), book)
    said: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyxform's own deprecations are not ours to fail on
        result = convert(xlsform=str(book), validate=False, warnings=said)
    xform = result.xform
    for q in flow.questions:
        assert f'<bind nodeset="/data/{q.id}"' in xform, q.id
    for lang in ("Korean (ko)", "Russian (ru)", "English (en)"):
        assert f'<translation lang="{lang}"' in xform
    assert flow.texts["ko"]["danger.prompt"] in xform
    assert 'id="worker_report"' in xform
    assert f'version="{flow.version}"' in xform
    assert 'type="string" relevant=" /data/danger  = \'in_danger\'"' in xform
    assert 'constraint=". &gt;= 0 and . &lt;= 24"' in xform
    # the one thing pyxform says: it adds an untranslated "other" for or_other questions
    assert all("or_other" in w for w in said), said


@pytest.mark.parametrize("path", EVERY_KIND, ids=lambda p: p.stem)
def test_pyxform_converts_every_kind_we_export(tmp_path: Path, path: Path) -> None:
    from pyxform.xls2xform import convert

    flow = load_flow(path, default_locales_dir(path))
    book = tmp_path / "flow.xlsx"
    write_tables(export_tables(flow), book)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xform = convert(xlsform=str(book), validate=False, warnings=[]).xform
    for q in flow.questions:
        assert f'<bind nodeset="/data/{q.id}"' in xform, q.id


REAL_FORMS: dict[str, list[str]] = {
    "case_insensitivity.xlsx": [
        (
            "case_insensitivity.xlsx: EXTERNAL_CHOICES: -: reportbot has no choices kept in a "
            "CSV file beside the form. Fix: delete this sheet"
        ),
        (
            "case_insensitivity.xlsx: ENTITIES: -: reportbot has no ODK entities (data shared "
            "between forms). Fix: delete this sheet"
        ),
        (
            "case_insensitivity.xlsx: OSM: -: reportbot has no OpenStreetMap questions. Fix: "
            "delete this sheet"
        ),
        (
            "case_insensitivity.xlsx: SURVEY row 3, column TYPE (A3): q2: type "
            "'select_one_external c1' has no reportbot kind (did you mean 'select_one'?). "
            "Fix: use note, acknowledge, select_one, select_multiple, text, integer, decimal, "
            "date, image, audio, video or file"
        ),
        (
            "case_insensitivity.xlsx: SURVEY row 4, column TYPE (A4): q3: type 'osm c1' has "
            "no reportbot kind. Fix: use note, acknowledge, select_one, select_multiple, "
            "text, integer, decimal, date, image, audio, video or file"
        ),
        (
            "case_insensitivity.xlsx: settings row 2, column FORM_ID (B2): flow: 'YesNo' "
            "cannot be a flow id (lowercase letters, digits and _, starting with a letter; it "
            "names the flow's files). Fix: write form_id yesno"
        ),
        (
            "case_insensitivity.xlsx: SURVEY, column label::Korean (ko): -: no texts in "
            "Korean (ko): every text is needed in ko, ru and en. Fix: add the column "
            "label::Korean (ko) with every question translated (and the same for hint, the "
            "choices sheet's label and the reportbot_ text columns)"
        ),
        (
            "case_insensitivity.xlsx: SURVEY, column label::Russian (ru): -: no texts in "
            "Russian (ru): every text is needed in ko, ru and en. Fix: add the column "
            "label::Russian (ru) with every question translated (and the same for hint, the "
            "choices sheet's label and the reportbot_ text columns)"
        ),
    ],
    "choice_filter_test.xlsx": [
        (
            "choice_filter_test.xlsx: settings row 2, column allow_choice_duplicates (C2): -: "
            "reportbot has nothing that column allow_choice_duplicates could become. Fix: "
            "delete its values (or the column)"
        ),
        (
            "choice_filter_test.xlsx: choices row 2, column label (C2): -: 'label' has no "
            "language (rows 2-15). Fix: name it label::Korean (ko), label::Russian (ru) or "
            "label::English (en), or set default_language in settings"
        ),
        (
            "choice_filter_test.xlsx: choices row 4, column cf (D4): -: reportbot has nothing "
            "that column cf could become (rows 4-15). Fix: delete its values (or the column)"
        ),
        (
            "choice_filter_test.xlsx: survey row 2, column label (C2): -: 'label' has no "
            "language (rows 2-4). Fix: name it label::Korean (ko), label::Russian (ru) or "
            "label::English (en), or set default_language in settings"
        ),
        (
            "choice_filter_test.xlsx: survey row 3, column choice_filter (D3): -: reportbot "
            "has nothing that column choice_filter could become (rows 3-4). Fix: delete its "
            "values (or the column)"
        ),
    ],
    "field-list.xlsx": [
        (
            "field-list.xlsx: choices row 2, column label (C2): -: 'label' has no language "
            "(rows 2-3). Fix: name it label::Korean (ko), label::Russian (ru) or "
            "label::English (en), or set default_language in settings"
        ),
        (
            "field-list.xlsx: choices row 2, column label::chinese (E2): -: a column in a "
            "language reportbot does not have (label::chinese) (rows 2-3). Fix: name the "
            "column for Korean (ko), Russian (ru) or English (en), or delete it"
        ),
        (
            "field-list.xlsx: survey row 3, column hint (D3): table_list_question: 'hint' has "
            "no language. Fix: name it hint::Korean (ko), hint::Russian (ru) or hint::English "
            "(en), or set default_language in settings"
        ),
    ],
    "group.xlsx": [
        (
            "group.xlsx: survey row 4, column type (A4): phone_number: type 'phone number': "
            "reportbot never asks for a phone number (it could identify the reporter). Fix: "
            "delete the row"
        ),
        (
            "group.xlsx: survey row 5, column constraint: age: a number needs its range: "
            "reportbot asks for a whole number from a minimum to a maximum. Fix: write the "
            "constraint as '. >= 0 and . <= 100' with your numbers"
        ),
        (
            "group.xlsx: survey, column label::Korean (ko): -: no texts in Korean (ko): every "
            "text is needed in ko, ru and en. Fix: add the column label::Korean (ko) with "
            "every question translated (and the same for hint, the choices sheet's label and "
            "the reportbot_ text columns)"
        ),
        (
            "group.xlsx: survey, column label::Russian (ru): -: no texts in Russian (ru): "
            "every text is needed in ko, ru and en. Fix: add the column label::Russian (ru) "
            "with every question translated (and the same for hint, the choices sheet's label "
            "and the reportbot_ text columns)"
        ),
    ],
    "include.xlsx": [
        (
            "include.xlsx: survey row 3, column type (A3): yes_or_no_question: type "
            "'include': reportbot reads one workbook; write the included questions into it. "
            "Fix: delete the row"
        ),
        (
            "include.xlsx: survey, column label::Korean (ko): -: no texts in Korean (ko): "
            "every text is needed in ko, ru and en. Fix: add the column label::Korean (ko) "
            "with every question translated (and the same for hint, the choices sheet's label "
            "and the reportbot_ text columns)"
        ),
        (
            "include.xlsx: survey, column label::Russian (ru): -: no texts in Russian (ru): "
            "every text is needed in ko, ru and en. Fix: add the column label::Russian (ru) "
            "with every question translated (and the same for hint, the choices sheet's label "
            "and the reportbot_ text columns)"
        ),
    ],
    "loop.xlsx": [
        (
            "loop.xlsx: survey row 3, column type (A3): loop_toilet_types: type 'begin loop "
            "over toilet_type': a flow asks each question once; it has no loops. Fix: delete "
            "the row"
        ),
        (
            "loop.xlsx: survey row 4, column constraint: number: a number needs its range: "
            "reportbot asks for a whole number from a minimum to a maximum. Fix: write the "
            "constraint as '. >= 0 and . <= 100' with your numbers"
        ),
        (
            "loop.xlsx: survey row 5, column type (A5): -: type 'end loop': a flow asks each "
            "question once; it has no loops. Fix: delete the row"
        ),
        (
            "loop.xlsx: survey, column label::Korean (ko): -: no texts in Korean (ko): every "
            "text is needed in ko, ru and en. Fix: add the column label::Korean (ko) with "
            "every question translated (and the same for hint, the choices sheet's label and "
            "the reportbot_ text columns)"
        ),
        (
            "loop.xlsx: survey, column label::Russian (ru): -: no texts in Russian (ru): "
            "every text is needed in ko, ru and en. Fix: add the column label::Russian (ru) "
            "with every question translated (and the same for hint, the choices sheet's label "
            "and the reportbot_ text columns)"
        ),
    ],
    "or_other.xlsx": [
        (
            "or_other.xlsx: choices row 2, column label (C2): -: 'label' has no language "
            "(rows 2-6). Fix: name it label::Korean (ko), label::Russian (ru) or "
            "label::English (en), or set default_language in settings"
        ),
        (
            "or_other.xlsx: choices row 2, column pastel (D2): -: reportbot has nothing that "
            "column pastel could become (rows 2-6). Fix: delete its values (or the column)"
        ),
        (
            "or_other.xlsx: survey row 2, column label (C2): -: 'label' has no language (rows "
            "2-3). Fix: name it label::Korean (ko), label::Russian (ru) or label::English "
            "(en), or set default_language in settings"
        ),
        (
            "or_other.xlsx: survey row 3, column choice_filter (D3): fav_pastel: reportbot "
            "has nothing that column choice_filter could become. Fix: delete its values (or "
            "the column)"
        ),
    ],
    "pull_data.xlsx": [
        (
            "pull_data.xlsx: survey row 2, column type (A2): fruit: type 'calculate': "
            "reportbot computes nothing from answers. Fix: delete the row"
        ),
        (
            "pull_data.xlsx: survey row 3, column label (C3): note_fruite: 'label' has no "
            "language. Fix: name it label::Korean (ko), label::Russian (ru) or label::English "
            "(en), or set default_language in settings"
        ),
    ],
    "specify_other.xlsx": [
        (
            "specify_other.xlsx: survey, column label::Korean (ko): -: no texts in Korean "
            "(ko): every text is needed in ko, ru and en. Fix: add the column label::Korean "
            "(ko) with every question translated (and the same for hint, the choices sheet's "
            "label and the reportbot_ text columns)"
        ),
        (
            "specify_other.xlsx: survey, column label::Russian (ru): -: no texts in Russian "
            "(ru): every text is needed in ko, ru and en. Fix: add the column label::Russian "
            "(ru) with every question translated (and the same for hint, the choices sheet's "
            "label and the reportbot_ text columns)"
        ),
    ],
    "survey_no_name.xlsx": [
        (
            "survey_no_name.xlsx: survey: -: no sheet named survey (sheets: Sheet1). Fix: "
            "name the sheet that lists the questions 'survey'"
        ),
    ],
    "text_and_integer.xlsx": [
        (
            "text_and_integer.xlsx: survey row 3, column constraint: your_age: a number needs "
            "its range: reportbot asks for a whole number from a minimum to a maximum. Fix: "
            "write the constraint as '. >= 0 and . <= 100' with your numbers"
        ),
        (
            "text_and_integer.xlsx: survey, column label::Korean (ko): -: no texts in Korean "
            "(ko): every text is needed in ko, ru and en. Fix: add the column label::Korean "
            "(ko) with every question translated (and the same for hint, the choices sheet's "
            "label and the reportbot_ text columns)"
        ),
        (
            "text_and_integer.xlsx: survey, column label::Russian (ru): -: no texts in "
            "Russian (ru): every text is needed in ko, ru and en. Fix: add the column "
            "label::Russian (ru) with every question translated (and the same for hint, the "
            "choices sheet's label and the reportbot_ text columns)"
        ),
    ],
    "yes_or_no_question.xlsx": [
        (
            "yes_or_no_question.xlsx: survey, column label::Korean (ko): -: no texts in "
            "Korean (ko): every text is needed in ko, ru and en. Fix: add the column "
            "label::Korean (ko) with every question translated (and the same for hint, the "
            "choices sheet's label and the reportbot_ text columns)"
        ),
        (
            "yes_or_no_question.xlsx: survey, column label::Russian (ru): -: no texts in "
            "Russian (ru): every text is needed in ko, ru and en. Fix: add the column "
            "label::Russian (ru) with every question translated (and the same for hint, the "
            "choices sheet's label and the reportbot_ text columns)"
        ),
    ],
}
REAL_NOTES: dict[str, list[str]] = {
    "group.xlsx": [
        (
            "group.xlsx: survey row 3, column type (A3): father: group flattened: the bot "
            "asks one question after another, so the group's label is not shown"
        ),
    ],
    "survey_no_name.xlsx": [
        "survey_no_name.xlsx: Sheet1: -: ignored: a sheet that is not part of XLSForm",
    ],
}


@pytest.mark.parametrize("name", sorted(REAL_FORMS))
def test_a_real_xlsform_is_refused_with_every_reason(name: str) -> None:
    imported = read_form(FORMS / name)
    assert imported.spec is None
    assert [str(p) for p in imported.problems] == REAL_FORMS[name]
    assert [str(n) for n in imported.notes] == REAL_NOTES.get(name, [])


def test_every_real_form_is_asserted() -> None:
    assert {p.name for p in FORMS.glob("*.xlsx")} == set(REAL_FORMS)


def _with_column(table: Table, header: str, values: dict[int, str]) -> Table:
    rows = tuple((n, (*v, values.get(n, ""))) for n, v in table.rows)
    return Table(table.name, (*table.headers, header), rows)


def test_a_real_form_completed_as_a_maintainer_would_imports() -> None:
    # text_and_integer.xlsx as pyxform has it, plus what reportbot needs: Korean and Russian
    # texts, a range for the integer, and the flow's title.
    tables = read_tables(FORMS / "text_and_integer.xlsx")
    survey = tables["survey"]
    survey = _with_column(survey, "label::Korean (ko)", {2: "이름은?", 3: "몇살입니까?"})
    survey = _with_column(
        survey, "label::Russian (ru)", {2: "Как вас зовут?", 3: "Сколько вам лет?"}
    )
    survey = _with_column(survey, "constraint", {3: ". >= 16 and . <= 80"})
    settings = Table(
        "settings",
        (
            "form_id",
            "reportbot_title::Korean (ko)",
            "reportbot_title::Russian (ru)",
            "reportbot_title::English (en)",
        ),
        ((2, ("text_and_integer", "시험", "Проба", "Trial")),),
    )
    imported = import_tables({**tables, "survey": survey, "settings": settings}, "t.xlsx", "t")
    assert imported.problems == ()
    assert imported.spec is not None
    assert [(q.id, q.kind, q.min, q.max) for q in imported.spec.questions] == [
        ("your_name", Kind.TEXT, None, None),
        ("your_age", Kind.NUMBER, 16, 80),
    ]
    assert imported.texts["en"]["your_age.prompt"] == "How many years old are you?"
    assert imported.texts["ru"]["flow.title"] == "Проба"


# ---- relevant expressions ----------------------------------------------------------------------

_QUESTIONS = {
    q.id: q
    for q in [
        Question(id="site", kind=Kind.SINGLE, choices=["a", "b", "c"]),
        Question(id="what", kind=Kind.MULTI, choices=["x", "y"]),
        Question(id="hours", kind=Kind.NUMBER, min=0, max=24),
        Question(id="consent", kind=Kind.CONSENT, required=True),
        Question(id="note", kind=Kind.TEXT),
    ]
}


@pytest.mark.parametrize(
    ("relevant", "condition"),
    [
        ("${site} = 'a'", {"q": "site", "equals": "a"}),
        ("${site} != 'a'", {"not": {"q": "site", "equals": "a"}}),
        ("selected(${what}, 'x')", {"q": "what", "equals": "x"}),
        ("${site} = 'a' or ${site} = 'b'", {"q": "site", "one_of": ["a", "b"]}),
        ("${note} != ''", {"q": "note", "answered": True}),
        ("${note} = ''", {"q": "note", "answered": False}),
        ("${hours} >= 22", {"q": "hours", "one_of": [22, 23, 24]}),
        ("3 > ${hours}", {"q": "hours", "one_of": [0, 1, 2]}),
        ("${consent} = 'OK'", {"q": "consent", "equals": True}),
        (
            "not(${site} = 'a') and (selected(${what}, 'x') or ${hours} = 3)",
            {
                "all": [
                    {"not": {"q": "site", "equals": "a"}},
                    {"any": [{"q": "what", "equals": "x"}, {"q": "hours", "equals": 3}]},
                ]
            },
        ),
    ],
)
def test_relevant_expressions_that_map(relevant: str, condition: dict[str, object]) -> None:
    parsed = parse_relevant(relevant, _QUESTIONS)
    assert parsed.model_dump(mode="json", by_alias=True) == condition
    kinds = {qid: q.kind for qid, q in _QUESTIONS.items()}
    assert parse_relevant(write_relevant(parsed, kinds), _QUESTIONS) == parsed


@pytest.mark.parametrize(
    ("relevant", "at", "message", "fix"),
    [
        ("count-selected(${what}) > 1", 1, "cannot map 'count-selected'", "reportbot conditions"),
        (
            "${what} = 'x'",
            9,
            "= on 'what', a select_multiple, is true only",
            "write selected(${what}, 'x')",
        ),
        (
            "${hours} > 30",
            10,
            "${hours} > 30 can never be true ('hours' is from 0 to 24)",
            "inside",
        ),
        ("${hours} = 2.5", 12, "'hours' holds whole numbers; 2.5 is not one", "whole number"),
        (
            "${site} > 'a'",
            9,
            "> compares numbers, and 'site' is not a number",
            "reportbot conditions",
        ),
        ("${consent} = 'yes'", 14, "an acknowledge question holds only 'OK'", "compare with 'OK'"),
        ("${site} = 'a' and", 18, "the condition ends too early", "reportbot conditions"),
        ("${site} = 'a' + 1", 15, "cannot map '+' here", "reportbot conditions"),
    ],
)
def test_relevant_expressions_that_do_not_map_say_where_and_why(
    relevant: str, at: int, message: str, fix: str
) -> None:
    with pytest.raises(ExpressionError) as refused:
        parse_relevant(relevant, _QUESTIONS)
    assert refused.value.at == at
    assert message in refused.value.message
    assert fix in refused.value.fix


# ---- each kind of refusal names its cell -------------------------------------------------------


def _form(
    *survey: tuple[str, ...],
    headers: tuple[str, ...] = (),
    choices: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Table]:
    base = ("type", "name", "label::Korean (ko)", "label::Russian (ru)", "label::English (en)")
    rows = tuple((i, row) for i, row in enumerate(survey, start=2))
    tables = {
        "survey": Table("survey", (*base, *headers), rows),
        "settings": Table(
            "settings",
            (
                "form_id",
                "reportbot_title::Korean (ko)",
                "reportbot_title::Russian (ru)",
                "reportbot_title::English (en)",
            ),
            ((2, ("f", "제목", "Заголовок", "Title")),),
        ),
    }
    if choices:
        choice_headers = (
            "list_name",
            "name",
            "label::Korean (ko)",
            "label::Russian (ru)",
            "label::English (en)",
        )
        tables["choices"] = Table(
            "choices", choice_headers, tuple((i, r) for i, r in enumerate(choices, start=2))
        )
    return tables


def _with_formula(tables: dict[str, Table], sheet: str, row: int, index: int) -> dict[str, Table]:
    table = tables[sheet]
    marked = Table(table.name, table.headers, table.rows, frozenset({(row, index)}))
    return {**tables, sheet: marked}


def _problems(tables: dict[str, Table]) -> list[str]:
    return [str(p) for p in import_tables(tables, "f.xlsx", "f").problems]


def test_a_small_form_with_every_mapped_column_imports() -> None:
    tables = _form(
        ("acknowledge", "consent", "동의?", "Согласны?", "Agree?", "yes", "", ""),
        ("select_one sites or_other", "site", "어디?", "Где?", "Where?", "", "", ""),
        (
            "integer",
            "hours",
            "몇시간?",
            "Сколько?",
            "How long?",
            "",
            "${site} = 'farm'",
            ". >= 0 and . <= 24",
        ),
        headers=("required", "relevant", "constraint"),
        choices=(
            ("sites", "farm", "농장", "Ферма", "Farm"),
            ("sites", "mine", "광산", "Шахта", "Mine"),
        ),
    )
    survey = tables["survey"]
    tables["survey"] = _with_column(
        _with_column(
            _with_column(survey, "reportbot_other::Korean (ko)", {3: "쓰십시오"}),
            "reportbot_other::Russian (ru)",
            {3: "Напишите"},
        ),
        "reportbot_other::English (en)",
        {3: "Write it"},
    )
    imported = import_tables(tables, "f.xlsx", "f")
    assert imported.problems == ()
    assert imported.spec == FlowSpec.model_validate(
        {
            "id": "f",
            "questions": [
                {"id": "consent", "kind": "consent", "required": True},
                {"id": "site", "kind": "single", "choices": ["farm", "mine"], "other": True},
                {
                    "id": "hours",
                    "kind": "number",
                    "min": 0,
                    "max": 24,
                    "when": {"q": "site", "equals": "farm"},
                },
            ],
        }
    )


@pytest.mark.parametrize(
    ("tables", "problem"),
    [
        (
            _form(("select_one", "q", "가", "а", "a")),
            "f.xlsx: survey row 2, column type (A2): q: type 'select_one' names no choice list. "
            "Fix: write select_one <list_name>",
        ),
        (
            _form(("text", "Your-Name", "가", "а", "a")),
            "f.xlsx: survey row 2, column name (B2): Your-Name: 'Your-Name' cannot be a question "
            "id (lowercase letters, digits and _, starting with a letter; answers are kept under "
            "it). Fix: write your_name",
        ),
        (
            _form(
                ("select_one sitse", "q", "가", "а", "a"), choices=(("sites", "x", "가", "а", "a"),)
            ),
            "f.xlsx: survey row 2, column type (A2): q: no choice list 'sitse' on the choices "
            "sheet: did you mean 'sites'? Fix: add its choices with list_name sitse",
        ),
        (
            _form(("text", "q", "가", "а", "a", "${other} = 'x'"), headers=("required",)),
            "f.xlsx: survey row 2, column required (F2): q: required \"${other} = 'x'\": reportbot "
            "takes yes or no, not an expression. Fix: write yes, or leave it empty",
        ),
        (
            _form(("text", "q", "가", "а", "a", "regex(., '[0-9]+')"), headers=("constraint",)),
            "f.xlsx: survey row 2, column constraint (F2): q: constraint \"regex(., '[0-9]+')\" "
            "does not map: reportbot checks a number's range, a text's length (string-length(.) "
            "<= N) and a date's first year (. >= date('2015-01-01')). Fix: delete it, or write "
            "one of those",
        ),
        (
            _form(("text", "q", "가", "а", "a", "{kind: place"), headers=("reportbot",)),
            "f.xlsx: survey row 2, column reportbot (F2): q: not JSON (Expecting property name "
            "enclosed in double quotes at character 2). Fix: write a JSON object, e.g. "
            '{"kind": "place"}',
        ),
        (
            _with_formula(_form(("text", "q", "=A1", "а", "a")), "survey", 2, 2),
            "f.xlsx: survey row 2, column label::Korean (ko) (C2): -: a formula (=A1): reportbot "
            "reads what a cell holds as written. Fix: type the value itself",
        ),
        (
            _form(("text", "q", "가", "а", "a", "x.png"), headers=("media::image",)),
            "f.xlsx: survey row 2, column media::image (F2): q: reportbot has nothing that column "
            "media::image could become. Fix: delete its values (or the column)",
        ),
        (
            _form(("text", "q", "가", "а", "a", "q"), headers=("label::Swahili (sw)",)),
            "f.xlsx: survey row 2, column label::Swahili (sw) (F2): q: a column in a language "
            "reportbot does not have (label::Swahili (sw)). Fix: name the column for Korean (ko), "
            "Russian (ru) or English (en), or delete it",
        ),
        (
            _form(
                ("text", "q", "가", "а", "a", "${sight} != ''"),
                ("text", "site", "가", "а", "a", ""),
                headers=("relevant",),
            ),
            "f.xlsx: survey row 2, column relevant (F2): q: when refers to unknown question "
            "'sight': did you mean 'site'? Fix: write 'site' instead of 'sight'",
        ),
        (
            _form(
                ("select_one s", "q", "가", "а", "a"), choices=(("s", "x", "가", "а" * 30, "a"),)
            ),
            "f.xlsx: choices row 2, column label::Russian (ru) (D2): q.choice.x: button label too "
            "long: 30 characters in ru, over 24 (the project's limit for buttons, see "
            "docs/flows.md). Fix: shorten it by 6 characters or more",
        ),
        (
            _form(("text", "q", "가", "", "a"), ("text", "r", "가", "б", "b")),
            "f.xlsx: survey row 2, column label::Russian (ru) (D2): q.prompt: missing text in ru "
            "(ko and en have it). Fix: add 'q.prompt: ...'",
        ),
        (
            _form(("select_one s", "q", "가", "а", "a"), choices=(("s", "2022", "가", "а", "a"),)),
            "f.xlsx: choices row 2, column name (B2): q: '2022' cannot be a choice id (lowercase "
            "letters, digits and _, starting with a letter; answers are kept under it). Fix: "
            "write c_2022",
        ),
        (
            _form(("note", "q", "가", "а", "a", "yes"), headers=("required",)),
            "f.xlsx: survey row 2, column required (F2): q: an info screen has no answer to "
            "require. Fix: leave required empty for this kind",
        ),
        (
            _form(("text", "q", "가", "а", "a", '{"max_lenght": 5}'), headers=("reportbot",)),
            "f.xlsx: survey row 2, column reportbot (F2): q: reportbot has no question field "
            "'max_lenght': did you mean 'max_length'? Fix: write 'max_length'",
        ),
        (
            _form(("integer", "q", "가", "а", "a", ". >= 10 and . <= 1"), headers=("constraint",)),
            "f.xlsx: survey row 2, column constraint (F2): q: a number question needs min <= max. "
            "Fix: write the smaller number first: . >= A and . <= B",
        ),
        (
            _form(("geopoint", "where", "가", "а", "a")),
            "f.xlsx: survey row 2, column type (A2): where: type 'geopoint': reportbot never asks "
            "for a location by GPS (docs/flows.md, place). Fix: delete the row",
        ),
        (
            _form(("deviceid", "dev", "", "", "")),
            "f.xlsx: survey row 2, column type (A2): dev: type 'deviceid': reportbot keeps no "
            "device, account or time metadata (docs/threat-model.md). Fix: delete the row",
        ),
    ],
)
def test_what_does_not_map_is_refused_with_sheet_row_column_and_fix(
    tables: dict[str, Table], problem: str
) -> None:
    assert problem in _problems(tables), _problems(tables)


def test_a_duplicate_choice_is_named_at_its_own_row() -> None:
    tables = _form(
        ("select_one s", "q", "가", "а", "a"),
        choices=(
            ("s", "x", "가", "а", "a"),
            ("s", "y", "나", "б", "b"),
            ("s", "x", "다", "в", "c"),
        ),
    )
    assert _problems(tables) == [
        "f.xlsx: choices row 4, column name (B4): q: duplicate choice id 'x'. Fix: remove the "
        "second 'x' or give it a new id"
    ]


def test_a_group_is_flattened_and_its_relevant_joins_each_question() -> None:
    tables = _form(
        ("select_one s", "site", "가", "а", "a", ""),
        ("begin group", "more", "", "", "", "${site} = 'x'"),
        ("text", "detail", "나", "б", "b", ""),
        ("end group", "", "", "", "", ""),
        headers=("relevant",),
        choices=(("s", "x", "가", "а", "a"), ("s", "y", "나", "б", "b")),
    )
    imported = import_tables(tables, "f.xlsx", "f")
    assert imported.problems == ()
    assert imported.spec is not None
    assert imported.spec.questions[1].when is not None
    assert imported.spec.questions[1].when.model_dump() == {"q": "site", "equals": "x"}
    assert [str(n) for n in imported.notes] == []


def test_an_unreadable_file_is_one_line_not_a_traceback(in_tmp: Path) -> None:
    (in_tmp / "form.xlsx").write_bytes(b"not a workbook")
    result = CliRunner().invoke(_cli(), ["flows", "import", "form.xlsx"])
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("form.xlsx: not an .xlsx workbook openpyxl can read")
    assert line.endswith("Fix: save it as an Excel workbook (.xlsx)")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_random_bytes_as_a_workbook_are_refused_in_one_line(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "form.xlsx"
    path.write_bytes(data)
    with pytest.raises(WorkbookError):
        read_form(path)


def test_a_damaged_workbook_is_refused_in_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.xlsx"
    write_tables(export_tables(_shipped()), good)
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 200] = b"\0" * 200
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(bytes(raw))
    with pytest.raises(WorkbookError):
        read_form(bad)


def test_the_worked_example_of_docs_flows_md(in_tmp: Path) -> None:
    """docs/flows.md, "XLSForm": a question added in the spreadsheet, imported, checked, and
    asked after the answer it depends on."""
    from bot.questionnaire import engine

    shutil.copytree(PROJECT / "flows", in_tmp / "flows")
    shutil.copytree(PROJECT / "locales", in_tmp / "locales")
    runner = CliRunner()
    assert runner.invoke(_cli(), ["flows", "export"]).exit_code == 0
    book = load_workbook("worker_report.xlsx")
    survey, choices = book["survey"], book["choices"]
    at = next(r[0].row for r in survey.iter_rows(min_row=2) if r[1].value == "hours") + 1
    survey.insert_rows(at)
    row = {
        "A": "select_one overtime_paid",
        "B": "overtime_paid",
        "C": "연장작업에 대한 로임을 받습니까?",
        "D": "Платят ли за сверхурочную работу?",
        "E": "Is overtime paid?",
        "J": "${hours} >= 9",
    }
    for column, value in row.items():
        survey[f"{column}{at}"] = value
    choices.append(["overtime_paid", "paid", "받는다", "Платят", "Paid"])
    choices.append(["overtime_paid", "not_paid", "못 받는다", "Не платят", "Not paid"])
    choices.append(["overtime_paid", "dont_know", "모른다", "Не знаю", "Don't know"])
    book.save("worker_report.xlsx")

    first = runner.invoke(_cli(), ["flows", "import", "worker_report.xlsx"])
    assert first.exit_code == 1
    assert first.stdout.splitlines()[2:] == [
        "added question 'overtime_paid' (single, after 'hours'): \"Is overtime paid?\"",
        "  asked only when hours in [" + ", ".join(str(n) for n in range(9, 25)) + "]",
        '  choices: paid "Paid", not_paid "Not paid", dont_know "Don\'t know"',
        "flows/worker_report.yaml: exists. Fix: add --force to replace the flow's files",
    ]
    forced = runner.invoke(_cli(), ["flows", "import", "worker_report.xlsx", "--force"])
    assert forced.exit_code == 0, forced.output
    assert forced.stdout.splitlines()[-1].endswith("36 questions")
    check = runner.invoke(_cli(), ["flows", "check"])
    assert check.exit_code == 0, check.output

    flow = load_flow(Path("flows/worker_report.yaml"), Path("locales"))
    state, out = engine.step(flow, engine.initial_state("ko", 2026), engine.Start())
    answers = {"intro": engine.CONTINUE, "consent": engine.AGREE, "alone": "ok_now"}
    while True:
        [prompt] = [o for o in out if isinstance(o, engine.Prompt)]
        if prompt.qid == "hours":
            state, out = engine.step(flow, state, engine.Text("hours", "14"))
            break
        if prompt.qid in answers:
            state, out = engine.step(flow, state, engine.Choose(prompt.qid, answers[prompt.qid]))
        else:
            state, out = engine.step(flow, state, engine.Skip(prompt.qid))
    [asked] = [o for o in out if isinstance(o, engine.Prompt)]
    assert asked.qid == "overtime_paid"
    assert flow.texts["ko"][asked.prompt_id] == "연장작업에 대한 로임을 받습니까?"


def test_import_dry_run_checks_and_says_what_would_change_but_writes_nothing(
    in_tmp: Path,
) -> None:
    shutil.copytree(PROJECT / "flows", in_tmp / "flows")
    shutil.copytree(PROJECT / "locales", in_tmp / "locales")
    before = (in_tmp / "flows" / "worker_report.yaml").read_bytes()
    runner = CliRunner()
    assert runner.invoke(_cli(), ["flows", "export"]).exit_code == 0
    dry = runner.invoke(_cli(), ["flows", "import", "worker_report.xlsx", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    version = _shipped().version
    assert dry.stdout.splitlines() == [
        f"worker_report: version {version} -> {version}",
        "no changes",
        "would write flows/worker_report.yaml",
        "would write locales/ko/worker_report.yaml",
        "would write locales/ru/worker_report.yaml",
        "would write locales/en/worker_report.yaml",
        f"ok  worker_report  version {version}  35 questions",
    ]
    assert (in_tmp / "flows" / "worker_report.yaml").read_bytes() == before


def test_a_text_that_starts_with_equals_is_written_as_text_not_a_formula(tmp_path: Path) -> None:
    flow = load_flow(EVERY_KIND[0], default_locales_dir(EVERY_KIND[0]))
    texts = {lang: dict(table) for lang, table in flow.texts.items()}
    texts["en"]["hours.prompt"] = "= hours a day?"
    changed = Flow(spec=flow.spec, texts=texts)
    book = tmp_path / "flow.xlsx"
    write_tables(export_tables(changed), book)
    imported = read_form(book)
    assert imported.problems == ()
    assert imported.texts["en"]["hours.prompt"] == "= hours a day?"


def test_a_formula_in_a_real_workbook_is_refused_at_its_cell(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label::English (en)"])
    sheet.append(["text", "q", "=B2"])
    book.save(tmp_path / "f.xlsx")
    [problem] = [p for p in read_form(tmp_path / "f.xlsx").problems if "formula" in p.message]
    assert str(problem) == (
        "f.xlsx: survey row 2, column label::English (en) (C2): -: a formula (=B2): reportbot "
        "reads what a cell holds as written. Fix: type the value itself"
    )


_CELLS = st.sampled_from(
    [
        "",
        "text",
        "integer",
        "decimal",
        "select_one s",
        "select_multiple s or_other",
        "select_one nope",
        "begin group",
        "end group",
        "note",
        "acknowledge",
        "image",
        "calculate",
        "q",
        "r",
        "Bad-Name",
        "2022",
        "yes",
        "${q} = 'x'",
        "selected(${r}, 'y') or not(${q} != '')",
        "${q} >= 3",
        "${q",
        ". >= 0 and . <= 5",
        ". >= 5 and . <= 0",
        "string-length(.) <= 10",
        '{"kind": "place"}',
        '{"end_if": {"q": "q", "equals": "x"}}',
        '{"max_files": 99}',
        "{",
        "=A1",
        "가",
        "а" * 30,
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    survey=st.lists(st.lists(_CELLS, min_size=9, max_size=9), max_size=6),
    choices=st.lists(st.lists(_CELLS, min_size=5, max_size=5), max_size=4),
)
def test_any_workbook_is_imported_or_refused_never_a_traceback(
    survey: list[list[str]], choices: list[list[str]]
) -> None:
    headers = (
        "type",
        "name",
        "label::Korean (ko)",
        "label::Russian (ru)",
        "label::English (en)",
        "relevant",
        "constraint",
        "reportbot",
        "required",
    )
    tables = {
        "survey": Table("survey", headers, tuple((i, tuple(r)) for i, r in enumerate(survey, 2))),
        "choices": Table(
            "choices",
            (
                "list_name",
                "name",
                "label::Korean (ko)",
                "label::Russian (ru)",
                "label::English (en)",
            ),
            tuple((i, ("s", *r[1:])) for i, r in enumerate(choices, 2)),
        ),
        "settings": _form()["settings"],
    }
    imported = import_tables(tables, "f.xlsx", "f")
    if imported.spec is None:
        assert imported.problems
        assert all(p.message and p.fix for p in imported.problems)
    else:
        assert imported.problems == ()
        Flow(spec=imported.spec, texts=imported.texts)  # what is accepted passes every rule


SOFFICE = shutil.which("soffice")


@pytest.mark.slow
@pytest.mark.skipif(
    SOFFICE is None and not os.environ.get("REPORTBOT_OFFICE_REQUIRED"),
    reason="LibreOffice not installed (apt-get install libreoffice-calc-nogui)",
)
def test_libreoffice_opens_the_export_and_what_it_saves_imports_to_the_same_flow(
    tmp_path: Path,
) -> None:
    """The workbook as LibreOffice Calc reads it (to ODS), and as it writes it back (to .xlsx,
    Excel's format): the flow that comes back is the shipped one, version for version."""
    import subprocess

    assert SOFFICE is not None, "LibreOffice is required here (REPORTBOT_OFFICE_REQUIRED)"
    flow = _shipped()
    write_tables(export_tables(flow), tmp_path / "wr.xlsx")
    office = [SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo"]
    for source, target in (("wr.xlsx", "ods"), ("wr.ods", "xlsx:Calc MS Excel 2007 XML")):
        subprocess.run(
            [*office, "--convert-to", target, "--outdir", str(tmp_path / target[:4]), source],
            cwd=tmp_path if source == "wr.xlsx" else tmp_path / "ods",
            check=True,
            capture_output=True,
            timeout=180,
        )
        if source == "wr.xlsx":
            assert (tmp_path / "ods" / "wr.ods").stat().st_size > 0
    imported = read_form(tmp_path / "xlsx" / "wr.xlsx")
    assert imported.problems == ()
    assert imported.spec == flow.spec
    assert imported.texts == flow.texts
