"""The phrasebook as data: structure, texts, the rules they keep, and search.

The structure (``flows/phrasebook.yaml``) names topics, the sections inside each topic and the
phrases inside each section, by id only. The texts (``locales/<lang>/phrasebook.yaml``) are flat
mappings of text id to text:

==========================  ==========================================================
``topic.<id>``              a topic's button (every language)
``section.<id>``            a section's button and heading (every language)
``phrase.<id>``             the phrase: in ``ru`` the Russian to say, in ``ko`` and ``en``
                            its meaning
``phrase.<id>.say``         ``ko`` only: how to pronounce the Russian, in Hangul
``pb.*``                    the phrasebook's own screens, buttons, commands and profile
                            texts (:data:`SCREEN_TEXT_IDS`, every language)
==========================  ==========================================================

Nothing here does I/O. :func:`phrasebook_issues` is every rule (the questionnaire's rules for
texts: present in every language, not empty, no control characters, buttons within
:data:`bot.questionnaire.flow.BUTTON_LABEL_MAX`, Telegram's limits; plus the Northern spelling
from the glossary, Hangul-only pronunciation guides, and no word the cover must never show).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from bot.questionnaire.flow import (
    BOT_COMMAND_DESCRIPTION_MAX,
    BOT_DESCRIPTION_MAX,
    BOT_SHORT_DESCRIPTION_MAX,
    BUTTON_LABEL_MAX,
    CALLBACK_DATA_MAX,
    ID_PATTERN,
    LANGUAGES,
    MESSAGE_TEXT_MAX,
    TextTable,
)

PHRASEBOOK_ID = "phrasebook"
"""The phrasebook's id, file stem (``flows/phrasebook.yaml``) and text file name."""

ID_MAX = 40
"""Longest topic or section id: ``P:<lang>:<kind>:<id>`` must fit Telegram's 64 bytes."""

CALLBACK_PREFIX = "P:"
"""Phrasebook buttons start with this (the questionnaire's payloads start with a lowercase op)."""

MIN_PHRASES = 150
"""The shipped phrasebook must hold at least this many phrases (checked by the tests)."""

SEARCH_MIN = 2
"""Shortest search word, in characters."""

SEARCH_RESULTS_MAX = 8
"""Most phrases one search answer shows."""

BUTTON_SCREEN_IDS: tuple[str, ...] = ("pb.button.home", "pb.button.back", "pb.button.help")
COMMAND_IDS: tuple[str, ...] = ("pb.command.start", "pb.command.help")
SCREEN_TEXT_IDS: tuple[str, ...] = (
    "pb.home",
    "pb.topic",
    "pb.help",
    "pb.search.found",
    "pb.search.more",
    "pb.search.none",
    "pb.not_text",
    "pb.slow_down",
    "pb.error",
    "pb.old_button",
    "pb.bot.description",
    "pb.bot.short_description",
    "pb.language",
    *BUTTON_SCREEN_IDS,
    *COMMAND_IDS,
)
"""The phrasebook's own texts: every screen, answer and profile text a stranger can see."""

