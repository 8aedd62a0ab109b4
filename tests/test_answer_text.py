"""The review line of an answer: one rendering for the bot and the terminal demo."""

from __future__ import annotations

from bot.questionnaire.answer_text import answer_text

UI = {"ui.month.03": "3월", "ui.button.dont_know": "모릅니다", "ui.button.agree": "동의합니다"}


def _ui(text_id: str) -> str:
    return UI.get(text_id, text_id)


def test_korean_review_writes_the_year_before_the_month_not_in_the_western_order() -> None:
    answer: dict[str, object] = {"year": 2024, "month": 3}
    assert answer_text(answer, "ko", ui=_ui, choice_label=str) == "2024 3월"
    assert answer_text(answer, "ru", ui=_ui, choice_label=str) == "3월 2024"


def test_review_line_joins_labels_and_the_reporters_own_words() -> None:
    answer: dict[str, object] = {"choice": "other", "text": "어업"}
    shown = answer_text(answer, "ko", ui=_ui, choice_label=lambda cid: f"<{cid}>")
    assert shown == "<other> — 어업"
    assert answer_text({"unknown": True}, "ko", ui=_ui, choice_label=str) == "모릅니다"
    assert answer_text({"media": [{}, {}]}, "ko", ui=_ui, choice_label=str) == "📎 × 2"
