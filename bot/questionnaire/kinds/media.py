"""``kind: media``: photo, voice note, video or document; always skippable by design."""

from __future__ import annotations

from dataclasses import replace

from bot.questionnaire.kind import (
    ChoiceLabel,
    KindView,
    QuestionKind,
    QuestionSpec,
    Scalar,
    Turn,
    UiText,
    nothing_to_compare,
    required_note,
)
from bot.questionnaire.state import Answer, AnswerValue, State

MEDIA_REF_MAX = 256
"""Longest attachment reference the engine keeps (refs are opaque ids made by the transport)."""


class Media(QuestionKind):
    name = "media"
    takes_choices = False
    takes_other = False
    takes_accept = True
    takes_max_length = False
    never_required = "a media question is never required: evidence is always optional"
    holds_answer = True
    skippable = True
    reviewed = True
    done_button = True
    typed = False
    echoes_answer = False
    columns = None
    ends_when_declined = False
    first_sub_step = None

    def view(self, q: QuestionSpec, state: State) -> KindView:
        pending = state.pending
        files = (pending.media or ()) if pending is not None else ()
        return KindView(
            selected=tuple(kind for kind, _ in files),
            hint_id="ui.prompt.send_media",
            accept=tuple(q.accept),
            max_files=q.max_files,
        )

    def on_choose(self, turn: Turn, q: QuestionSpec, cid: str) -> None:
        turn.invalid("wrong_media_kind")

    def on_text(self, turn: Turn, q: QuestionSpec, raw: str) -> None:
        turn.invalid("wrong_media_kind")

    def on_file(self, turn: Turn, q: QuestionSpec, media_kind: object, ref: object) -> None:
        if media_kind not in q.accept:
            turn.invalid("wrong_media_kind")
            return
        if not isinstance(ref, str) or not ref or len(ref) > MEDIA_REF_MAX:
            turn.stale()
            return
        pending = turn.state.pending or Answer()
        files = pending.media or ()
        if any(r == ref for _, r in files):
            turn.show_again()  # the same attachment twice: nothing to add
            return
        if len(files) >= q.max_files:
            turn.invalid("too_many_files")
            return
        turn.stay(replace(turn.state, pending=Answer(media=(*files, (str(media_kind), ref)))))

    def on_done(self, turn: Turn, q: QuestionSpec) -> None:
        pending = turn.state.pending or Answer()
        turn.settle(Answer(media=pending.media) if pending.media else None)

    def answer_text(
        self, answer: AnswerValue, lang: str, *, ui: UiText, choice_label: ChoiceLabel
    ) -> str:
        media = answer.get("media")
        return f"📎 × {len(media)}" if isinstance(media, list) else ""

    def comparable(self, answer: AnswerValue) -> list[object]:
        return []

    def could_equal(self, q: QuestionSpec, value: Scalar) -> bool:
        return False

    def why_not_equal(self, q: QuestionSpec, value: Scalar) -> str:
        return nothing_to_compare(q)

    def outline_line(self, q: QuestionSpec) -> str:
        return f"media: {', '.join(q.accept)}; up to {q.max_files} files, {required_note(q)}"
