"""Question flows as data: the pydantic models a flow file and its texts are validated into.

A flow is a YAML file under ``flows/`` (structure only, no wording) and one text file per
language under ``locales/<lang>/<flow id>.yaml``. The format is documented in
``docs/flows.md``; this module is its single source of truth.

Text ids are derived from question ids, so a maintainer never invents them:

========================  ==========================================================
``<qid>.prompt``          the question (required for every question)
``<qid>.help``            a longer explanation behind the help button (optional)
``<qid>.choice.<cid>``    the label of a choice button (single, multi, place)
``<qid>.other``           the prompt asking the reporter to write "other" in words
                          (required when ``other: true``)
``<qid>.end``             the line shown when ``end_if`` ends the flow (required when
                          ``end_if`` is set; on a consent, ``end_if: {q: <qid>, equals:
                          false}`` makes it the line shown when consent is declined)
``flow.title``            the flow's name, shown on the review screen
========================  ==========================================================

Nothing here does I/O; ``bot.questionnaire.loader`` reads files into these models. The rules a flow
must keep (``flow_issues``, ``ui_text_issues``) live here too, and :class:`Flow` refuses to be
constructed while one is broken.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

# Kind, Scalar and AnswerValue were defined here before the kinds got their own modules; they
# are still importable from here.
from bot.questionnaire.kind import Scalar as Scalar
from bot.questionnaire.kinds import Kind as Kind
from bot.questionnaire.kinds import kind_of
from bot.questionnaire.state import AnswerValue as AnswerValue

LANGUAGES: tuple[str, ...] = ("ko", "ru", "en")
"""Every flow must carry every text in each of these languages."""

REPORTER_LANGUAGES: tuple[str, ...] = ("ko", "ru")
"""Languages offered to reporters first; English is for maintainers (and offered last)."""

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
"""Question and choice ids: ASCII, stable. Their length is checked against callback_data below."""

CALLBACK_DATA_MAX = 64
"""Telegram's limit on a button's callback_data, in bytes."""

CALLBACK_RESERVED = 16
"""Bytes of callback_data the bot uses beside question and choice ids (prefix, nonce, separators).

The handlers' encoding (``handlers.callbacks``) must stay within this; a test holds it to it.
"""

ENGINE_CHOICE_IDS: tuple[str, ...] = (
    "continue",
    "agree",
    "decline",
    "unknown",
    "earlier",
    "other",
    "y2100",
    "m12",
)
"""Choice ids the engine puts on buttons by itself (info, consent, date sub-steps, "other").

Every question is checked as if it had a button with the longest of these, so no kind of
question can push callback_data over the limit.
"""

MESSAGE_TEXT_MAX = 4096
"""Telegram's limit on one text message, in characters. A prompt and its help must fit together."""

BUTTON_LABEL_MAX = 24
"""The longest button label, in characters (choice labels and ``ui.button.*`` texts).

Telegram cuts a label that does not fit its button with "…". With one button per row on a
phone held upright (about 360 dp wide), roughly 24 Hangul syllables or 35 Latin or Cyrillic
letters fit at the default font size; 24 characters keeps every language readable, leaves room
for the "✓ " the bot puts before a selected choice, and survives a larger system font. The
reasoning is in ``docs/flows.md``.
"""

BOT_COMMAND_DESCRIPTION_MAX = 256
"""Bot API ``BotCommand.description``: 1 to 256 characters (``ui.command.*``)."""

BOT_DESCRIPTION_MAX = 512
"""Bot API ``setMyDescription``: at most 512 characters (``ui.bot.description``)."""

BOT_SHORT_DESCRIPTION_MAX = 120
"""Bot API ``setMyShortDescription``: at most 120 characters (``ui.bot.short_description``)."""

FLOW_TEXT_IDS: tuple[str, ...] = ("flow.title",)
"""Text ids every flow needs besides its questions' texts."""


def callback_bytes(qid: str, cid: str) -> int:
    """Bytes of callback_data a button for choice ``cid`` of question ``qid`` takes."""
    return CALLBACK_RESERVED + len(qid.encode()) + len(cid.encode())


class MediaKind(StrEnum):
    PHOTO = "photo"
    VOICE = "voice"
    VIDEO = "video"
    DOCUMENT = "document"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Equals(_Strict):
    """True when the answer to ``q`` is ``equals``.

    For a multi question: when ``equals`` is among the chosen.
    """

    q: Annotated[str, Field(pattern=ID_PATTERN)]
    equals: Scalar


class OneOf(_Strict):
    """True when the answer to ``q`` is one of ``one_of`` (for multi: any chosen is in the list)."""

    q: Annotated[str, Field(pattern=ID_PATTERN)]
    one_of: Annotated[list[Scalar], Field(min_length=1)]


class Answered(_Strict):
    """True when ``q`` was answered (``answered: true``) or skipped / not asked (``false``)."""

    q: Annotated[str, Field(pattern=ID_PATTERN)]
    answered: bool


class Not(_Strict):
    """True when the inner condition is false."""

    not_: ConditionField = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class All(_Strict):
    """True when every condition in the list is true."""

    all: Annotated[list[ConditionField], Field(min_length=1)]


class AnyOf(_Strict):
    """True when at least one condition in the list is true (written ``any:``)."""

    any: Annotated[list[ConditionField], Field(min_length=1)]


Condition = Equals | OneOf | Answered | Not | All | AnyOf
"""A condition over earlier answers. Unanswered or skipped questions make Equals/OneOf false."""

_CONDITION_KEYS: tuple[tuple[str, str], ...] = (
    ("equals", "Equals"),
    ("one_of", "OneOf"),
    ("answered", "Answered"),
    ("not", "Not"),
    ("not_", "Not"),
    ("all", "All"),
    ("any", "AnyOf"),
)


def _condition_tag(value: Any) -> str | None:
    """Which kind of condition a mapping is, by its key; lets a wrong one get one clear error."""
    if isinstance(value, Mapping):
        for key, tag in _CONDITION_KEYS:
            if key in value:
                return tag
        return None
    if isinstance(value, Equals | OneOf | Answered | Not | All | AnyOf):
        return type(value).__name__
    return None


ConditionField = Annotated[
    Annotated[Equals, Tag("Equals")]
    | Annotated[OneOf, Tag("OneOf")]
    | Annotated[Answered, Tag("Answered")]
    | Annotated[Not, Tag("Not")]
    | Annotated[All, Tag("All")]
    | Annotated[AnyOf, Tag("AnyOf")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message=(
            "not a condition: write one of {q: ID, equals: VALUE}, {q: ID, one_of: [...]}, "
            "{q: ID, answered: true|false}, {not: ...}, {all: [...]}, {any: [...]}"
        ),
    ),
]
"""How a condition is validated from YAML (pydantic picks the kind by its key)."""

