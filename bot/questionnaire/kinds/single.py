"""``kind: single``: one choice from buttons, optionally "other: please write"."""

from __future__ import annotations

from dataclasses import replace

from bot.questionnaire.kind import (
    OTHER,
    SUB_OTHER,
    KindView,
    OneChoiceAnswer,
    QuestionSpec,
    Turn,
    choice_buttons,
    choice_ids,
    chosen_one,
    keep_or_refuse,
    required_note,
    typed_text,
)
from bot.questionnaire.state import Answer, State


class Single(OneChoiceAnswer):
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

    def outline_line(self, q: QuestionSpec) -> str:
        return f"single, {required_note(q)}"
