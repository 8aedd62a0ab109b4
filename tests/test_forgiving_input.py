"""Numbers and dates typed the way reporters type them (issue 14.3), in ko, ru and en.

Each property drives the engine of the shipped flow: ``hours`` (a number from 0 to 24) and
``since`` (a date from 2010). The word tables below are written out independently of
``bot.questionnaire.numerals`` so a wrong table there fails here.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.questionnaire.engine import (
    Accepted,
    Choose,
    Event,
    Invalid,
    Output,
    Prompt,
    Skip,
    Start,
    State,
    Text,
    initial_state,
    step,
)
from bot.texts.resolver import TextResolver
from tests.bot_support import shipped_flow, shipped_ui

FLOW = shipped_flow()
TEXTS = TextResolver(FLOW.texts, shipped_ui())
THIS_YEAR = 2026
HOURS = FLOW.question("hours")
SINCE = FLOW.question("since")
SETTINGS = settings(max_examples=60, deadline=None)


def at(qid: str, lang: str) -> State:
    """The shipped flow opened at ``qid``, everything before it skipped (or agreed)."""
    state, outputs = step(FLOW, initial_state(lang, THIS_YEAR), Start())
    for _ in range(len(FLOW.questions)):
        prompt = next(o for o in outputs if isinstance(o, Prompt))
        if prompt.qid == qid:
            return state
        event: Event
        if prompt.qid in ("intro", "consent", "alone"):
            event = Choose(prompt.qid, prompt.choices[0].cid)
        else:
            event = Skip(prompt.qid)
        state, outputs = step(FLOW, state, event)
    raise AssertionError(f"never reached {qid}")


AT_HOURS = {lang: at("hours", lang) for lang in ("ko", "ru", "en")}
AT_SINCE = {lang: at("since", lang) for lang in ("ko", "ru", "en")}

UNITS = {
    "ko": ["시간", " 시간", "시간쯤", " 시간 정도", "시"],
    "ru": [" часов", " часа", " час", " ч", " ч.", "ч"],
    "en": ["h", " h", " hours", " hrs", " hours."],
}
HEDGES = {"ko": ["", "약 ", "대략 "], "ru": ["", "около ", "примерно "], "en": ["", "about ", "~"]}

KO_TENS = ["", "열", "스물"]  # 0, 10, 20
KO_UNITS_ALONE = ["", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉"]
KO_UNITS_BEFORE_COUNTER = ["", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉"]
RU_WORDS = [
    "ноль",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
    "двадцать",
]


def korean_native(n: int, *, counter: bool) -> str:
    tens, units = divmod(n, 10)
    if n == 20 and counter:
        return "스무"
    table = KO_UNITS_BEFORE_COUNTER if counter else KO_UNITS_ALONE
    return KO_TENS[tens] + table[units]


def russian_words(n: int) -> str:
    return RU_WORDS[n] if n <= 20 else f"двадцать {RU_WORDS[n - 20]}"


def accepted(outputs: Sequence[Output], qid: str) -> object:
    return next((o.answer for o in outputs if isinstance(o, Accepted) and o.qid == qid), None)


@SETTINGS
@given(
    lang=st.sampled_from(["ko", "ru", "en"]),
    n=st.integers(0, 24),
    data=st.data(),
)
def test_a_number_with_a_unit_or_a_hedge_is_understood(
    lang: str, n: int, data: st.DataObject
) -> None:
    unit = data.draw(st.sampled_from(UNITS[lang]))
    hedge = data.draw(st.sampled_from(HEDGES[lang]))
    _, outputs = step(FLOW, AT_HOURS[lang], Text("hours", f"{hedge}{n}{unit}"))
    assert accepted(outputs, "hours") == {"number": n}


@SETTINGS
@given(n=st.integers(1, 24), counter=st.booleans())
def test_a_korean_number_in_words_is_understood(n: int, counter: bool) -> None:
    typed = korean_native(n, counter=counter) + ("시간" if counter else "")
    _, outputs = step(FLOW, AT_HOURS["ko"], Text("hours", typed))
    assert accepted(outputs, "hours") == {"number": n}, typed


@SETTINGS
@given(n=st.integers(0, 24), unit=st.sampled_from(["", " часов", " часа"]))
def test_a_russian_number_in_words_is_understood(n: int, unit: str) -> None:
    _, outputs = step(FLOW, AT_HOURS["ru"], Text("hours", russian_words(n) + unit))
    assert accepted(outputs, "hours") == {"number": n}


def test_the_issues_examples_are_understood() -> None:
    for lang, typed in [("ko", "14시간"), ("ko", "열네"), ("ru", "14 часов"), ("en", "14h")]:
        _, outputs = step(FLOW, AT_HOURS[lang], Text("hours", typed))
        assert accepted(outputs, "hours") == {"number": 14}, (lang, typed)


@SETTINGS
@given(
    lang=st.sampled_from(["ko", "ru", "en"]),
    n=st.one_of(st.integers(25, 10**6), st.integers(-(10**6), -1)),
    data=st.data(),
)
def test_a_number_out_of_range_is_refused_with_the_range_stated(
    lang: str, n: int, data: st.DataObject
) -> None:
    unit = data.draw(st.sampled_from(["", *UNITS[lang]]))
    state = AT_HOURS[lang]
    new, outputs = step(FLOW, state, Text("hours", f"{n}{unit}"))
    assert new == state
    [invalid] = [o for o in outputs if isinstance(o, Invalid)]
    assert invalid.code == "out_of_range"
    assert dict(invalid.values) == {"min": HOURS.min, "max": HOURS.max}
    shown = TEXTS.get(lang, "ui.error.out_of_range", **dict(invalid.values))
    assert f"{HOURS.min}" in shown
    assert f"{HOURS.max}" in shown
    assert "{" not in shown


@SETTINGS
@given(
    lang=st.sampled_from(["ko", "ru", "en"]),
    typed=st.sampled_from(["14-15", "1.5", "2 or 3", "2 или 3", "2~3"]),
)
def test_two_numbers_are_not_read_as_one(lang: str, typed: str) -> None:
    _, outputs = step(FLOW, AT_HOURS[lang], Text("hours", typed))
    assert [o.code for o in outputs if isinstance(o, Invalid)] == ["not_a_number"]


def test_yes_in_korean_is_not_the_number_four() -> None:
    """네 is "yes" as well as "four" (before a counter): alone it is not a number."""
    for typed in ("네", "한국", "오"):
        _, outputs = step(FLOW, AT_HOURS["ko"], Text("hours", typed))
        assert [o.code for o in outputs if isinstance(o, Invalid)] == ["not_a_number"], typed


RU_MONTHS = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]
RU_IN = [
    "январе",
    "феврале",
    "марте",
    "апреле",
    "мае",
    "июне",
    "июле",
    "августе",
    "сентябре",
    "октябре",
    "ноябре",
    "декабре",
]
RU_NOMINATIVE = "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь"
EN_MONTHS = "January February March April May June July August September October November December"


def date_forms(lang: str, year: int, month: int) -> list[str]:
    if lang == "ko":
        return [
            f"{year}년 {month}월",
            f"{year}년{month}월",
            f"{month}월 {year}",
            f"{year}년 {month:02d}월",
            f"{year}년 {month}월부터",  # "since when?" is answered with "from"
            f"{year}년 {month}월에",
            f"{year % 100:02d}년 {month}월",  # the year in two digits, as often written
        ]
    if lang == "ru":
        return [
            f"{RU_MONTHS[month - 1]} {year}",
            f"{RU_MONTHS[month - 1]} {year} г.",
            f"в {RU_IN[month - 1]} {year} года",
            f"{RU_NOMINATIVE.split()[month - 1]} {year}",
            f"с {RU_MONTHS[month - 1]} {year}",  # "С какого времени?" is answered with "с"
            f"с {RU_MONTHS[month - 1]} {year} года",
        ]
    return [
        f"{EN_MONTHS.split()[month - 1]} {year}",
        f"{EN_MONTHS.split()[month - 1][:3]} {year}",
        f"since {EN_MONTHS.split()[month - 1]} {year}",
    ]


def year_forms(lang: str, year: int) -> list[str]:
    """A year alone, said the usual ways: the bot then asks for the month."""
    return {
        "ko": [f"{year}년", f"{year}년부터", f"{year}년에", f"{year}년도"],
        "ru": [f"{year}", f"с {year} года", f"в {year} году", f"{year} г.", f"с {year} г."],
        "en": [f"{year}", f"since {year}", f"from {year}", f"in {year}"],
    }[lang]


@SETTINGS
@given(
    lang=st.sampled_from(["ko", "ru", "en"]),
    year=st.integers(SINCE.min_year, THIS_YEAR),
    month=st.integers(1, 12),
    data=st.data(),
)
def test_a_date_in_the_usual_korean_russian_and_english_forms_is_understood(
    lang: str, year: int, month: int, data: st.DataObject
) -> None:
    typed = data.draw(st.sampled_from(date_forms(lang, year, month)))
    _, outputs = step(FLOW, AT_SINCE[lang], Text("since", typed))
    assert accepted(outputs, "since") == {"year": year, "month": month}, typed


@SETTINGS
@given(
    lang=st.sampled_from(["ko", "ru", "en"]),
    year=st.integers(SINCE.min_year, THIS_YEAR),
    data=st.data(),
)
def test_a_year_alone_in_the_usual_forms_is_taken_and_the_month_asked(
    lang: str, year: int, data: st.DataObject
) -> None:
    typed = data.draw(st.sampled_from(year_forms(lang, year)))
    state, outputs = step(FLOW, AT_SINCE[lang], Text("since", typed))
    assert [o.code for o in outputs if isinstance(o, Invalid)] == [], typed
    assert state.pending is not None, typed
    assert state.pending.year == year, typed
    assert accepted(outputs, "since") is None  # the month is asked next, not skipped
    _, outputs = step(FLOW, state, Choose("since", "m03"))
    assert accepted(outputs, "since") == {"year": year, "month": 3}, typed


def test_words_around_no_date_are_still_not_a_date() -> None:
    for lang, typed in [("ru", "с начальником"), ("ko", "부터"), ("en", "since forever")]:
        _, outputs = step(FLOW, AT_SINCE[lang], Text("since", typed))
        assert [o.code for o in outputs if isinstance(o, Invalid)] == ["bad_date"], typed


@SETTINGS
@given(lang=st.sampled_from(["ko", "ru", "en"]), year=st.integers(1950, SINCE.min_year - 1))
def test_a_year_before_the_range_is_refused_with_the_range_stated(lang: str, year: int) -> None:
    _, outputs = step(FLOW, AT_SINCE[lang], Text("since", date_forms(lang, year, 3)[0]))
    [invalid] = [o for o in outputs if isinstance(o, Invalid)]
    assert invalid.code == "out_of_range"
    assert dict(invalid.values) == {"min": SINCE.min_year, "max": THIS_YEAR}


def test_a_month_alone_is_understood_once_the_year_is_chosen() -> None:
    for lang, typed in [("ko", "3월"), ("ru", "март"), ("en", "March")]:
        state, _ = step(FLOW, AT_SINCE[lang], Choose("since", "y2024"))
        _, outputs = step(FLOW, state, Text("since", typed))
        assert accepted(outputs, "since") == {"year": 2024, "month": 3}, (lang, typed)
