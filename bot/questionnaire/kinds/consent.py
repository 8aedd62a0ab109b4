"""``kind: consent``: agree / do not agree; "do not agree" ends the flow with nothing kept."""

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
    keep_or_refuse,
)
from bot.questionnaire.state import Answer, AnswerValue, State

AGREE = "agree"
DECLINE = "decline"


class Consent(QuestionKind):
    name = "consent"
    takes_choices = False
    takes_other = False
    takes_accept = False
    takes_max_length = False
    never_required = None
    holds_answer = True
    skippable = False
    reviewed = False
    done_button = False
    typed = False
    echoes_answer = False
    columns = None
    ends_when_declined = True
    first_sub_step = None

    def view(self, q: QuestionSpec, state: State) -> KindView:
        pending = state.pending
        return KindView(
            choices=(
                ChoiceView(AGREE, "ui.button.agree"),
                ChoiceView(DECLINE, "ui.button.decline"),
            ),
            selected=(AGREE,) if pending is not None and pending.consent else (),
        )

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        if cid == AGREE:
            turn.settle(Answer(consent=True))
        elif cid == DECLINE:
            turn.decline()
        else:
            turn.invalid("not_a_choice")

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        turn.invalid("expected_button")

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        keep_or_refuse(turn, q, typed=False)

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        if "consent" not in answer:
            return ""
        return ui("ui.button.agree" if answer["consent"] else "ui.button.decline")

    def comparable(self, answer: AnswerValue) -> list[object]:
        return [answer.get("consent")] if "consent" in answer else []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return value is True

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return f"'{q.id}' is a consent: it compares only with true (declining ends the flow)"

    def outline_line(self, q: QuestionSpec) -> str:
        return "consent, must agree to go on"
