"""An accepted answer as the reporter would recognise it: labels and their own words.

Each kind writes its own answers (``QuestionKind.answer_text`` in ``bot/questionnaire/kinds/``);
this picks the kind. Shared by the Telegram renderer (``handlers.render``) and the terminal demo
(``bot.terminal.demo``), so the review screen reads the same in both; no Telegram import here.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.questionnaire.flow import AnswerValue, Kind
from bot.questionnaire.kinds import kind_of


def kind_of_answer(answer: AnswerValue) -> Kind:
    """The kind whose answers have ``answer``'s shape (for an answer known without its question).

    Single and place answers share a shape and read the same.
    """
    if "consent" in answer:
        return Kind.CONSENT
    if "media" in answer:
        return Kind.MEDIA
    if "choices" in answer:
        return Kind.MULTI
    if "choice" in answer:
        return Kind.SINGLE
    if "number" in answer:
        return Kind.NUMBER
    if "unknown" in answer or "year" in answer:
        return Kind.DATE
    if "text" in answer:
        return Kind.TEXT
    return Kind.INFO


def answer_text(
    answer: AnswerValue,
    lang: str,
    *,
    ui: Callable[[str], str],
    choice_label: Callable[[str], str],
    kind: Kind | None = None,
) -> str:
    """``answer`` in words: ``ui`` looks up a ui text id, ``choice_label`` a choice id's label.

    ``kind`` is the question's kind; without it the kind is told from the answer's shape.
    """
    which = kind if kind is not None else kind_of_answer(answer)
    return kind_of(which).answer_text(answer, lang, ui=ui, choice_label=choice_label)
