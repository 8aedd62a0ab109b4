"""``kind: number``: a whole number in ``[min, max]``."""

from __future__ import annotations

import re

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
from bot.questionnaire.state import Answer, AnswerValue, State

NUMBER_DIGITS_MAX = 12
"""Longest digit string parsed as a number; longer input is out of range without parsing."""

_NUMBER = re.compile(r"^[+-]?\d+$")


class Number(QuestionKind):
    name = "number"
    takes_choices = False
    takes_other = False
    takes_range = True
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
        text = normalize_text(raw, compatibility=True)
        text = re.sub(r"[\s_'’,]", "", text).replace("−", "-")  # 1 000 / 1,000 / U+2212 minus
        if not text:
            turn.invalid("empty")
            return
        if not _NUMBER.match(text):
            turn.invalid("not_a_number")
            return
        if len(text.lstrip("+-")) > NUMBER_DIGITS_MAX:
            turn.invalid("out_of_range")
            return
        number = int(text)
        low = q.min if q.min is not None else number
        high = q.max if q.max is not None else number
        if not low <= number <= high:
            turn.invalid("out_of_range")
            return
        turn.settle(Answer(number=number))

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
