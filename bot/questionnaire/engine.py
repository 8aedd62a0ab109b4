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

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.questionnaire.conditions import evaluate
from bot.questionnaire.flow import LANGUAGES, AnswerValue, Flow, Kind, MediaKind, Question

# --------------------------------------------------------------------------------------------
# Constants the transports share

OTHER = "other"
"""Choice id of the "other: please write" button a question with ``other: true`` gets."""

CONTINUE = "continue"
AGREE = "agree"
DECLINE = "decline"
UNKNOWN = "unknown"
EARLIER = "earlier"

YEARS_PER_PAGE = 8
"""Year buttons shown at once on a date question; "earlier" pages further back."""

MEDIA_REF_MAX = 256
"""Longest attachment reference the engine keeps (refs are opaque ids made by the transport)."""

TEXT_INPUT_MAX = 16_384
"""Longest raw text looked at; longer input is too long without normalising it (Telegram's
own limit is 4096 characters a message, and no question accepts more than 4000)."""

NUMBER_DIGITS_MAX = 12
"""Longest digit string parsed as a number; longer input is out of range without parsing."""

SUB_YEAR = "year"
SUB_MONTH = "month"
SUB_OTHER = "other"

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


class Phase(StrEnum):
    NOT_STARTED = "not_started"
    ASKING = "asking"
    REVIEW = "review"
    FINISHED = "finished"
    ENDED = "ended"  # end_if fired or consent declined
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


ACTIVE_PHASES = frozenset({Phase.ASKING, Phase.REVIEW})


# --------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True, slots=True)
class Answer:
    """A validated answer (or a partial one while a question is being answered).

    Immutable; ``value()`` gives the plain shape documented in
    ``bot.questionnaire.flow.AnswerValue``.
    """

    consent: bool | None = None
    choice: str | None = None
    choices: tuple[str, ...] | None = None
    text: str | None = None
    number: int | None = None
    year: int | None = None
    month: int | None = None
    unknown: bool = False
    media: tuple[tuple[str, str], ...] | None = None

    def value(self) -> AnswerValue:
        """A fresh plain dict (ids, never labels); safe for the caller to keep or change."""
        if self.consent is not None:
            return {"consent": self.consent}
        if self.media is not None:
            return {"media": [{"kind": kind, "ref": ref} for kind, ref in self.media]}
        if self.choices is not None:
            out: AnswerValue = {"choices": list(self.choices)}
            if self.text is not None:
                out["text"] = self.text
            return out
        if self.choice is not None:
            out = {"choice": self.choice}
            if self.text is not None:
                out["text"] = self.text
            return out
        if self.number is not None:
            return {"number": self.number}
        if self.unknown:
            return {"unknown": True}
        if self.year is not None:
            return {"year": self.year, "month": self.month}
        if self.text is not None:
            return {"text": self.text}
        return {}


@dataclass(frozen=True, slots=True)
class State:
    """Where a reporter is in a flow. Small, immutable, holds only ids and validated answers.

    Holds answer text: keep it in memory only (never persist or log it).
    """

    lang: str
    this_year: int
    phase: Phase = Phase.NOT_STARTED
    current: str | None = None
    sub_step: str | None = None
    page: int = 0
    pending: Answer | None = None
    answers: tuple[tuple[str, Answer], ...] = ()
    settled: frozenset[str] = field(default_factory=frozenset)
    editing: bool = False

    def answer(self, qid: str) -> Answer | None:
        for key, ans in self.answers:
            if key == qid:
                return ans
        return None

    def answer_values(self) -> dict[str, AnswerValue]:
        return {qid: ans.value() for qid, ans in self.answers}


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


Event = (
    Start | Choose | Text | Media | Done | Skip | Back | Edit | Submit | Cancel | Restart | Timeout
)

# --------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True, slots=True)
class ChoiceView:
    """A button: ``cid`` goes back in ``Choose``; ``text_id`` names its label (flow or ui text).

    Year buttons have no text id: their label is ``literal`` (e.g. "2024").
    """

    cid: str
    text_id: str
    literal: str = ""


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
    answer: AnswerValue | None = None  # the answer given before (when back or editing)
    accept: tuple[MediaKind, ...] = ()  # media questions: kinds accepted
    max_files: int | None = None  # media questions: files at most


