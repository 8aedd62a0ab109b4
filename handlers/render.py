"""Engine outputs -> message text and inline keyboards. No question wording lives here.

Every word comes from the flow's texts or the bot's ui texts (``locales/<lang>/ui.yaml``); this
module only arranges them. Texts are sent without parse_mode, so nothing needs escaping.

Keyboards are the JSON the Bot API takes (``handlers.telegram_calls.Keyboard``, its text and
that text's form encoding), never PTB objects, and are built, serialized and quoted once per
screen and language: a screen's buttons (labels, layout, the payloads without the
conversation's nonce) are kept in :class:`Lru` caches as a ``KeyboardTemplate``, and a
conversation's keyboard is that template with its nonce spliced in (two joins), so nothing is
kept per conversation. What a cache holds comes from the flow and the ui texts only: never an
answer's text (answers are only in message texts, which are not cached), never an id or a
nonce, and never which choices a reporter marked (a keyboard with a ✓ is built for that screen
alone).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from bot.questionnaire.answer_text import answer_text
from bot.questionnaire.engine import Prompt, Review, ReviewItem
from bot.questionnaire.flow import (
    BUTTON_LABEL_MAX,
    LANGUAGES,
    MESSAGE_TEXT_MAX,
    AnswerValue,
    Flow,
    Kind,
)
from bot.questionnaire.kind import ChoiceView
from bot.texts.resolver import TextResolver, progress_text
from handlers.callbacks import NONCE_LEN, CallbackError, Op, encode
from handlers.telegram_calls import InlineButton, InlineKeyboard, Keyboard, KeyboardTemplate

UiTexts = Mapping[str, Mapping[str, str]]
"""lang -> ui text id -> text."""

SELECTED_MARK = "✓ "
REVIEW_ANSWER_MAX = 200

CACHE_ENTRIES: Final = 4096
"""Entries per cache: every screen of every question in every language many times over (nothing
in a cache belongs to one conversation)."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry first; counts its hits."""

    def __init__(self, capacity: int = CACHE_ENTRIES) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> list[tuple[K, V]]:
        return list(self._data.items())

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, or ``make()`` kept for it."""
        data = self._data
        try:
            value = data[key]
        except KeyError:
            self.misses += 1
            value = data[key] = make()
            if len(data) > self._capacity:
                data.popitem(last=False)
            return value
        self.hits += 1
        data.move_to_end(key)
        return value


@dataclass(frozen=True, slots=True)
class Payload:
    """A button's ``callback_data`` with the conversation's nonce left out: ``head`` + nonce +
    ``tail`` (``handlers.callbacks`` layout; its length checked once, when it is made)."""

    head: str
    tail: str

    @classmethod
    def of(cls, op: Op, qid: str = "", cid: str = "") -> Payload:
        data = encode(op, _NO_NONCE, qid, cid)
        head, _, tail = data.partition(_NO_NONCE)
        return cls(head, tail)

    def data(self, nonce: str) -> str:
        return self.head + nonce + self.tail


_NO_NONCE: Final = "-" * NONCE_LEN
"""Stands for the nonce in a :class:`Payload` (ids never hold a ``-``: it is found once)."""

Layout = tuple[tuple[tuple[str, Payload], ...], ...]
"""A keyboard without its nonce: rows of (label, payload)."""

Key = tuple[Hashable, ...]
"""What makes one screen's keyboard: the kind of screen, language, question, buttons offered."""


def keyboard(rows: Sequence[Sequence[InlineButton]]) -> Keyboard:
    """An inline keyboard of ready buttons (one message of its own, not cached)."""
    return Keyboard.of({"inline_keyboard": [list(row) for row in rows]})


def _buttons(layout: Layout, nonce: str) -> InlineKeyboard:
    if len(nonce) != NONCE_LEN:
        raise CallbackError("bad nonce")
    return {
        "inline_keyboard": [
            [{"text": label, "callback_data": p.head + nonce + p.tail} for label, p in row]
            for row in layout
        ]
    }


