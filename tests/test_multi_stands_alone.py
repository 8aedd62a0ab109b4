"""A multi-choice never holds "none" (or "don't know") together with another choice (issue 14.4).

The failure: in the shipped flow a reporter could press "beaten" and then "no punishment" in
``punish`` and be asked who punished them (``punish_by``); ``watched`` and ``housing_issues``
allowed the same contradiction. Every press sequence on every multi-choice of the shipped flow
that has such a choice is tried through the engine.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.questionnaire.engine import Accepted, Choose, Done, Event, Prompt, Text, step
from bot.questionnaire.flow import Kind
from bot.questionnaire.kinds.multi import STANDS_ALONE
from tests.bot_support import shipped_flow
from tests.test_forgiving_input import at

FLOW = shipped_flow()
MULTIS = [q for q in FLOW.questions if q.kind is Kind.MULTI and STANDS_ALONE & set(q.choices)]
AT = {q.id: at(q.id, "ru") for q in MULTIS}


def test_the_shipped_flow_has_multi_choices_with_a_choice_that_stands_alone() -> None:
    assert {q.id for q in MULTIS} >= {"punish", "watched", "housing_issues"}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_press_sequence_combines_none_with_another_choice(data: st.DataObject) -> None:
    q = data.draw(st.sampled_from(MULTIS))
    options = [*q.choices, *(["other"] if q.other else [])]
    presses = data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=8))
    state = AT[q.id]
    for cid in presses:
        state, outputs = step(FLOW, state, Choose(q.id, cid))
        if cid == "other" and any(isinstance(o, Prompt) for o in outputs):
            event: Event = Text(q.id, "x")
            state, outputs = step(FLOW, state, event)
    _, outputs = step(FLOW, state, Done(q.id))
    answers = [o.answer for o in outputs if isinstance(o, Accepted) and o.qid == q.id]
    if not answers or answers[0] is None:
        return  # everything pressed twice: nothing chosen, the question skipped
    choices = answers[0].get("choices")
    assert isinstance(choices, list)
    chosen = {str(c) for c in choices}
    assert not (chosen & STANDS_ALONE) or len(chosen) == 1, (q.id, presses, chosen)
    if chosen & STANDS_ALONE:
        assert answers[0].get("text") is None  # "other" and its words went with the rest


def test_none_after_beaten_means_no_punishment_and_no_question_about_who() -> None:
    state = AT["punish"]
    for cid in ("beaten", "none"):
        state, _ = step(FLOW, state, Choose("punish", cid))
    _, outputs = step(FLOW, state, Done("punish"))
    assert [o.answer for o in outputs if isinstance(o, Accepted)] == [{"choices": ["none"]}]
    assert "punish_by" not in [o.qid for o in outputs if isinstance(o, Prompt)]
    # and the other way round: a punishment chosen after "none" replaces it
    state = AT["punish"]
    for cid in ("none", "beaten"):
        state, _ = step(FLOW, state, Choose("punish", cid))
    _, outputs = step(FLOW, state, Done("punish"))
    assert [o.answer for o in outputs if isinstance(o, Accepted)] == [{"choices": ["beaten"]}]
    assert "punish_by" in [o.qid for o in outputs if isinstance(o, Prompt)]
