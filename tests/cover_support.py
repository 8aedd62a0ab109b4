"""What a minder scrolling the chat may find in cover mode: phrasebook content only.

:func:`not_phrasebook` reads a chat's visible messages (``FakeTelegram.visible`` in-process or
over HTTP) and returns every one that is not the phrasebook's: a bot message whose text is not a
phrasebook screen or word, or that carries a button the phrasebook did not make; a message of
the reporter's that holds an entry code. The reporter's own search words may stay: that is
phrasebook use; so does a duress code, which does nothing a watcher can see (docs/cover.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from bot.phrasebook.model import CALLBACK_PREFIX, SCREEN_TEXT_IDS, Phrasebook
from bot.questionnaire.flow import LANGUAGES
from handlers.cover import CoverBook
from tests.bot_support import ENTRY_CODE, OLD_ENTRY_CODE, shipped_phrasebook
from tests.botclient import ChatMessage

CODE_MARKS = ("entrycanary", "oldcanary")
"""Parts of the test entry codes (:data:`tests.bot_support.ENTRY_CODE` ...), case-folded."""


@cache
def phrasebook_screens() -> frozenset[str]:
    """Every text the phrasebook shows in a message, in every language (searches aside)."""
    book = shipped_phrasebook()
    screens = CoverBook(book, LANGUAGES)
    texts: set[str] = set()
    for lang in LANGUAGES:
        texts |= {book.text(lang, text_id) for text_id in SCREEN_TEXT_IDS}
        texts.add(screens.home(lang).text)
        texts.add(screens.help(lang).text)
        for topic in book.spec.topics:
            shown = screens.topic(lang, topic.id)
            assert shown is not None
            texts.add(shown.text)
            for section in topic.sections:
                page = screens.section(lang, section.id)
                assert page is not None
                texts.add(page.text)
    return frozenset(texts)


def _is_search_answer(book: Phrasebook, text: str) -> bool:
    return any(text.startswith(book.text(lang, "pb.search.found")) for lang in LANGUAGES)


def _buttons(msg: ChatMessage) -> list[str]:
    markup = msg.reply_markup or {}
    return [
        str(button.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for button in row
    ]


def not_phrasebook(messages: Iterable[ChatMessage]) -> list[str]:
    """The visible messages a minder would find out of place (empty: phrasebook only)."""
    book = shipped_phrasebook()
    found: list[str] = []
    for msg in messages:
        text = msg.text or msg.kind
        if not msg.from_bot:
            if any(mark in text.casefold() for mark in CODE_MARKS) or text in (
                ENTRY_CODE,
                OLD_ENTRY_CODE,
            ):
                found.append(f"the reporter's code: {text[:40]!r}")
            continue
        if any(not data.startswith(CALLBACK_PREFIX) for data in _buttons(msg)):
            found.append(f"a button that is not the phrasebook's on {text[:60]!r}")
        elif text not in phrasebook_screens() and not _is_search_answer(book, text):
            found.append(f"not a phrasebook text: {text[:60]!r}")
    return found


def phrasebook_screens_with_buttons(messages: Iterable[ChatMessage]) -> int:
    """How many of these messages are phrasebook screens one can go on from (with buttons)."""
    return sum(
        1
        for msg in messages
        if msg.from_bot
        and _buttons(msg)
        and all(d.startswith(CALLBACK_PREFIX) for d in _buttons(msg))
    )
