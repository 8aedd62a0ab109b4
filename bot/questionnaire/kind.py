"""What a question kind is: the parts every module under ``bot/questionnaire/kinds/`` provides.

A kind owns everything about one kind of question: which fields of a flow's question it takes
(its spec check), how it meets the reporter's events (a button, typed text, a file, "done"),
what it shows (a neutral :class:`KindView`: buttons, selection, the how-to-answer line), how
its answer reads on the review screen, what a condition compares its answer with, and its line
in ``reportbot flows show``. The engine (``bot.questionnaire.engine``) only dispatches to it.

Kinds are registered once, in ``bot/questionnaire/kinds/__init__.py``; a kind class that
leaves out a part (an abstract method below, or one of the class attributes declared here
without a value) is refused there, at import.

Kinds are independent of each other (an import contract says so); what two kinds share lives
here. Nothing here knows about Telegram or does I/O.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from bot.questionnaire.normalize import normalize_text
from bot.questionnaire.state import Answer, AnswerValue, State

Scalar = str | int | bool
"""A value a condition compares an answer with (``equals``, ``one_of``)."""

OTHER = "other"
"""Choice id of the "other: please write" button a question with ``other: true`` gets."""

SUB_OTHER = "other"
"""Sub-step of a single or multi question while the reporter writes "other" in words."""


class QuestionSpec(Protocol):
    """The fields of a flow's question a kind reads (``bot.questionnaire.flow.Question``)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def choices(self) -> Sequence[str]: ...
    @property
    def other(self) -> bool: ...
    @property
    def max_length(self) -> int | None: ...
    @property
    def min(self) -> int | None: ...
    @property
    def max(self) -> int | None: ...
    @property
    def accept(self) -> Sequence[str]: ...
    @property
    def max_files(self) -> int: ...
    @property
    def min_year(self) -> int: ...
    @property
    def text_max_length(self) -> int: ...


class Turn(Protocol):
    """What a kind may do while handling one event on the current question."""

    @property
    def state(self) -> State: ...

    def settle(self, answer: Answer | None) -> None:
        """The question is done (answered, or left without an answer with None): move on."""

    def stay(self, state: State) -> None:
        """Stay on the question in ``state`` (a changed sub-step, page or selection)."""

    def invalid(self, code: str, **values: int) -> None:
        """Refuse the input with ``ui.error.<code>`` (``values`` fill its placeholders)."""

    def decline(self) -> None:
        """End the flow with nothing kept (a declined consent)."""

    def show_again(self) -> None:
        """Show the question again unchanged."""

    def stale(self) -> None:
        """The input does not fit this question at all (e.g. a malformed attachment ref)."""


@dataclass(frozen=True, slots=True)
class ChoiceView:
    """A button: ``cid`` goes back in ``Choose``; ``text_id`` names its label (flow or ui text).

    Year buttons have no text id: their label is ``literal`` (e.g. "2024").
    """

    cid: str
    text_id: str
    literal: str = ""


@dataclass(frozen=True, slots=True)
class KindView:
    """What a kind shows for its question now, in words no transport has to interpret."""

    choices: tuple[ChoiceView, ...] = ()
    selected: tuple[str, ...] = ()  # choice ids shown as chosen (media: kinds of files received)
    hint_id: str | None = None  # ui text id of a how-to-answer line (ui.prompt.*)
    hint_once: bool = False  # the hint only on the path's first question of this kind
    max_length: int | None = None  # longest text accepted now; None: no typed text
    accept: tuple[str, ...] = ()  # media kinds accepted (empty: no files)
    max_files: int | None = None  # files at most (None: no files)


UiText = Callable[[str], str]
"""Looks up a ui text id in the reporter's language."""

ChoiceLabel = Callable[[str], str]
"""Looks up the label of one of the question's choice ids in the reporter's language."""