CONDITION_TAGS: frozenset[str] = frozenset(tag for _, tag in _CONDITION_KEYS)
"""The tag names pydantic puts into error locations of conditions (not YAML keys)."""

Not.model_rebuild()
All.model_rebuild()
AnyOf.model_rebuild()


def condition_refs(cond: Condition) -> list[str]:
    """Every question id a condition reads, in order of appearance."""
    match cond:
        case Equals(q=q) | OneOf(q=q) | Answered(q=q):
            return [q]
        case Not(not_=inner):
            return condition_refs(inner)
        case All(all=items):
            return [ref for item in items for ref in condition_refs(item)]
        case AnyOf(any=items):
            return [ref for item in items for ref in condition_refs(item)]
    raise AssertionError(f"unknown condition type {type(cond).__name__}")  # pragma: no cover


class Question(_Strict):
    """One step of a flow. Only the fields that fit its kind may be set (checked below)."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    kind: Kind
    required: bool = False
    when: ConditionField | None = None
    end_if: ConditionField | None = None
    choices: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list)
    other: bool = False
    max_length: Annotated[int, Field(ge=1, le=4000)] | None = None
    min: int | None = None
    max: int | None = None
    accept: list[MediaKind] = Field(default_factory=list)
    max_files: Annotated[int, Field(ge=1, le=10)] = 3
    min_year: Annotated[int, Field(ge=1950, le=2100)] = 2000
    has_help: bool = False
    ends_topic: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list)
    """Choice ids after which no question whose ``when`` reads this one makes sense ("nothing",
    "nobody", "none"): ``flows check`` refuses a follow-up that can still be asked after them."""

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Question:
        problem = kind_of(self.kind).spec_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def text_max_length(self) -> int:
        """Longest free text this question accepts (text, place written, or 'other')."""
        return self.max_length or DEFAULT_TEXT_MAX

    def text_ids(self) -> list[str]:
        """Every text id this question needs in each language."""
        ids = [f"{self.id}.prompt"]
        if self.has_help:
            ids.append(f"{self.id}.help")
        ids += [f"{self.id}.choice.{c}" for c in self.choices]
        if self.other:
            ids.append(f"{self.id}.other")
        if self.end_if is not None:
            ids.append(f"{self.id}.end")
        return ids


DEFAULT_TEXT_MAX = 1000
"""Free text limit when a question sets none; well below Telegram's 4096 characters."""


class FlowSpec(_Strict):
    """The structure of a flow, as written in ``flows/<id>.yaml``."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    title: str = ""
    questions: Annotated[list[Question], Field(min_length=1)]


TextTable = dict[str, str]
"""Text id -> text, for one language."""


class Flow(_Strict):
    """A flow with its texts in every language; built and checked by ``bot.questionnaire.loader``.

    A ``Flow`` cannot exist while it breaks a rule (:func:`flow_issues`): constructing one
    raises, so the bot and the demo cannot start on a flow that fails ``reportbot flows check``.
    Get one from ``bot.questionnaire.loader.load_flow``, which names file, line and question for
    every problem. Treat ``texts`` as read-only: the version is a hash of it.
    """

    spec: FlowSpec
    texts: dict[str, TextTable]
    source: str = ""  # the file it came from, for messages

    @model_validator(mode="after")
    def _keeps_every_rule(self) -> Flow:
        issues = flow_issues(self.spec, self.texts)
        if issues:
            shown = "; ".join(str(issue) for issue in issues[:5])
            more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
            raise ValueError(f"flow '{self.spec.id}' breaks its rules: {shown}{more}")
        return self

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def questions(self) -> list[Question]:
        return self.spec.questions

    # Lookups over the questions, made once per flow (a flow is frozen, so they cannot go stale;
    # pydantic keeps cached properties out of fields, equality and dumps). The engine and the
    # handlers ask them on every step.
    @cached_property
    def by_id(self) -> Mapping[str, Question]:
        """Question id -> question."""
        return {q.id: q for q in self.spec.questions}

    @cached_property
    def positions(self) -> Mapping[str, int]:
        """Question id -> its place in the flow (0 first)."""
        return {q.id: i for i, q in enumerate(self.spec.questions)}

    @cached_property
    def kinds(self) -> Mapping[str, Kind]:
        """Question id -> its kind (what conditions need to compare answers)."""
        return {q.id: q.kind for q in self.spec.questions}

    def question(self, qid: str) -> Question:
        return self.by_id[qid]

    def index(self, qid: str) -> int:
        return self.positions[qid]

    def text(self, lang: str, text_id: str) -> str:
        return self.texts[lang][text_id]

    @property
    def version(self) -> str:
        """Hash of the canonical content (structure and every text): what the reporter saw."""
        return flow_version(self.spec, self.texts)


def flow_version(spec: FlowSpec, texts: dict[str, TextTable]) -> str:
    canonical = json.dumps(
        {"spec": spec.model_dump(mode="json", by_alias=True), "texts": texts},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# The rules a flow must keep. Pure functions over the models; ``bot.questionnaire.loader`` adds file
# names and line numbers, and ``Flow`` refuses to exist when any rule is broken.
# --------------------------------------------------------------------------------------------

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FlowIssue:
    """One broken rule.

    ``where`` is a question id, a text id, or ``"flow"``. ``lang`` is set when the problem sits
    in that language's text file (else it is in the structure file); ``loc`` is the path to the
    offending value inside that file, e.g. ``("questions", 3, "when")`` or ``("site.prompt",)``.
    """

    where: str
    message: str
    lang: str | None = None
    loc: Loc = ()
    fix: str = ""
    """How to put it right, in a maintainer's words (empty only where the message says it)."""

    def __str__(self) -> str:
        file = f"[{self.lang}] " if self.lang else ""
        fix = f". Fix: {self.fix}" if self.fix else ""
        return f"{file}{self.where}: {self.message}{fix}"


def closest(word: str, known: Sequence[str]) -> str | None:
    """The known id a typo most likely meant (difflib), or None when nothing is close."""
    found = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def spec_text_ids(spec: FlowSpec) -> list[str]:
    """Every text id the flow needs in each language, in the order of the flow."""
    seen: dict[str, None] = dict.fromkeys(FLOW_TEXT_IDS)
    for question in spec.questions:
        seen.update(dict.fromkeys(question.text_ids()))
    return list(seen)


