"""An accepted answer as the reporter would recognise it: labels and their own words.

Shared by the Telegram renderer (``handlers.render``) and the terminal demo (``bot.terminal.demo``),
so the review screen reads the same in both; no Telegram import here.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.questionnaire.flow import AnswerValue


def answer_text(
    answer: AnswerValue,
    lang: str,
    *,
    ui: Callable[[str], str],
    choice_label: Callable[[str], str],
) -> str:
    """``answer`` in words: ``ui`` looks up a ui text id, ``choice_label`` a choice id's label."""
    parts: list[str] = []
    if "consent" in answer:
        parts.append(ui("ui.button.agree" if answer["consent"] else "ui.button.decline"))
    if "choice" in answer:
        parts.append(choice_label(str(answer["choice"])))
    choices = answer.get("choices")
    if isinstance(choices, list):
        parts.append(", ".join(choice_label(str(c)) for c in choices))
    if "number" in answer:
        parts.append(str(answer["number"]))
    if answer.get("unknown"):
        parts.append(ui("ui.button.dont_know"))
    if "year" in answer:
        month = answer.get("month")
        if isinstance(month, int):
            name = ui(f"ui.month.{month:02d}")
            # Korean writes the year first (2024년 3월); Russian and English the month first.
            parts.append(f"{answer['year']} {name}" if lang == "ko" else f"{name} {answer['year']}")
        else:
            parts.append(str(answer["year"]))
    media = answer.get("media")
    if isinstance(media, list):
        parts.append(f"📎 × {len(media)}")
    text = answer.get("text")
    if isinstance(text, str) and text:
        parts.append(text)
    return " — ".join(parts)