class QuestionKind(ABC):
    """One kind of question. Subclass it in ``bot/questionnaire/kinds/<name>.py``.

    Every class attribute annotated here must be given a value by the kind, and every abstract
    method implemented: the registry refuses a kind that leaves one out.
    """

    name: ClassVar[str]
    """The ``kind:`` written in a flow file."""

    # -- the spec: which fields of a question this kind takes ---------------------------------
    takes_choices: ClassVar[bool]
    """Needs ``choices`` (and no other kind may have them)."""
    takes_other: ClassVar[bool]
    """May have ``other: true`` (a button to write the answer in words)."""
    takes_accept: ClassVar[bool]
    """Needs ``accept`` (media kinds)."""
    takes_max_length: ClassVar[bool]
    """May set ``max_length`` without ``other``."""
    never_required: ClassVar[str | None]
    """Why a question of this kind can never be ``required`` (None: it can be)."""

    # -- in the engine ------------------------------------------------------------------------
    holds_answer: ClassVar[bool]
    """Leaves an answer behind (an info screen does not)."""
    skippable: ClassVar[bool]
    """Offers "skip" when not required (info and consent screens never do)."""
    reviewed: ClassVar[bool]
    """Listed, and changeable, on the review screen."""
    done_button: ClassVar[bool]
    """Always shows "done" (collecting several choices or files)."""
    typed: ClassVar[bool]
    """Answered by typing: a stray file or "done" is met with ``expected_text``."""
    echoes_answer: ClassVar[bool]
    """Shows the answer given before under the prompt when asked again."""
    columns: ClassVar[int | None]
    """Buttons per row the kind asks for (None: the transport decides)."""
    first_sub_step: ClassVar[str | None]
    """The sub-step a question of this kind starts in (date: "year")."""
    ends_when_declined: ClassVar[bool]
    """Declining ends the flow with nothing kept (consent); ``end_if: {q: <self>, equals:
    false}`` then names the line shown instead of ``ui.consent.declined``."""

    # -- spec check ---------------------------------------------------------------------------
    def spec_problem(self, q: QuestionSpec) -> str | None:
        """The first field of ``q`` that does not fit this kind, as a maintainer reads it."""
        name = self.name
        if self.takes_choices and not q.choices:
            return f"a {name} question needs choices"
        if not self.takes_choices and q.choices:
            return f"a {name} question takes no choices"
        if q.other and not self.takes_other:
            return "'other' fits only single and multi questions"
        range_problem = self.range_problem(q)
        if range_problem is not None:
            return range_problem
        if self.takes_accept and not q.accept:
            return f"a {name} question needs 'accept'"
        if not self.takes_accept and q.accept:
            return f"a {name} question takes no 'accept'"
        if q.required and self.never_required is not None:
            return self.never_required
        if q.max_length is not None and not self.takes_max_length and not q.other:
            return "max_length fits text, place, or questions with 'other'"
        return None

    def range_problem(self, q: QuestionSpec) -> str | None:
        """What is wrong with ``min``/``max`` (kinds with a range override this)."""
        if q.min is not None or q.max is not None:
            return f"a {self.name} question takes no min/max"
        return None

    # -- what it shows ------------------------------------------------------------------------
    @abstractmethod
    def view(self, q: QuestionSpec, state: State) -> KindView:
        """Buttons, selection and hint for ``q`` in ``state`` (its sub-step, page, pending)."""

    # -- events -------------------------------------------------------------------------------
    @abstractmethod
    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        """A button of this question was pressed."""

    @abstractmethod
    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        """The reporter typed ``raw`` (at most ``TEXT_INPUT_MAX`` characters, not cleaned)."""

    @abstractmethod
    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        """The reporter pressed "done" (or "keep" an earlier answer)."""

    def on_file(self, turn: Turn, q: QuestionSpec, media_kind: object, ref: object) -> None:
        """The reporter sent a file; only media kinds take one."""
        turn.invalid("expected_text" if self.typed else "expected_button")

    # -- reading an answer --------------------------------------------------------------------
    @abstractmethod
    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        """The answer as the reporter would recognise it: labels and their own words."""

    @abstractmethod
    def comparable(self, answer: AnswerValue) -> list[object]:
        """The values of ``answer`` that ``equals`` / ``one_of`` compare with."""

    @abstractmethod
    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        """Whether some valid answer to ``q`` makes ``equals: value`` true."""

    @abstractmethod
    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        """Why ``equals: value`` can never hold for ``q`` (when ``could_equal`` is false)."""

    @abstractmethod
    def outline_line(self, q: QuestionSpec) -> str:
        """The kind and its limits as ``reportbot flows show`` prints them."""


