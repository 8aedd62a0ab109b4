"""Numbers and months as reporters type them: "14시간", "14 часов", "14h", "열네", "март 2024".

Pure functions used by the number and date kinds. Every rule is here, in one place:

Numbers (:func:`read_number`), after NFKC (full-width digits become ASCII):

1. digits alone, with an optional sign and digit-group separators (``1 000``, ``1,000``);
2. one group of digits with words around it and nothing else: a unit or a hedge, in any
   script (``14시간``, ``14 часов``, ``14h``, ``약 14시간``, ``около 14``); two groups of digits
   (``14-15``, ``1.5``, ``2 or 3``) are not one number;
3. a number in words, with a unit after it: Korean native numbers (``열네``, ``스물다섯``),
   Sino-Korean (``십사``, ``이십``), Russian (``четырнадцать``, ``двадцать пять``).

Months (:func:`read_month_year`): ``2024년 3월``, ``3월 2024``, ``март 2024``, ``марта 2024 г.``,
``в марте 2024 года``, ``March 2024``, and a month alone (``3월``, ``март``) when the year is
known.
"""

from __future__ import annotations

import re
import unicodedata

NUMBER_DIGITS_MAX = 12
"""Longest digit string parsed as a number; longer input is out of range without parsing."""

_SEPARATORS = re.compile(r"[\s_'’,]")
_PLAIN = re.compile(r"^[+-]?\d+$")
_ONE_GROUP = re.compile(
    r"^(?P<before>[^\d+-]*?)\s*(?P<number>[+-]?\d[\d\s_'’,]*)(?P<after>[^\d]*)$"
)

_KO_TENS = {"열": 10, "스물": 20, "스무": 20, "서른": 30, "마흔": 40, "쉰": 50}
_KO_UNITS = {
    "하나": 1,
    "한": 1,
    "둘": 2,
    "두": 2,
    "셋": 3,
    "세": 3,
    "석": 3,
    "넷": 4,
    "네": 4,
    "넉": 4,
    "다섯": 5,
    "여섯": 6,
    "일곱": 7,
    "여덟": 8,
    "아홉": 9,
}
_SINO_DIGITS = {
    "일": 1,
    "이": 2,
    "삼": 3,
    "사": 4,
    "오": 5,
    "륙": 6,  # the North's spelling; the South writes 육
    "육": 6,
    "칠": 7,
    "팔": 8,
    "구": 9,
}
_RU_UNITS = {
    "ноль": 0,
    "один": 1,
    "одна": 1,
    "одно": 1,
    "два": 2,
    "две": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
}
_RU_TEENS = {
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
}
_RU_TENS = {
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
    "сто": 100,
}


def _wordy(text: str) -> bool:
    """Only letters, spaces and a few marks (a unit or a hedge, no other number)."""
    return all(
        ch.isspace() or ch in ".~≈:" or unicodedata.category(ch).startswith("L") for ch in text
    )


def _longest(text: str, table: dict[str, int]) -> tuple[int, int] | None:
    """(value, length) of the longest key of ``table`` that ``text`` starts with."""
    best: tuple[int, int] | None = None
    for word, value in table.items():
        if text.startswith(word) and (best is None or len(word) > best[1]):
            best = (value, len(word))
    return best


_KO_BOUND = frozenset({"한", "두", "세", "석", "네", "넉", "스무"})
"""Forms said only before a counter (한 시간, 네 명): alone, 네 is "yes", so they need one."""

_KO_COUNTERS = re.compile(
    r"^(시간|시|분|일|날|달|개월|주일|주|해|년|명|사람|번|살|개|장|달러|딸라|루블|원)?"
    r"(쯤|정도|가량|이상|이하|씩|밖에)?$"
)


def _korean_rest_ok(rest: str, *, needs_counter: bool) -> bool:
    rest = "".join(rest.split()).rstrip(".")
    found = _KO_COUNTERS.match(rest)
    return found is not None and (bool(found.group(1)) or not needs_counter)


def _korean_native(text: str) -> int | None:
    value, rest = 0, text.strip()
    tens = _longest(rest, _KO_TENS)
    if tens is not None:
        value, rest = tens[0], rest[tens[1] :]
    units = _longest(rest, _KO_UNITS)
    if units is not None:
        value, rest = value + units[0], rest[units[1] :]
    if tens is None and units is None:
        return None
    word = text.strip()[: len(text.strip()) - len(rest)]
    return value if _korean_rest_ok(rest, needs_counter=word in _KO_BOUND) else None


