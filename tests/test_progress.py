"""The progress counter over every branch of the shipped flow (issue 14.2).

Walking forward, the position shown never goes back, and the total shown never grows by more
than the questions the answer just given opened.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.questionnaire.conditions import evaluate
from bot.questionnaire.engine import (
    Choose,
    Done,
    Event,
    Prompt,
    Skip,
    Start,
    State,
    Text,
    initial_state,
    step,
)
from bot.questionnaire.flow import AnswerValue, Flow, Kind, Question, condition_refs
from tests.bot_support import shipped_flow

FLOW = shipped_flow()


def taken(flow: Flow, answers: dict[str, AnswerValue]) -> set[str]:
    kinds = {q.id: q.kind for q in flow.questions}
    return {q.id for q in flow.questions if q.when is None or evaluate(q.when, kinds, answers)}


def openers(flow: Flow) -> list[str]:
    return sorted({ref for q in flow.questions if q.when for ref in condition_refs(q.when)})


def first_answer(q: Question, prompt: Prompt) -> Event:
    match q.kind:
        case Kind.INFO | Kind.CONSENT:
            return Choose(q.id, prompt.choices[0].cid)
        case Kind.NUMBER:
            return Text(q.id, str(q.min))
        case Kind.TEXT:
            return Text(q.id, "x")
        case Kind.MEDIA:
            return Done(q.id)
        case Kind.MULTI:
            return Choose(q.id, prompt.choices[0].cid)
    return Choose(q.id, prompt.choices[0].cid)


def branches(flow: Flow) -> list[tuple[str, str, str]]:
    """(opener, its choice, how the rest is answered) for every choice of every opener."""
    out = []
    for qid in openers(flow):
        q = flow.question(qid)
        for cid in [*q.choices, *(["other"] if q.other else [])]:
            for rest in ("first", "skip"):
                if qid == "alone" and cid == "not_now":
                    continue  # ends the flow at once
                out.append((qid, cid, rest))
    return out


def walk(flow: Flow, opener: str, cid: str, rest: str) -> list[tuple[int, int, int]]:
    """(step, total, questions opened by the previous answer) for each question on the way."""
    return walk_choosing(flow, {opener: cid}, rest)


def walk_choosing(flow: Flow, picks: dict[str, str], rest: str) -> list[tuple[int, int, int]]:
    """Like :func:`walk`, with a choice picked for each opener in ``picks`` at once."""
    state: State = initial_state("en", 2026)
    state, outputs = step(flow, state, Start())
    seen: list[tuple[int, int, int]] = []
    opened = 0
    for _ in range(4 * len(flow.questions)):
        prompts = [o for o in outputs if isinstance(o, Prompt)]
        if not prompts:
            return seen
        prompt = prompts[-1]
        if not seen or (prompt.step, prompt.total) != seen[-1][:2]:
            seen.append((prompt.step, prompt.total, opened))
        q = flow.question(prompt.qid)
        before = taken(flow, state.answer_values())
        event: Event
        if q.id in picks:
            event = Choose(q.id, picks[q.id])
        elif q.kind in (Kind.INFO, Kind.CONSENT) or q.id == "alone" or rest == "first":
            event = first_answer(q, prompt)
        else:
            event = Skip(q.id)
        state, outputs = step(flow, state, event)
        if q.kind is Kind.MULTI and any(isinstance(o, Prompt) and o.qid == q.id for o in outputs):
            if picks.get(q.id) == "other":
                state, outputs = step(flow, state, Text(q.id, "x"))
            state, outputs = step(flow, state, Done(q.id))
        opened = len(taken(flow, state.answer_values()) - before)
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(("opener", "cid", "rest"), branches(FLOW))
def test_the_counter_never_goes_back_and_grows_only_by_the_branch_just_opened(
    opener: str, cid: str, rest: str
) -> None:
    seen = walk(FLOW, opener, cid, rest)
    assert len(seen) > 3
    for (step_a, total_a, _), (step_b, total_b, opened) in itertools.pairwise(seen):
        assert step_b > step_a, seen
        assert total_b - total_a <= opened, (opener, cid, seen)
        assert step_b <= total_b


def test_the_shown_progress_names_no_total_that_could_jump() -> None:
    from bot.texts.resolver import TextResolver, progress_text
    from tests.bot_support import shipped_ui

    texts = TextResolver(FLOW.texts, shipped_ui())
    for lang in ("ko", "ru", "en"):
        shown = progress_text(texts, lang, 7, 12)
        assert "7" in shown
        assert "5" in shown
        assert "12" not in shown
        assert "{" not in progress_text(texts, lang, 12, 12)


def _choices_of(flow: Flow, qid: str) -> list[str]:
    q = flow.question(qid)
    return [*q.choices, *(["other"] if q.other else [])]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_counter_holds_when_several_branches_open_on_one_path(data: st.DataObject) -> None:
    """Every opener answered at once (any of its choices), so branches open together on one
    path, not one at a time as above."""
    picks = {
        qid: data.draw(st.sampled_from(_choices_of(FLOW, qid)), label=qid)
        for qid in openers(FLOW)
        if qid != "alone"  # "not now" ends the flow at once
    }
    rest = data.draw(st.sampled_from(["first", "skip"]), label="rest")
    seen = walk_choosing(FLOW, picks, rest)
    assert len(seen) > 3
    for (step_a, total_a, _), (step_b, total_b, opened) in itertools.pairwise(seen):
        assert step_b > step_a, (picks, seen)
        assert total_b - total_a <= opened, (picks, seen)
        assert step_b <= total_b
