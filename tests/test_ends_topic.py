"""Follow-ups asked after an answer that makes them meaningless (issue 14.4), stated as data.

A question's ``ends_topic`` names its choices ("nothing", "nobody", "none") after which no
question whose ``when`` reads it makes sense; ``flows check`` refuses a follow-up that can still
be asked after one of them, on the follow-up's ``when`` line, with the ``not`` to add.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bot.cli.flows import register
from bot.flowtools.xlsform import export_tables
from bot.questionnaire.conditions import evaluate
from bot.questionnaire.flow import (
    All,
    Answered,
    AnyOf,
    Condition,
    Equals,
    FlowIssue,
    FlowSpec,
    Kind,
    Not,
    OneOf,
    _can_after,
    flow_issues,
)
from bot.questionnaire.loader import check_paths, default_locales_dir, load_flow

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = PROJECT / "flows" / "worker_report.yaml"

GUARD = "    when: {not: {q: pay_received, equals: nothing}}\n"
UNGUARDED = "    when: {q: pay_received, equals: nothing}\n"


def _cli() -> click.Group:
    root = click.Group("reportbot")
    register(root)
    return root


def _copy_without_the_not(tmp_path: Path) -> tuple[Path, int]:
    """The shipped flow and its texts, with pay_when's ``not`` removed; the line of that when."""
    shutil.copytree(PROJECT / "locales", tmp_path / "locales")
    (tmp_path / "flows").mkdir()
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.count(GUARD) == 1
    broken = text.replace(GUARD, UNGUARDED)
    path = tmp_path / "flows" / "worker_report.yaml"
    path.write_text(broken, encoding="utf-8")
    line = broken[: broken.index(UNGUARDED)].count("\n") + 1
    return path, line


def test_pay_when_asked_after_nothing_was_paid_fails_the_check_with_file_line_and_fix(
    tmp_path: Path,
) -> None:
    path, line = _copy_without_the_not(tmp_path)
    problems = check_paths([path])
    assert [(p.line, p.where) for p in problems] == [(line, "pay_when")]
    problem = problems[0]
    assert problem.file.endswith("flows/worker_report.yaml")
    assert "'pay_received' is answered nothing" in problem.message
    assert "meaningless" in problem.message
    assert problem.fix.startswith("add {not: {q: pay_received, equals: nothing}} to its when")
    assert "\n" not in str(problem)


def test_flows_check_exits_1_naming_the_line_of_the_unguarded_follow_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _copy_without_the_not(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(_cli(), ["flows", "check", "flows/worker_report.yaml"])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"flows/worker_report.yaml:{line}: pay_when: asked even after")
    assert "Fix: add {not: {q: pay_received, equals: nothing}} to its when" in result.stdout


def test_the_shipped_flow_marks_the_answers_that_end_a_topic_and_passes_clean() -> None:
    assert check_paths([SHIPPED]) == []
    spec = load_flow(SHIPPED, default_locales_dir(SHIPPED)).spec
    ends = {q.id: q.ends_topic for q in spec.questions if q.ends_topic}
    # the pairs of tests/test_flow_content.py::test_no_follow_up_is_asked_after_an_answer_...
    assert ends["pay_received"] == ["nothing"]
    assert ends["punish"] == ["none"]
    assert ends["injured"] == ["nobody"]
    assert ends["contact"] == ["no_contact"]
    assert ends["danger"] == ["not_now"]  # "don't know" may still be told the danger note


def _spec(parent: dict[str, Any], follow_up_when: dict[str, Any]) -> FlowSpec:
    return FlowSpec.model_validate(
        {
            "id": "f",
            "questions": [
                parent,
                {"id": "more", "kind": "text", "when": follow_up_when},
            ],
        }
    )


def _ends_topic_issues(spec: FlowSpec) -> list[FlowIssue]:
    """The issues of this rule (the flows here have no texts: those issues are left out)."""
    return [i for i in flow_issues(spec, {}) if "ends_topic" in i.message + i.fix]


