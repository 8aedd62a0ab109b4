"""``kind: info``: a screen of text with a "continue" button; no answer."""

from __future__ import annotations

from bot.questionnaire.kind import (
    ChoiceLabel,
    ChoiceView,
    KindView,
    QuestionKind,
    QuestionSpec,
    Scalar,
    Turn,
    UiText,
    nothing_to_compare,
)
from bot.questionnaire.state import AnswerValue, State

CONTINUE = "continue"


class Info(QuestionKind):
    name = "info"
    takes_choices = False
    takes_other = False
    takes_accept = False
    takes_max_length = False
    never_required = "an info screen has no answer to require"
    holds_answer = False
    skippable = False
    reviewed = False
    done_button = False
    typed = False
    echoes_answer = False
    columns = None
    ends_when_declined = False
    first_sub_step = None

    def view(self, q: QuestionSpec, state: State) -> KindView:
        return KindView(choices=(ChoiceView(CONTINUE, "ui.button.continue"),))

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        if cid == CONTINUE:
            turn.settle(None)
        else:
            turn.invalid("not_a_choice")

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        turn.invalid("expected_button")

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        turn.settle(None)

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        return ""

    def comparable(self, answer: AnswerValue) -> list[object]:
        return []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return False

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return nothing_to_compare(q)

    def outline_line(self, q: QuestionSpec) -> str:
        return "info"