def _show_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_condition(cond: Condition) -> str:
    """A condition as a maintainer reads it: ``site = other``, ``not (a answered)``, ``x and y``."""
    match cond:
        case Equals(q=q, equals=value):
            return f"{q} = {_show_value(value)}"
        case OneOf(q=q, one_of=values):
            return f"{q} in [{', '.join(_show_value(v) for v in values)}]"
        case Answered(q=q, answered=answered):
            return f"{q} answered" if answered else f"{q} not answered"
        case Not(not_=inner):
            return f"not ({describe_condition(inner)})"
        case All(all=items):
            return " and ".join(_describe_operand(item) for item in items)
        case AnyOf(any=items):
            return " or ".join(_describe_operand(item) for item in items)
    raise AssertionError(f"unknown condition type {type(cond).__name__}")  # pragma: no cover


def _describe_operand(cond: Condition) -> str:
    text = describe_condition(cond)
    return f"({text})" if isinstance(cond, All | AnyOf) else text


# ---- what an answer can be compared with (the same semantics as bot.questionnaire.conditions)
# -------------


def _could_equal(question: Question, value: Scalar) -> bool:
    """Whether some valid answer to ``question`` makes ``equals: value`` true."""
    return kind_of(question.kind).could_equal(question, value)


def _why_not_equal(question: Question, value: Scalar) -> str:
    return kind_of(question.kind).why_not_equal(question, value)


# ---- reachability: a sound over-approximation ----------------------------------------------


@dataclass(frozen=True)
class _Possible:
    """What may be true of one question's answer once the flow has passed it."""

    asked: bool
    answered: bool
    unanswered: bool


class _Reach:
    """Decides whether a condition *can* be true (or false) on some path through the flow.

    Each question is abstracted to "may be asked / may hold an answer / may be left without
    one" and to the values its kind allows; questions are treated as independent. That only
    ever adds possibilities, so "can never be true" is a proof: no false alarms (a condition
    contradicting itself across two questions may go unnoticed). References the structure
    check already rejects (unknown, later, self) count as "could be anything".
    """

    def __init__(self, by_id: Mapping[str, Question]) -> None:
        self.by_id = by_id
        self.known: dict[str, _Possible] = {}

    def can(self, cond: Condition, want: bool) -> bool:
        match cond:
            case Equals(q=ref, equals=value):
                return self._leaf(ref, [value], want)
            case OneOf(q=ref, one_of=values):
                return self._leaf(ref, values, want)
            case Answered(q=ref, answered=answered):
                possible = self.known.get(ref)
                if possible is None:
                    return True
                return possible.answered if answered == want else possible.unanswered
            case Not(not_=inner):
                return self.can(inner, not want)
            case All(all=items):
                if want:
                    return all(self.can(item, True) for item in items)
                return any(self.can(item, False) for item in items)
            case AnyOf(any=items):
                if want:
                    return any(self.can(item, True) for item in items)
                return all(self.can(item, False) for item in items)
        raise AssertionError(f"unknown condition type {type(cond).__name__}")  # pragma: no cover

    def _leaf(self, ref: str, values: Sequence[Scalar], want: bool) -> bool:
        possible = self.known.get(ref)
        if possible is None:
            return True
        if not want:
            return True  # unanswered, or answered with something else: never ruled out here
        question = self.by_id[ref]
        return possible.answered and any(_could_equal(question, v) for v in values)

    def why_never(self, cond: Condition) -> str:
        """Why ``cond`` can never be true (call only when ``can(cond, True)`` is false)."""
        match cond:
            case Equals(q=ref, equals=value):
                return self._leaf_why(ref, [value])
            case OneOf(q=ref, one_of=values):
                return self._leaf_why(ref, values)
            case Answered(q=ref, answered=answered):
                if answered:
                    return f"'{ref}' is never answered"
                return f"'{ref}' is always answered"
            case Not(not_=inner):
                return f"{describe_condition(inner)} is always true"
            case All(all=items):
                return next(self.why_never(i) for i in items if not self.can(i, True))
            case AnyOf(any=items):
                return "; ".join(self.why_never(item) for item in items)
        raise AssertionError(f"unknown condition type {type(cond).__name__}")  # pragma: no cover

    def _leaf_why(self, ref: str, values: Sequence[Scalar]) -> str:
        possible = self.known[ref]
        question = self.by_id[ref]
        if not possible.asked:
            return f"'{ref}' is never asked"
        if not possible.answered:
            return f"'{ref}' is a {question.kind} question and never holds an answer"
        return _why_not_equal(question, values[0])


def _leaves(cond: Condition) -> list[Equals | OneOf | Answered]:
    match cond:
        case Equals() | OneOf() | Answered():
            return [cond]
        case Not(not_=inner):
            return _leaves(inner)
        case All(all=items) | AnyOf(any=items):
            return [leaf for item in items for leaf in _leaves(item)]
    raise AssertionError(f"unknown condition type {type(cond).__name__}")  # pragma: no cover


def _structure_issues(spec: FlowSpec) -> list[FlowIssue]:
    issues: list[FlowIssue] = []
    questions = spec.questions
    first_at: dict[str, int] = {}
    for i, question in enumerate(questions):
        loc: Loc = ("questions", i)
        if question.id in first_at:
            issues.append(
                FlowIssue(
                    question.id,
                    f"duplicate question id (question {first_at[question.id] + 1} "
                    f"has it too; this is question {i + 1}); the checks of conditions and texts "
                    "wait until every id is unique",
                    loc=(*loc, "id"),
                    fix="give one of the two a new id (answers and texts are keyed by it; "
                    "if you copied a question, rename the copy and its texts)",
                )
            )
        else:
            first_at[question.id] = i
        seen_choices: set[str] = set()
        for j, cid in enumerate(question.choices):
            if cid in seen_choices:
                issues.append(
                    FlowIssue(
                        question.id,
                        f"duplicate choice id '{cid}'",
                        loc=(*loc, "choices", j),
                        fix=f"remove the second '{cid}' or give it a new id",
                    )
                )
            elif cid == "other" and question.other:
                issues.append(
                    FlowIssue(
                        question.id,
                        "duplicate choice id 'other': 'other: true' already adds the 'other' "
                        "choice",
                        loc=(*loc, "choices", j),
                        fix="remove 'other' from choices (or drop 'other: true')",
                    )
                )
            seen_choices.add(cid)
        longest = max([*question.choices, *ENGINE_CHOICE_IDS], key=lambda c: len(c.encode()))
        size = callback_bytes(question.id, longest)
        if size > CALLBACK_DATA_MAX:
            if longest in question.choices:
                where: Loc = (*loc, "choices", question.choices.index(longest))
                what = f"choice id '{longest}'"
            else:
                where, what = (*loc, "id"), "question id"
            issues.append(
                FlowIssue(
                    question.id,
                    f"ids too long: a button of this question needs {size} bytes of "
                    f"callback_data, over Telegram's {CALLBACK_DATA_MAX} "
                    f"({CALLBACK_RESERVED} reserved + question id + choice id)",
                    loc=where,
                    fix=f"shorten the {what} (question id + choice id under 40 characters)",
                )
            )
    if len(first_at) < len(questions):
        return issues  # one root cause, one line: what follows would repeat the duplicate
    issues += _reference_issues(spec, first_at)
    issues += _reach_issues(spec, first_at)
    issues += _ends_topic_issues(spec)
    return issues


