"""Where a reporter is in a flow: the engine's immutable state and the answers it holds.

Shared by the engine (``bot.questionnaire.engine``) and the question kinds
(``bot.questionnaire.kinds``); nothing here knows about any one kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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


class Phase(StrEnum):
    NOT_STARTED = "not_started"
    ASKING = "asking"
    REVIEW = "review"
    FINISHED = "finished"
    ENDED = "ended"  # end_if fired or consent declined
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


ACTIVE_PHASES = frozenset({Phase.ASKING, Phase.REVIEW})


@dataclass(frozen=True, slots=True)
class Answer:
    """A validated answer (or a partial one while a question is being answered).

    Immutable; ``value()`` gives the plain shape documented in :data:`AnswerValue`.
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
