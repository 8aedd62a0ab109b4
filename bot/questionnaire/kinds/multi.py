"""``kind: multi``: several choices from buttons, then "done"; optionally "other".

A choice that says there is nothing to choose (:data:`STANDS_ALONE`: ``none``, ``dont_know``)
is never combined with another: choosing it clears the others, choosing another (or writing
"other") clears it. So no answer says "beaten" and "no punishment" at once, and no follow-up of
"beaten" is asked after "none".
"""

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
    joined,
    own_words,
    required_note,
    typed_text,
)
from bot.questionnaire.state import Answer, AnswerValue, State

STANDS_ALONE = frozenset({"none", "dont_know"})
"""Choice ids of a multi-choice that exclude every other choice (docs/engine.md)."""


class Multi(QuestionKind):
    name = "multi"
    takes_choices = True
    takes_other = True
    takes_accept = False
    takes_max_length = False
    never_required = None
    holds_answer = True
    skippable = True
    reviewed = True
    done_button = True
    typed = False
    echoes_answer = False
    columns = None
    ends_when_declined = False
    first_sub_step = None

    def view(self, q: QuestionSpec, state: State) -> KindView:
        pending = state.pending
        writing = state.sub_step == SUB_OTHER
        return KindView(
            choices=choice_buttons(q, state.sub_step),
            selected=(pending.choices or ()) if pending is not None else (),
            # How to choose several is said once, on the first multi-choice a reporter meets.
            hint_id="ui.prompt.type_text" if writing else "ui.prompt.choose_all",
            hint_once=not writing,
            max_length=q.text_max_length if q.other or writing else None,
        )

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        ids = choice_ids(q)
        if cid not in ids:
            turn.invalid("not_a_choice")
            return
        pending = turn.state.pending or Answer()
        chosen = set(pending.choices or ())
        text = pending.text
        if cid == OTHER and q.other:
            if OTHER not in chosen:
                turn.stay(replace(turn.state, sub_step=SUB_OTHER, pending=pending))
                return
            chosen.discard(OTHER)
            text = None
        elif cid in chosen:
            chosen.discard(cid)
        elif cid in STANDS_ALONE:
            chosen, text = {cid}, None
        else:
            chosen = (chosen - STANDS_ALONE) | {cid}
        ordered = tuple(c for c in ids if c in chosen)
        turn.stay(replace(turn.state, sub_step=None, pending=Answer(choices=ordered, text=text)))

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        if not q.other:
            turn.invalid("expected_button")
            return
        text = typed_text(turn, q, raw)
        if text is None:
            return
        pending = turn.state.pending or Answer()
        chosen = (set(pending.choices or ()) - STANDS_ALONE) | {OTHER}
        ordered = tuple(c for c in choice_ids(q) if c in chosen)
        turn.stay(replace(turn.state, sub_step=None, pending=Answer(choices=ordered, text=text)))

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        pending = turn.state.pending or Answer()
        chosen = pending.choices or ()
        if chosen:
            turn.settle(Answer(choices=chosen, text=pending.text))
        elif q.required:
            turn.invalid("required")
        else:
            turn.settle(None)

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        choices = answer.get("choices")
        labels = (
            ", ".join(choice_label(str(c)) for c in choices) if isinstance(choices, list) else ""
        )
        return joined(labels, own_words(answer))

    def comparable(self, answer: AnswerValue) -> list[object]:
        choices = answer.get("choices")
        return [c for c in choices if isinstance(c, str)] if isinstance(choices, list) else []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return choice_could_equal(q, value)

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return choice_why_not_equal(q, value)

    def outline_line(self, q: QuestionSpec) -> str:
        return f"multi, {required_note(q)}"
