"""Evaluating a flow's conditions (``when``, ``end_if``) over the answers given so far.

Pure functions over plain answer values (the shapes documented in
``bot.questionnaire.flow.AnswerValue``); the engine, the maintainer tools and the tests share them.

What a condition compares an answer with, by the question's kind:

- single, place: the chosen choice id (a place written in words has none);
- multi: each chosen id (``equals`` is "among the chosen", ``one_of`` "any chosen in the list");
- consent: ``true`` (a declined consent ends the flow, so it is never an answer);
- number: the number; text: the text;
- date: the year, or the string ``"unknown"`` for "don't know";
- media, info: nothing (only ``answered`` applies).

A question not answered (skipped, not asked, or on an abandoned branch) makes ``equals`` and
``one_of`` false and ``answered: false`` true. Values compare strictly by type: ``true`` never
equals ``1``, and ``"3"`` never equals ``3``.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.questionnaire.flow import (
    All,
    Answered,
    AnswerValue,
    AnyOf,
    Condition,
    Equals,
    Kind,
    Not,
    OneOf,
    Scalar,
)
from bot.questionnaire.kinds import kind_of


def comparable_values(kind: Kind, answer: AnswerValue) -> list[object]:
    """The values of ``answer`` that ``equals`` / ``one_of`` compare with (see module doc)."""
    return kind_of(kind).comparable(answer)


def _same(left: object, right: object) -> bool:
    return type(left) is type(right) and left == right


def _matches(kind: Kind, answer: AnswerValue | None, wanted: list[Scalar]) -> bool:
    if answer is None:
        return False
    return any(_same(have, want) for have in comparable_values(kind, answer) for want in wanted)


def evaluate(
    cond: Condition,
    kinds: Mapping[str, Kind],
    answers: Mapping[str, AnswerValue],
) -> bool:
    """Whether ``cond`` holds given ``answers`` (question id -> answer, only answered ones).

    ``kinds`` maps every question id of the flow to its kind. A reference to a question the
    flow does not have is false (the loader rejects such flows; this keeps evaluation total).
    """
    match cond:
        case Equals(q=q, equals=value):
            kind = kinds.get(q)
            return kind is not None and _matches(kind, answers.get(q), [value])
        case OneOf(q=q, one_of=values):
            kind = kinds.get(q)
            return kind is not None and _matches(kind, answers.get(q), values)
        case Answered(q=q, answered=wanted):
            return (q in answers) == wanted
        case Not(not_=inner):
            return not evaluate(inner, kinds, answers)
        case All(all=items):
            return all(evaluate(item, kinds, answers) for item in items)
        case AnyOf(any=items):
            return any(evaluate(item, kinds, answers) for item in items)
