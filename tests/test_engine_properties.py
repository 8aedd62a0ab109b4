"""Property tests: random event sequences against the fixture flow with branches.

Each sequence mixes sensible input for the current screen (its buttons, typed text, files,
done/skip/back, edits from review) with junk (other questions' ids, wrong phases, odd text).
After every step the invariants the issue asks for are checked:

- the engine never raises;
- it never prompts a question whose ``when`` is false;
- it never finishes with a required question of the taken path unanswered;
- it never hands on (Finished, EndedEarly, Review, Cancelled) an answer of an abandoned branch,
  and a transport that applies Accepted/Dropped to per-question slots holds exactly those answers;
- from a freshly entered question, Back then the same answer returns the same state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli.demo import default_flow_path
from bot.questionnaire.conditions import evaluate
from bot.questionnaire.engine import (
    INVALID_CODES,
    Accepted,
    Back,
    Cancel,
    Cancelled,
    Choose,
    Done,
    Dropped,
    Edit,
    EndedEarly,
    Event,
    Finished,
    Interrupted,
    Invalid,
    Media,
    Output,
    Phase,
    Prompt,
    Restart,
    Review,
    Skip,
    Stale,
    Start,
    State,
    Submit,
    Text,
    Timeout,
    initial_state,
    normalize_text,
    step,
)
from bot.questionnaire.flow import (
    All,
    AnswerValue,
    AnyOf,
    Condition,
    Equals,
    Flow,
    Kind,
    MediaKind,
    Not,
    OneOf,
    condition_refs,
)
from bot.questionnaire.loader import default_locales_dir, load_flow
from tests.engine_support import THIS_YEAR, load_fixture_flow

FIXTURE = load_fixture_flow()
SHIPPED = load_flow(default_flow_path(), default_locales_dir(default_flow_path()))


def ending_choices(flow: Flow) -> frozenset[str]:
    """Choices that end a run (decline, values in ``end_if``): drawn less often, so that runs
    reach the review screen and finish."""
    found = {"decline"}

    def leaves(cond: Condition) -> None:
        match cond:
            case Equals(equals=value):
                found.add(str(value))
            case OneOf(one_of=values):
                found.update(str(v) for v in values)
            case Not(not_=inner):
                leaves(inner)
            case All(all=items) | AnyOf(any=items):
                for item in items:
                    leaves(item)

    for q in flow.questions:
        if q.end_if is not None:
            leaves(q.end_if)
    return frozenset(found)


TEXTS = [
    "Kazan",
    "평양",
    "12",
    "0",
    "200",
    "201",
    "2024-03",
    "03.2024",
    "2021",
    "7",
    "",
    " \u200b ",
    "\u202eevil\u202c",
    "x" * 81,
    "one\ntwo",
    "press",
]


def taken(flow: Flow, answers: Mapping[str, AnswerValue]) -> list[str]:
    kinds = {q.id: q.kind for q in flow.questions}
    return [q.id for q in flow.questions if q.when is None or evaluate(q.when, kinds, answers)]


def branch_openers(flow: Flow) -> list[str]:
    """Questions some ``when`` or ``end_if`` reads: editing them flips branches."""
    refs = [
        ref
        for q in flow.questions
        for cond in (q.when, q.end_if)
        if cond is not None
        for ref in condition_refs(cond)
    ]
    return list(dict.fromkeys(refs)) or [flow.questions[0].id]


def answer_events(flow: Flow, qid: str, answer: AnswerValue | None) -> list[list[Event]]:
    """Ways to give ``answer`` again to ``qid`` right after entering it (keep, and retype)."""
    q = flow.question(qid)
    if q.kind is Kind.INFO:
        return [[Choose(qid, "continue")], [Done(qid)]]
    if answer is None:
        return [[Skip(qid)]]
    ways: list[list[Event]] = [[Done(qid)]]
    match q.kind:
        case Kind.CONSENT:
            ways.append([Choose(qid, "agree")])
        case Kind.SINGLE | Kind.PLACE:
            if answer.get("choice") == "other":
                ways.append([Choose(qid, "other"), Text(qid, str(answer["text"]))])
                ways.append([Text(qid, str(answer["text"]))])
            elif "choice" in answer:
                ways.append([Choose(qid, str(answer["choice"]))])
            else:
                ways.append([Text(qid, str(answer["text"]))])
        case Kind.TEXT:
            ways.append([Text(qid, str(answer["text"]))])
        case Kind.NUMBER:
            ways.append([Text(qid, str(answer["number"]))])
        case Kind.DATE:
            if answer.get("unknown"):
                ways.append([Choose(qid, "unknown")])
            elif answer.get("month") is None:
                ways.append([Choose(qid, f"y{answer['year']}"), Choose(qid, "unknown")])
            else:
                ways.append(
                    [Choose(qid, f"y{answer['year']}"), Choose(qid, f"m{answer['month']:02d}")]
                )
                ways.append([Text(qid, f"{answer['year']}-{answer['month']:02d}")])
        case Kind.MULTI | Kind.MEDIA:
            pass  # Done (the preselection) is the way
    return ways


@st.composite
def next_event(draw: st.DrawFn, flow: Flow, state: State, prompt: Prompt | None) -> Event:
    qids = [q.id for q in flow.questions]
    roll = draw(st.integers(0, 99))
    if state.phase in (Phase.FINISHED, Phase.ENDED, Phase.CANCELLED, Phase.INTERRUPTED):
        return Restart() if roll < 70 else draw(junk_event(qids))
    if state.phase is Phase.NOT_STARTED:
        return Start() if roll < 90 else draw(junk_event(qids))
    if state.phase is Phase.REVIEW:
        if roll < 50:
            # Mostly the questions that open or close branches, so that branches flip often.
            return Edit(draw(st.sampled_from(branch_openers(flow))))
        if roll < 60:
            return Edit(draw(st.sampled_from([*qids, "nope"])))
        if roll < 80:
            return Submit()
        if roll < 92:
            return Back()
        return draw(junk_event(qids))
    assert prompt is not None
    qid = prompt.qid
    if roll < 45:
        return draw(sensible_answer(flow, prompt, roll < 43))
    if roll < 60:
        return Text(qid, draw(st.sampled_from(TEXTS) | st.text(max_size=12)))
    if roll < 68:
        kind = draw(st.sampled_from(list(MediaKind)))
        return Media(qid, kind, draw(st.sampled_from(["r1", "r2", "r3"])))
    if roll < 76:
        return Done(qid)
    if roll < 81:
        return Skip(qid)
    if roll < 94:
        return Back()
    return draw(junk_event(qids))


@st.composite
def sensible_answer(draw: st.DrawFn, flow: Flow, prompt: Prompt, calm: bool) -> Event:
    """An answer the prompt invites (``calm``: not one that ends the run)."""
    qid = prompt.qid
    if prompt.kind is Kind.MULTI and draw(st.booleans()):
        return Done(qid)
    if prompt.choices and (prompt.kind is not Kind.PLACE or draw(st.booleans())):
        cids = [c.cid for c in prompt.choices]
        quiet = [c for c in cids if c not in ending_choices(flow)] or cids
        return Choose(qid, draw(st.sampled_from(quiet if calm else cids)))
    match prompt.kind:
        case Kind.NUMBER:
            low = prompt.min if prompt.min is not None else 0
            high = prompt.max if prompt.max is not None else low
            return Text(qid, str(draw(st.integers(low, high))))
        case Kind.MEDIA:
            if draw(st.booleans()) and prompt.accept:
                kind = draw(st.sampled_from(prompt.accept))
                return Media(qid, kind, draw(st.sampled_from(["r1", "r2", "r3", "r4"])))
            return Done(qid)
    return Text(qid, draw(st.sampled_from(["Kazan", "평양", "Тверь", "one\ntwo"])))


@st.composite
def junk_event(draw: st.DrawFn, qids: list[str]) -> Event:
    qid = draw(st.sampled_from([*qids, "", "ghost"]))
    harmless: list[Event] = [
        Choose(qid, draw(st.sampled_from(["build", "y1999", "m13", "agree", "zzz"]))),
        Text(qid, draw(st.text(max_size=8))),
        Done(qid),
        Skip(qid),
        Edit(qid),
        Submit(),
        Start(),
        Back(),
    ]
    ending: list[Event] = [Cancel(), Timeout(), Restart()]
    return draw(st.sampled_from(harmless if draw(st.integers(0, 9)) else ending))


def check_outputs(
    flow: Flow, state: State, outputs: Sequence[Output], slots: dict[str, AnswerValue]
) -> None:
    qids = [q.id for q in flow.questions]
    answers = state.answer_values()
    for out in outputs:
        match out:
            case Prompt(qid=qid):
                assert qid == state.current
                assert qid in taken(flow, answers), f"prompted {qid} whose when is false"
            case Accepted(qid=qid, answer=answer):
                slots[qid] = answer
            case Dropped(qid=qid):
                slots.pop(qid, None)
            case Invalid(code=code):
                assert code in INVALID_CODES, f"Invalid({code!r}) is not a known code"
            case Review(items=items):
                on_path = taken(flow, answers)
                assert all(item.qid in on_path for item in items)
                assert all(qid in on_path for qid in answers), "an abandoned answer kept"
                assert slots == answers
            case Finished(answers=final):
                path = taken(flow, final)
                assert all(qid in path for qid in final), "finished with an abandoned answer"
                for q in flow.questions:
                    if q.required and q.id in path:
                        assert q.id in final, f"finished without required {q.id}"
                assert slots == dict(final)
            case EndedEarly(qid=qid, answers=final):
                path = taken(flow, final)
                assert all(key in path for key in final)
                end_at = qids.index(qid)
                assert all(qids.index(key) <= end_at for key in final)
                assert slots == dict(final)
            case Cancelled(answers=final) | Interrupted(answers=final):
                path = taken(flow, final)
                assert all(key in path for key in final)
                assert slots == dict(final)
            case Stale():
                pass


def check_back_then_same_answer(flow: Flow, state: State, outputs: Sequence[Output]) -> None:
    """From a freshly entered question, Back then the same answer gives the same state."""
    prompts = [o for o in outputs if isinstance(o, Prompt)]
    if (
        state.phase is not Phase.ASKING
        or not prompts
        or state.editing
        or state.page != 0
        or state.sub_step
        != ("year" if flow.question(state.current or "").kind is Kind.DATE else None)
        or state.pending != state.answer(state.current or "")
        or not prompts[-1].can_back
    ):
        return
    back_state, back_out = step(flow, state, Back())
    back_prompts = [o for o in back_out if isinstance(o, Prompt)]
    assert back_prompts, back_out
    previous = back_prompts[-1].qid
    assert previous != state.current
    for events in answer_events(flow, previous, back_state.answer_values().get(previous)):
        again = back_state
        for event in events:
            again, out = step(flow, again, event)
            assert not any(isinstance(o, Invalid | Stale) for o in out), (event, out)
        assert again == state, f"back then {events} changed the state"


def walk(data: st.DataObject, flow: Flow) -> None:
    """One random run over ``flow``, checking every invariant after every step."""
    state = initial_state(data.draw(st.sampled_from(["ko", "ru", "en"])), THIS_YEAR)
    prompt: Prompt | None = None
    slots: dict[str, AnswerValue] = {}
    for _ in range(data.draw(st.integers(1, max(80, 5 * len(flow.questions))))):
        event = data.draw(next_event(flow, state, prompt))
        before = state
        state, outputs = step(flow, state, event)
        if isinstance(event, Restart):
            slots = {} if before.phase not in (Phase.ASKING, Phase.REVIEW) else slots
        check_outputs(flow, state, outputs, slots)
        if state.phase is not Phase.ASKING:
            prompt = None
        prompts = [o for o in outputs if isinstance(o, Prompt)]
        if prompts:
            prompt = prompts[-1]
        if state.phase in (Phase.ASKING, Phase.REVIEW):
            assert slots == state.answer_values()
        check_back_then_same_answer(flow, state, outputs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_event_sequences_keep_every_invariant(data: st.DataObject) -> None:
    walk(data, FIXTURE)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_event_sequences_on_the_shipped_flow_keep_every_invariant(
    data: st.DataObject,
) -> None:
    walk(data, SHIPPED)


@given(st.text())
def test_normalised_text_is_stable_and_free_of_invisible_controls(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    invisible = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200e\u200f\ufeff"
    assert not any(ch in once for ch in invisible + "\r\t\x00")
    once.encode("utf-8")  # no lone surrogates survive