# ---- what several kinds share ------------------------------------------------------------------


def required_note(q: QuestionSpec) -> str:
    return "required" if q.required else "skippable"


def choice_ids(q: QuestionSpec) -> list[str]:
    """The button ids a single/multi/place question offers (``other`` last when enabled)."""
    ids = list(q.choices)
    if q.other and OTHER not in ids:
        ids.append(OTHER)
    return ids


def choice_buttons(q: QuestionSpec, sub_step: str | None) -> tuple[ChoiceView, ...]:
    """The buttons of a question with choices (none while "other" is being written)."""
    if sub_step == SUB_OTHER:
        return ()
    views = []
    for cid in choice_ids(q):
        if cid == OTHER and q.other and OTHER not in q.choices:
            views.append(ChoiceView(cid, "ui.button.other"))
        else:
            views.append(ChoiceView(cid, f"{q.id}.choice.{cid}"))
    return tuple(views)


def choice_could_equal(q: QuestionSpec, value: Scalar) -> bool:
    return isinstance(value, str) and (value in q.choices or (q.other and value == OTHER))


def choice_why_not_equal(q: QuestionSpec, value: Scalar) -> str:
    known = [*q.choices, *([OTHER] if q.other else [])]
    return f"'{q.id}' has no choice {show_value(value)!r}; its choices: {', '.join(known)}"


def show_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def nothing_to_compare(q: QuestionSpec) -> str:
    return f"'{q.id}' is a {q.kind} question: it holds nothing to compare (use answered)"


def typed_text(turn: Turn, q: QuestionSpec, raw: str) -> str | None:
    """``raw`` cleaned, or None after refusing it (empty, or longer than ``q`` accepts)."""
    text = normalize_text(raw)
    if not text:
        turn.invalid("empty")
        return None
    if len(text) > q.text_max_length:
        turn.invalid("too_long")
        return None
    return text


def keep_or_refuse(turn: Turn, q: QuestionSpec, *, typed: bool) -> None:
    """ "Done" on a question without a done button: keep the answer given before, if any."""
    kept = turn.state.answer(q.id)
    if kept is not None:
        turn.settle(kept)
    else:
        turn.invalid("expected_text" if typed else "expected_button")


def joined(*parts: str) -> str:
    return " — ".join(p for p in parts if p)


def labelled_choice(answer: AnswerValue, choice_label: ChoiceLabel) -> str:
    return choice_label(str(answer["choice"])) if "choice" in answer else ""


def own_words(answer: AnswerValue) -> str:
    text = answer.get("text")
    return text if isinstance(text, str) and text else ""


def chosen_one(state: State) -> tuple[str, ...]:
    """The choice a single-answer question shows as selected (the pending answer's)."""
    pending = state.pending
    return (pending.choice,) if pending is not None and pending.choice is not None else ()


# -- parts two kinds share, as partial kinds (a kind inherits them before QuestionKind) --------


class OneChoiceAnswer(QuestionKind):
    """An answer that is one choice, perhaps with own words (``single``, ``place``): how it reads
    on the review screen and what a condition compares it with (the choice id)."""

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        return joined(labelled_choice(answer, choice_label), own_words(answer))

    def comparable(self, answer: AnswerValue) -> list[object]:
        choice = answer.get("choice")
        return [choice] if isinstance(choice, str) else []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return choice_could_equal(q, value)

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return choice_why_not_equal(q, value)


class WrittenAnswer(QuestionKind):
    """An answer a reporter may type (``text``, ``place``): typed text, cleaned and checked, is the
    answer; "done" keeps what is there or refuses a required question left empty."""

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        text = typed_text(turn, q, raw)
        if text is not None:
            turn.settle(Answer(text=text))

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        keep_or_refuse(turn, q, typed=True)
