"""Cleaning what a reporter typed before any kind looks at it (pure; no I/O)."""

from __future__ import annotations

import re
import unicodedata

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\u0085]")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def normalize_text(text: str, *, compatibility: bool = False) -> str:
    """Clean reporter text before anything leaves the engine.

    NFC (NFKC with ``compatibility``, for numbers and dates); line breaks unified to ``\\n``;
    tabs to spaces; control characters (except ``\\n``), format characters (bidi overrides and
    isolates, zero-width characters, BOM, tag characters), lone surrogates and private-use
    characters removed; at most one blank line in a row; surrounding whitespace trimmed.
    """
    text = _NEWLINES.sub("\n", text).replace("\t", " ")
    text = unicodedata.normalize("NFKC" if compatibility else "NFC", text)
    kept = "".join(
        ch for ch in text if ch == "\n" or unicodedata.category(ch) not in _REMOVED_CATEGORIES
    )
    # Removing characters can leave combining sequences that compose differently.
    kept = unicodedata.normalize("NFKC" if compatibility else "NFC", kept)
    kept = "\n".join(line.rstrip() for line in kept.split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", kept).strip()
