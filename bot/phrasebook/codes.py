"""Entry and duress codes: the way from the phrasebook into a report (docs/cover.md).

Pure: the codes come in as plain strings from the settings, are normalised like typed search
words (:func:`bot.phrasebook.model.normalise_code`), and are held only as HMAC-SHA256 digests
under a key made for this process, so every comparison is between two 32-byte digests with
``hmac.compare_digest``, over every code, with no early exit: neither the time an answer takes
nor an exception says how much of a code was right. Nothing here logs or stores a code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from enum import Enum

from bot.phrasebook.model import Phrasebook, normalise_code

CODE_MIN_CHARS = 10
"""Letters and digits an entry code should have at least (``reportbot doctor`` flags fewer)."""

DEEP_LINK_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What ``t.me/<bot>?start=<payload>`` may carry (Bot API: deep linking)."""


class CodeMatch(Enum):
    NONE = "none"
    ENTRY = "entry"
    DURESS = "duress"


class EntryCodes:
    """The configured codes, as digests; :meth:`match` tells what a typed text is."""

    def __init__(self, entry: Iterable[str], duress: Iterable[str], key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the comparison key must be at least 16 random bytes")
        self._key = key
        self._codes: tuple[tuple[bytes, CodeMatch], ...] = (
            *((self._digest(code), CodeMatch.ENTRY) for code in entry),
            *((self._digest(code), CodeMatch.DURESS) for code in duress),
        )

    def __len__(self) -> int:
        return len(self._codes)

    def _digest(self, text: str) -> bytes:
        return hmac.new(self._key, normalise_code(text).encode(), hashlib.sha256).digest()

    def match(self, typed: str) -> CodeMatch:
        """ENTRY, DURESS or NONE; every code is compared, whatever the first ones gave."""
        digest = self._digest(typed)
        found = CodeMatch.NONE
        for code, kind in self._codes:
            if hmac.compare_digest(digest, code):
                found = kind
        return found


def deep_link_payload(code: str) -> str | None:
    """The ``?start=`` payload that carries ``code``, or None when it cannot (Hangul, too long):
    words joined by ``-``, which :func:`normalise_code` reads back as spaces."""
    payload = "-".join(normalise_code(code).split())
    return payload if DEEP_LINK_PAYLOAD.fullmatch(payload) else None


def code_problems(code: str, book: Phrasebook | None = None) -> list[str]:
    """What is wrong with one code, in words that never quote it (for ``reportbot doctor``)."""
    problems: list[str] = []
    letters = sum(1 for ch in normalise_code(code) if ch.isalnum())
    if letters < CODE_MIN_CHARS:
        problems.append(
            f"has {letters} letters and digits, fewer than {CODE_MIN_CHARS}: easy to guess"
        )
    if book is not None and book.search(code).phrase_ids:
        problems.append(
            "finds phrases in the phrasebook: a stranger searching for it would open a report"
        )
    return problems


def codes_finding_phrases(codes: Sequence[str], book: Phrasebook) -> int:
    """How many of these codes a phrasebook search would answer (such a code can never enter:
    a typed text that finds phrases is a search)."""
    return sum(1 for code in codes if book.search(code).phrase_ids)
