"""One answer as a cell: choice labels from the flow the reporter saw, the toolkit's few words
in the analyst's language (``reportbot_analyst.vocabulary``), never a guessed label."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final

from bot.questionnaire.flow import Flow
from reportbot_analyst.vocabulary import word

OTHER: Final = "other"
"""Choice id of the "other: please write" button (``bot.questionnaire.engine.OTHER``)."""

LabelFn = Callable[[str, str], str]  # (question id, choice id) -> label


def labeller(flow: Flow | None, lang: str) -> LabelFn:
    def label(qid: str, cid: str) -> str:
        if flow is None:
            return cid
        try:
            return flow.text(lang, f"{qid}.choice.{cid}")
        except KeyError:
            return f"[{cid}]"  # an id the flow does not have: shown raw, never guessed

    return label


def render_answer(
    qid: str,
    answer: Mapping[str, object],
    label: LabelFn,
    files: Mapping[str, str],
    lang: str,
) -> str:
    """One cell: labels for choices, the text as written, numbers and dates plainly; the few
    words the toolkit adds in ``lang``."""
    parts: list[str] = []
    text = answer.get("text")
    text_used = False
    chosen: list[object] = []
    if "choice" in answer:
        chosen.append(answer["choice"])
    many = answer.get("choices")
    if isinstance(many, list):
        chosen += many
    for cid in chosen:
        name = label(qid, str(cid))
        if cid == OTHER and isinstance(text, str):
            parts.append(f"{word('other', lang) if name == f'[{OTHER}]' else name}: {text}")
            text_used = True
        else:
            parts.append(name)
    if isinstance(text, str) and not text_used:
        parts.append(text)
    if "number" in answer:
        parts.append(str(answer["number"]))
    if answer.get("unknown") is True:
        parts.append(word("unknown", lang))
    if "year" in answer:
        month = answer.get("month")
        has_month = isinstance(month, int) and not isinstance(month, bool)
        parts.append(f"{answer['year']}-{month:02d}" if has_month else str(answer["year"]))
    if "consent" in answer:
        parts.append(word("yes", lang) if answer["consent"] is True else word("no", lang))
    media = answer.get("media")
    if isinstance(media, list):
        for item in media:
            ref = item.get("ref") if isinstance(item, dict) else None
            parts.append(files.get(str(ref), f"[{word('missing_attachment', lang)}: {ref}]"))
    if not parts:
        parts.append(json.dumps(answer, ensure_ascii=False, sort_keys=True))
    return "; ".join(parts)


def renderer(
    label: LabelFn, files: Mapping[str, str], lang: str
) -> Callable[[str, Mapping[str, object]], str]:
    def render(qid: str, answer: Mapping[str, object]) -> str:
        return render_answer(qid, answer, label, files, lang)

    return render
