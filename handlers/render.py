"""Engine outputs -> message text and inline keyboards. No question wording lives here.

Every word comes from the flow's texts or the bot's ui texts (``locales/<lang>/ui.yaml``); this
module only arranges them. Texts are sent without parse_mode, so nothing needs escaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

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
from bot.texts.resolver import TextResolver, progress_text
from handlers.callbacks import Op, encode

UiTexts = Mapping[str, Mapping[str, str]]
"""lang -> ui text id -> text."""

SELECTED_MARK = "✓ "
REVIEW_ANSWER_MAX = 200


@dataclass(frozen=True, slots=True)
class Screen:
    """One message to show: text and its buttons (if any)."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def _kind_of(flow: Flow, qid: str) -> Kind | None:
    """The kind of question ``qid`` (None if the flow has no such question any more)."""
    try:
        return flow.question(qid).kind
    except KeyError:
        return None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Renderer:
    """Texts for one flow in every language."""

    def __init__(self, flow: Flow, ui: UiTexts, *, cover: bool = False) -> None:
        self.flow = flow
        self.ui = ui
        self.texts = TextResolver(flow.texts, ui)
        self.cover = cover
        """Cover mode (docs/cover.md): the consent screen says what the cover does and not."""

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
    def button(label: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            _cut(label, BUTTON_LABEL_MAX + len(SELECTED_MARK)), callback_data=data
        )

    def exit_row(self, lang: str, nonce: str, back_qid: str | None) -> list[InlineKeyboardButton]:
        row: list[InlineKeyboardButton] = []
        if back_qid is not None:
            row.append(
                self.button(self.ui_text(lang, "ui.button.back"), encode(Op.BACK, nonce, back_qid))
            )
        row.append(self.button(self.ui_text(lang, "ui.button.exit"), encode(Op.EXIT, nonce)))
        return row

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
        rows = [
            [
                self.button(
                    self.ui_text(lang, f"ui.language.{lang}"), encode(Op.LANGUAGE, nonce, lang)
                )
            ]
            for lang in order
        ]
        if followup:  # receipts: come back to an earlier report with its code
            label = self.ui_text(order[0], "ui.button.reported_before")
            rows.append([self.button(label, encode(Op.FOLLOWUP, nonce, order[0]))])
        rows.append([self.button(self.ui_text(order[0], "ui.button.exit"), encode(Op.EXIT, nonce))])
        # The prompt is written in all three languages in every file; show the preselected one's.
        return Screen(self.ui_text(order[0], "ui.language.prompt"), InlineKeyboardMarkup(rows))

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

        rows: list[list[InlineKeyboardButton]] = []
        buttons = []
        for view in prompt.choices:
            label = view.literal or self.text(lang, view.text_id)
            if view.cid in prompt.selected:
                label = SELECTED_MARK + label
            buttons.append(self.button(label, encode(Op.CHOOSE, nonce, prompt.qid, view.cid)))
        per_row = 1
        if prompt.columns is not None:
            per_row = prompt.columns
        elif buttons and all(len(b.text) <= 12 for b in buttons):
            per_row = 2
        rows += [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]

        extra: list[InlineKeyboardButton] = []
        if prompt.can_done:
            extra.append(
                self.button(
                    self.ui_text(lang, "ui.button.done"), encode(Op.DONE, nonce, prompt.qid)
                )
            )
        if prompt.can_skip:
            extra.append(
                self.button(
                    self.ui_text(lang, "ui.button.skip"), encode(Op.SKIP, nonce, prompt.qid)
                )
            )
        if prompt.help_id:
            extra.append(
                self.button(
                    self.ui_text(lang, "ui.button.help"), encode(Op.HELP, nonce, prompt.qid)
                )
            )
        if extra:
            rows.append(extra)
        if prompt.can_send_now:
            label = self.ui_text(lang, "ui.button.send_now")
            rows.append([self.button(label, encode(Op.SEND_NOW, nonce))])
        # Back is offered on every prompt; on the very first one it says so instead of acting.
        rows.append(self.exit_row(lang, nonce, prompt.qid))
        return Screen(text, InlineKeyboardMarkup(rows))

    def review_screen(self, lang: str, nonce: str, review: Review) -> Screen:
        head = [self.ui_text(lang, "ui.review.title")]
        title = self.text(lang, "flow.title")
        if title and title != "flow.title":
            head.insert(0, title)
        lines: list[str] = []
        edit_buttons: list[InlineKeyboardButton] = []
        for n, item in enumerate(review.items, start=1):
            lines.append(
                f"{n}. {self.text(lang, item.prompt_id)}\n   → {self._review_answer(lang, item)}"
            )
            edit_buttons.append(self.button(f"✎ {n}", encode(Op.EDIT, nonce, item.qid)))
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
        rows = [edit_buttons[i : i + 5] for i in range(0, len(edit_buttons), 5)]
        rows.append([self.button(self.ui_text(lang, "ui.button.submit"), encode(Op.SUBMIT, nonce))])
        last = review.items[-1].qid if review.items else None
        rows.append(self.exit_row(lang, nonce, last))
        return Screen(_cut(text, MESSAGE_TEXT_MAX), InlineKeyboardMarkup(rows))

    def cancel_screen(self, lang: str, nonce: str, back_qid: str | None) -> Screen:
        rows = [
            [
                self.button(
                    self.ui_text(lang, "ui.button.send_what_i_answered"),
                    encode(Op.SEND_ANSWERED, nonce),
                )
            ],
            [self.button(self.ui_text(lang, "ui.button.discard"), encode(Op.DISCARD, nonce))],
            [self.button(self.ui_text(lang, "ui.button.back"), encode(Op.RESUME, nonce))],
            [self.button(self.ui_text(lang, "ui.button.exit"), encode(Op.EXIT, nonce))],
        ]
        return Screen(self.ui_text(lang, "ui.cancel.question"), InlineKeyboardMarkup(rows))

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
