"""The questionnaire engine: a pure function from (flow, state, event) to (state, outputs).

No I/O, no clock, no randomness, no Telegram types: the Telegram handlers, the terminal demo
and the tests all drive this same code. ``step`` never raises on any event: input it cannot use
yields an ``Invalid`` output (shown to the reporter as ``ui.error.<code>``) and events that do
not fit the current state (an old button, a command in the wrong phase) yield ``Stale``.

The contract is documented in ``docs/engine.md``. In short:

- The path through a flow is not stored: the questions "taken" are those whose ``when`` holds
  over the current answers. ``Back`` goes to the previous such question (its answer kept as a
  preselection), so going back and giving the same answer returns exactly the same state.
- Whenever an answer changes, every answer whose question's ``when`` no longer holds is removed
  and announced with ``Dropped``: answers of abandoned branches are never handed on.
- ``Accepted(qid, answer)`` means "store this answer in the slot of ``qid`` now" (replacing
  what was there); ``Dropped(qid)`` means "delete the slot". A transport that applies both in
  order holds, at ``Finished``, exactly the answers ``Finished`` carries.
- ``end_if`` ends the flow (``EndedEarly``) when the question it belongs to is passed and the
  condition holds; a declined consent ends it with nothing kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.questionnaire.conditions import evaluate
from bot.questionnaire.flow import LANGUAGES, AnswerValue, Flow, Kind, MediaKind, Question
from bot.questionnaire.kind import OTHER, SUB_OTHER, ChoiceView, QuestionKind, choice_ids
from bot.questionnaire.kinds import kind_of
from bot.questionnaire.kinds.consent import AGREE, DECLINE
from bot.questionnaire.kinds.date import EARLIER, SUB_MONTH, SUB_YEAR, UNKNOWN, YEARS_PER_PAGE
from bot.questionnaire.kinds.info import CONTINUE
from bot.questionnaire.kinds.media import MEDIA_REF_MAX
from bot.questionnaire.kinds.number import NUMBER_DIGITS_MAX
from bot.questionnaire.normalize import normalize_text
from bot.questionnaire.state import ACTIVE_PHASES, Answer, Phase, State

# --------------------------------------------------------------------------------------------
# Constants the transports share (the kinds' own live in their modules and are named here too)

__all__ = [
    "ACTIVE_PHASES",
    "AGREE",
    "CONTINUE",
    "DECLINE",
    "EARLIER",
    "MEDIA_REF_MAX",
    "NUMBER_DIGITS_MAX",
    "OTHER",
    "SUB_MONTH",
    "SUB_OTHER",
    "SUB_YEAR",
    "UNKNOWN",
    "YEARS_PER_PAGE",
    "Answer",
    "ChoiceView",
    "Phase",
    "State",
    "choice_ids",
    "normalize_text",
]
# (and everything defined below)

TEXT_INPUT_MAX = 16_384
"""Longest raw text looked at; longer input is too long without normalising it (Telegram's
own limit is 4096 characters a message, and no question accepts more than 4000)."""

INVALID_CODES: tuple[str, ...] = (
    "too_long",
    "empty",
    "not_a_number",
    "out_of_range",
    "not_a_choice",
    "bad_date",
    "wrong_media_kind",
    "too_many_files",
    "required",
    "expected_button",
    "expected_text",
)
"""Every ``Invalid.code``; each has a text ``ui.error.<code>`` in every language."""

CONSENT_DECLINED_TEXT = "ui.consent.declined"
"""Shown when a consent question without its own ``end_if`` text is declined."""


def initial_state(lang: str, this_year: int) -> State:
    """A fresh state (phase ``not_started``); ``this_year`` bounds the date questions' years."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    return State(lang=lang, this_year=this_year)


