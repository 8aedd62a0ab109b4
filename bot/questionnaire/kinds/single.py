"""``kind: single``: one choice from buttons, optionally "other: please write"."""

from __future__ import annotations

from dataclasses import replace

from bot.questionnaire.kind import (
    OTHER,
    SUB_OTHER,
    ChoiceLabel,
    KindView,
    QuestionKind,
    QuestionSpec,
    Scalar,
    Turn,
    UiText,
    choice_buttons,
    choice_could_equal,
    choice_ids,
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


class Single(QuestionKind):
    name = "single"
    takes_choices = True
    takes_other = True
    takes_accept = False
    takes_max_length = False
    never_required = None
    holds_answer = True
    skippable = True
    reviewed = True
    done_button = False
    typed = False
    echoes_answer = False
    columns = None
    ends_when_declined = False
    first_sub_step = None

    def view(self, q: QuestionSpec, state: State) -> KindView:
        writing = state.sub_step == SUB_OTHER
        return KindView(
            choices=choice_buttons(q, state.sub_step),
            selected=chosen_one(state),
            hint_id="ui.prompt.type_text" if writing else None,
            max_length=q.text_max_length if q.other or writing else None,
        )

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        if cid not in choice_ids(q):
            turn.invalid("not_a_choice")
        elif cid == OTHER and q.other:
            old = turn.state.answer(q.id)
            text = old.text if old is not None and old.choice == OTHER else None
            turn.stay(
                replace(turn.state, sub_step=SUB_OTHER, pending=Answer(choice=OTHER, text=text))
            )
        else:
            turn.settle(Answer(choice=cid))

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        if not q.other:
            turn.invalid("expected_button")
            return
        text = typed_text(turn, q, raw)
        if text is not None:
            turn.settle(Answer(choice=OTHER, text=text))

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        keep_or_refuse(turn, q, typed=False)

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
        return f"single, {required_note(q)}"