# ---- follow-ups an earlier answer makes meaningless (``ends_topic``, issue 14.4) ------------


def _leaf_can(cond: Equals | OneOf | Answered, parent: str, cid: str, want: bool) -> bool:
    if cond.q != parent:
        return True  # another question: it may be anything
    match cond:
        case Equals(equals=value):
            holds = type(value) is str and value == cid
        case OneOf(one_of=values):
            holds = any(type(v) is str and v == cid for v in values)
        case Answered(answered=answered):
            holds = answered
    return holds == want


def _can_after(cond: Condition, parent: str, cid: str, want: bool) -> bool:
    """Whether ``cond`` can be ``want`` once ``parent`` was answered with just ``cid``."""
    match cond:
        case Equals() | OneOf() | Answered():
            return _leaf_can(cond, parent, cid, want)
        case Not(not_=inner):
            return _can_after(inner, parent, cid, not want)
        case All(all=items):
            if want:
                return all(_can_after(item, parent, cid, True) for item in items)
            return any(_can_after(item, parent, cid, False) for item in items)
        case AnyOf(any=items):
            if want:
                return any(_can_after(item, parent, cid, True) for item in items)
            return all(_can_after(item, parent, cid, False) for item in items)
    raise AssertionError(f"unknown condition type {type(cond).__name__}")  # pragma: no cover


def _ends_topic_issues(spec: FlowSpec) -> list[FlowIssue]:
    """A follow-up that can be asked after an answer its parent marks ``ends_topic``, and an
    ``ends_topic`` id that is not one of the parent's choices."""
    issues: list[FlowIssue] = []
    for i, parent in enumerate(spec.questions):
        choices = [*parent.choices, *(["other"] if parent.other else [])]
        for j, cid in enumerate(parent.ends_topic):
            if cid not in choices:
                known = closest(cid, choices)
                issues.append(
                    FlowIssue(
                        parent.id,
                        f"ends_topic '{cid}' is not one of its choices",
                        loc=("questions", i, "ends_topic", j),
                        fix=f"write '{known}' instead" if known else "remove it from ends_topic",
                    )
                )
        ends = [cid for cid in parent.ends_topic if cid in choices]
        for k, follow_up in enumerate(spec.questions[i + 1 :], start=i + 1):
            when = follow_up.when
            if not ends or when is None or parent.id not in condition_refs(when):
                continue
            still = [cid for cid in ends if _can_after(when, parent.id, cid, True)]
            if still:
                issues.append(_meaningless_issue(follow_up.id, k, parent.id, still))
    return issues


def _meaningless_issue(qid: str, at: int, parent: str, cids: Sequence[str]) -> FlowIssue:
    shown = ", ".join(cids)
    test = f"equals: {cids[0]}" if len(cids) == 1 else f"one_of: [{shown}]"
    guard = f"{{not: {{q: {parent}, {test}}}}}"
    return FlowIssue(
        qid,
        f"asked even after '{parent}' is answered {shown}, which its ends_topic says makes "
        "this follow-up meaningless",
        loc=("questions", at, "when"),
        fix=f"add {guard} to its when, e.g. 'when: {{all: [{guard}, <the condition now>]}}'",
    )


def _conditions(question: Question) -> list[tuple[str, Condition]]:
    pairs: list[tuple[str, Condition]] = []
    if question.when is not None:
        pairs.append(("when", question.when))
    if question.end_if is not None:
        pairs.append(("end_if", question.end_if))
    return pairs


def _reference_issues(spec: FlowSpec, first_at: Mapping[str, int]) -> list[FlowIssue]:
    issues: list[FlowIssue] = []
    graph: dict[str, list[str]] = {}
    later: dict[tuple[str, str], int] = {}  # (question, later question it reads) -> its issue
    for i, question in enumerate(spec.questions):
        for field, cond in _conditions(question):
            loc: Loc = ("questions", i, field)
            for ref in dict.fromkeys(condition_refs(cond)):
                if ref not in first_at:
                    issues.append(_unknown_ref(question.id, field, ref, spec, i, loc))
                elif ref == question.id:
                    if field == "when":
                        issues.append(
                            FlowIssue(
                                question.id,
                                "when refers to the question itself: a cycle "
                                f"({question.id} -> {question.id}); whether a question is asked "
                                "can depend only on earlier answers",
                                loc=loc,
                                fix="make the condition read an earlier question "
                                "(or use end_if to end the flow after this one)",
                            )
                        )
                    # end_if may read the question's own answer: it is checked after answering.
                elif first_at[ref] > i:
                    later[(question.id, ref)] = len(issues)
                    issues.append(
                        FlowIssue(
                            question.id,
                            f"{field} refers to later question '{ref}' (question "
                            f"{first_at[ref] + 1}); conditions can read only earlier answers",
                            loc=loc,
                            fix=f"move '{ref}' above '{question.id}', or make the condition read "
                            "an earlier question",
                        )
                    )
                    graph.setdefault(question.id, []).append(ref)
                else:
                    graph.setdefault(question.id, []).append(ref)
    in_cycles: set[int] = set()
    for cycle in _cycles(graph):
        edges = zip(cycle, [*cycle[1:], cycle[0]], strict=True)
        in_cycles.update(later[edge] for edge in edges if edge in later)
        start = cycle[0]
        issues.append(
            FlowIssue(
                start,
                f"cycle: {' -> '.join([*cycle, start])}: these questions' conditions read "
                "each other, so none can be decided first",
                loc=("questions", first_at[start]),
                fix="remove one of these conditions so that each reads only earlier questions",
            )
        )
    return [issue for at, issue in enumerate(issues) if at not in in_cycles]


