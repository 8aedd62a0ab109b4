"""The dry run of docs/flows.md "Changing a flow safely", on a copy of the shipped flow.

A maintainer adds a question with its ko, ru and en texts: `reportbot flows check` passes and
prints a new version, and the question is asked exactly where it was put, in every language. The
same question without its Russian text: `flows check` refuses it, naming the Russian text file
and the missing text, and neither the demo nor the bot's loader accepts the flow.
(tests/test_golden.py::test_adding_a_question_to_the_flow_breaks_no_answers_file shows that the
golden answers files and `make demo` still run unchanged.)
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import _register, cli
from bot.cli.demo import load_texts, run_demo
from bot.questionnaire.engine import Choose, Prompt, Review, Skip, Start, initial_state, step
from bot.questionnaire.flow import Flow
from bot.questionnaire.loader import FlowLoadError
from bot.terminal.demo import MemorySink, Session, Texts, render_prompt
from tests.bot_support import shipped_flow

REPO = Path(__file__).resolve().parent.parent
AFTER, NEW, BEFORE = "hours", "overtime_paid", "days_off"
QUESTION = f"  - id: {NEW}\n    kind: single\n    choices: [paid, not_paid, dont_know]\n\n"
TEXTS = {
    "ko": {
        f"{NEW}.prompt": "더 일한 시간에 대하여 돈을 더 줍니까?",
        f"{NEW}.choice.paid": "예, 더 줍니다",
        f"{NEW}.choice.not_paid": "아니, 주지 않습니다",
        f"{NEW}.choice.dont_know": "모릅니다",
    },
    "ru": {
        f"{NEW}.prompt": "Платят ли за сверхурочные часы?",
        f"{NEW}.choice.paid": "Да, платят",
        f"{NEW}.choice.not_paid": "Нет, не платят",
        f"{NEW}.choice.dont_know": "Не знаю",
    },
    "en": {
        f"{NEW}.prompt": "Are extra hours paid?",
        f"{NEW}.choice.paid": "Yes, they are paid",
        f"{NEW}.choice.not_paid": "No, not paid",
        f"{NEW}.choice.dont_know": "Don't know",
    },
}


@pytest.fixture(scope="module", autouse=True)
def _commands() -> None:
    _register()


def copy_with_new_question(root: Path, *, without: tuple[str, str] | None = None) -> Path:
    """The shipped flows/ and locales/ in ``root``, with the new question after ``hours``.

    ``without``: (lang, text id) left out of that language's file.
    """
    shutil.copytree(REPO / "flows", root / "flows")
    shutil.copytree(REPO / "locales", root / "locales")
    flow_file = root / "flows" / "worker_report.yaml"
    text = flow_file.read_text(encoding="utf-8")
    anchor = f"  - id: {BEFORE}\n"
    assert text.count(anchor) == 1
    flow_file.write_text(text.replace(anchor, QUESTION + anchor), encoding="utf-8")
    for lang, texts in TEXTS.items():
        path = root / "locales" / lang / "worker_report.yaml"
        lines = [f"{tid}: {value}" for tid, value in texts.items() if (lang, tid) != without]
        path.write_text(
            path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + "\n".join(lines) + "\n",
            encoding="utf-8",
        )
    return flow_file


def flows_check(root: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(root)
    return CliRunner().invoke(cli, ["flows", "check", "flows"], catch_exceptions=False)


def asked_in_order(flow: Flow, lang: str) -> list[str]:
    """The questions a reporter who agrees and skips everything is asked, in order."""
    state, out = step(flow, initial_state(lang, 2025), Start())
    asked: list[str] = []
    for _ in range(200):
        [screen] = [o for o in out if isinstance(o, Prompt | Review)]
        if isinstance(screen, Review):
            return asked
        asked.append(screen.qid)
        cids = [c.cid for c in screen.choices]
        if screen.can_skip:
            event: Skip | Choose = Skip(screen.qid)
        else:
            event = Choose(screen.qid, "agree" if "agree" in cids else cids[0])
        state, out = step(flow, state, event)
    raise AssertionError(f"no review screen after {asked}")


def test_a_question_added_with_its_three_texts_passes_the_check_and_is_asked_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_file = copy_with_new_question(tmp_path)
    result = flows_check(tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    shipped = shipped_flow()
    flow, ui = load_texts(flow_file, None)
    assert re.search(rf"^ok\s+worker_report\s+version {flow.version}\b", result.output, re.M)
    assert flow.version != shipped.version, "a new question is a new version"

    before = asked_in_order(shipped, "ko")
    for lang in TEXTS:
        after = asked_in_order(flow, lang)
        at = after.index(NEW)
        assert after[at - 1 : at + 2] == [AFTER, NEW, BEFORE]
        assert [q for q in after if q != NEW] == before, "nothing else moves"

    # ... and reads, in Korean, the way it was written, with its buttons.
    lines: list[str] = []
    session = Session(flow, Texts(flow, ui), "ko", 2025, MemorySink(), lines.append)
    session.begin()
    while session.current_qid != NEW:
        screen = session.screen
        assert isinstance(screen, Prompt), session.current_qid
        cids = [c.cid for c in screen.choices]
        session.perform(
            Skip(screen.qid)
            if screen.can_skip
            else Choose(screen.qid, "agree" if "agree" in cids else cids[0])
        )
    screen = session.screen
    assert isinstance(screen, Prompt)
    shown = render_prompt(session.texts, "ko", screen)
    assert shown[0].endswith(TEXTS["ko"][f"{NEW}.prompt"])
    assert shown[1:4] == [
        f"  {n}) {TEXTS['ko'][f'{NEW}.choice.{cid}']}"
        for n, cid in enumerate(["paid", "not_paid", "dont_know"], start=1)
    ]


def test_a_question_added_without_its_russian_text_is_refused_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_file = copy_with_new_question(tmp_path, without=("ru", f"{NEW}.prompt"))
    result = flows_check(tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    [problem] = [line for line in result.output.splitlines() if f"{NEW}.prompt" in line]
    assert re.match(
        rf"locales/ru/worker_report\.yaml(:\d+)?: {re.escape(NEW)}\.prompt: missing text in ru",
        problem,
    ), problem
    assert not result.output.startswith("ok"), "no flow is listed as ok"

    with pytest.raises(FlowLoadError) as refused:
        load_texts(flow_file, None)
    assert any(p.where == f"{NEW}.prompt" for p in refused.value.problems)
    assert run_demo(flow_file, lang="ru", answers=None, this_year=2025, is_tty=lambda: False) == 1