_INVISIBLE_CONTROL = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
)
_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN_OR_CYRILLIC = re.compile("[A-Za-z\u0400-\u04ff]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX)]


class Section(_Strict):
    id: Id
    phrases: Annotated[tuple[Id, ...], Field(min_length=1)]


class Topic(_Strict):
    id: Id
    sections: Annotated[tuple[Section, ...], Field(min_length=1)]


class PhrasebookSpec(_Strict):
    """``flows/phrasebook.yaml``: ``kind: phrasebook``, its id and the topics."""

    kind: Annotated[str, Field(pattern=r"^phrasebook$")]
    id: Annotated[str, Field(pattern=r"^phrasebook$")]
    topics: Annotated[tuple[Topic, ...], Field(min_length=1)]

    def sections(self) -> Iterator[tuple[Topic, Section]]:
        for topic in self.topics:
            for section in topic.sections:
                yield topic, section

    def phrase_ids(self) -> list[str]:
        return [pid for _, section in self.sections() for pid in section.phrases]


@dataclass(frozen=True)
class Issue:
    """One broken rule: where (an id), the language whose file it is in (None: the structure)."""

    where: str
    message: str
    lang: str | None = None
    text_id: str | None = None  # the text the line number is looked up by


@dataclass(frozen=True)
class Forbidden:
    """Words the cover must never show, per language (``cover_forbidden`` in the glossary)."""

    words: Mapping[str, tuple[str, ...]]

    def found_in(self, lang: str, text: str) -> list[str]:
        folded = normalise_words(text)
        return [word for word in self.words.get(lang, ()) if normalise_words(word) in folded]


def normalise_words(text: str) -> str:
    """Typed words as compared: NFKC, case-folded, ё as е, punctuation as space, one space."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def normalise_code(text: str) -> str:
    """An entry code as compared: like :func:`normalise_words`, so ``Blue-river_42`` is
    ``blue river 42``, and a deep-link payload (``A-Z a-z 0-9 _ -``) can carry a phrase."""
    return normalise_words(text)


def needed_text_ids(spec: PhrasebookSpec, lang: str) -> list[str]:
    ids = list(SCREEN_TEXT_IDS)
    for topic in spec.topics:
        ids.append(f"topic.{topic.id}")
        ids += [f"section.{section.id}" for section in topic.sections]
    for pid in spec.phrase_ids():
        ids.append(f"phrase.{pid}")
        if lang == "ko":
            ids.append(f"phrase.{pid}.say")
    return ids


def _is_button(text_id: str) -> bool:
    return text_id.startswith(("topic.", "section.", "pb.button.")) or text_id == "pb.language"


def _limit(text_id: str) -> int:
    if _is_button(text_id):
        return BUTTON_LABEL_MAX
    if text_id in COMMAND_IDS:
        return BOT_COMMAND_DESCRIPTION_MAX
    if text_id == "pb.bot.description":
        return BOT_DESCRIPTION_MAX
    if text_id == "pb.bot.short_description":
        return BOT_SHORT_DESCRIPTION_MAX
    return MESSAGE_TEXT_MAX


def _structure_issues(spec: PhrasebookSpec) -> list[Issue]:
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    for kind, ident in (
        *(("topic", t.id) for t in spec.topics),
        *(("section", s.id) for _, s in spec.sections()),
        *(("phrase", p) for p in spec.phrase_ids()),
    ):
        key = f"{kind}.{ident}"
        if key in seen:
            issues.append(Issue(ident, f"{kind} id '{ident}' is used twice"))
        seen[key] = kind
        if len(f"{CALLBACK_PREFIX}xx:s:{ident}".encode()) > CALLBACK_DATA_MAX:
            issues.append(Issue(ident, "id too long for a button's callback_data"))
    return issues


def _text_issues(
    lang: str, text_id: str, text: str, southern: Sequence[str], forbidden: Forbidden
) -> list[Issue]:
    issues: list[Issue] = []

    def add(message: str) -> None:
        issues.append(Issue(text_id, message, lang, text_id))

    if not text.strip():
        add(f"empty text in {lang}")
        return issues
    length = len(unicodedata.normalize("NFC", text))
    limit = _limit(text_id)
    if length > limit:
        kind = "button label" if _is_button(text_id) else "text"
        add(f"{kind} too long: {length} characters in {lang}, over {limit}")
    bad = _INVISIBLE_CONTROL.search(text)
    if bad:
        add(f"invisible control character U+{ord(bad.group()):04X} in {lang}: remove it")
    if lang == "ko":
        hits = [form for form in southern if form in text]
        if hits:
            add(f"Southern spelling {hits} in ko: write the North's form (docs/glossary.md)")
    if text_id.endswith(".say"):
        if _LATIN_OR_CYRILLIC.search(text) or not _HANGUL.search(text):
            add("a pronunciation guide is written in Hangul only")
    elif lang == "ru" and text_id.startswith("phrase.") and not _CYRILLIC.search(text):
        add("a phrase in ru must be Russian (Cyrillic)")
    hits = forbidden.found_in(lang, text)
    if hits:
        add(f"the cover must never show {hits} ({lang}; cover_forbidden in the glossary)")
    return issues


def phrasebook_issues(
    spec: PhrasebookSpec,
    texts: Mapping[str, Mapping[str, str]],
    southern: Sequence[str] = (),
    forbidden: Forbidden | None = None,
) -> list[Issue]:
    """Every rule the phrasebook breaks; empty when it may be used."""
    forbidden = forbidden or Forbidden({})
    issues = _structure_issues(spec)
    for lang in LANGUAGES:
        table = texts.get(lang)
        if table is None:
            issues.append(Issue("phrasebook", f"no texts in {lang}", lang))
            continue
        needed = needed_text_ids(spec, lang)
        needed_set = set(needed)
        for text_id in needed:
            if text_id not in table:
                issues.append(Issue(text_id, f"missing text in {lang}", lang))
        for text_id, text in table.items():
            if text_id not in needed_set:
                issues.append(
                    Issue(
                        text_id, f"unknown text id in {lang} (not in the structure)", lang, text_id
                    )
                )
                continue
            issues += _text_issues(lang, text_id, text, southern, forbidden)
    if not issues:
        book = Phrasebook(spec=spec, texts={k: dict(v) for k, v in texts.items()})
        for lang in LANGUAGES:
            for _, section in spec.sections():
                page = book.section_page(lang, section.id)
                if len(page) > MESSAGE_TEXT_MAX:
                    issues.append(
                        Issue(
                            f"section.{section.id}",
                            f"the section's page is {len(page)} characters in {lang}, over "
                            f"{MESSAGE_TEXT_MAX}: split the section",
                            lang,
                            f"section.{section.id}",
                        )
                    )
    return issues


@dataclass(frozen=True)
class Found:
    """A search answer: the phrases found (at most :data:`SEARCH_RESULTS_MAX`) and whether more."""

    phrase_ids: tuple[str, ...]
    more: bool


class Phrasebook(_Strict):
    """A phrasebook whose rules hold; built by ``bot.phrasebook.loader.load_phrasebook``."""

    spec: PhrasebookSpec
    texts: dict[str, TextTable]

    _search_index: tuple[tuple[str, str], ...] = PrivateAttr(default=())

    def model_post_init(self, context: object, /) -> None:
        index: list[tuple[str, str]] = []
        for pid in self.spec.phrase_ids():
            haystack = " | ".join(
                normalise_words(self.texts.get(lang, {}).get(f"phrase.{pid}", ""))
                for lang in LANGUAGES
            )
            index.append((pid, haystack))
        self._search_index = tuple(index)

    def text(self, lang: str, text_id: str) -> str:
        return self.texts[lang][text_id]

    @property
    def phrase_count(self) -> int:
        return len(self.spec.phrase_ids())

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.spec.topics if t.id == topic_id), None)

    def section(self, section_id: str) -> tuple[Topic, Section] | None:
        return next(((t, s) for t, s in self.spec.sections() if s.id == section_id), None)

    def phrase_block(self, lang: str, pid: str) -> str:
        """One phrase as shown: the Russian, how to say it, what it means in ``lang``."""
        russian = self.texts["ru"][f"phrase.{pid}"]
        say = self.texts["ko"][f"phrase.{pid}.say"]
        meaning_lang = "ko" if lang == "ru" else lang
        meaning = self.texts[meaning_lang][f"phrase.{pid}"]
        return f"{russian}\n[{say}]\n→ {meaning}"

    def section_page(self, lang: str, section_id: str) -> str:
        found = self.section(section_id)
        if found is None:
            raise KeyError(section_id)
        _, section = found
        blocks = [self.phrase_block(lang, pid) for pid in section.phrases]
        return "\n\n".join([self.texts[lang][f"section.{section_id}"], *blocks])

    def search(self, query: str) -> Found:
        """Phrases whose Russian, Korean or English holds every typed word (in book order)."""
        words = normalise_words(query).split()
        if not words or sum(len(w) for w in words) < SEARCH_MIN:
            return Found((), False)
        hits = [pid for pid, hay in self._search_index if all(w in hay for w in words)]
        return Found(tuple(hits[:SEARCH_RESULTS_MAX]), len(hits) > SEARCH_RESULTS_MAX)