def _unknown_ref(qid: str, field: str, ref: str, spec: FlowSpec, at: int, loc: Loc) -> FlowIssue:
    earlier = [q.id for q in spec.questions[:at]]
    guess = closest(ref, earlier) or closest(ref, [q.id for q in spec.questions])
    if guess is not None:
        message = f"{field} refers to unknown question '{ref}': did you mean '{guess}'?"
        fix = f"write '{guess}' instead of '{ref}'"
    else:
        message = f"{field} refers to unknown question '{ref}'"
        fix = "use the id of an earlier question" + (
            f" (the one before is '{earlier[-1]}')" if earlier else ""
        )
    return FlowIssue(qid, message, loc=loc, fix=fix)


def _cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected group of two or more questions."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        # Iterative Tarjan: (node, iterator position)
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, pos = work.pop()
            if pos == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, ())
            if pos < len(successors):
                work.append((node, pos + 1))
                nxt = successors[pos]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    group.append(top)
                    if top == node:
                        break
                if len(group) > 1:
                    groups.append(group)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return [_cycle_in(graph, set(group)) for group in groups]


def _cycle_in(graph: Mapping[str, Sequence[str]], group: set[str]) -> list[str]:
    """A simple cycle through the group, starting at its earliest-listed member."""
    start = next(node for node in graph if node in group)
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = next(n for n in graph.get(node, ()) if n in group)
        if nxt == start or nxt in seen:
            return path[path.index(nxt) :] if nxt != start else path
        path.append(nxt)
        seen.add(nxt)
        node = nxt


def _reach_issues(spec: FlowSpec, first_at: Mapping[str, int]) -> list[FlowIssue]:
    """Unreachable questions and conditions that can never hold, one line per root cause: a
    question never asked only because it reads one that is never asked, or because the flow
    always ended before it, is named on the line of the first one."""
    issues: list[FlowIssue] = []
    by_id = {q.id: q for q in reversed(spec.questions)}  # the first of duplicate ids wins
    reach = _Reach(by_id)
    ended_at: str | None = None
    roots: dict[str, int] = {}  # unreachable question -> index of its root cause's issue
    ended_root: int | None = None  # the issue of the first question after the flow always ended
    followers: dict[int, list[str]] = {}
    never = _Possible(asked=False, answered=False, unanswered=True)
    for i, question in enumerate(spec.questions):
        if first_at[question.id] != i:
            continue  # a duplicate id: already reported
        loc: Loc = ("questions", i)
        when = question.when
        if ended_at is None and when is not None and not reach.can(when, True):
            root = next((roots[r] for r in condition_refs(when) if r in roots), None)
        elif ended_at is not None:
            root = ended_root if ended_root is not None else -1
        else:
            root = None
        if root is not None and root >= 0:
            followers.setdefault(root, []).append(question.id)
            roots[question.id] = root
            reach.known[question.id] = never
            continue
        if ended_at is not None or (when is not None and not reach.can(when, True)):
            roots[question.id] = len(issues)
            if ended_at is not None:
                ended_root = len(issues)
            issues.append(_unreachable(question, loc, when, ended_at, reach))
            reach.known[question.id] = never
            continue
        must_ask = when is None or not reach.can(when, False)
        if when is not None:
            issues += _value_issues(question, "when", when, reach, loc)
        holds_answer = kind_of(question.kind).holds_answer
        reach.known[question.id] = _Possible(
            asked=True,
            answered=holds_answer,
            unanswered=not (must_ask and question.required and holds_answer),
        )
        if question.end_if is not None and not is_decline_ending(question):
            if not reach.can(question.end_if, True):
                issues.append(
                    FlowIssue(
                        question.id,
                        f"end_if can never be true: 'end_if {describe_condition(question.end_if)}'"
                        f" ({reach.why_never(question.end_if)})",
                        loc=(*loc, "end_if"),
                        fix=_never_fix(question.end_if, reach, "the flow never ends here"),
                    )
                )
            else:
                issues += _value_issues(question, "end_if", question.end_if, reach, loc)
                if must_ask and not reach.can(question.end_if, False):
                    ended_at = question.id
    for at, names in followers.items():
        also = ", ".join(f"'{name}'" for name in names)
        issues[at] = replace(
            issues[at], message=f"{issues[at].message}; for the same reason so is {also}"
        )
    return issues


def _unreachable(
    question: Question, loc: Loc, when: Condition | None, ended_at: str | None, reach: _Reach
) -> FlowIssue:
    if ended_at is not None or when is None:
        return FlowIssue(
            question.id,
            f"unreachable: the flow always ends at '{ended_at}' before this question",
            loc=loc,
            fix=f"give '{ended_at}' an end_if that can also be false, or move this "
            f"question above '{ended_at}'",
        )
    return FlowIssue(
        question.id,
        f"unreachable: 'when {describe_condition(when)}' can never be true "
        f"({reach.why_never(when)})",
        loc=(*loc, "when"),
        fix=_never_fix(when, reach, "this question is never asked"),
    )


def _value_fix(target: Question, value: Scalar) -> str:
    """Name the choice a mistyped value most likely meant, or what the question can hold."""
    known = [*target.choices, *(["other"] if target.other else [])]
    guess = closest(value, known) if isinstance(value, str) and known else None
    if guess is not None:
        return f"did you mean '{guess}'? write '{guess}' instead of '{value}'"
    if known:
        return f"compare with one of its choices: {', '.join(known)}"
    return f"compare with a value '{target.id}' can hold"


def _never_fix(cond: Condition, reach: _Reach, effect: str) -> str:
    """What to change when a condition can never be true; a mistyped choice is named."""
    for leaf in _leaves(cond):
        target = reach.by_id.get(leaf.q)
        if isinstance(leaf, Answered) and target and not kind_of(target.kind).holds_answer:
            return f"read a question that holds an answer instead of '{leaf.q}'"
        values: list[Scalar] = []
        if isinstance(leaf, Equals):
            values = [leaf.equals]
        elif isinstance(leaf, OneOf):
            values = list(leaf.one_of)
        for value in values:
            if target is not None and target.choices and not _could_equal(target, value):
                return _value_fix(target, value)
    return f"change the condition so that it can hold ({effect}), or remove it"


def is_decline_ending(question: Question) -> bool:
    """``end_if: {q: <itself>, equals: false}`` on a consent: the text shown when declined.

    Declining a consent always ends the flow (the engine does it, and a declined consent is
    never an answer); this form only names ``<id>.end`` as the line to show instead of
    ``ui.consent.declined``.
    """
    return (
        kind_of(question.kind).ends_when_declined
        and isinstance(question.end_if, Equals)
        and question.end_if.q == question.id
        and question.end_if.equals is False
    )


