"""Cover mode in the chat: the phrasebook screens, and telling a search from an entry code.

Translation only, like the rest of ``handlers``: the phrasebook (``bot.phrasebook``) and the
codes (``bot.phrasebook.codes``) decide; this module words their answers as Telegram messages.
``handlers.private.ReporterChats`` routes to it every update of a chat that is not inside a
report (docs/cover.md):

- ``/start``, ``/help``, unknown commands, buttons of the phrasebook: its screens;
- typed text: a search, unless it finds nothing and is an entry or duress code (compared in
  constant time, at most ``entry_attempts_per_hour`` texts per account and hour; beyond that a
  text is only searched);
- anything else (a sticker, a photo): "type the word you are looking for".

Phrasebook messages are never recorded for erasing: they are the cover, and stay in the chat
after every way out of a report. Nothing here logs a text, a code or an id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from bot.phrasebook.codes import CodeMatch, EntryCodes
from bot.phrasebook.model import CALLBACK_PREFIX, Phrasebook
from bot.questionnaire.flow import MESSAGE_TEXT_MAX
from handlers.pseudonyms import PseudonymKeys, PseudonymMap
from handlers.render import Lru, Renderer, Screen, keyboard
from handlers.telegram_calls import InlineButton, Keyboard
from handlers.turn import TOAST_CHARS, Turn

ATTEMPT_WINDOW: Final = 3600.0
"""Entry attempts are counted over the last hour."""

TOPICS_PER_ROW: Final = 2

HOME, TOPIC, SECTION, HELP = "h", "t", "s", "?"
"""What a phrasebook button opens: ``P:<lang>:<what>[:<id>]``."""


def is_cover_button(data: object) -> bool:
    return isinstance(data, str) and data.startswith(CALLBACK_PREFIX)


class CoverBook:
    """The phrasebook's screens in every offered language, each built once (they never change
    while the bot runs; a search's text is the one screen built each time)."""

    def __init__(self, book: Phrasebook, languages: Sequence[str]) -> None:
        self.book = book
        self.languages = tuple(languages)
        self._screens: Lru[tuple[str, str, str], Screen] = Lru()
        self._home_rows: Lru[str, Keyboard] = Lru()

    def text(self, lang: str, text_id: str) -> str:
        return self.book.text(lang if lang in self.book.texts else "ko", text_id)

    @staticmethod
    def _data(lang: str, what: str, ident: str = "") -> str:
        return f"{CALLBACK_PREFIX}{lang}:{what}" + (f":{ident}" if ident else "")

    def _button(self, lang: str, text_id: str, what: str, ident: str = "") -> InlineButton:
        return Renderer.button(self.text(lang, text_id), self._data(lang, what, ident))

    def _home_row(self, lang: str) -> list[InlineButton]:
        return [self._button(lang, "pb.button.home", HOME)]

    def home(self, lang: str) -> Screen:
        return self._screens.get((lang, HOME, ""), lambda: self._home(lang))

    def _home(self, lang: str) -> Screen:
        topics = [self._button(lang, f"topic.{t.id}", TOPIC, t.id) for t in self.book.spec.topics]
        rows = [topics[i : i + TOPICS_PER_ROW] for i in range(0, len(topics), TOPICS_PER_ROW)]
        others = [other for other in self.languages if other != lang]
        if others:
            rows.append([self._button(other, "pb.language", HOME) for other in others])
        rows.append([self._button(lang, "pb.button.help", HELP)])
        return Screen(self.text(lang, "pb.home"), keyboard(rows))

    def topic(self, lang: str, topic_id: str) -> Screen | None:
        topic = self.book.topic(topic_id)
        if topic is None:
            return None

        def make() -> Screen:
            rows = [[self._button(lang, f"section.{s.id}", SECTION, s.id)] for s in topic.sections]
            rows.append(self._home_row(lang))
            text = f"{self.text(lang, f'topic.{topic.id}')}\n\n{self.text(lang, 'pb.topic')}"
            return Screen(text, keyboard(rows))

        return self._screens.get((lang, TOPIC, topic.id), make)

    def section(self, lang: str, section_id: str) -> Screen | None:
        found = self.book.section(section_id)
        if found is None:
            return None
        topic, _ = found

        def make() -> Screen:
            rows = [[self._button(lang, "pb.button.back", TOPIC, topic.id), *self._home_row(lang)]]
            page = self.book.section_page(self._page_lang(lang), section_id)
            return Screen(page, keyboard(rows))

        return self._screens.get((lang, SECTION, section_id), make)

    def _page_lang(self, lang: str) -> str:
        return lang if lang in self.book.texts else "ko"

    def help(self, lang: str) -> Screen:
        return self._screens.get(
            (lang, HELP, ""), lambda: Screen(self.text(lang, "pb.help"), self._home_keyboard(lang))
        )

    def _home_keyboard(self, lang: str) -> Keyboard:
        return self._home_rows.get(lang, lambda: keyboard([self._home_row(lang)]))

    def found(self, lang: str, query: str) -> Screen:
        """A search's answer: the phrases found, or "not in the phrasebook"."""
        result = self.book.search(query)
        markup = self._home_keyboard(lang)
        if not result.phrase_ids:
            return Screen(self.text(lang, "pb.search.none"), markup)
        parts = [self.text(lang, "pb.search.found")]
        parts += [self.book.phrase_block(self._page_lang(lang), pid) for pid in result.phrase_ids]
        if result.more:
            parts.append(self.text(lang, "pb.search.more"))
        text = "\n\n".join(parts)
        if len(text) > MESSAGE_TEXT_MAX:
            text = text[: MESSAGE_TEXT_MAX - 1] + "…"
        return Screen(text, markup)

    def finds_something(self, query: str) -> bool:
        return bool(self.book.search(query).phrase_ids)

    def for_button(self, data: str) -> tuple[str, Screen] | None:
        """The language and screen a phrasebook button opens; None for a button it never made."""
        parts = data.removeprefix(CALLBACK_PREFIX).split(":")
        if len(parts) not in (2, 3) or parts[0] not in self.languages:
            return None
        lang, what, ident = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
        screen: Screen | None = None
        if what == HOME and not ident:
            screen = self.home(lang)
        elif what == HELP and not ident:
            screen = self.help(lang)
        elif what == TOPIC:
            screen = self.topic(lang, ident)
        elif what == SECTION:
            screen = self.section(lang, ident)
        return (lang, screen) if screen is not None else None


