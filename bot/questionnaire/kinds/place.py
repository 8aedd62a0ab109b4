"""``kind: place``: a region or city from a list, or written in words; never GPS."""

from __future__ import annotations

from bot.questionnaire.kind import (
    KindView,
    OneChoiceAnswer,
    QuestionSpec,
    Turn,
    WrittenAnswer,
    choice_buttons,
    chosen_one,
    required_note,
)
from bot.questionnaire.state import Answer, State


class Place(OneChoiceAnswer, WrittenAnswer):
    """A choice from the list (what conditions compare), or the place written in words."""

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

    def outline_line(self, q: QuestionSpec) -> str:
        return (
            f"place: a choice or written, up to {q.text_max_length} characters, {required_note(q)}"
        )