def _value_issues(
    question: Question, field: str, cond: Condition, reach: _Reach, loc: Loc
) -> list[FlowIssue]:
    """Values a condition compares with that the referenced question can never hold (typos)."""
    issues: list[FlowIssue] = []
    for leaf in _leaves(cond):
        target = reach.by_id.get(leaf.q)
        if target is None or leaf.q not in reach.known:
            continue
        values: list[Scalar] = []
        match leaf:
            case Equals(equals=value):
                values = [value]
            case OneOf(one_of=items):
                values = list(items)
            case Answered():
                if not kind_of(target.kind).holds_answer:
                    issues.append(
                        FlowIssue(
                            question.id,
                            f"{field} asks whether '{leaf.q}' was answered, but it is an info "
                            "screen and never holds an answer",
                            loc=(*loc, field),
                            fix=f"read a question that holds an answer instead of '{leaf.q}'",
                        )
                    )
        for value in values:
            if not _could_equal(target, value):
                issues.append(
                    FlowIssue(
                        question.id,
                        f"{field} compares with a value that can never be an answer: "
                        f"{_why_not_equal(target, value)}",
                        loc=(*loc, field),
                        fix=_value_fix(target, value),
                    )
                )
    return issues


# ---- texts ----------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
_INVISIBLE_CONTROL = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
)


def placeholders(text: str) -> frozenset[str]:
    """The ``{name}`` placeholders in a text (``{{`` and ``}}`` are literal braces)."""
    return frozenset(_PLACEHOLDER.findall(text))


def _format_error(text: str) -> str | None:
    try:
        for _literal, field, spec, conversion in string.Formatter().parse(text):
            if field is not None and (
                not field.isidentifier() or spec or conversion or field.startswith("_")
            ):
                return f"'{{{field}}}' is not a plain {{name}} placeholder"
    except ValueError as exc:
        return f"broken placeholder ({exc}); write {{{{ or }}}} for a literal brace"
    return None


def _is_button(text_id: str) -> bool:
    if ".choice." in text_id:
        return True
    if text_id.startswith(("ui.button.", "ui.month.")):
        return True
    return text_id.startswith("ui.language.") and text_id != "ui.language.prompt"


def _length_limit(text_id: str) -> tuple[int, str]:
    if _is_button(text_id):
        return BUTTON_LABEL_MAX, "the project's limit for buttons, see docs/flows.md"
    if text_id.startswith("ui.command."):
        return BOT_COMMAND_DESCRIPTION_MAX, "Telegram's limit on a command description"
    if text_id == "ui.bot.short_description":
        return BOT_SHORT_DESCRIPTION_MAX, "Telegram's limit on a bot's short description"
    if text_id == "ui.bot.description":
        return BOT_DESCRIPTION_MAX, "Telegram's limit on a bot's description"
    return MESSAGE_TEXT_MAX, "Telegram's limit on one message"


def _text_value_issues(lang: str, text_id: str, text: str, *, formatted: bool) -> list[FlowIssue]:
    loc: Loc = (text_id,)
    issues: list[FlowIssue] = []
    if not text.strip():
        issues.append(
            FlowIssue(
                text_id,
                f"empty text in {lang}",
                lang=lang,
                loc=loc,
                fix="write the text after the ':' (a reporter would see nothing)",
            )
        )
        return issues
    length = len(unicodedata.normalize("NFC", text))
    limit, why = _length_limit(text_id)
    if length > limit:
        kind = "button label" if _is_button(text_id) else "text"
        issues.append(
            FlowIssue(
                text_id,
                f"{kind} too long: {length} characters in {lang}, over {limit} ({why})",
                lang=lang,
                loc=loc,
                fix=f"shorten it by {length - limit} characters or more",
            )
        )
    bad = _INVISIBLE_CONTROL.search(text)
    if bad:
        issues.append(
            FlowIssue(
                text_id,
                f"invisible control character U+{ord(bad.group()):04X} in {lang}",
                lang=lang,
                loc=loc,
                fix="delete it (retype the text around it if your editor does not show it)",
            )
        )
    if formatted:
        error = _format_error(text)
        if error:
            issues.append(
                FlowIssue(
                    text_id,
                    f"in {lang}: {error}",
                    lang=lang,
                    loc=loc,
                    fix="write {name} for a value the bot fills in, {{ and }} for a brace",
                )
            )
    return issues


def _placeholder_issues(
    text_id: str, by_lang: Mapping[str, str], *, formatted: bool = False
) -> list[FlowIssue]:
    found = {
        lang: placeholders(text)
        for lang, text in by_lang.items()
        if not (formatted and _format_error(text))
    }  # a broken placeholder is its own problem; comparing it too would say it twice
    if len(set(found.values())) <= 1:
        return []
    # The set most languages agree on is the reference (ties: the later language, English).
    counts: dict[frozenset[str], int] = {}
    for names in found.values():
        counts[names] = counts.get(names, 0) + 1
    reference = max(reversed(list(found.values())), key=lambda names: counts[names])

    def show(names: frozenset[str]) -> str:
        return ", ".join(f"{{{n}}}" for n in sorted(names)) or "none"

    return [
        FlowIssue(
            text_id,
            f"placeholders differ between languages: {lang} has {show(names)}, "
            f"the others {show(reference)}",
            lang=lang,
            loc=(text_id,),
            fix=(
                f"use exactly {show(reference)} in the {lang} text, as the others do"
                if reference
                else f"remove {show(names)} from the {lang} text: the others have no placeholder"
            ),
        )
        for lang, names in found.items()
        if names != reference
    ]


def _unknown_text_id(spec: FlowSpec, lang: str, text_id: str) -> FlowIssue:
    message, fix = _explain_unknown_text_id(spec, text_id)
    return FlowIssue(text_id, message, lang=lang, loc=(text_id,), fix=fix)


