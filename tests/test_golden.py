"""Golden transcripts of the whole default flow in ko, ru and en.

Each scenario in ``tests/golden/answers/`` (the full flow with a back step and edits from the
review screen; an early end; consent declined) is run through the terminal session on the real
engine and the shipped flow and texts; the transcript (every prompt with its choices, errors,
what is kept and dropped, the final answers as JSON) must equal ``tests/golden/<name>.<lang>.txt``.

A change of wording, order, branching or engine behaviour shows up as a diff here. When the
change is intended, regenerate and review the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.cli.demo import default_flow_path, load_texts
from bot.receipts.codes import ReceiptCode
from bot.terminal.demo import MemorySink, Session, Texts, load_answers, outcome_json, run_script

GOLDEN = Path(__file__).parent / "golden"
SCENARIOS = ("worker_report_full", "worker_report_early_end", "worker_report_declined")
LANGS = ("ko", "ru", "en")
THIS_YEAR = 2025
RECEIPT = ReceiptCode("123456789987654321")  # the receipt screen's code, pinned


def transcript(scenario: str, lang: str) -> str:
    flow, ui = load_texts(default_flow_path(), None)
    lines: list[str] = []
    session = Session(
        flow,
        Texts(flow, ui),
        lang,
        THIS_YEAR,
        MemorySink(),
        lines.append,
        trace=True,
        receipt_code=lambda: RECEIPT,
    )
    answers = GOLDEN / "answers" / f"{scenario}.yaml"
    outcome = run_script(session, load_answers(answers), answers.name)
    return "\n".join([*lines, "", outcome_json(flow, lang, outcome)]) + "\n"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_default_flow_transcript_matches_golden(scenario: str, lang: str) -> None:
    got = transcript(scenario, lang)
    path = GOLDEN / f"{scenario}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    assert got == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if intended: UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    )


def final_answers(scenario: str, lang: str) -> dict[str, object]:
    text = (GOLDEN / f"{scenario}.{lang}.txt").read_text(encoding="utf-8")
    document = json.loads(text[text.rindex("\n{\n") + 1 :])
    assert isinstance(document, dict)
    return document


def test_the_language_changes_the_words_never_the_answers() -> None:
    for scenario in SCENARIOS:
        documents = [final_answers(scenario, lang) for lang in LANGS]
        assert documents[0]["answers"] == documents[1]["answers"] == documents[2]["answers"]


def test_edit_from_review_drops_the_closed_branch_in_the_golden_run() -> None:
    answers = final_answers("worker_report_full", "en")["answers"]
    assert isinstance(answers, dict)
    assert answers["injured"] == {"choice": "nobody"}
    assert "injury_kind" not in answers
    assert "injury_care" not in answers
    assert answers["hours"] == {"number": 16}  # the second edit
    assert answers["days_off"] == {"number": 1}  # the answer given again after Back
    assert answers["site"] == {"choice": "other", "text": "Fish processing plant"}


def test_early_end_and_declined_consent_hand_on_only_what_they_should() -> None:
    early = final_answers("worker_report_early_end", "ko")
    assert early["outcome"] == "ended_early"
    assert early["answers"] == {"consent": {"consent": True}, "alone": {"choice": "not_now"}}
    declined = final_answers("worker_report_declined", "ru")
    assert declined["outcome"] == "ended_early"
    assert declined["answers"] == {}


def test_adding_a_question_to_the_flow_breaks_no_answers_file(tmp_path: Path) -> None:
    """The dry run of docs/flows.md "Changing a flow safely": a new question in the shipped flow.

    The answers files address questions by id, so every scenario still runs to the same end
    with the same answers; only the transcript gains the new question (skipped).
    """
    import shutil

    repo = Path(__file__).resolve().parent.parent
    shutil.copytree(repo / "flows", tmp_path / "flows")
    shutil.copytree(repo / "locales", tmp_path / "locales")
    flow_file = tmp_path / "flows" / "worker_report.yaml"
    text = flow_file.read_text(encoding="utf-8")
    anchor = "  - id: days_off\n"
    new = "  - id: overtime_paid\n    kind: single\n    choices: [paid, unpaid]\n\n"
    flow_file.write_text(text.replace(anchor, new + anchor, 1), encoding="utf-8")
    for lang in LANGS:
        texts = tmp_path / "locales" / lang / "worker_report.yaml"
        texts.write_text(
            texts.read_text(encoding="utf-8")
            + f"\novertime_paid.prompt: ({lang}) overtime?\n"
            + f"overtime_paid.choice.paid: ({lang}) paid\n"
            + f"overtime_paid.choice.unpaid: ({lang}) unpaid\n",
            encoding="utf-8",
        )
    flow, ui = load_texts(flow_file, None)
    assert "overtime_paid" in [q.id for q in flow.questions]
    for scenario in SCENARIOS:
        for lang in LANGS:
            lines: list[str] = []
            session = Session(flow, Texts(flow, ui), lang, THIS_YEAR, MemorySink(), lines.append)
            answers = GOLDEN / "answers" / f"{scenario}.yaml"
            outcome = run_script(session, load_answers(answers), answers.name)
            golden = final_answers(scenario, lang)
            assert outcome.kind == golden["outcome"]
            assert outcome.answers == golden["answers"]
            asked = any("(en) overtime?" in line or f"({lang}) overtime?" in line for line in lines)
            assert asked == (scenario == "worker_report_full")