def with_language(state: State, lang: str) -> State:
    """The same state shown in another language (answers are ids and kept)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    return replace(state, lang=lang)


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class Choose:
    qid: str
    choice: str


@dataclass(frozen=True, slots=True)
class Text:
    qid: str
    text: str


@dataclass(frozen=True, slots=True)
class Media:
    qid: str
    kind: MediaKind
    ref: str


@dataclass(frozen=True, slots=True)
class Done:
    qid: str


@dataclass(frozen=True, slots=True)
class Skip:
    qid: str


@dataclass(frozen=True, slots=True)
class Back:
    pass


@dataclass(frozen=True, slots=True)
class Edit:
    qid: str


@dataclass(frozen=True, slots=True)
class Submit:
    pass


@dataclass(frozen=True, slots=True)
class Cancel:
    pass


@dataclass(frozen=True, slots=True)
class Restart:
    pass


@dataclass(frozen=True, slots=True)
class Timeout:
    pass


@dataclass(frozen=True, slots=True)
class SendNow:
    """ "Send what I have": finish now with the answers given so far (after consent only)."""


Event = (
    Start
    | Choose
    | Text
    | Media
    | Done
    | Skip
    | Back
    | Edit
    | Submit
    | SendNow
    | Cancel
    | Restart
    | Timeout
)

# --------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True, slots=True)
class Prompt:
    qid: str
    kind: Kind
    prompt_id: str  # flow text id of the question (or "<qid>.other" when asking for "other")
    help_id: str | None  # flow text id behind a help button, if the question has one
    choices: tuple[ChoiceView, ...]
    can_skip: bool
    can_back: bool
    selected: tuple[str, ...]  # choice ids shown as chosen (media: kinds of files received)
    sub_step: str | None  # None, or "year" / "month" (date), "other" (writing "other")
    max_length: int | None  # longest text accepted now (text, place, "other"); None: no text
    min: int | None  # number questions: the range
    max: int | None
    step: int  # 1-based position among the questions taken with the current answers
    total: int
    hint_id: str | None = None  # ui text id of a how-to-answer line (ui.prompt.*)
    can_done: bool = False  # show a "done" button (multi, media; or "keep" an earlier answer)
    can_send_now: bool = False  # offer "send what I have" (every prompt once consent is given)
    answer: AnswerValue | None = None  # the answer given before (when back or editing)
    accept: tuple[MediaKind, ...] = ()  # media questions: kinds accepted
    max_files: int | None = None  # media questions: files at most (None: takes no files)
    echo_answer: bool = False  # show ``answer`` under the prompt (typed and date answers)
    columns: int | None = None  # buttons per row the kind asks for (None: the transport decides)


@dataclass(frozen=True, slots=True)
class Invalid:
    qid: str
    code: str  # one of INVALID_CODES; ui text "ui.error.<code>"
    values: tuple[tuple[str, int], ...] = ()  # its placeholders, e.g. (("max", 24), ("min", 0))


@dataclass(frozen=True, slots=True)
class Accepted:
    qid: str
    answer: AnswerValue


@dataclass(frozen=True, slots=True)
class Dropped:
    qid: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    qid: str
    prompt_id: str
    answer: AnswerValue | None


@dataclass(frozen=True, slots=True)
class Review:
    items: tuple[ReviewItem, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    answers: Mapping[str, AnswerValue]


@dataclass(frozen=True, slots=True)
class EndedEarly:
    qid: str
    end_id: str
    answers: Mapping[str, AnswerValue]


@dataclass(frozen=True, slots=True)
class Cancelled:
    answers: Mapping[str, AnswerValue]


@dataclass(frozen=True, slots=True)
class Interrupted:
    answers: Mapping[str, AnswerValue]


@dataclass(frozen=True, slots=True)
class Stale:
    pass


Output = (
    Prompt
    | Invalid
    | Accepted
    | Dropped
    | Review
    | Finished
    | EndedEarly
    | Cancelled
    | Interrupted
    | Stale
)

# --------------------------------------------------------------------------------------------
# Helpers over a flow


class _Ctx:
    """Lookups over a flow for one call (the flow's own, made once per flow: it is frozen)."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.questions = flow.questions
        self.kinds = flow.kinds
        self.index = flow.positions
        self.by_id = flow.by_id

    def relevant(self, q: Question, answers: Mapping[str, AnswerValue]) -> bool:
        return q.when is None or evaluate(q.when, self.kinds, answers)


def _kind(q: Question) -> QuestionKind:
    return kind_of(q.kind)


def _can_skip(q: Question) -> bool:
    return not q.required and _kind(q).skippable


# --------------------------------------------------------------------------------------------
# Transitions


class _Step:
    """One call of ``step``: the flow's lookups, the state so far and the outputs so far."""

    def __init__(self, ctx: _Ctx, state: State) -> None:
        self.ctx = ctx
        self.state = state
        self.out: list[Output] = []
        self._taken: tuple[tuple[tuple[str, Answer], ...], list[Question]] | None = None

    # -- answers and branches --------------------------------------------------------------

    def values(self) -> dict[str, AnswerValue]:
        return self.state.answer_values()

    def taken(self) -> list[Question]:
        """The questions taken with the current answers, in flow order."""
        answers = self.state.answers
        if self._taken is None or self._taken[0] != answers:
            values = self.values()
            self._taken = (answers, [q for q in self.ctx.questions if self.ctx.relevant(q, values)])
        return list(self._taken[1])

    def prune(self) -> None:
        """Remove answers (and settled marks) of questions whose ``when`` no longer holds."""
        state = self.state
        while True:
            values = state.answer_values()
            gone = [
                qid
                for qid, _ in state.answers
                if qid in self.ctx.by_id and not self.ctx.relevant(self.ctx.by_id[qid], values)
            ]
            if not gone:
                break
            state = replace(state, answers=tuple(a for a in state.answers if a[0] not in gone))
            self.out.extend(Dropped(qid) for qid in gone)
        values = state.answer_values()
        settled = frozenset(
            qid
            for qid in state.settled
            if qid in self.ctx.by_id and self.ctx.relevant(self.ctx.by_id[qid], values)
        )
        self.state = replace(state, settled=settled)

    def set_answer(self, qid: str, answer: Answer | None) -> None:
        """Store (or with None remove) an answer, announcing the change; keep flow order."""
        old = self.state.answer(qid)
        if old == answer:
            return
        rest = [a for a in self.state.answers if a[0] != qid]
        if answer is not None:
            rest.append((qid, answer))
            self.out.append(Accepted(qid, answer.value()))
        else:
            self.out.append(Dropped(qid))
        rest.sort(key=lambda a: self.ctx.index.get(a[0], len(self.ctx.questions)))
        self.state = replace(self.state, answers=tuple(rest))

    def answers_upto(self, index: int) -> dict[str, AnswerValue]:
        return {
            qid: ans.value()
            for qid, ans in self.state.answers
            if self.ctx.index.get(qid, len(self.ctx.questions)) <= index
        }

    # -- screens ---------------------------------------------------------------------------

    def prompt(self) -> None:
        state = self.state
        q = self.ctx.by_id[state.current or ""]
        kind = _kind(q)
        view = kind.view(q, state)
        taken_ids = [t.id for t in self.taken()]
        position = taken_ids.index(q.id) + 1 if q.id in taken_ids else len(taken_ids)
        answer = state.answer(q.id)
        first_sub = state.sub_step == kind.first_sub_step and state.page == 0
        has_previous = any(self.ctx.index[t] < self.ctx.index[q.id] for t in taken_ids)
        hint_id = view.hint_id
        here = self.ctx.index[q.id]
        if view.hint_once and any(
            t.kind is q.kind and t.id in state.settled and self.ctx.index[t.id] < here
            for t in self.taken()
        ):
            hint_id = None  # said on an earlier question of this kind
        self.out.append(
            Prompt(
                qid=q.id,
                kind=q.kind,
                prompt_id=f"{q.id}.other" if state.sub_step == SUB_OTHER else f"{q.id}.prompt",
                help_id=f"{q.id}.help" if q.has_help else None,
                choices=view.choices,
                can_skip=_can_skip(q),
                can_back=(not first_sub) or state.editing or has_previous,
                selected=view.selected,
                sub_step=state.sub_step,
                max_length=view.max_length,
                min=q.min,
                max=q.max,
                step=position,
                total=len(taken_ids),
                hint_id=hint_id,
                can_done=kind.done_button or answer is not None,
                answer=answer.value() if answer is not None else None,
                accept=tuple(q.accept),
                max_files=view.max_files,
                echo_answer=kind.echoes_answer,
                columns=kind.columns,
                can_send_now=self.consented(),
            )
        )

    def enter(self, q: Question, *, editing: bool) -> None:
        self.state = replace(
            self.state,
            phase=Phase.ASKING,
            current=q.id,
            sub_step=_kind(q).first_sub_step,
            page=0,
            pending=self.state.answer(q.id),
            editing=editing,
        )
        self.prompt()

    def consented(self) -> bool:
        """Every consent on the path so far was given (true for a flow without one)."""
        return all(
            self.state.answer(q.id) is not None for q in self.taken() if _kind(q).ends_when_declined
        )

    def review(self) -> None:
        # Everything on the review screen counts as seen: a later edit asks only what it opens.
        taken = self.taken()
        self.state = replace(
            self.state,
            settled=self.state.settled | {q.id for q in taken},
            phase=Phase.REVIEW,
            current=None,
            sub_step=None,
            page=0,
            pending=None,
            editing=False,
        )
        items = tuple(
            ReviewItem(q.id, f"{q.id}.prompt", self._value_of(q.id))
            for q in taken
            if _kind(q).reviewed
        )
        self.out.append(Review(items))

    def _value_of(self, qid: str) -> AnswerValue | None:
        ans = self.state.answer(qid)
        return ans.value() if ans is not None else None

    def end_early(self, q: Question) -> None:
        index = self.ctx.index[q.id]
        for qid, _ in self.state.answers:
            if self.ctx.index.get(qid, len(self.ctx.questions)) > index:
                self.out.append(Dropped(qid))
        kept = tuple(
            a
            for a in self.state.answers
            if self.ctx.index.get(a[0], len(self.ctx.questions)) <= index
        )
        self.state = replace(
            self.state,
            phase=Phase.ENDED,
            current=None,
            sub_step=None,
            page=0,
            pending=None,
            answers=kept,
            editing=False,
        )
        self.out.append(EndedEarly(q.id, f"{q.id}.end", self.state.answer_values()))

    def decline(self, q: Question) -> None:
        for qid, _ in self.state.answers:
            self.out.append(Dropped(qid))
        end_id = f"{q.id}.end" if q.end_if is not None else CONSENT_DECLINED_TEXT
        self.state = replace(
            self.state,
            phase=Phase.ENDED,
            current=None,
            sub_step=None,
            page=0,
            pending=None,
            answers=(),
            settled=frozenset(),
            editing=False,
        )
        self.out.append(EndedEarly(q.id, end_id, {}))

    # -- moving on -------------------------------------------------------------------------

    def settle(self, q: Question, answer: Answer | None) -> None:
        """The current question is done (answered, or skipped with None): move on."""
        self.set_answer(q.id, answer)
        self.state = replace(self.state, settled=self.state.settled | {q.id})
        self.prune()
        self.advance(self.ctx.index[q.id])

    def advance(self, after: int) -> None:
        """Go to the next question taken after index ``after`` (or review), ending if due."""
        taken = self.taken()
        target: Question | None = None
        for q in taken:
            if self.ctx.index[q.id] <= after:
                continue
            if self.state.editing and q.id in self.state.settled:
                continue
            target = q
            break
        limit = self.ctx.index[target.id] if target is not None else len(self.ctx.questions)
        for q in taken:
            if self.ctx.index[q.id] >= limit:
                break
            if (
                q.end_if is not None
                and q.id in self.state.settled
                and evaluate(q.end_if, self.ctx.kinds, self.answers_upto(self.ctx.index[q.id]))
            ):
                self.end_early(q)
                return
        if target is None:
            self.review()
        else:
            self.enter(target, editing=self.state.editing)

    def reprompt(self, state: State) -> None:
        """Stay on the current question in ``state`` (a changed sub-step or selection)."""
        self.state = state
        self.prompt()

    def invalid(self, q: Question, code: str, **values: int) -> None:
        self.out.append(Invalid(q.id, code, tuple(sorted(values.items()))))


def _current(run: _Step, qid: object) -> Question | None:
    """The current question if ``qid`` names it and a question is being asked."""
    state = run.state
    if state.phase is not Phase.ASKING or not isinstance(qid, str) or qid != state.current:
        return None
    return run.ctx.by_id.get(qid)


def _is_consistent(ctx: _Ctx, state: State) -> bool:
    known = ctx.by_id
    if any(qid not in known for qid, _ in state.answers):
        return False
    if state.phase is Phase.ASKING:
        return state.current in known
    return True


# --------------------------------------------------------------------------------------------
# Event handlers


class _Turn:
    """The current question's side of one step, as a kind sees it (``kind.Turn``)."""

    def __init__(self, run: _Step, q: Question) -> None:
        self._run = run
        self._q = q

    @property
    def state(self) -> State:
        return self._run.state

    def settle(self, answer: Answer | None) -> None:
        self._run.settle(self._q, answer)

    def stay(self, state: State) -> None:
        self._run.reprompt(state)

    def invalid(self, code: str, **values: int) -> None:
        self._run.invalid(self._q, code, **values)

    def decline(self) -> None:
        self._run.decline(self._q)

    def show_again(self) -> None:
        self._run.prompt()

    def stale(self) -> None:
        self._run.out.append(Stale())


def _on_choose(run: _Step, q: Question, cid: object) -> None:
    if not isinstance(cid, str):  # a transport bug; the type says str
        run.invalid(q, "not_a_choice")
        return
    _kind(q).on_choose(_Turn(run, q), q, cid)


def _on_text(run: _Step, q: Question, raw: object) -> None:
    if not isinstance(raw, str):  # a transport bug; the type says str
        run.invalid(q, "expected_text")
        return
    if len(raw) > TEXT_INPUT_MAX:
        run.invalid(q, "too_long")
        return
    _kind(q).on_text(_Turn(run, q), q, raw)


def _on_media(run: _Step, q: Question, kind: object, ref: object) -> None:
    _kind(q).on_file(_Turn(run, q), q, kind, ref)


def _on_done(run: _Step, q: Question) -> None:
    _kind(q).on_done(_Turn(run, q), q)


def _on_skip(run: _Step, q: Question) -> None:
    if not _kind(q).skippable:
        run.invalid(q, "expected_button")
    elif q.required:
        run.invalid(q, "required")
    else:
        run.settle(q, None)


def _on_back(run: _Step) -> None:
    state = run.state
    if state.phase is Phase.REVIEW:
        taken = run.taken()
        if taken:
            run.enter(taken[-1], editing=False)
        else:  # pragma: no cover - a flow has at least one question
            run.out.append(Stale())
        return
    if state.phase is not Phase.ASKING:
        run.out.append(Stale())
        return
    q = run.ctx.by_id[state.current or ""]
    first_sub_step = _kind(q).first_sub_step
    if state.sub_step != first_sub_step or state.page != 0:
        run.reprompt(replace(run.state, sub_step=first_sub_step, page=0))
        return
    if state.editing:
        run.review()
        return
    here = run.ctx.index[q.id]
    previous = [t for t in run.taken() if run.ctx.index[t.id] < here]
    if previous:
        run.enter(previous[-1], editing=False)
    else:
        run.out.append(Stale())


def _on_submit(run: _Step) -> None:
    for q in run.taken():
        if q.required and run.state.answer(q.id) is None and _kind(q).holds_answer:
            run.invalid(q, "required")
            run.enter(q, editing=True)
            return
    run.state = replace(run.state, phase=Phase.FINISHED, editing=False)
    run.out.append(Finished(run.values()))


def _on_send_now(run: _Step) -> None:
    """Finish with what was answered; what is half-chosen on the current screen is not kept."""
    if not run.consented():
        run.out.append(Stale())
        return
    _on_submit(run)


def _on_edit(run: _Step, qid: object) -> None:
    for q in run.taken():
        if q.id == qid and _kind(q).reviewed:
            run.enter(q, editing=True)
            return
    run.out.append(Stale())


def _start(run: _Step) -> None:
    run.state = replace(run.state, phase=Phase.ASKING)
    run.advance(-1)


def step(flow: Flow, state: State, event: Event) -> tuple[State, list[Output]]:
    """Apply one event. Never raises; returns the new state and what to show or store."""
    ctx = _Ctx(flow)
    run = _Step(ctx, state)
    if not _is_consistent(ctx, state):
        # The flow changed under a running report (e.g. redeployed): keep what still fits.
        answers = {qid: ans.value() for qid, ans in state.answers if qid in ctx.by_id}
        kept = tuple(a for a in state.answers if a[0] in ctx.by_id)
        new = replace(state, phase=Phase.INTERRUPTED, current=None, pending=None, answers=kept)
        return new, [Interrupted(answers)]
    phase = state.phase
    match event:
        case Start():
            if phase is Phase.NOT_STARTED:
                _start(run)
            elif phase is Phase.ASKING:
                run.prompt()  # show where the reporter is
            elif phase is Phase.REVIEW:
                run.review()
            else:
                run.out.append(Stale())
        case Restart():
            if phase in ACTIVE_PHASES:
                run.out.extend(Dropped(qid) for qid, _ in state.answers)
            run.state = State(lang=state.lang, this_year=state.this_year)
            _start(run)
        case Cancel() | Timeout() if phase in ACTIVE_PHASES:
            values = run.values()
            cancelled = isinstance(event, Cancel)
            run.state = replace(
                state,
                phase=Phase.CANCELLED if cancelled else Phase.INTERRUPTED,
                current=None,
                sub_step=None,
                page=0,
                pending=None,
                editing=False,
            )
            run.out.append(Cancelled(values) if cancelled else Interrupted(values))
        case Back():
            _on_back(run)
        case SendNow() if phase in ACTIVE_PHASES:
            _on_send_now(run)
        case Submit() if phase is Phase.REVIEW:
            _on_submit(run)
        case Edit(qid=qid) if phase is Phase.REVIEW:
            _on_edit(run, qid)
        case Choose() | Text() | Media() | Done() | Skip():
            _on_answering(run, event)
        case _:
            run.out.append(Stale())
    return run.state, run.out


def _on_answering(run: _Step, event: Choose | Text | Media | Done | Skip) -> None:
    """An event about the current question; Stale when it names another one."""
    q = _current(run, event.qid)
    if q is None:
        run.out.append(Stale())
        return
    match event:
        case Choose(choice=cid):
            _on_choose(run, q, cid)
        case Text(text=text):
            _on_text(run, q, text)
        case Media(kind=kind, ref=ref):
            _on_media(run, q, kind, ref)
        case Done():
            _on_done(run, q)
        case Skip():
            _on_skip(run, q)