def _explain_unknown_text_id(spec: FlowSpec, text_id: str) -> tuple[str, str]:
    qid, _, rest = text_id.partition(".")
    by_id = {q.id: q for q in spec.questions}
    question = by_id.get(qid)
    if question is None:
        guess = closest(qid, list(by_id))
        if guess is not None:
            return (
                f"unknown text id: the flow has no question '{qid}': did you mean '{guess}'?",
                f"rename it {guess}.{rest}",
            )
        return (
            f"unknown text id: the flow has no question '{qid}'",
            "delete it, or add the question to the structure file",
        )
    if rest == "help":
        return (
            f"unknown text id: question '{qid}' has no 'has_help: true'",
            f"add 'has_help: true' to '{qid}', or delete this text",
        )
    if rest == "other":
        return (
            f"unknown text id: question '{qid}' has no 'other: true'",
            f"add 'other: true' to '{qid}', or delete this text",
        )
    if rest == "end":
        return (
            f"unknown text id: question '{qid}' has no end_if",
            f"give '{qid}' an end_if, or delete this text",
        )
    if rest.startswith("choice."):
        cid = rest.removeprefix("choice.")
        guess = closest(cid, question.choices)
        if guess is not None:
            return (
                f"unknown text id: question '{qid}' has no choice '{cid}': did you mean '{guess}'?",
                f"rename it {qid}.choice.{guess}",
            )
        return (
            f"unknown text id: question '{qid}' has no choice '{cid}'",
            f"add '{cid}' to the choices of '{qid}', or delete this text",
        )
    return (
        f"unknown text id: a question's texts are {qid}.prompt, .help, .choice.<id>, .other "
        "and .end",
        f"rename it to one of those, e.g. {qid}.prompt",
    )


def _text_loc(spec: FlowSpec, text_id: str) -> Loc:
    """Where in the structure file a text id comes from (its question, or its choice)."""
    qid, _, rest = text_id.partition(".")
    for i, question in enumerate(spec.questions):
        if question.id == qid:
            cid = rest.removeprefix("choice.")
            if rest.startswith("choice.") and cid in question.choices:
                return ("questions", i, "choices", question.choices.index(cid))
            return ("questions", i)
    return ("id",)


def _orphan_texts(spec: FlowSpec, tables: Sequence[Mapping[str, str]]) -> dict[str, set[str]]:
    """Texts of a question id the flow does not have, in every language: id -> text suffixes."""
    question_ids = {q.id for q in spec.questions} | {"flow"}
    orphans: dict[str, set[str]] = {}
    for text_id in tables[0]:
        qid, _, rest = text_id.partition(".")
        if qid not in question_ids and all(text_id in table for table in tables):
            orphans.setdefault(qid, set()).add(rest)
    return orphans


def _everywhere_issues(
    spec: FlowSpec, texts: Mapping[str, Mapping[str, str]]
) -> tuple[list[FlowIssue], set[str]]:
    """Texts missing, or not needed, in every language: one line on the structure file each
    (one cause, usually a change to the structure without its texts), and the ids it covers."""
    tables = [texts[lang] for lang in LANGUAGES if lang in texts]
    if len(tables) < len(LANGUAGES):
        return [], set()
    needed = spec_text_ids(spec)
    missing = {t for t in needed if all(t not in table for table in tables)}
    issues: list[FlowIssue] = []
    covered: set[str] = set()
    every = ", ".join(LANGUAGES[:-1]) + f" and {LANGUAGES[-1]}"
    orphans = _orphan_texts(spec, tables)
    for question in spec.questions:
        ids = question.text_ids()
        if not all(t in missing for t in ids):
            continue
        suffixes = {t.partition(".")[2] for t in ids}
        old = next((qid for qid, rest in orphans.items() if rest == suffixes), None)
        if old is not None:
            issues.append(
                FlowIssue(
                    f"{question.id}.prompt",
                    f"question '{question.id}' has no texts in {every}, but the texts of "
                    f"'{old}' (no such question) fit it: was it renamed?",
                    loc=_text_loc(spec, f"{question.id}.prompt"),
                    fix=f"rename the texts {old}.* to {question.id}.* in every language (or the "
                    f"question back to '{old}')",
                )
            )
            covered.update([*ids, *(f"{old}.{rest}" for rest in orphans.pop(old))])
        elif len(ids) > 1:
            issues.append(
                FlowIssue(
                    f"{question.id}.prompt",
                    f"question '{question.id}' has no texts in {every}",
                    loc=_text_loc(spec, f"{question.id}.prompt"),
                    fix=f"add {', '.join(ids)} to each language's text file",
                )
            )
            covered.update(ids)
    for text_id in needed:
        if text_id in missing and text_id not in covered:
            issues.append(
                FlowIssue(
                    text_id,
                    f"missing text in {every}",
                    loc=_text_loc(spec, text_id),
                    fix=f"add '{text_id}: ...' to each language's text file",
                )
            )
            covered.add(text_id)
    needed_set = set(needed)
    question_ids = {q.id for q in spec.questions}
    for text_id in tables[0]:
        if text_id in covered or text_id in needed_set:
            continue
        qid = text_id.partition(".")[0]
        every_text = [t for t in tables[0] if t.partition(".")[0] == qid]
        if qid not in question_ids and all(t in table for t in every_text for table in tables):
            message, fix = _explain_unknown_text_id(spec, text_id)
            issues.append(
                FlowIssue(
                    text_id,
                    f"{message} ({len(every_text)} texts of '{qid}' in {every})",
                    loc=_text_loc(spec, text_id),
                    fix=fix.replace("delete it", f"delete the texts {qid}.* in every language"),
                )
            )
            covered.update(every_text)
        elif all(text_id in table for table in tables):
            message, fix = _explain_unknown_text_id(spec, text_id)
            issues.append(
                FlowIssue(
                    text_id,
                    f"{message} (the text is in {every})",
                    loc=_text_loc(spec, text_id),
                    fix=fix.replace("delete this text", f"delete {text_id} in every language"),
                )
            )
            covered.add(text_id)
    return issues, covered


def _misspelling_of(text_id: str, missing: Sequence[str]) -> str | None:
    """The missing id ``text_id`` misspells: one part differs a little, the rest is the same
    (``site.choice.factroy`` for ``site.choice.factory``, ``sitee.prompt`` for ``site.prompt``)."""
    head, _, tail = text_id.rpartition(".")
    same_head = [m.rpartition(".")[2] for m in missing if m.rpartition(".")[0] == head]
    guess = closest(tail, same_head)
    if guess is not None:
        return f"{head}.{guess}"
    same_tail = [m.rpartition(".")[0] for m in missing if m.rpartition(".")[2] == tail]
    guess = closest(head, same_tail)
    return f"{guess}.{tail}" if guess is not None else None


