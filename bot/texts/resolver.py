"""The one place a text id becomes words, for Telegram (``handlers.render``) and the terminal
(``bot.terminal.demo``) alike.

Two tables feed it, both ``lang -> text id -> text``: a flow's texts
(``locales/<lang>/<flow>.yaml``) and the bot's own ui texts (``locales/<lang>/ui.yaml``). Ids
starting with ``ui.`` are ui texts; every other id is a flow text.

**The fallback rule** (the only one): a text missing in the reporter's language is taken from
:data:`FALLBACK_LANG` (English), and one missing there too is shown as its id, so a gap is
visible instead of silent. The loader refuses a flow or ui file with a text missing in ko, ru or
en, so with loaded texts neither fallback is ever reached; they keep a hand-built table (a test,
a half-edited locale in a demo) readable instead of crashing.

A choice's label is its flow text ``<qid>.choice.<cid>``; the "other" button a question gets from
``other: true`` has no such text and reads ``ui.button.other``.

Pure: no Telegram, no I/O. Placeholders are filled by :func:`bot.texts.placeholders.fill`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.texts.placeholders import fill

Tables = Mapping[str, Mapping[str, str]]
"""lang -> text id -> text."""

FALLBACK_LANG = "en"
"""The language a missing text is taken from (see the module doc)."""

UI_PREFIX = "ui."
OTHER = "other"
OTHER_BUTTON = "ui.button.other"


def _resolve(tables: Tables, lang: str, text_id: str, values: Mapping[str, object]) -> str:
    for source in (lang, FALLBACK_LANG):
        text = tables.get(source, {}).get(text_id)
        if text is not None:
            return fill(text, **values) if values else text
    return text_id


class TextResolver:
    """Flow and ui texts in every language, looked up by one rule."""

    def __init__(self, flow_texts: Tables, ui_texts: Tables) -> None:
        self.flow_texts = flow_texts
        self.ui_texts = ui_texts

    def get(self, lang: str, text_id: str, **values: object) -> str:
        """A ui text (ids ``ui.*``) or else a flow text, by the fallback rule; placeholders filled
        from ``values``."""
        tables = self.ui_texts if text_id.startswith(UI_PREFIX) else self.flow_texts
        return _resolve(tables, lang, text_id, values)

    def ui(self, lang: str, text_id: str, **values: object) -> str:
        """A ui text whatever its id looks like (the id itself when no language has it)."""
        return _resolve(self.ui_texts, lang, text_id, values)

    def has(self, lang: str, text_id: str) -> bool:
        """Whether ``text_id`` resolves to a text (in ``lang`` or by the fallback)."""
        tables = self.ui_texts if text_id.startswith(UI_PREFIX) else self.flow_texts
        return any(text_id in tables.get(source, {}) for source in (lang, FALLBACK_LANG))

    def choice_label(self, lang: str, qid: str, cid: str) -> str:
        """The label of choice ``cid`` of question ``qid``."""
        own = f"{qid}.choice.{cid}"
        if cid == OTHER and not self.has(lang, own):
            return self.get(lang, OTHER_BUTTON)
        return self.get(lang, own)

    def in_languages(self, text_id: str, languages: Sequence[str]) -> str:
        """The same ui text in each language, one per line, without repeats."""
        lines: list[str] = []
        for lang in languages:
            line = self.ui(lang, text_id)
            if line not in lines:
                lines.append(line)
        return "\n".join(lines)


def progress_text(texts: TextResolver, lang: str, step: int, total: int) -> str:
    """Where the reporter is: "Question 7, about 5 more" (``ui.progress``; the last one says so).

    ``step`` counts the questions on the reporter's path so far and never goes back as branches
    open; the total is not shown, only an estimate of what is left over the path the answers so
    far imply (tests/test_progress.py).
    """
    left = max(total - step, 0)
    if left == 0:
        return texts.ui(lang, "ui.progress.last", step=step)
    return texts.ui(lang, "ui.progress", step=step, left=left)
