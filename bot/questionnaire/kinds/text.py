"""``kind: text``: free text up to ``max_length`` characters."""

from __future__ import annotations

from bot.questionnaire.kind import (
    ChoiceLabel,
    KindView,
    QuestionSpec,
    Scalar,
    Turn,
    UiText,
    WrittenAnswer,
    own_words,
    required_note,
)
from bot.questionnaire.state import AnswerValue, State


class FreeText(WrittenAnswer):
    name = "text"
    takes_choices = False
    takes_other = False
    takes_accept = False
    takes_max_length = True
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

    def view(self, q: QuestionSpec, state: State) -> KindView:
        return KindView(hint_id="ui.prompt.type_text", max_length=q.text_max_length)

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        turn.invalid("expected_text")

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        return own_words(answer)

    def comparable(self, answer: AnswerValue) -> list[object]:
        return [answer["text"]] if "text" in answer else []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return isinstance(value, str) and 0 < len(value) <= q.text_max_length

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return f"'{q.id}' is text of 1 to {q.text_max_length} characters"

    def outline_line(self, q: QuestionSpec) -> str:
        return f"text up to {q.text_max_length} characters, {required_note(q)}"
