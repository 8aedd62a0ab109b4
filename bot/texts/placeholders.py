"""Fill ``{name}`` placeholders in flow and ui texts, leaving unknown ones as written.

Shared by the Telegram renderer (``handlers.render``) and the terminal demo (``bot.terminal.demo``);
no Telegram import here.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence


class _Lenient(string.Formatter):
    """``str.format`` that leaves unknown placeholders as written instead of failing."""

    def get_value(
        self, key: int | str, args: Sequence[object], kwargs: Mapping[str, object]
    ) -> object:
        if isinstance(key, str) and key in kwargs:
            return kwargs[key]
        return "{" + str(key) + "}"


_FORMATTER = _Lenient()


def fill(text: str, **values: object) -> str:
    """``text`` with its known placeholders filled; ``text`` itself when it does not parse."""
    try:
        return _FORMATTER.vformat(text, (), values)
    except (ValueError, IndexError, KeyError):
        return text