class EntryAttempts:
    """Texts compared with the codes, per account (pseudonym), in a sliding hour. Memory only,
    bounded: at most ``per_hour`` timestamps per account, ``capacity`` accounts."""

    def __init__(
        self, keys: PseudonymKeys, per_hour: int, capacity: int, monotonic: Callable[[], float]
    ) -> None:
        self._per_hour = per_hour
        self._monotonic = monotonic
        self._windows: PseudonymMap[deque[float]] = PseudonymMap(keys, capacity)

    def __len__(self) -> int:
        return len(self._windows)

    def allow(self, user_id: int) -> bool:
        """Count one attempt; False (not counted) when the account's hour is full."""
        now = self._monotonic()
        window = self._windows.get(user_id)
        if window is None:
            window = deque()
            self._windows.put(user_id, window)
        while window and now - window[0] >= ATTEMPT_WINDOW:
            window.popleft()
        if len(window) >= self._per_hour:
            return False
        window.append(now)
        return True

    def forget_idle(self) -> None:
        now = self._monotonic()
        for key, window in list(self._windows.items()):
            if not window or now - window[-1] >= ATTEMPT_WINDOW:
                self._windows.pop_key(key)
        self._windows.drop_unreachable()


class Cover:
    """The cover for one bot: its screens, its codes and the limit on trying them."""

    def __init__(self, book: CoverBook, codes: EntryCodes, attempts: EntryAttempts) -> None:
        self.book = book
        self.codes = codes
        self.attempts = attempts

    def check(self, user_id: int, text: str) -> CodeMatch:
        """What a typed text (or a ``/start`` payload) is. A text the phrasebook has phrases
        for is a search; otherwise it counts as an entry attempt, compared with every code."""
        if self.book.finds_something(text):
            return CodeMatch.NONE
        if not self.attempts.allow(user_id):
            return CodeMatch.NONE
        return self.codes.match(text)

    async def show(self, turn: Turn, screen: Screen, *, edit: bool = False) -> None:
        """Show a phrasebook screen: edit the phrasebook message the button was on, or send a
        new one. Never recorded for erasing: the phrasebook stays after every erase."""
        on_phrasebook = turn.query_message_id not in turn.conv.message_ids
        if edit and on_phrasebook and await turn.edit_pressed(screen):
            return
        await turn.say(screen.text, screen=screen, record=False)

    async def home(self, turn: Turn) -> None:
        await self.show(turn, self.book.home(turn.lang))

    async def on_button(self, turn: Turn, data: str) -> None:
        opened = self.book.for_button(data)
        if opened is None:
            turn.toast = self.book.text(turn.lang, "pb.old_button")
            return
        lang, screen = opened
        turn.lang = lang
        if turn.conv.state is None:
            turn.conv.lang = lang
        await self.show(turn, screen, edit=True)

    async def search(self, turn: Turn, text: str) -> None:
        await self.show(turn, self.book.found(turn.lang, text))

    async def say(self, turn: Turn, text_id: str) -> None:
        """A short phrasebook word (slow down, not a text): the toast of a pressed button, or
        an unrecorded message."""
        text = self.book.text(turn.lang, text_id)
        if turn.query is not None and not turn.answered:
            turn.toast = text[:TOAST_CHARS]
        else:
            await turn.say(text, record=False)
