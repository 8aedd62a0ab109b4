"""``reportbot flows check`` refuses a Southern spelling from the glossary (issue 14.5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
from click.testing import CliRunner

from bot.cli.flows import register
from bot.questionnaire.loader import check_flows

REPO = Path(__file__).resolve().parent.parent


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    return tmp_path


def _put_south(root: Path, name: str, text_id: str, southern: str) -> int:
    path = root / "locales" / "ko" / name
    lines = path.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith(f"{text_id}:"))
    lines[number] = f"{text_id}: {southern}에 대하여"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return number + 1


def test_the_shipped_texts_pass_the_spelling_check() -> None:
    report = check_flows([REPO / "flows" / "worker_report.yaml"])
    assert [p for p in report.problems if "Southern" in p.message] == []


def test_a_southern_form_in_a_flow_text_fails_the_check_naming_file_and_line(
    tmp_path: Path,
) -> None:
    root = _copy(tmp_path)
    line = _put_south(root, "worker_report.yaml", "hours.prompt", "노동")
    report = check_flows([root / "flows" / "worker_report.yaml"])
    [problem] = [p for p in report.problems if "Southern" in p.message]
    assert problem.file.endswith("locales/ko/worker_report.yaml")
    assert problem.line == line
    assert problem.where == "hours.prompt"
    assert "노동" in problem.message


def test_a_southern_form_in_a_ui_text_fails_the_command(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    line = _put_south(root, "ui.yaml", "ui.help", "휴대폰")
    root_cli = click.Group("reportbot")
    register(root_cli)
    flow = str(root / "flows" / "worker_report.yaml")
    result = CliRunner().invoke(root_cli, ["flows", "check", flow])
    assert result.exit_code != 0
    assert f"locales/ko/ui.yaml:{line}: ui.help: Southern spelling 휴대폰" in result.output


def test_the_language_button_may_say_hanguko_for_readers_from_both_sides() -> None:
    text = (REPO / "locales" / "ko" / "ui.yaml").read_text(encoding="utf-8")
    assert "ui.language.ko: 조선말 (한국어)" in text