def _misspelt_text_ids(
    needed: Sequence[str], table: Mapping[str, str], covered: set[str], lang: str
) -> dict[str, tuple[FlowIssue, str]]:
    """A text id not needed whose closest match is a needed text missing in the same file:
    one misspelt key, said once (not as a missing text and an unknown one)."""
    missing = [t for t in needed if t not in table and t not in covered]
    needed_set = set(needed)
    typos: dict[str, tuple[FlowIssue, str]] = {}
    for text_id in table:
        if text_id in needed_set or text_id in covered or not missing:
            continue
        meant = _misspelling_of(text_id, missing)
        if meant is not None and meant not in {m for _i, m in typos.values()}:
            issue = FlowIssue(
                text_id,
                f"unknown text id: did you mean {meant}? (that text is missing in {lang})",
                lang=lang,
                loc=(text_id,),
                fix=f"rename it {meant}",
            )
            typos[text_id] = (issue, meant)
    return typos


def _missing_text_issues(
    spec: FlowSpec, texts: Mapping[str, Mapping[str, str]], lang: str, covered: set[str]
) -> list[FlowIssue]:
    """Missing texts in one language; a question with none of its texts there is one line."""
    table = texts[lang]
    others = [other for other in LANGUAGES if other != lang and other in texts]
    issues: list[FlowIssue] = []
    question_ids = [q.id for q in spec.questions]
    for question in spec.questions:
        needed = question.text_ids()
        if not any(t in table or t in covered for t in needed) and len(needed) > 1:
            issues.append(
                FlowIssue(
                    f"{question.id}.prompt",
                    f"question '{question.id}' has no texts in {lang}",
                    lang=lang,
                    fix=f"add {', '.join(needed)}",
                )
            )
            question_ids.remove(question.id)
    for text_id in spec_text_ids(spec):
        if text_id in table or text_id in covered:
            continue
        if text_id.partition(".")[0] not in [*question_ids, "flow"]:
            continue
        have = [o for o in others if text_id in texts[o]]
        also = f" ({' and '.join(have)} {'has' if len(have) == 1 else 'have'} it)"
        issues.append(
            FlowIssue(
                text_id,
                f"missing text in {lang}{also if have else ''}",
                lang=lang,
                fix=f"add '{text_id}: ...'",
            )
        )
    return issues


def _text_issues(spec: FlowSpec, texts: Mapping[str, Mapping[str, str]]) -> list[FlowIssue]:
    needed = spec_text_ids(spec)
    needed_set = set(needed)
    issues, covered = _everywhere_issues(spec, texts)
    for lang in texts:
        if lang not in LANGUAGES:
            issues.append(
                FlowIssue("flow", f"unknown language '{lang}' (known: {', '.join(LANGUAGES)})")
            )
    for lang in LANGUAGES:
        table = texts.get(lang)
        if table is None:
            issues.append(
                FlowIssue(
                    "flow",
                    f"no texts in {lang}",
                    lang=lang,
                    fix=f"add the text file of {lang}",
                )
            )
            continue
        typos = _misspelt_text_ids(needed, table, covered, lang)
        issues += [issue for issue, _meant in typos.values()]
        issues += _missing_text_issues(
            spec, texts, lang, covered | {meant for _issue, meant in typos.values()}
        )
        for text_id, text in table.items():
            if text_id in covered or text_id in typos:
                continue
            if text_id not in needed_set:
                issues.append(_unknown_text_id(spec, lang, text_id))
                continue
            issues += _text_value_issues(lang, text_id, text, formatted=False)
    for text_id in needed:
        issues += _placeholder_issues(text_id, _in_languages(texts, text_id))
    for question in spec.questions:
        if not question.has_help:
            continue
        for lang in LANGUAGES:
            table = texts.get(lang, {})
            prompt, help_ = table.get(f"{question.id}.prompt"), table.get(f"{question.id}.help")
            if prompt is None or help_ is None:
                continue
            together = len(prompt) + 2 + len(help_)
            if together > MESSAGE_TEXT_MAX and len(help_) <= MESSAGE_TEXT_MAX:
                issues.append(
                    FlowIssue(
                        f"{question.id}.help",
                        f"text too long: prompt and help together are {together} characters in "
                        f"{lang}, over {MESSAGE_TEXT_MAX} (Telegram's limit on one message)",
                        lang=lang,
                        loc=(f"{question.id}.help",),
                        fix=f"shorten the prompt or the help by {together - MESSAGE_TEXT_MAX} "
                        "characters or more",
                    )
                )
    return issues


def _in_languages(texts: Mapping[str, Mapping[str, str]], text_id: str) -> dict[str, str]:
    return {lang: texts[lang][text_id] for lang in LANGUAGES if text_id in texts.get(lang, {})}


def flow_issues(spec: FlowSpec, texts: Mapping[str, Mapping[str, str]]) -> list[FlowIssue]:
    """Every rule the flow breaks; empty when it may be used. See docs/flows.md for the rules.

    While two questions share an id, only the structure is checked: every text and condition
    of that id would be reported again, once per language (one root cause, one line)."""
    structure = _structure_issues(spec)
    if len({q.id for q in spec.questions}) < len(spec.questions):
        return structure
    return structure + _text_issues(spec, texts)


def ui_text_issues(texts: Mapping[str, Mapping[str, str]]) -> list[FlowIssue]:
    """Rules for ``locales/<lang>/ui.yaml``: the same ids in every language, within limits."""
    issues: list[FlowIssue] = []
    all_ids: dict[str, None] = {}
    for lang in LANGUAGES:
        all_ids.update(dict.fromkeys(texts.get(lang, {})))
    for lang in LANGUAGES:
        table = texts.get(lang)
        if table is None:
            issues.append(FlowIssue("ui", f"no ui texts in {lang}", lang=lang))
            continue
        for text_id in all_ids:
            if text_id not in table:
                have = [o for o in LANGUAGES if o != lang and text_id in texts.get(o, {})]
                issues.append(
                    FlowIssue(
                        text_id,
                        f"missing text in {lang} ({' and '.join(have)} "
                        f"{'has' if len(have) == 1 else 'have'} it): every ui.yaml needs the "
                        "same ids",
                        lang=lang,
                        fix=f"add '{text_id}: ...'",
                    )
                )
        for text_id, text in table.items():
            if not text_id.startswith("ui."):
                issues.append(
                    FlowIssue(
                        text_id,
                        "ui text ids start with 'ui.'",
                        lang=lang,
                        loc=(text_id,),
                        fix=f"rename it ui.{text_id}",
                    )
                )
            issues += _text_value_issues(lang, text_id, text, formatted=True)
    for text_id in all_ids:
        issues += _placeholder_issues(text_id, _in_languages(texts, text_id), formatted=True)
    return issues