@dataclass(frozen=True, slots=True)
class Invalid:
    qid: str
    code: str  # one of INVALID_CODES; ui text "ui.error.<code>"


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
# Text normalisation

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\u0085]")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def normalize_text(text: str, *, compatibility: bool = False) -> str:
    """Clean reporter text before anything leaves the engine.

    NFC (NFKC with ``compatibility``, for numbers and dates); line breaks unified to ``\\n``;
    tabs to spaces; control characters (except ``\\n``), format characters (bidi overrides and
    isolates, zero-width characters, BOM, tag characters), lone surrogates and private-use
    characters removed; at most one blank line in a row; surrounding whitespace trimmed.
    """
    text = _NEWLINES.sub("\n", text).replace("\t", " ")
    text = unicodedata.normalize("NFKC" if compatibility else "NFC", text)
    kept = "".join(
        ch for ch in text if ch == "\n" or unicodedata.category(ch) not in _REMOVED_CATEGORIES
    )
    # Removing characters can leave combining sequences that compose differently.
    kept = unicodedata.normalize("NFKC" if compatibility else "NFC", kept)
    kept = "\n".join(line.rstrip() for line in kept.split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", kept).strip()


# --------------------------------------------------------------------------------------------
# Helpers over a flow


class _Ctx:
    """Per-step lookups over a flow (built once per call; nothing is cached between calls)."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.questions = flow.questions
        self.kinds = {q.id: q.kind for q in flow.questions}
        self.index = {q.id: i for i, q in enumerate(flow.questions)}
        self.by_id = {q.id: q for q in flow.questions}

    def relevant(self, q: Question, answers: Mapping[str, AnswerValue]) -> bool:
        return q.when is None or evaluate(q.when, self.kinds, answers)


def choice_ids(q: Question) -> list[str]:
    """The button ids a single/multi/place question offers (``other`` last when enabled)."""
    ids = list(q.choices)
    if q.other and OTHER not in ids:
        ids.append(OTHER)
    return ids


def _year_pages(q: Question, this_year: int) -> list[list[int]]:
    years = list(range(this_year, q.min_year - 1, -1))
    return [years[i : i + YEARS_PER_PAGE] for i in range(0, len(years), YEARS_PER_PAGE)] or [[]]


def _choice_views(q: Question, state: State, sub_step: str | None) -> tuple[ChoiceView, ...]:
    match q.kind:
        case Kind.INFO:
            return (ChoiceView(CONTINUE, "ui.button.continue"),)
        case Kind.CONSENT:
            return (
                ChoiceView(AGREE, "ui.button.agree"),
                ChoiceView(DECLINE, "ui.button.decline"),
            )
        case Kind.SINGLE | Kind.MULTI | Kind.PLACE:
            if sub_step == SUB_OTHER:
                return ()
            views = []
            for cid in choice_ids(q):
                if cid == OTHER and q.other and OTHER not in q.choices:
                    views.append(ChoiceView(cid, "ui.button.other"))
                else:
                    views.append(ChoiceView(cid, f"{q.id}.choice.{cid}"))
            return tuple(views)
        case Kind.DATE:
            if sub_step == SUB_MONTH:
                months = tuple(ChoiceView(f"m{m:02d}", f"ui.month.{m:02d}") for m in range(1, 13))
                return (*months, ChoiceView(UNKNOWN, "ui.button.dont_know"))
            pages = _year_pages(q, state.this_year)
            page = min(state.page, len(pages) - 1)
            years = tuple(ChoiceView(f"y{y}", "", literal=str(y)) for y in pages[page])
            more = (ChoiceView(EARLIER, "ui.button.earlier"),) if page + 1 < len(pages) else ()
            return (*years, *more, ChoiceView(UNKNOWN, "ui.button.dont_know"))
    return ()


def _selected(q: Question, pending: Answer | None, sub_step: str | None) -> tuple[str, ...]:
    if pending is None:
        return ()
    match q.kind:
        case Kind.SINGLE | Kind.PLACE:
            return (pending.choice,) if pending.choice is not None else ()
        case Kind.MULTI:
            return pending.choices or ()
        case Kind.CONSENT:
            return (AGREE,) if pending.consent else ()
        case Kind.DATE:
            if sub_step == SUB_MONTH:
                return (f"m{pending.month:02d}",) if pending.month is not None else ()
            if pending.unknown:
                return (UNKNOWN,)
            return (f"y{pending.year}",) if pending.year is not None else ()
        case Kind.MEDIA:
            return tuple(kind for kind, _ in pending.media or ())
    return ()


def _hint_id(q: Question, sub_step: str | None) -> str | None:
    match q.kind:
        case Kind.TEXT:
            return "ui.prompt.type_text"
        case Kind.NUMBER:
            return "ui.prompt.type_number"
        case Kind.MEDIA:
            return "ui.prompt.send_media"
        case Kind.DATE:
            return "ui.prompt.choose_month" if sub_step == SUB_MONTH else "ui.prompt.choose_year"
    if sub_step == SUB_OTHER:
        return "ui.prompt.type_text"
    return None


def _can_skip(q: Question) -> bool:
    return not q.required and q.kind not in (Kind.INFO, Kind.CONSENT)


def _initial_sub_step(q: Question) -> str | None:
    return SUB_YEAR if q.kind is Kind.DATE else None


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
        taken = self.taken()
        taken_ids = [t.id for t in taken]
        position = taken_ids.index(q.id) + 1 if q.id in taken_ids else len(taken_ids)
        sub = state.sub_step
        answer = state.answer(q.id)
        first_sub = sub == _initial_sub_step(q) and state.page == 0
        has_previous = any(self.ctx.index[t] < self.ctx.index[q.id] for t in taken_ids)
        texty = (
            q.kind in (Kind.TEXT, Kind.PLACE)
            or sub == SUB_OTHER
            or (q.kind in (Kind.SINGLE, Kind.MULTI) and q.other)
        )
        self.out.append(
            Prompt(
                qid=q.id,
                kind=q.kind,
                prompt_id=f"{q.id}.other" if sub == SUB_OTHER else f"{q.id}.prompt",
                help_id=f"{q.id}.help" if q.has_help else None,
                choices=_choice_views(q, state, sub),
                can_skip=_can_skip(q),
                can_back=(not first_sub) or state.editing or has_previous,
                selected=_selected(q, state.pending, sub),
                sub_step=sub,
                max_length=q.text_max_length if texty else None,
                min=q.min,
                max=q.max,
                step=position,
                total=len(taken_ids),
                hint_id=_hint_id(q, sub),
                can_done=q.kind in (Kind.MULTI, Kind.MEDIA) or answer is not None,
                answer=answer.value() if answer is not None else None,
                accept=tuple(q.accept),
                max_files=q.max_files if q.kind is Kind.MEDIA else None,
            )
        )

    def enter(self, q: Question, *, editing: bool) -> None:
        self.state = replace(
            self.state,
            phase=Phase.ASKING,
            current=q.id,
            sub_step=_initial_sub_step(q),
            page=0,
            pending=self.state.answer(q.id),
            editing=editing,
        )
        self.prompt()

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
            if q.kind not in (Kind.INFO, Kind.CONSENT)
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

    def invalid(self, q: Question, code: str) -> None:
        self.out.append(Invalid(q.id, code))


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


def _on_choose(run: _Step, q: Question, cid: object) -> None:
    if not isinstance(cid, str):  # a transport bug; the type says str
        run.invalid(q, "not_a_choice")
        return
    state = run.state
    pending = state.pending or Answer()
    match q.kind:
        case Kind.INFO:
            if cid == CONTINUE:
                run.settle(q, None)
            else:
                run.invalid(q, "not_a_choice")
        case Kind.CONSENT:
            if cid == AGREE:
                run.settle(q, Answer(consent=True))
            elif cid == DECLINE:
                run.decline(q)
            else:
                run.invalid(q, "not_a_choice")
        case Kind.SINGLE:
            if cid not in choice_ids(q):
                run.invalid(q, "not_a_choice")
            elif cid == OTHER and q.other:
                old = state.answer(q.id)
                text = old.text if old is not None and old.choice == OTHER else None
                run.reprompt(
                    replace(run.state, sub_step=SUB_OTHER, pending=Answer(choice=OTHER, text=text))
                )
            else:
                run.settle(q, Answer(choice=cid))
        case Kind.PLACE:
            if cid in q.choices:
                run.settle(q, Answer(choice=cid))
            else:
                run.invalid(q, "not_a_choice")
        case Kind.MULTI:
            ids = choice_ids(q)
            if cid not in ids:
                run.invalid(q, "not_a_choice")
                return
            chosen = set(pending.choices or ())
            text = pending.text
            if cid == OTHER and q.other:
                if OTHER in chosen:
                    chosen.discard(OTHER)
                    text = None
                else:
                    run.reprompt(replace(run.state, sub_step=SUB_OTHER, pending=pending))
                    return
            elif cid in chosen:
                chosen.discard(cid)
            else:
                chosen.add(cid)
            ordered = tuple(c for c in ids if c in chosen)
            run.reprompt(
                replace(run.state, sub_step=None, pending=Answer(choices=ordered, text=text))
            )
        case Kind.DATE:
            _on_date_choice(run, q, cid, pending)
        case Kind.TEXT | Kind.NUMBER:
            run.invalid(q, "expected_text")
        case Kind.MEDIA:
            run.invalid(q, "wrong_media_kind")


_YEAR_ID = re.compile(r"^y(\d{4})$")
_MONTH_ID = re.compile(r"^m(\d{2})$")


def _on_date_choice(run: _Step, q: Question, cid: str, pending: Answer) -> None:
    state = run.state
    year_match = _YEAR_ID.match(cid)
    month_match = _MONTH_ID.match(cid)
    if year_match:
        year = int(year_match.group(1))
        if not q.min_year <= year <= state.this_year:
            run.invalid(q, "not_a_choice")
            return
        month = pending.month if not pending.unknown else None
        run.reprompt(
            replace(run.state, sub_step=SUB_MONTH, page=0, pending=Answer(year=year, month=month))
        )
    elif cid == EARLIER and state.sub_step == SUB_YEAR:
        if state.page + 1 < len(_year_pages(q, state.this_year)):
            run.reprompt(replace(run.state, page=state.page + 1))
        else:
            run.invalid(q, "not_a_choice")
    elif cid == UNKNOWN and state.sub_step == SUB_MONTH and pending.year is not None:
        run.settle(q, Answer(year=pending.year, month=None))
    elif cid == UNKNOWN:
        run.settle(q, Answer(unknown=True))
    elif month_match and state.sub_step == SUB_MONTH and pending.year is not None:
        month = int(month_match.group(1))
        if 1 <= month <= 12:
            run.settle(q, Answer(year=pending.year, month=month))
        else:
            run.invalid(q, "not_a_choice")
    else:
        run.invalid(q, "not_a_choice")


_DATE_YM = re.compile(r"^(\d{4})\s*[-./ ]\s*(\d{1,2})$")
_DATE_MY = re.compile(r"^(\d{1,2})\s*[-./ ]\s*(\d{4})$")
_DATE_Y = re.compile(r"^(\d{4})$")
_DATE_M = re.compile(r"^(\d{1,2})$")
_NUMBER = re.compile(r"^[+-]?\d+$")


def _on_text(run: _Step, q: Question, raw: object) -> None:
    if not isinstance(raw, str):  # a transport bug; the type says str
        run.invalid(q, "expected_text")
        return
    if len(raw) > TEXT_INPUT_MAX:
        run.invalid(q, "too_long")
        return
    state = run.state
    if q.kind is Kind.NUMBER:
        _on_number(run, q, raw)
        return
    if q.kind is Kind.DATE:
        _on_date_text(run, q, raw)
        return
    if q.kind is Kind.MEDIA:
        run.invalid(q, "wrong_media_kind")
        return
    takes_text = q.kind in (Kind.TEXT, Kind.PLACE) or (
        q.kind in (Kind.SINGLE, Kind.MULTI) and q.other
    )
    if not takes_text:
        run.invalid(q, "expected_button")
        return
    text = normalize_text(raw)
    if not text:
        run.invalid(q, "empty")
        return
    if len(text) > q.text_max_length:
        run.invalid(q, "too_long")
        return
    match q.kind:
        case Kind.TEXT:
            run.settle(q, Answer(text=text))
        case Kind.PLACE:
            run.settle(q, Answer(text=text))
        case Kind.SINGLE:
            run.settle(q, Answer(choice=OTHER, text=text))
        case Kind.MULTI:
            pending = state.pending or Answer()
            chosen = set(pending.choices or ()) | {OTHER}
            ordered = tuple(c for c in choice_ids(q) if c in chosen)
            run.reprompt(
                replace(run.state, sub_step=None, pending=Answer(choices=ordered, text=text))
            )
        case _:  # pragma: no cover - takes_text above limits the kinds
            run.invalid(q, "expected_button")


def _on_number(run: _Step, q: Question, raw: str) -> None:
    text = normalize_text(raw, compatibility=True)
    text = re.sub(r"[\s_'’,]", "", text).replace("−", "-")  # 1 000 / 1,000 / U+2212 minus
    if not text:
        run.invalid(q, "empty")
        return
    if not _NUMBER.match(text):
        run.invalid(q, "not_a_number")
        return
    if len(text.lstrip("+-")) > NUMBER_DIGITS_MAX:
        run.invalid(q, "out_of_range")
        return
    number = int(text)
    low = q.min if q.min is not None else number
    high = q.max if q.max is not None else number
    if not low <= number <= high:
        run.invalid(q, "out_of_range")
        return
    run.settle(q, Answer(number=number))


def _on_date_text(run: _Step, q: Question, raw: str) -> None:
    state = run.state
    pending = state.pending or Answer()
    text = normalize_text(raw, compatibility=True)
    if not text:
        run.invalid(q, "empty")
        return
    year: int | None
    month: int | None
    if m := _DATE_YM.match(text):
        year, month = int(m.group(1)), int(m.group(2))
    elif m := _DATE_MY.match(text):
        month, year = int(m.group(1)), int(m.group(2))
    elif m := _DATE_Y.match(text):
        year, month = int(m.group(1)), None
    elif (m := _DATE_M.match(text)) and state.sub_step == SUB_MONTH and pending.year is not None:
        year, month = pending.year, int(m.group(1))
    else:
        run.invalid(q, "bad_date")
        return
    if month is not None and not 1 <= month <= 12:
        run.invalid(q, "bad_date")
        return
    if not q.min_year <= year <= state.this_year:
        run.invalid(q, "out_of_range")
        return
    if month is None:
        run.reprompt(
            replace(
                run.state,
                sub_step=SUB_MONTH,
                page=0,
                pending=Answer(year=year, month=pending.month),
            )
        )
    else:
        run.settle(q, Answer(year=year, month=month))


def _on_media(run: _Step, q: Question, kind: object, ref: object) -> None:
    if q.kind is not Kind.MEDIA:
        texty = q.kind in (Kind.TEXT, Kind.NUMBER, Kind.PLACE)
        run.invalid(q, "expected_text" if texty else "expected_button")
        return
    if kind not in q.accept:
        run.invalid(q, "wrong_media_kind")
        return
    if not isinstance(ref, str) or not ref or len(ref) > MEDIA_REF_MAX:
        run.out.append(Stale())
        return
    pending = run.state.pending or Answer()
    files = pending.media or ()
    if any(r == ref for _, r in files):
        run.prompt()  # the same attachment twice: nothing to add
        return
    if len(files) >= q.max_files:
        run.invalid(q, "too_many_files")
        return
    run.reprompt(replace(run.state, pending=Answer(media=(*files, (str(kind), ref)))))


def _on_done(run: _Step, q: Question) -> None:
    state = run.state
    pending = state.pending or Answer()
    if q.kind is Kind.MULTI:
        chosen = pending.choices or ()
        if chosen:
            run.settle(q, Answer(choices=chosen, text=pending.text))
        elif q.required:
            run.invalid(q, "required")
        else:
            run.settle(q, None)
    elif q.kind is Kind.MEDIA:
        run.settle(q, Answer(media=pending.media) if pending.media else None)
    elif q.kind is Kind.INFO:
        run.settle(q, None)
    elif (kept := state.answer(q.id)) is not None:
        run.settle(q, kept)  # "keep" the answer given before
    elif q.kind in (Kind.TEXT, Kind.NUMBER, Kind.PLACE):
        run.invalid(q, "expected_text")
    else:
        run.invalid(q, "expected_button")


def _on_skip(run: _Step, q: Question) -> None:
    if q.kind in (Kind.INFO, Kind.CONSENT):
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
    if state.sub_step != _initial_sub_step(q) or state.page != 0:
        run.reprompt(replace(run.state, sub_step=_initial_sub_step(q), page=0))
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
        if q.required and run.state.answer(q.id) is None and q.kind is not Kind.INFO:
            run.invalid(q, "required")
            run.enter(q, editing=True)
            return
    run.state = replace(run.state, phase=Phase.FINISHED, editing=False)
    run.out.append(Finished(run.values()))


def _on_edit(run: _Step, qid: object) -> None:
    for q in run.taken():
        if q.id == qid and q.kind not in (Kind.INFO, Kind.CONSENT):
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
        case Submit() if phase is Phase.REVIEW:
            _on_submit(run)
        case Edit(qid=qid) if phase is Phase.REVIEW:
            _on_edit(run, qid)
        case Choose(qid=qid, choice=cid) if (q := _current(run, qid)) is not None:
            _on_choose(run, q, cid)
        case Text(qid=qid, text=text) if (q := _current(run, qid)) is not None:
            _on_text(run, q, text)
        case Media(qid=qid, kind=kind, ref=ref) if (q := _current(run, qid)) is not None:
            _on_media(run, q, kind, ref)
        case Done(qid=qid) if (q := _current(run, qid)) is not None:
            _on_done(run, q)
        case Skip(qid=qid) if (q := _current(run, qid)) is not None:
            _on_skip(run, q)
        case _:
            run.out.append(Stale())
    return run.state, run.out
