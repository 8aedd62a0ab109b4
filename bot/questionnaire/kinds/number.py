"""``kind: number``: a whole number in ``[min, max]``, typed as digits, with a unit, or in words.

What is understood is in ``bot.questionnaire.numerals`` (``14시간``, ``14 часов``, ``열네``).
"""

from __future__ import annotations

from bot.questionnaire.kind import (
    ChoiceLabel,
    KindView,
    QuestionKind,
    QuestionSpec,
    Scalar,
    Turn,
    UiText,
    keep_or_refuse,
    required_note,
)
from bot.questionnaire.normalize import normalize_text
from bot.questionnaire.numerals import NUMBER_DIGITS_MAX, read_number
from bot.questionnaire.state import Answer, AnswerValue, State

__all__ = ["NUMBER_DIGITS_MAX", "Number"]


class Number(QuestionKind):
    name = "number"
    takes_choices = False
    takes_other = False
    takes_accept = False
    takes_max_length = False
    never_required = None
    holds_answer = True
    skippable = True
    reviewed = True
    done_button = False
    typed = True
    echoes_answer = True
    columns = None
    ends_when_declined = False
    first_sub_step = None

    def range_problem(self, q: QuestionSpec) -> str | None:
        if q.min is None or q.max is None or q.min > q.max:
            return "a number question needs min <= max"
        return None

    def view(self, q: QuestionSpec, state: State) -> KindView:
        return KindView(hint_id="ui.prompt.type_number")

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        turn.invalid("expected_text")

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        low, high = q.min, q.max
        if low is None or high is None:  # pragma: no cover - the spec check requires both
            turn.invalid("out_of_range")
            return
        outcome, number = read_number(normalize_text(raw, compatibility=True))
        if outcome == "ok" and number is not None and low <= number <= high:
            turn.settle(Answer(number=number))
        elif outcome in ("empty", "not_a_number"):
            turn.invalid(outcome)
        else:
            turn.invalid("out_of_range", min=low, max=high)

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        keep_or_refuse(turn, q, typed=True)

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        return str(answer["number"]) if "number" in answer else ""

    def comparable(self, answer: AnswerValue) -> list[object]:
        return [answer["number"]] if "number" in answer else []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return (
            type(value) is int
            and q.min is not None
            and q.max is not None
            and q.min <= value <= q.max
        )

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return f"'{q.id}' is a whole number from {q.min} to {q.max}"

    def outline_line(self, q: QuestionSpec) -> str:
        return f"number {q.min}..{q.max}, {required_note(q)}"
