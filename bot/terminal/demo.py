"""The questionnaire in a terminal, on the same engine as the Telegram bot.

Three layers, none of which knows about Telegram:

- :class:`Texts` and :func:`render`: engine outputs as plain lines in one language (prompts with
  numbered choices, the review screen, errors, endings). The golden tests compare these lines.
- :class:`Session`: one report. It feeds events to :func:`bot.questionnaire.engine.step`, hands
``Accepted`` /
  ``Dropped`` to a :class:`ReportSink` *before* showing anything (as the bot does), and records
  the :class:`Outcome`. The sink is where sealing and storage plug in; :class:`MemorySink` keeps
  the slots in memory and checks they equal what the engine hands on at the end.
- Input: :func:`parse_typed` turns a typed line into an action (numbers choose, ``b`` back,
  ``s`` skip, ``d`` done, ``q`` quick exit, ``?`` help, anything else is text);
  :func:`parse_answers` reads an answers file (YAML or JSON list) for runs without a terminal.

The runners (:func:`run_lines`, :func:`run_script`) raise :class:`DemoError` with one clear line
when input ends early or a scripted input is rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from bot.questionnaire.answer_text import answer_text
from bot.questionnaire.engine import (
    Accepted,
    Back,
    Cancel,
    Cancelled,
    Choose,
    Done,
    Dropped,
    Edit,
    EndedEarly,
    Event,
    Finished,
    Interrupted,
    Invalid,
    Media,
    Output,
    Prompt,
    Review,
    SendNow,
    Skip,
    Stale,
    Start,
    State,
    Submit,
    Text,
    initial_state,
    step,
)
from bot.questionnaire.flow import AnswerValue, Flow, MediaKind
from bot.receipts.codes import ReceiptCode, new_code
from bot.texts.resolver import TextResolver, progress_text

UiTexts = Mapping[str, Mapping[str, str]]
"""lang -> ui text id -> text (``locales/<lang>/ui.yaml``)."""


class DemoError(Exception):
    """Input the demo cannot go on with; the message is one line for the person running it."""


# --------------------------------------------------------------------------------------------
# Texts and rendering


class Texts:
    """Every text the terminal shows: the flow's and the bot's own (ui) texts.

    Looked up by :class:`bot.texts.resolver.TextResolver`, the same resolver (and fallback rule)
    the Telegram renderer uses.
    """

    def __init__(self, flow: Flow, ui: UiTexts) -> None:
        self.flow = flow
        self.ui = ui
        self.resolver = TextResolver(flow.texts, ui)

    def get(self, lang: str, text_id: str, **values: object) -> str:
        return self.resolver.get(lang, text_id, **values)

    def choice_label(self, lang: str, qid: str, cid: str) -> str:
        return self.resolver.choice_label(lang, qid, cid)

    def answer(self, lang: str, qid: str, answer: AnswerValue) -> str:
        """An answer as the reporter would recognise it: labels and their own words."""
        kind = next((q.kind for q in self.flow.questions if q.id == qid), None)
        return answer_text(
            answer,
            lang,
            ui=lambda text_id: self.get(lang, text_id),
            choice_label=lambda cid: self.choice_label(lang, qid, cid),
            kind=kind,
        )


def _legend(texts: Texts, lang: str, keys: Sequence[tuple[str, str]]) -> str:
    return " · ".join(f"{key} = {texts.get(lang, label)}" for key, label in keys)


def render_prompt(texts: Texts, lang: str, prompt: Prompt) -> list[str]:
    progress = progress_text(texts.resolver, lang, prompt.step, prompt.total)
    lines = [f"({progress}) {texts.get(lang, prompt.prompt_id)}"]
    for n, view in enumerate(prompt.choices, start=1):
        label = view.literal or texts.get(lang, view.text_id)
        mark = "✓ " if view.cid in prompt.selected else ""
        lines.append(f"  {n}) {mark}{label}")
    if prompt.max_files is not None and prompt.selected:  # files received so far
        lines.append(f"  📎 × {len(prompt.selected)}")
    if prompt.hint_id:
        lines.append(
            texts.get(
                lang,
                prompt.hint_id,
                min=prompt.min if prompt.min is not None else "",
                max=prompt.max if prompt.max is not None else "",
            )
        )
    if prompt.answer is not None and prompt.echo_answer:
        lines.append("— " + texts.answer(lang, prompt.qid, prompt.answer))
    keys: list[tuple[str, str]] = []
    if prompt.can_back:
        keys.append(("b", "ui.button.back"))
    if prompt.can_skip:
        keys.append(("s", "ui.button.skip"))
    if prompt.can_done:
        keys.append(("d", "ui.button.done"))
    if prompt.help_id:
        keys.append(("?", "ui.button.help"))
    if prompt.can_send_now:
        keys.append(("n", "ui.button.send_now"))
    keys.append(("q", "ui.button.exit"))
    lines.append(_legend(texts, lang, keys))
    return lines


def render_review(texts: Texts, lang: str, review: Review) -> list[str]:
    lines = [texts.get(lang, "flow.title"), texts.get(lang, "ui.review.title")]
    for n, item in enumerate(review.items, start=1):
        shown = (
            texts.answer(lang, item.qid, item.answer)
            if item.answer is not None
            else texts.get(lang, "ui.review.unanswered")
        )
        lines.append(f"  {n}) {texts.get(lang, item.prompt_id)}")
        lines.append("     → " + shown.replace("\n", "\n       "))
    lines.append(texts.get(lang, "ui.review.hint"))
    keys = [
        (f"1-{len(review.items)}", "ui.button.edit"),
        ("s", "ui.button.submit"),
        ("b", "ui.button.back"),
        ("q", "ui.button.exit"),
    ]
    lines.append(_legend(texts, lang, keys))
    return lines


def render(texts: Texts, lang: str, output: Output, *, trace: bool = False) -> list[str]:
    """The lines a terminal shows for one engine output (``trace`` adds the storage events)."""
    match output:
        case Prompt():
            return ["", *render_prompt(texts, lang, output)]
        case Review():
            return ["", *render_review(texts, lang, output)]
        case Invalid(code=code, values=values):
            return [f"! {texts.get(lang, f'ui.error.{code}', **dict(values))}"]
        case Stale():
            return [f"! {texts.get(lang, 'ui.error.stale_button')}"]
        case Accepted(qid=qid, answer=answer):
            return [f"  [kept {qid}: {json.dumps(answer, ensure_ascii=False)}]"] if trace else []
        case Dropped(qid=qid):
            return [f"  [dropped {qid}]"] if trace else []
        case Finished():
            return ["", texts.get(lang, "ui.done.thanks")]
        case EndedEarly(end_id=end_id):
            return ["", texts.get(lang, end_id)]
        case Cancelled():
            return ["", texts.get(lang, "ui.cancel.sent")]
        case Interrupted():
            return ["", texts.get(lang, "ui.timeout.kept")]


def render_receipt(texts: Texts, lang: str, code: ReceiptCode) -> list[str]:
    """The bot's last screen after a report it keeps: the code, and its two buttons.

    In the bot this is one message with the "sent" line above it (``handlers.followup``), left
    on screen until "I saved the code"; the terminal shows it and ends.
    """
    buttons = (texts.get(lang, "ui.button.kept_it"), texts.get(lang, "ui.button.exit"))
    return [
        "",
        texts.get(lang, "ui.done.receipt", code=code.display()),
        " · ".join(f"[{label}]" for label in buttons),
    ]


# --------------------------------------------------------------------------------------------
# A report in progress


@dataclass(frozen=True)
class Outcome:
    """How a report ended and the answers the engine hands to sealing (empty if discarded)."""

    kind: str  # finished | ended_early | cancelled | interrupted | discarded
    answers: dict[str, AnswerValue]
    end_id: str | None = None

    @property
    def kept(self) -> bool:
        """The bot keeps the report (and gives its receipt): anything answered, not discarded.

        A declined consent hands on nothing; a quick exit discards everything.
        """
        return self.kind != "discarded" and bool(self.answers)


class ReportSink(Protocol):
    """Where a report's answers go. The demo keeps them in memory; sealing and storage plug in
    here (seal and store each answer in ``accepted``, delete in ``dropped``, close in ``closed``).
    """

    def attachment(self, kind: MediaKind) -> str:
        """Keep a file the reporter sent; return the opaque ref the engine will carry."""
        ...

    def accepted(self, qid: str, answer: AnswerValue) -> None: ...

    def dropped(self, qid: str) -> None: ...

    def closed(self, outcome: Outcome) -> list[str]:
        """The report ended; return extra lines to show after the final answers (e.g. what
        became of them: sealed, a digest, opened)."""
        ...


class SinkMismatchError(DemoError):
    """The slots a sink kept differ from what the engine handed on: an engine or sink bug."""


@dataclass
class MemorySink:
    """Keeps each question's slot in memory, as a transport would in storage."""

    slots: dict[str, AnswerValue] = field(default_factory=dict)
    files: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def attachment(self, kind: MediaKind) -> str:
        self.files += 1
        return f"demo-{kind}-{self.files}"

    def accepted(self, qid: str, answer: AnswerValue) -> None:
        self.slots[qid] = answer

    def dropped(self, qid: str) -> None:
        self.slots.pop(qid, None)

    def closed(self, outcome: Outcome) -> list[str]:
        self.outcomes.append(outcome)
        if outcome.kind != "discarded" and self.slots != outcome.answers:
            raise SinkMismatchError(
                "internal error: the stored answers differ from the engine's final answers"
            )
        self.slots = {}
        return []


