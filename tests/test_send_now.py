"""The engine's "send what I have" (issue 14.1): after consent only, with what was answered."""

from __future__ import annotations

from bot.questionnaire.engine import (
    Choose,
    Done,
    Finished,
    Phase,
    Prompt,
    SendNow,
    Stale,
    Start,
    initial_state,
    step,
)
from tests.bot_support import shipped_flow

FLOW = shipped_flow()


def test_send_now_before_consent_is_refused_and_changes_nothing() -> None:
    state, out = step(FLOW, initial_state("ko", 2026), Start())
    assert [o.can_send_now for o in out if isinstance(o, Prompt)] == [False]
    new, out = step(FLOW, state, SendNow())
    assert out == [Stale()]
    assert new == state
    state, _ = step(FLOW, state, Choose("intro", "continue"))
    new, out = step(FLOW, state, SendNow())
    assert out == [Stale()]
    assert new == state


def test_send_now_after_consent_finishes_with_the_answers_given() -> None:
    state, _ = step(FLOW, initial_state("ru", 2026), Start())
    for qid, cid in [("intro", "continue"), ("consent", "agree"), ("alone", "ok_now")]:
        state, out = step(FLOW, state, Choose(qid, cid))
    assert [o.can_send_now for o in out if isinstance(o, Prompt)] == [True]
    state, out = step(FLOW, state, Choose("what", "unpaid"))
    state, out = step(FLOW, state, Done("what"))
    new, out = step(FLOW, state, SendNow())
    [finished] = [o for o in out if isinstance(o, Finished)]
    assert dict(finished.answers) == {
        "consent": {"consent": True},
        "alone": {"choice": "ok_now"},
        "what": {"choices": ["unpaid"]},
    }
    assert new.phase is Phase.FINISHED
    _, again = step(FLOW, new, SendNow())
    assert again == [Stale()]
