"""``kind: place``: a region or city from a list, or written in words; never GPS."""

from __future__ import annotations

from bot.questionnaire.kind import (
    ChoiceLabel,
    KindView,
    QuestionKind,
    QuestionSpec,
    Scalar,
    Turn,
    UiText,
    choice_buttons,
    choice_could_equal,
    choice_why_not_equal,
    chosen_one,
    joined,
    keep_or_refuse,
    labelled_choice,
    own_words,
    required_note,
    typed_text,
)
from bot.questionnaire.state import Answer, AnswerValue, State


class Place(QuestionKind):
    name = "place"
    takes_choices = True
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
        return KindView(
            choices=choice_buttons(q, state.sub_step),
            selected=chosen_one(state),
            max_length=q.text_max_length,
        )

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        if cid in q.choices:
            turn.settle(Answer(choice=cid))
        else:
            turn.invalid("not_a_choice")

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        text = typed_text(turn, q, raw)
        if text is not None:
            turn.settle(Answer(text=text))

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        keep_or_refuse(turn, q, typed=True)

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        return joined(labelled_choice(answer, choice_label), own_words(answer))

    def comparable(self, answer: AnswerValue) -> list[object]:
        choice = answer.get("choice")
        return [choice] if isinstance(choice, str) else []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return choice_could_equal(q, value)

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return choice_why_not_equal(q, value)

    def outline_line(self, q: QuestionSpec) -> str:
        return (
            f"place: a choice or written, up to {q.text_max_length} characters, {required_note(q)}"
        )