@dataclass(frozen=True)
class QuickExit:
    """Leave at once; nothing is handed on (the bot erases the chat)."""


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class Complain:
    """Input that fits nothing on the screen: show ``ui.error.<code>``, change nothing."""

    code: str


@dataclass(frozen=True)
class Attach:
    """The reporter sends a file of this kind (the demo has no files: the sink makes a ref)."""

    kind: MediaKind


Action = Event | QuickExit | ShowHelp | Complain | Attach


class Session:
    """One report in the terminal: engine steps, sink calls and printed lines.

    A report the bot would keep ends on the bot's receipt screen (the code from
    ``receipt_code``, fresh from the system's CSPRNG unless a test pins it). The sink's closing
    lines are not shown but kept in :attr:`closing_lines`, for the caller to print after the
    final answers, so that they end the screen.
    """

    def __init__(
        self,
        flow: Flow,
        texts: Texts,
        lang: str,
        this_year: int,
        sink: ReportSink,
        show: Callable[[str], None],
        *,
        trace: bool = False,
        receipt_code: Callable[[], ReceiptCode] = new_code,
    ) -> None:
        self.flow = flow
        self.texts = texts
        self.lang = lang
        self.sink = sink
        self.show = show
        self.trace = trace
        self.receipt_code = receipt_code
        self.closing_lines: list[str] = []
        self.state: State = initial_state(lang, this_year)
        self.screen: Prompt | Review | None = None
        self.outcome: Outcome | None = None

    def begin(self) -> list[Output]:
        return self.perform(Start())

    def perform(self, action: Action) -> list[Output]:
        """Do one action; returns the engine's outputs (none for help and quick exit)."""
        match action:
            case QuickExit():
                self._close(Outcome("discarded", {}))
                self.show("")
                self.show(self.texts.get(self.lang, "ui.ended.neutral"))
                return []
            case ShowHelp():
                self._help()
                return []
            case Complain(code=code):
                self.show(f"! {self.texts.get(self.lang, f'ui.error.{code}')}")
                return []
            case Attach(kind=kind):
                qid = self.screen.qid if isinstance(self.screen, Prompt) else ""
                ref = self.sink.attachment(kind)
                return self._step(Media(qid, kind, ref))
        return self._step(action)

    def _step(self, event: Event) -> list[Output]:
        self.state, outputs = step(self.flow, self.state, event)
        for out in outputs:  # keep first, then show: as the bot does
            if isinstance(out, Accepted):
                self.sink.accepted(out.qid, out.answer)
            elif isinstance(out, Dropped):
                self.sink.dropped(out.qid)
        for out in outputs:
            for line in render(self.texts, self.lang, out, trace=self.trace):
                self.show(line)
            match out:
                case Prompt() | Review():
                    self.screen = out
                case Finished(answers=answers):
                    self._close(Outcome("finished", dict(answers)))
                case EndedEarly(answers=answers, end_id=end_id):
                    self._close(Outcome("ended_early", dict(answers), end_id))
                case Cancelled(answers=answers):
                    self._close(Outcome("cancelled", dict(answers)))
                case Interrupted(answers=answers):
                    self._close(Outcome("interrupted", dict(answers)))
        return outputs

    def _close(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.screen = None
        self.closing_lines = self.sink.closed(outcome)
        if outcome.kept:
            for line in render_receipt(self.texts, self.lang, self.receipt_code()):
                self.show(line)

    def _help(self) -> None:
        self.show("")
        if isinstance(self.screen, Prompt) and self.screen.help_id:
            self.show(self.texts.get(self.lang, self.screen.help_id))
        self.show(self.texts.get(self.lang, "ui.help"))
        if isinstance(self.screen, Prompt):
            for line in render_prompt(self.texts, self.lang, self.screen):
                self.show(line)
        elif isinstance(self.screen, Review):
            for line in render_review(self.texts, self.lang, self.screen):
                self.show(line)

    @property
    def current_qid(self) -> str | None:
        return self.screen.qid if isinstance(self.screen, Prompt) else None


# --------------------------------------------------------------------------------------------
# Typed input

MEDIA_WORDS: dict[str, MediaKind] = {kind.value: kind for kind in MediaKind}


def parse_typed(screen: Prompt | Review | None, line: str) -> Action | None:
    """A typed line as an action on the current screen (None: nothing to do).

    ``q`` quick exit, ``?`` help, ``b`` back; on a question ``s`` skip, ``d`` done, ``n`` send what
    was answered so far (after consent), a choice's
    number chooses it, ``photo``/``voice``/``video``/``document`` sends a (pretend) file, and
    anything else is typed text (start it with ``\\`` to send a text such as ``b`` literally).
    On the review screen a number changes that answer and ``s`` sends.
    """
    word = line.strip()
    if not word:
        return None
    if word.startswith("\\"):
        return Text(screen.qid, word[1:]) if isinstance(screen, Prompt) else None
    lowered = word.lower()
    if lowered == "q":
        return QuickExit()
    if lowered == "?":
        return ShowHelp()
    if lowered == "b":
        return Back()
    if isinstance(screen, Review):
        if lowered == "s":
            return Submit()
        if word.isdigit() and len(word) <= 3 and 1 <= int(word) <= len(screen.items):
            return Edit(screen.items[int(word) - 1].qid)
        return Complain("not_a_choice")
    if not isinstance(screen, Prompt):
        return None
    qid = screen.qid
    if lowered == "s":
        return Skip(qid)
    if lowered == "d":
        return Done(qid)
    if lowered == "n" and screen.can_send_now:
        return SendNow()
    if screen.choices and word.isdigit() and len(word) <= 3:
        n = int(word)
        return Choose(qid, screen.choices[n - 1].cid if 1 <= n <= len(screen.choices) else "")
    if screen.accept and lowered in MEDIA_WORDS:
        return Attach(MEDIA_WORDS[lowered])
    return Text(qid, line)


def run_lines(session: Session, lines: Iterable[str], *, echo: bool) -> Outcome:
    """Drive a session from typed lines (a terminal, or stdin that is not one)."""
    if session.outcome is None and session.screen is None:
        session.begin()
    source: Iterator[str] = iter(lines)
    while session.outcome is None:
        try:
            line = next(source)
        except StopIteration:
            where = _where(session)
            raise DemoError(
                f"input ended before the questionnaire was finished ({where}); run it in a "
                "terminal, or pass --answers FILE"
            ) from None
        line = line.rstrip("\r\n")
        if echo:
            session.show(f"> {line}")
        action = parse_typed(session.screen, line)
        if action is None:
            if session.screen is not None:
                for out_line in render(session.texts, session.lang, session.screen):
                    session.show(out_line)
            continue
        session.perform(action)
    return session.outcome


def _where(session: Session) -> str:
    if isinstance(session.screen, Prompt):
        return f"at question '{session.screen.qid}'"
    if isinstance(session.screen, Review):
        return "at the review screen"
    return "before the first question"


# --------------------------------------------------------------------------------------------
# Answers files


@dataclass(frozen=True)
class Item:
    """One input of an answers file: ``number`` is its 1-based position, ``at`` an expected qid."""

    number: int
    action: str
    value: str | None = None
    at: str | None = None

    def describe(self) -> str:
        return self.action if self.value is None else f"{self.action}: {self.value}"


WORD_INPUTS = (
    "skip",
    "back",
    "done",
    "submit",
    "send_now",
    "continue",
    "agree",
    "decline",
    "cancel",
    "quit",
)
VALUE_INPUTS = ("choose", "text", "edit", "media")
ANSWERS_FORMAT = (
    "a YAML or JSON list of inputs: 'choose: ID', 'text: ...', 'media: photo', 'edit: ID', "
    "or one of " + ", ".join(repr(w) for w in WORD_INPUTS) + "; add 'at: QUESTION_ID' to a "
    "mapping to check which question it answers"
)


class ByQuestion(list[Item]):
    """Answers addressed to questions by id (an answers file ``{by_question: [...]}``).

    Each item names its question with ``at:``; whenever a question is asked, the first unused
    item for it is given, and a question without one is skipped (an info screen continued).
    Items without ``at:`` (``edit:``, ``submit``, ``send_now``) are used in order on the review
    screen, which is sent when they run out. Adding or moving a question in the flow therefore
    never breaks such a file: the golden transcripts change, the answers do not.
    """


def parse_answers(text: str, name: str) -> list[Item]:
    """Read an answers file; raise DemoError naming the file, item and problem.

    A YAML list is taken in order (each ``at:`` is checked); a mapping ``{by_question: [...]}``
    gives a :class:`ByQuestion`.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be read"
        raise DemoError(f"{name}: {where}not valid YAML or JSON ({problem})") from None
    by_question = isinstance(data, dict) and list(data) == ["by_question"]
    if by_question:
        assert isinstance(data, dict)  # noqa: S101 - narrowing for mypy
        data = data["by_question"]
    if not isinstance(data, list) or not data:
        raise DemoError(f"{name}: expected {ANSWERS_FORMAT}")
    items: list[Item] = [_item(raw, number, name) for number, raw in enumerate(data, start=1)]
    return ByQuestion(items) if by_question else items


def _item(raw: object, number: int, name: str) -> Item:
    where = f"{name}: item {number}"
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in WORD_INPUTS:
            return Item(number, word)
        raise DemoError(f"{where}: unknown input {raw!r}; expected {ANSWERS_FORMAT}")
    if isinstance(raw, dict):
        at = raw.get("at")
        if at is not None and not isinstance(at, str):
            raise DemoError(f"{where}: 'at' must be a question id")
        keys = [k for k in raw if k != "at"]
        if len(keys) == 1 and isinstance(keys[0], str):
            key = keys[0]
            value = raw[key]
            if key in VALUE_INPUTS and isinstance(value, str | int) and not isinstance(value, bool):
                return Item(number, key, str(value), at)
            if key in VALUE_INPUTS:
                raise DemoError(f"{where}: '{key}' needs a text or number value, not {value!r}")
            if key in WORD_INPUTS and value is None:
                return Item(number, key, None, at)
        raise DemoError(f"{where}: unknown input {raw!r}; expected {ANSWERS_FORMAT}")
    raise DemoError(f"{where}: unknown input {raw!r}; expected {ANSWERS_FORMAT}")


def load_answers(path: Path) -> list[Item]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DemoError(
            f"{path}: cannot read the answers file ({exc.__class__.__name__})"
        ) from None
    return parse_answers(text, str(path))


def item_action(session: Session, item: Item, name: str) -> Action:
    """The action an answers-file item stands for on the current screen."""
    qid = session.current_qid or ""
    if item.at is not None and item.at != qid:
        raise DemoError(
            f"{name}: item {item.number} ({item.describe()}) expected question '{item.at}', "
            f"but {_where(session)}"
        )
    value = item.value or ""
    match item.action:
        case "choose":
            return Choose(qid, value)
        case "text":
            return Text(qid, value)
        case "edit":
            return Edit(value)
        case "media":
            return Attach(_media_kind(item, value, name))
        case "skip":
            return Skip(qid)
        case "back":
            return Back()
        case "done":
            return Done(qid)
        case "submit":
            return Submit()
        case "send_now":
            return SendNow()
        case "continue" | "agree" | "decline":
            return Choose(qid, item.action)
        case "cancel":
            return Cancel()
    return QuickExit()  # "quit"


def _media_kind(item: Item, value: str, name: str) -> MediaKind:
    kind = MEDIA_WORDS.get(value.lower())
    if kind is None:
        raise DemoError(
            f"{name}: item {item.number}: unknown media kind {value!r} "
            f"(one of: {', '.join(MEDIA_WORDS)})"
        )
    return kind


def run_script(session: Session, items: Sequence[Item], name: str) -> Outcome:
    """Drive a session from an answers file; every input must be accepted by the flow."""
    if session.outcome is None and session.screen is None:
        session.begin()
    if isinstance(items, ByQuestion):
        _run_by_question(session, list(items), name)
    else:
        for item in items:
            _give(session, item, name)
    if session.outcome is None:
        raise DemoError(
            f"{name}: the answers ended before the questionnaire was finished "
            f"({_where(session)}); end with 'submit' on the review screen"
        )
    return session.outcome


def _run_by_question(session: Session, unused: list[Item], name: str) -> None:
    for _ in range(10_000):  # bounded: every round gives one input
        if session.outcome is not None:
            return
        screen = session.screen
        qid = screen.qid if isinstance(screen, Prompt) else None
        item = next((i for i in unused if i.at == qid), None)
        if item is not None:
            unused.remove(item)
        elif isinstance(screen, Prompt):
            item = _unanswered(screen, name)
        else:
            item = Item(0, "submit")
        _give(session, item, name)
    raise DemoError(f"{name}: the answers go round in circles ({_where(session)})")


def _unanswered(prompt: Prompt, name: str) -> Item:
    """What a question the file does not address gets: skip it (continue an info screen)."""
    if prompt.can_skip:
        return Item(0, "skip", at=prompt.qid)
    ids = [c.cid for c in prompt.choices]
    if ids == ["continue"]:
        return Item(0, "continue", at=prompt.qid)
    raise DemoError(f"{name}: no answer for question '{prompt.qid}', which cannot be skipped")


def _give(session: Session, item: Item, name: str) -> None:
    if session.outcome is not None:
        raise DemoError(
            f"{name}: item {item.number} ({item.describe()}): the questionnaire already "
            f"ended ({session.outcome.kind})"
        )
    session.show(f"> {item.describe()}")
    where = _where(session)
    outputs = session.perform(item_action(session, item, name))
    for out in outputs:
        if isinstance(out, Invalid):
            reason = session.texts.get("en", f"ui.error.{out.code}", **dict(out.values))
            raise DemoError(
                f"{name}: item {item.number} ({item.describe()}) {where} was rejected: "
                f"{out.code} ({reason})"
            )
        if isinstance(out, Stale):
            raise DemoError(
                f"{name}: item {item.number} ({item.describe()}) does not fit here ({where})"
            )


def outcome_json(flow: Flow, lang: str, outcome: Outcome) -> str:
    """The answers the engine hands to sealing, with what names the flow the reporter saw."""
    document = {
        "flow": flow.id,
        "version": flow.version,
        "lang": lang,
        "outcome": outcome.kind,
        "answers": outcome.answers,
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
