"""Receipt codes: what the reporter keeps, and reading it back from what they type.

A receipt code is two Russian mobile numbers (``8 9XX XXX-XX-XX``): written on paper or in a
notebook it looks like a pair of phone numbers, nothing else. Each number carries 9 random
decimal digits (the ``8 9`` in front is fixed), so a code holds 18 random digits:
``18 * log2(10) = 59.79`` bits of entropy (:data:`CODE_ENTROPY_BITS`). No checksum: every digit is
random, a typo is simply a wrong code. The server never stores the code
(``bot.receipts.derivation`` derives what it keeps).
"""

from __future__ import annotations

import math
import secrets
import unicodedata
from collections.abc import Callable
from typing import Final

CODE_NUMBERS: Final = 2
DIGITS_PER_NUMBER: Final = 9
CODE_DIGITS: Final = CODE_NUMBERS * DIGITS_PER_NUMBER
CODE_ENTROPY_BITS: Final = CODE_DIGITS * math.log2(10)
"""59.79 bits: 18 independent, uniformly random decimal digits."""

_PREFIXES: Final = ("89", "79", "9")
"""How a number may start when typed back: ``8 9..``, ``+7 9..`` or just ``9..``."""


class ReceiptCode:
    """A code as 18 ASCII digits. Its ``repr`` never shows them (logs, tracebacks)."""

    __slots__ = ("_digits",)

    def __init__(self, digits: str) -> None:
        if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
            raise ValueError(f"a receipt code is {CODE_DIGITS} digits")
        self._digits = digits

    @property
    def digits(self) -> str:
        return self._digits

    def numbers(self) -> tuple[str, ...]:
        """The code as phone numbers: ``8 9DD DDD-DD-DD`` each."""
        out = []
        for i in range(CODE_NUMBERS):
            d = self._digits[i * DIGITS_PER_NUMBER : (i + 1) * DIGITS_PER_NUMBER]
            out.append(f"8 9{d[0:2]} {d[2:5]}-{d[5:7]}-{d[7:9]}")
        return tuple(out)

    def display(self) -> str:
        """One number per line, as shown to the reporter."""
        return "\n".join(self.numbers())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReceiptCode) and secrets.compare_digest(
            self._digits, other._digits
        )

    def __hash__(self) -> int:
        return hash(("ReceiptCode", self._digits))

    def __repr__(self) -> str:
        return "ReceiptCode(<hidden>)"


def new_code(randbelow: Callable[[int], int] = secrets.randbelow) -> ReceiptCode:
    """A fresh code from the system's CSPRNG."""
    return ReceiptCode(
        "".join(
            str(randbelow(10**DIGITS_PER_NUMBER)).zfill(DIGITS_PER_NUMBER)
            for _ in range(CODE_NUMBERS)
        )
    )


MAX_CODE_INPUT_CHARS: Final = 200
"""Longer messages are not a code (and are not looked at further)."""


def parse_code(text: str) -> ReceiptCode | None:
    """The code in what a reporter typed, or None when it is not two such numbers.

    Anything but digits is ignored (spaces, dashes, brackets, ``+``), full-width digits count;
    each number may be typed as ``8 9..``, ``+7 9..`` or ``9..`` followed by its 9 digits.
    """
    if not isinstance(text, str) or len(text) > MAX_CODE_INPUT_CHARS:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if "0" <= ch <= "9")
    free: list[str] = []
    pos = 0
    for _ in range(CODE_NUMBERS):
        prefix = next((p for p in _PREFIXES if digits.startswith(p, pos)), None)
        if prefix is None:
            return None
        start = pos + len(prefix)
        part = digits[start : start + DIGITS_PER_NUMBER]
        if len(part) != DIGITS_PER_NUMBER:
            return None
        free.append(part)
        pos = start + DIGITS_PER_NUMBER
    if pos != len(digits):
        return None
    return ReceiptCode("".join(free))