def _template(layout: Layout) -> KeyboardTemplate:
    return KeyboardTemplate.of([[(label, p.head, p.tail) for label, p in row] for row in layout])


def _spliced(template: KeyboardTemplate, nonce: str) -> Keyboard:
    if len(nonce) != NONCE_LEN:
        raise CallbackError("bad nonce")
    return template.keyboard(nonce)


@dataclass(frozen=True, slots=True)
class Screen:
    """One message to show: text and its buttons (if any)."""

    text: str
    markup: Keyboard | None = None


def _kind_of(flow: Flow, qid: str) -> Kind | None:
    """The kind of question ``qid`` (None if the flow has no such question any more)."""
    try:
        return flow.question(qid).kind
    except KeyError:
        return None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(label: str) -> str:
    return _cut(label, BUTTON_LABEL_MAX + len(SELECTED_MARK))


def _rows(
    buttons: Sequence[tuple[str, Payload]], per_row: int
) -> list[tuple[tuple[str, Payload], ...]]:
    return [tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


class Renderer:
    """Texts for one flow in every language, and its keyboards, built once (:class:`Lru`)."""

    def __init__(self, flow: Flow, ui: UiTexts, *, cover: bool = False) -> None:
        self.flow = flow
        self.ui = ui
        self.texts = TextResolver(flow.texts, ui)
        self.cover = cover
        """Cover mode (docs/cover.md): the consent screen says what the cover does and not."""
        self.layouts: Lru[Key, Layout] = Lru()
        """Rows of buttons without a nonce (the exit row, per language and back target)."""
        self.templates: Lru[Key, KeyboardTemplate] = Lru()
        """Keyboards without a nonce, serialized and quoted, per screen (question, language,
        what buttons it offers)."""
        self.choice_labels: Lru[Key, tuple[tuple[str, str, Payload], ...]] = Lru()
        """A question's choice buttons per language, unmarked."""

    # --- texts (one resolver and one fallback rule for Telegram and the terminal) ---
    def ui_text(self, lang: str, text_id: str, **values: object) -> str:
        return self.texts.ui(lang, text_id, **values)

    def text(self, lang: str, text_id: str) -> str:
        """A flow text (``qid.prompt``) or, for ids starting with ``ui.``, a ui text."""
        return self.texts.get(lang, text_id)

    def all_languages(self, text_id: str, languages: Sequence[str] = LANGUAGES) -> str:
        """The same ui text in every language, one per line, without repeats."""
        return self.texts.in_languages(text_id, languages)

    # --- buttons ---
    @staticmethod
    def button(label: str, data: str) -> InlineButton:
        return {"text": _label(label), "callback_data": data}

    def exit_row(self, lang: str, nonce: str, back_qid: str | None) -> list[InlineButton]:
        layout = self.layouts.get(("exit", lang, back_qid), lambda: (self._exit(lang, back_qid),))
        return list(_buttons(layout, nonce)["inline_keyboard"][0])

    def _exit(self, lang: str, back_qid: str | None) -> tuple[tuple[str, Payload], ...]:
        row: list[tuple[str, Payload]] = []
        if back_qid is not None:
            row.append(self._ui_button(lang, "ui.button.back", Payload.of(Op.BACK, back_qid)))
        row.append(self._ui_button(lang, "ui.button.exit", Payload.of(Op.EXIT)))
        return tuple(row)

    def _ui_button(self, lang: str, text_id: str, payload: Payload) -> tuple[str, Payload]:
        return _label(self.ui_text(lang, text_id)), payload

    def _keyboard(self, key: Key, nonce: str, make: Callable[[], Layout]) -> Keyboard:
        """The keyboard of screen ``key`` for ``nonce``: its template (made at most once while
        kept) with the nonce spliced in."""
        return _spliced(self.templates.get(key, lambda: _template(make())), nonce)

    # --- screens ---
    def language_screen(
        self,
        nonce: str,
        languages: Sequence[str],
        preselect: str | None,
        *,
        followup: bool = False,
    ) -> Screen:
        order = list(languages)
        if preselect in order:
            order.remove(preselect)
            order.insert(0, preselect)
        key: Key = ("language", tuple(order), followup)
        markup = self._keyboard(key, nonce, lambda: self._language_layout(order, followup))
        # The prompt is written in all three languages in every file; show the preselected one's.
        return Screen(self.ui_text(order[0], "ui.language.prompt"), markup)

    def _language_layout(self, order: Sequence[str], followup: bool) -> Layout:
        rows = [
            (self._ui_button(lang, f"ui.language.{lang}", Payload.of(Op.LANGUAGE, lang)),)
            for lang in order
        ]
        first = order[0]
        if followup:  # receipts: come back to an earlier report with its code
            payload = Payload.of(Op.FOLLOWUP, first)
            rows.append((self._ui_button(first, "ui.button.reported_before", payload),))
        rows.append((self._ui_button(first, "ui.button.exit", Payload.of(Op.EXIT)),))
        return tuple(rows)

    def prompt_screen(self, lang: str, nonce: str, prompt: Prompt) -> Screen:
        parts: list[str] = []
        if prompt.total > 1:
            parts.append(progress_text(self.texts, lang, prompt.step, prompt.total))
        parts.append(self.text(lang, prompt.prompt_id))
        if prompt.hint_id:
            parts.append(
                self.ui_text(
                    lang,
                    prompt.hint_id,
                    min=prompt.min if prompt.min is not None else "",
                    max=prompt.max if prompt.max is not None else "",
                    max_length=prompt.max_length or "",
                    max_files=prompt.max_files or "",
                )
            )
        if self.cover and _kind_of(self.flow, prompt.qid) is Kind.CONSENT:
            parts.append(self.ui_text(lang, "ui.consent.cover"))
        if prompt.answer is not None and prompt.echo_answer:
            shown = self.answer_text(lang, prompt.qid, prompt.answer)
            if shown:
                parts.append("— " + shown)
        text = _cut("\n\n".join(p for p in parts if p), MESSAGE_TEXT_MAX)
        return Screen(text, self._prompt_keyboard(lang, nonce, prompt))

    def _prompt_keyboard(self, lang: str, nonce: str, prompt: Prompt) -> Keyboard:
        if prompt.selected:  # what a reporter marked enters no cache: this screen's alone
            return _spliced(_template(self._prompt_layout(lang, prompt)), nonce)
        key: Key = (
            "prompt",
            lang,
            prompt.qid,
            prompt.choices,
            prompt.columns,
            prompt.can_done,
            prompt.can_skip,
            prompt.help_id is not None,
            prompt.can_send_now,
        )
        return self._keyboard(key, nonce, lambda: self._prompt_layout(lang, prompt))

    def _choice_parts(
        self, lang: str, qid: str, choices: tuple[ChoiceView, ...]
    ) -> tuple[tuple[str, str, Payload], ...]:
        """(label, choice id, payload) of a question's choice buttons, unmarked."""

        def make() -> tuple[tuple[str, str, Payload], ...]:
            return tuple(
                (
                    view.literal or self.text(lang, view.text_id),
                    view.cid,
                    Payload.of(Op.CHOOSE, qid, view.cid),
                )
                for view in choices
            )

        return self.choice_labels.get((lang, qid, choices), make)

    def _prompt_layout(self, lang: str, prompt: Prompt) -> Layout:
        qid, selected = prompt.qid, prompt.selected
        buttons = [
            (_label(SELECTED_MARK + label if cid in selected else label), payload)
            for label, cid, payload in self._choice_parts(lang, qid, prompt.choices)
        ]
        per_row = 1
        if prompt.columns is not None:
            per_row = prompt.columns
        elif buttons and all(len(label) <= 12 for label, _ in buttons):
            per_row = 2
        rows = _rows(buttons, per_row)
        extra: list[tuple[str, Payload]] = []
        if prompt.can_done:
            extra.append(self._ui_button(lang, "ui.button.done", Payload.of(Op.DONE, qid)))
        if prompt.can_skip:
            extra.append(self._ui_button(lang, "ui.button.skip", Payload.of(Op.SKIP, qid)))
        if prompt.help_id:
            extra.append(self._ui_button(lang, "ui.button.help", Payload.of(Op.HELP, qid)))
        if extra:
            rows.append(tuple(extra))
        if prompt.can_send_now:
            rows.append((self._ui_button(lang, "ui.button.send_now", Payload.of(Op.SEND_NOW)),))
        # Back is offered on every prompt; on the very first one it says so instead of acting.
        rows.append(self._exit(lang, qid))
        return tuple(rows)

    def review_screen(self, lang: str, nonce: str, review: Review) -> Screen:
        head = [self.ui_text(lang, "ui.review.title")]
        title = self.text(lang, "flow.title")
        if title and title != "flow.title":
            head.insert(0, title)
        lines = [
            f"{n}. {self.text(lang, item.prompt_id)}\n   → {self._review_answer(lang, item)}"
            for n, item in enumerate(review.items, start=1)
        ]
        hint = self.ui_text(lang, "ui.review.hint")
        budget = MESSAGE_TEXT_MAX - sum(len(h) + 2 for h in head) - len(hint) - 2
        body: list[str] = []
        for line in lines:
            if budget - len(line) - 1 < 0:
                body.append("…")
                break
            body.append(line)
            budget -= len(line) + 1
        text = "\n\n".join([*head, "\n".join(body), hint])
        # The keyboard names questions only (✎ n per answered one): the answers are in the text.
        qids = tuple(item.qid for item in review.items)
        markup = self._keyboard(
            ("review", lang, qids), nonce, lambda: self._review_layout(lang, qids)
        )
        return Screen(_cut(text, MESSAGE_TEXT_MAX), markup)

    def _review_layout(self, lang: str, qids: tuple[str, ...]) -> Layout:
        edits = [
            (_label(f"✎ {n}"), Payload.of(Op.EDIT, qid)) for n, qid in enumerate(qids, start=1)
        ]
        rows = _rows(edits, 5)
        rows.append((self._ui_button(lang, "ui.button.submit", Payload.of(Op.SUBMIT)),))
        rows.append(self._exit(lang, qids[-1] if qids else None))
        return tuple(rows)

    def cancel_screen(self, lang: str, nonce: str, back_qid: str | None) -> Screen:
        markup = self._keyboard(("cancel", lang), nonce, lambda: self._cancel_layout(lang))
        return Screen(self.ui_text(lang, "ui.cancel.question"), markup)

    def _cancel_layout(self, lang: str) -> Layout:
        return tuple(
            (self._ui_button(lang, text_id, Payload.of(op)),)
            for text_id, op in (
                ("ui.button.send_what_i_answered", Op.SEND_ANSWERED),
                ("ui.button.discard", Op.DISCARD),
                ("ui.button.back", Op.RESUME),
                ("ui.button.exit", Op.EXIT),
            )
        )

    # --- answers ---
    def _review_answer(self, lang: str, item: ReviewItem) -> str:
        if item.answer is None:
            return self.ui_text(lang, "ui.review.unanswered")
        return _cut(self.answer_text(lang, item.qid, item.answer), REVIEW_ANSWER_MAX)

    def answer_text(self, lang: str, qid: str, answer: AnswerValue) -> str:
        """An answer as the reporter would recognise it (labels, their own words)."""
        return answer_text(
            answer,
            lang,
            ui=lambda text_id: self.ui_text(lang, text_id),
            choice_label=lambda cid: self.texts.choice_label(lang, qid, cid),
            kind=_kind_of(self.flow, qid),
        )