def _sino_korean(text: str) -> int | None:
    value, rest, places = 0, text.strip(), False
    for place, size in (("백", 100), ("십", 10)):
        digit = _SINO_DIGITS.get(rest[:1]) if rest[1:2] == place else None
        if digit is not None:
            value, rest, places = value + digit * size, rest[2:], True
        elif rest.startswith(place):
            value, rest, places = value + size, rest[1:], True
    single = rest[:1] in _SINO_DIGITS
    if single:
        value, rest = value + _SINO_DIGITS[rest[:1]], rest[1:]
    if not places and not single:
        return None
    # A lone syllable (이, 오, 사) is also a word: alone it needs a counter (오 일 -> 5 days).
    return value if _korean_rest_ok(rest, needs_counter=not places) else None


def _russian(text: str) -> int | None:
    words = text.lower().split()
    if not words:
        return None
    value, used = 0, 0
    if words[0] in _RU_TEENS:
        value, used = _RU_TEENS[words[0]], 1
    else:
        if words[0] in _RU_TENS:
            value, used = _RU_TENS[words[0]], 1
        if used < len(words) and words[used] in _RU_UNITS:
            value, used = value + _RU_UNITS[words[used]], used + 1
    if used == 0 or not _wordy(" ".join(words[used:])):
        return None
    return value


def _in_words(text: str) -> int | None:
    for reader in (_korean_native, _sino_korean, _russian):
        value = reader(text)
        if value is not None:
            return value
    return None


def read_number(raw: str) -> tuple[str, int | None]:
    """("ok", n), or ("empty" | "not_a_number" | "too_many_digits", None)."""
    text = unicodedata.normalize("NFKC", raw).strip().replace("−", "-")  # U+2212 minus
    compact = _SEPARATORS.sub("", text)
    if not compact:
        return "empty", None
    digits = compact
    if not _PLAIN.match(compact):
        one = _ONE_GROUP.match(text)
        if one is None or not _wordy(one["before"]) or not _wordy(one["after"]):
            value = _in_words(text)
            return ("ok", value) if value is not None else ("not_a_number", None)
        digits = _SEPARATORS.sub("", one["number"])
    if len(digits.lstrip("+-")) > NUMBER_DIGITS_MAX:
        return "too_many_digits", None
    return "ok", int(digits)


# ---- months ------------------------------------------------------------------------------------

_MONTH_NAMES = re.compile(
    r"(?<![a-zа-яё])(янв|фев|мар|апр|ма[йяе]|июн|июл|авг|сен|окт|ноя|дек"
    r"|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-zа-яё]*"
)
_MONTH_NUMBER = {
    stem: n
    for n, stems in enumerate(
        (
            ("янв", "jan"),
            ("фев", "feb"),
            ("мар", "mar"),
            ("апр", "apr"),
            ("май", "мая", "мае", "may"),
            ("июн", "jun"),
            ("июл", "jul"),
            ("авг", "aug"),
            ("сен", "sep"),
            ("окт", "oct"),
            ("ноя", "nov"),
            ("дек", "dec"),
        ),
        start=1,
    )
    for stem in stems
}
_KO_MONTH = re.compile(r"(\d{1,2})\s*월")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)\s*(년도|년|году|года|год|г\.?)?")
_KO_SHORT_YEAR = re.compile(r"(?<!\d)(\d{2})\s*년")  # 24년: 2024, as Koreans often write it
_FILLER = re.compile(
    # "since", "from", "in", "about" around a date: с марта 2024, с 2024 года, в 2024 году,
    # 2024년 3월부터, 2024년 3월에, 3월쯤, since March 2024, from 2024
    r"(?<![a-zа-яё])(в|во|с|со|of|in|year|since|from|about|around|около|примерно)(?![a-zа-яё])"
    r"|부터|에|쯤|경|약|대략|[\s.,/\-~]"
)


def read_month_year(text: str) -> tuple[int | None, int | None] | None:
    """(year, month) said in words (either may be None), or None when it is not a date.

    ``text`` is already NFKC-normalised.
    """
    rest = text.lower()
    month: int | None = None
    if m := _KO_MONTH.search(rest):
        month = int(m.group(1))
        rest = rest[: m.start()] + " " + rest[m.end() :]
    elif m := _MONTH_NAMES.search(rest):
        month = _MONTH_NUMBER[m.group(1)]
        rest = rest[: m.start()] + " " + rest[m.end() :]
    year: int | None = None
    if m := _YEAR.search(rest):
        year = int(m.group(1))
        rest = rest[: m.start()] + " " + rest[m.end() :]
    elif m := _KO_SHORT_YEAR.search(rest):
        year = 2000 + int(m.group(1))
        rest = rest[: m.start()] + " " + rest[m.end() :]
    if _FILLER.sub("", rest) or (year is None and month is None):
        return None
    return year, month
