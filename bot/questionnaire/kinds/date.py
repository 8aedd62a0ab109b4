"""``kind: date``: an approximate year and month, or "don't know".

The reporter picks a year (``YEARS_PER_PAGE`` at a time, newest first, "earlier" pages back),
then a month or "don't know"; or types ``2024-03``, ``03.2024``, ``2024`` (then the month), or
the usual Korean, Russian and English forms (``2024년 3월``, ``марта 2024 г.``, ``March 2024``;
``bot.questionnaire.numerals``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.questionnaire.kind import (
    ChoiceLabel,
    ChoiceView,
    KindView,
    QuestionKind,
    QuestionSpec,
    Scalar,
    Turn,
    UiText,
    keep_or_refuse,
    required_note,
)
from bot.questionnaire.normalize import normalize_text
from bot.questionnaire.numerals import read_month_year
from bot.questionnaire.state import Answer, AnswerValue, State

UNKNOWN = "unknown"
EARLIER = "earlier"
SUB_YEAR = "year"
SUB_MONTH = "month"

YEARS_PER_PAGE = 8
"""Year buttons shown at once on a date question; "earlier" pages further back."""

_YEAR_ID = re.compile(r"^y(\d{4})$")
_MONTH_ID = re.compile(r"^m(\d{2})$")
_DATE_YM = re.compile(r"^(\d{4})\s*[-./ ]\s*(\d{1,2})$")
_DATE_MY = re.compile(r"^(\d{1,2})\s*[-./ ]\s*(\d{4})$")
_DATE_Y = re.compile(r"^(\d{4})$")
_DATE_M = re.compile(r"^(\d{1,2})$")


def year_pages(q: QuestionSpec, this_year: int) -> list[list[int]]:
    years = list(range(this_year, q.min_year - 1, -1))
    return [years[i : i + YEARS_PER_PAGE] for i in range(0, len(years), YEARS_PER_PAGE)] or [[]]


def _buttons(q: QuestionSpec, state: State) -> tuple[ChoiceView, ...]:
    if state.sub_step == SUB_MONTH:
        months = tuple(ChoiceView(f"m{m:02d}", f"ui.month.{m:02d}") for m in range(1, 13))
        return (*months, ChoiceView(UNKNOWN, "ui.button.dont_know"))
    pages = year_pages(q, state.this_year)
    page = min(state.page, len(pages) - 1)
    years = tuple(ChoiceView(f"y{y}", "", literal=str(y)) for y in pages[page])
    more = (ChoiceView(EARLIER, "ui.button.earlier"),) if page + 1 < len(pages) else ()
    return (*years, *more, ChoiceView(UNKNOWN, "ui.button.dont_know"))


def _selected(state: State) -> tuple[str, ...]:
    pending = state.pending
    if pending is None:
        return ()
    if state.sub_step == SUB_MONTH:
        return (f"m{pending.month:02d}",) if pending.month is not None else ()
    if pending.unknown:
        return (UNKNOWN,)
    return (f"y{pending.year}",) if pending.year is not None else ()


def _typed_date(text: str, state: State) -> tuple[int, int | None] | None:
    """Year and month (None: not said) from typed text, or None when it is not a date."""
    pending = state.pending or Answer()
    if m := _DATE_YM.match(text):
        return int(m.group(1)), int(m.group(2))
    if m := _DATE_MY.match(text):
        return int(m.group(2)), int(m.group(1))
    if m := _DATE_Y.match(text):
        return int(m.group(1)), None
    if (m := _DATE_M.match(text)) and state.sub_step == SUB_MONTH and pending.year is not None:
        return pending.year, int(m.group(1))
    said = read_month_year(text)  # 2024년 3월, март 2024, March 2024, 3월
    if said is None:
        return None
    year, month = said
    if year is None and state.sub_step == SUB_MONTH and pending.year is not None:
        year = pending.year
    return (year, month) if year is not None else None


class Date(QuestionKind):
    name = "date"
    takes_choices = False
    takes_other = False
    takes_accept = False
    takes_max_length = False
    never_required = None
    holds_answer = True
    skippable = True
    reviewed = True
    done_button = False
    typed = False
    echoes_answer = True
    columns = 3
    ends_when_declined = False
    first_sub_step = SUB_YEAR

    def view(self, q: QuestionSpec, state: State) -> KindView:
        month = state.sub_step == SUB_MONTH
        return KindView(
            choices=_buttons(q, state),
            selected=_selected(state),
            hint_id="ui.prompt.choose_month" if month else "ui.prompt.choose_year",
        )

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        state = turn.state
        pending = state.pending or Answer()
        year_match = _YEAR_ID.match(cid)
        month_match = _MONTH_ID.match(cid)
        if year_match:
            year = int(year_match.group(1))
            if not q.min_year <= year <= state.this_year:
                turn.invalid("not_a_choice")
                return
            month = pending.month if not pending.unknown else None
            turn.stay(
                replace(state, sub_step=SUB_MONTH, page=0, pending=Answer(year=year, month=month))
            )
        elif cid == EARLIER and state.sub_step == SUB_YEAR:
            if state.page + 1 < len(year_pages(q, state.this_year)):
                turn.stay(replace(state, page=state.page + 1))
            else:
                turn.invalid("not_a_choice")
        elif cid == UNKNOWN and state.sub_step == SUB_MONTH and pending.year is not None:
            turn.settle(Answer(year=pending.year, month=None))
        elif cid == UNKNOWN:
            turn.settle(Answer(unknown=True))
        elif month_match and state.sub_step == SUB_MONTH and pending.year is not None:
            month = int(month_match.group(1))
            if 1 <= month <= 12:
                turn.settle(Answer(year=pending.year, month=month))
            else:
                turn.invalid("not_a_choice")
        else:
            turn.invalid("not_a_choice")

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        state = turn.state
        text = normalize_text(raw, compatibility=True)
        if not text:
            turn.invalid("empty")
            return
        found = _typed_date(text, state)
        if found is None:
            turn.invalid("bad_date")
            return
        year, month = found
        if month is not None and not 1 <= month <= 12:
            turn.invalid("bad_date")
            return
        if not q.min_year <= year <= state.this_year:
            turn.invalid("out_of_range", min=q.min_year, max=state.this_year)
            return
        if month is None:
            pending = state.pending or Answer()
            turn.stay(
                replace(
                    state,
                    sub_step=SUB_MONTH,
                    page=0,
                    pending=Answer(year=year, month=pending.month),
                )
            )
        else:
            turn.settle(Answer(year=year, month=month))

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        keep_or_refuse(turn, q, typed=False)

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        if answer.get("unknown"):
            return ui("ui.button.dont_know")
        if "year" not in answer:
            return ""
        month = answer.get("month")
        if not isinstance(month, int):
            return str(answer["year"])
        name = ui(f"ui.month.{month:02d}")
        # Korean writes the year first (2024년 3월); Russian and English the month first.
        return f"{answer['year']} {name}" if lang == "ko" else f"{name} {answer['year']}"

    def comparable(self, answer: AnswerValue) -> list[object]:
        if answer.get("unknown") is True:
            return ["unknown"]
        return [answer["year"]] if "year" in answer else []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return (type(value) is int and value >= q.min_year) or value == "unknown"

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return f"'{q.id}' compares with a year from {q.min_year} or 'unknown'"

    def outline_line(self, q: QuestionSpec) -> str:
        return f"date: year from {q.min_year}, month, or don't know, {required_note(q)}"
