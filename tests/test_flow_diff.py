"""``reportbot flows diff OLD NEW`` and ``flows check --json`` (issue 18.4): a change to the
shipped flow is told in plain words, line by line, before it is deployed; editors and CI get
the check's problems as JSON with the same file, line, id, message and fix."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli.flows import register

PROJECT = Path(__file__).parent.parent
BROKEN = Path(__file__).parent / "flows_broken"


def _cli() -> click.Group:
    root = click.Group("reportbot")
    register(root)
    return root


def _copy(root: Path) -> Path:
    shutil.copytree(PROJECT / "flows", root / "flows")
    shutil.copytree(PROJECT / "locales", root / "locales")
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def _drop_lines(path: Path, start: str) -> None:
    lines = path.read_text("utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith(start)), "utf-8")


NEW_TEXTS = {
    "ko": ("연장시간에 대한 로임을 받습니까?", "받는다", "못 받는다"),
    "ru": ("Платят ли за сверхурочные?", "Платят", "Не платят"),
    "en": ("Are extra hours paid?", "Paid", "Not paid"),
}


def _changed_copy(root: Path) -> Path:
    """The shipped flow with the changes a maintainer might make in one go."""
    _copy(root)
    flow = root / "flows" / "worker_report.yaml"
    # a new question after hours
    _replace(
        flow,
        "  - id: days_off\n",
        "  - id: overtime_paid\n    kind: single\n    choices: [paid, not_paid]\n\n"
        "  - id: days_off\n",
    )
    # sleep removed
    _replace(
        flow, "  - id: sleep\n    kind: single\n    choices: [under_4, h4_5, h6_7, h8_more]\n", ""
    )
    # site: a choice added, one removed
    _replace(
        flow,
        "choices: [construction, clothing, it_centre]",
        "choices: [construction, clothing, farm]",
    )
    # danger now required; danger_note asked for one more answer
    _replace(
        flow,
        "  - id: danger\n    kind: single\n",
        "  - id: danger\n    kind: single\n    required: true\n",
    )
    _replace(
        flow,
        "when: {q: danger, equals: in_danger}",
        "when: {q: danger, one_of: [in_danger, dont_know]}",
    )
    # about moved after site
    about = (
        "  - id: about\n    kind: single\n    choices: [me, others, both]\n    has_help: true\n\n"
    )
    _replace(flow, about, "")
    _replace(flow, "  - id: since\n", about + "  - id: since\n")
    for lang, (prompt, paid, not_paid) in NEW_TEXTS.items():
        texts = root / "locales" / lang / "worker_report.yaml"
        _drop_lines(texts, "sleep.")
        _drop_lines(texts, "site.choice.it_centre:")
        farm = {"ko": "농장", "ru": "Ферма", "en": "Farm"}[lang]
        texts.write_text(
            texts.read_text("utf-8")
            + f'\novertime_paid.prompt: "{prompt}"\novertime_paid.choice.paid: "{paid}"\n'
            f'overtime_paid.choice.not_paid: "{not_paid}"\nsite.choice.farm: "{farm}"\n',
            "utf-8",
        )
    _replace(
        root / "locales" / "ru" / "worker_report.yaml",
        "ongoing.prompt: Это продолжается сейчас?",
        "ongoing.prompt: Это всё ещё происходит?",
    )
    return root


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    before = Path.cwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(before)


def test_diff_of_the_shipped_flow_against_a_changed_copy_line_by_line(in_tmp: Path) -> None:
    old = _copy(in_tmp / "old")
    new = _changed_copy(in_tmp / "new")
    result = CliRunner().invoke(
        _cli(),
        [
            "flows",
            "diff",
            str(old / "flows" / "worker_report.yaml"),
            str(new / "flows" / "worker_report.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("worker_report: version ")
    assert lines[1:] == [
        'reworded ongoing.prompt in ru: "Это продолжается сейчас?" -> "Это всё ещё происходит?"',
        "'danger' is now required (was skippable)",
        "'danger_note' asked when: danger in [in_danger, dont_know] (was: danger = in_danger)",
        "'site' choice added: farm \"Farm\"",
        "'site' choice removed: it_centre \"IT centre (computers)\"",
        "added question 'overtime_paid' (single, after 'hours'): \"Are extra hours paid?\"",
        '  choices: paid "Paid", not_paid "Not paid"',
        "removed question 'sleep' (single): \"How many hours can you sleep?\"",
        # about was moved below site; among the questions both versions have, that is one swap
        "moved question 'site': now after 'danger_note' (was after 'about')",
    ]


def test_diff_of_a_flow_with_itself_says_no_changes(in_tmp: Path) -> None:
    old = _copy(in_tmp / "a")
    flow = str(old / "flows" / "worker_report.yaml")
    result = CliRunner().invoke(_cli(), ["flows", "diff", flow, flow])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == ["no changes"]


def test_diff_refuses_a_version_that_fails_the_check(in_tmp: Path) -> None:
    old = _copy(in_tmp / "a")
    flow = str(old / "flows" / "worker_report.yaml")
    broken = str(BROKEN / "cycle" / "flows" / "x.yaml")
    result = CliRunner().invoke(_cli(), ["flows", "diff", flow, broken])
    assert result.exit_code == 1
    assert "cycle: site -> site_note -> site" in result.stderr
    assert result.stdout == ""


def test_check_json_lists_problems_with_file_line_where_message_and_fix(in_tmp: Path) -> None:
    os.chdir(BROKEN / "unknown_condition_id")
    result = CliRunner().invoke(_cli(), ["flows", "check", "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document == {
        "ok": False,
        "problems": [
            {
                "file": "flows/x.yaml",
                "line": 13,
                "where": "site_note",
                "message": "when refers to unknown question 'sight': did you mean 'site'?",
                "fix": "write 'site' instead of 'sight'",
            }
        ],
        "flows": [],
    }


def test_check_json_of_the_shipped_flow_is_ok_with_its_version(in_tmp: Path) -> None:
    _copy(in_tmp)
    result = CliRunner().invoke(_cli(), ["flows", "check", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["problems"] == []
    [flow] = document["flows"]
    assert flow["id"] == "worker_report"
    assert flow["file"] == "flows/worker_report.yaml"
    assert flow["questions"] == 35
    assert len(flow["version"]) == 16


def test_diff_names_fields_kinds_endings_order_help_and_english_rewording(tmp_path: Path) -> None:
    from bot.flowtools.diff import flow_diff
    from bot.questionnaire.loader import load_flow

    ok = Path(__file__).parent / "flows_ok"
    shutil.copytree(ok, tmp_path / "new")
    flow = tmp_path / "new" / "flows" / "sample.yaml"
    _replace(flow, "choices: [construction, factory]", "choices: [factory, construction]")
    _replace(flow, "    max_length: 100\n", "    max_length: 150\n")
    _replace(flow, "    min: 0\n    max: 24\n", "    min: 0\n    max: 20\n    has_help: true\n")
    _replace(flow, "end_if: {q: safe_now, equals: not_now}", "")
    _replace(
        flow,
        "  - id: site_note\n    kind: text\n",
        "  - id: site_note\n    kind: text\n    required: true\n",
    )
    _replace(
        flow,
        "when: {any: [{q: hours, one_of: [16, 18, 20, 22, 24]}",
        "when: {any: [{q: hours, one_of: [16, 18, 20]}",
    )
    for lang in ("ko", "ru", "en"):
        texts = tmp_path / "new" / "locales" / lang / "sample.yaml"
        _drop_lines(texts, "safe_now.end:")
        texts.write_text(
            texts.read_text("utf-8") + 'hours.help: "Count the hours at work."\n', "utf-8"
        )
    en = tmp_path / "new" / "locales" / "en" / "sample.yaml"
    _replace(en, "site.choice.factory: Factory", "site.choice.factory: Factory or workshop")
    old = load_flow(ok / "flows" / "sample.yaml", ok / "locales")
    new = load_flow(flow, tmp_path / "new" / "locales")
    assert flow_diff(old, new)[1:] == [
        "'safe_now' ends the flow when: never (was: safe_now = not_now)",
        "'site' max_length: 100 -> 150",
        "'site' choices reordered: factory, construction",
        'reworded site.choice.factory in en: "Factory" -> "Factory or workshop"',
        "'site_note' is now required (was skippable)",
        "'hours' max: 24 -> 20",
        "'hours' has_help: false -> true",
        'new text hours.help in ko: "Count the hours at work."',
        'new text hours.help in ru: "Count the hours at work."',
        'new text hours.help in en: "Count the hours at work."',
        "'long_days' asked when: hours in [16, 18, 20] or hours not answered (was: hours in "
        "[16, 18, 20, 22, 24] or hours not answered)",
    ]
