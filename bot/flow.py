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
                          ``end_if`` is set)
``flow.title``            the flow's name, shown on the review screen
========================  ==========================================================

Nothing here does I/O; ``bot.flow_loader`` reads files into these models.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


def callback_bytes(qid: str, cid: str) -> int:
    """Bytes of callback_data a button for choice ``cid`` of question ``qid`` takes."""
    return CALLBACK_RESERVED + len(qid.encode()) + len(cid.encode())


class Kind(StrEnum):
    """The kinds of question a flow can ask."""

    INFO = "info"  # a screen of text with a "continue" button; no answer
    CONSENT = "consent"  # agree / do not agree; "do not agree" ends the flow with nothing kept
    SINGLE = "single"  # one choice from buttons (optionally "other: please write")
    MULTI = "multi"  # several choices from buttons, then "done" (optionally "other")
    TEXT = "text"  # free text up to max_length characters
    NUMBER = "number"  # a whole number in [min, max]
    DATE = "date"  # an approximate year and month, or "don't know"
    PLACE = "place"  # a region or city from a list, or written in words; never GPS
    MEDIA = "media"  # photo, voice note, video or document; always skippable by design


class MediaKind(StrEnum):
    PHOTO = "photo"
    VOICE = "voice"
    VIDEO = "video"
    DOCUMENT = "document"


Scalar = str | int | bool


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
    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class All(_Strict):
    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(_Strict):
    any: Annotated[list[Condition], Field(min_length=1)]


Condition = Equals | OneOf | Answered | Not | All | AnyOf
"""A condition over earlier answers. Unanswered or skipped questions make Equals/OneOf false."""

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
    when: Condition | None = None
    end_if: Condition | None = None
    choices: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list)
    other: bool = False
    max_length: Annotated[int, Field(ge=1, le=4000)] | None = None
    min: int | None = None
    max: int | None = None
    accept: list[MediaKind] = Field(default_factory=list)
    max_files: Annotated[int, Field(ge=1, le=10)] = 3
    min_year: Annotated[int, Field(ge=1950, le=2100)] = 2000
    has_help: bool = False

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Question:
        kind = self.kind
        if kind in (Kind.SINGLE, Kind.MULTI, Kind.PLACE) and not self.choices:
            raise ValueError(f"a {kind} question needs choices")
        if kind not in (Kind.SINGLE, Kind.MULTI, Kind.PLACE) and self.choices:
            raise ValueError(f"a {kind} question takes no choices")
        if self.other and kind not in (Kind.SINGLE, Kind.MULTI):
            raise ValueError("'other' fits only single and multi questions")
        if kind is Kind.NUMBER and (self.min is None or self.max is None or self.min > self.max):
            raise ValueError("a number question needs min <= max")
        if kind is not Kind.NUMBER and (self.min is not None or self.max is not None):
            raise ValueError(f"a {kind} question takes no min/max")
        if kind is Kind.MEDIA and not self.accept:
            raise ValueError("a media question needs 'accept'")
        if kind is not Kind.MEDIA and self.accept:
            raise ValueError(f"a {kind} question takes no 'accept'")
        if kind is Kind.MEDIA and self.required:
            raise ValueError("a media question is never required: evidence is always optional")
        if kind is Kind.INFO and self.required:
            raise ValueError("an info screen has no answer to require")
        if self.max_length is not None and kind not in (Kind.TEXT, Kind.PLACE) and not self.other:
            raise ValueError("max_length fits text, place, or questions with 'other'")
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
    """A flow with its texts in every language; built and checked by ``bot.flow_loader``."""

    spec: FlowSpec
    texts: dict[str, TextTable]
    source: str = ""  # the file it came from, for messages

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def questions(self) -> list[Question]:
        return self.spec.questions

    def question(self, qid: str) -> Question:
        for q in self.spec.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    def index(self, qid: str) -> int:
        for i, q in enumerate(self.spec.questions):
            if q.id == qid:
                return i
        raise KeyError(qid)

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


AnswerValue = dict[str, object]
"""An accepted answer as the engine hands it to sealing, e.g. ``{"choice": "it"}``.

Shapes by kind (ids, never labels):
- consent: ``{"consent": true}``
- single: ``{"choice": "other", "text": "..."}`` (``text`` only with other)
- multi: ``{"choices": ["a", "b"], "text": "..."}``
- text: ``{"text": "..."}``; place: ``{"choice": "moscow"}`` or ``{"text": "..."}``
- number: ``{"number": 18}``
- date: ``{"year": 2024, "month": 3}`` (month may be null) or ``{"unknown": true}``
- media: ``{"media": [{"kind": "photo", "ref": "<opaque attachment id>"}]}``
"""