def test_several_answers_that_end_a_topic_get_one_line_with_one_of() -> None:
    parent = {"id": "hurt", "kind": "multi", "choices": ["me", "nobody", "unsure"]}
    parent["ends_topic"] = ["nobody", "unsure"]
    issues = _ends_topic_issues(_spec(parent, {"q": "hurt", "answered": True}))
    assert [(i.where, i.loc) for i in issues] == [("more", ("questions", 1, "when"))]
    assert issues[0].fix.startswith("add {not: {q: hurt, one_of: [nobody, unsure]}}")


def test_a_guarded_follow_up_passes() -> None:
    parent = {"id": "hurt", "kind": "single", "choices": ["me", "nobody"], "ends_topic": ["nobody"]}
    guarded = {"all": [{"q": "hurt", "answered": True}, {"not": {"q": "hurt", "equals": "nobody"}}]}
    assert _ends_topic_issues(_spec(parent, guarded)) == []


def test_an_ends_topic_that_is_not_a_choice_is_named_with_the_closest() -> None:
    parent = {"id": "hurt", "kind": "single", "choices": ["me", "nobody"], "ends_topic": ["nobdy"]}
    issues = _ends_topic_issues(_spec(parent, {"q": "hurt", "equals": "me"}))
    assert [(i.where, i.loc, i.fix) for i in issues] == [
        ("hurt", ("questions", 0, "ends_topic", 0), "write 'nobody' instead")
    ]


def test_the_export_carries_ends_topic_in_the_reportbot_column() -> None:
    flow = load_flow(SHIPPED, default_locales_dir(SHIPPED))
    survey = export_tables(flow)["survey"]
    name, extras = survey.headers.index("name"), survey.headers.index("reportbot")
    row = next(values for _, values in survey.rows if values[name] == "pay_received")
    assert json.loads(row[extras]) == {"ends_topic": ["nothing"]}


# ---- the rule never calls a follow-up meaningless that the answer actually rules out ----------

_VALUES = st.sampled_from(["a", "b", "c"])
_LEAVES: st.SearchStrategy[Condition] = st.one_of(
    st.builds(Equals, q=st.sampled_from(["p", "o"]), equals=_VALUES),
    st.builds(OneOf, q=st.sampled_from(["p", "o"]), one_of=st.lists(_VALUES, min_size=1)),
    st.builds(Answered, q=st.sampled_from(["p", "o"]), answered=st.booleans()),
)
_CONDITIONS: st.SearchStrategy[Condition] = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda c: Not.model_validate({"not": c}), inner),
        st.builds(All, all=st.lists(inner, min_size=1, max_size=3)),
        st.builds(AnyOf, any=st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=6,
)


@given(cond=_CONDITIONS, cid=_VALUES, other=st.one_of(st.none(), _VALUES))
def test_what_the_rule_calls_impossible_after_an_answer_is_false_on_every_path(
    cond: Condition, cid: str, other: str | None
) -> None:
    answers: dict[str, Any] = {"p": {"choice": cid}}
    if other is not None:
        answers["o"] = {"choice": other}
    kinds = {"p": Kind.SINGLE, "o": Kind.SINGLE}
    held = evaluate(cond, kinds, answers)
    assert _can_after(cond, "p", cid, held), (cond, answers)


def test_flows_diff_names_a_changed_ends_topic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(PROJECT / "locales", tmp_path / "locales")
    (tmp_path / "flows").mkdir()
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.count("    ends_topic: [nobody]\n") == 1
    changed = tmp_path / "flows" / "worker_report.yaml"
    changed.write_text(text.replace("    ends_topic: [nobody]\n", ""), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(_cli(), ["flows", "diff", str(SHIPPED), str(changed)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == ["'injured' ends_topic: [nobody] -> []"]
