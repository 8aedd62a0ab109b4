"""A whole bot for tests: real Application, real engine, sealing and SQLite store; fake Telegram.

``running_bot(tmp_path)`` yields a :class:`BotHarness`: the Application built by
``bot.app.build_application`` over a :class:`tests.botclient.RecordingRequest`, an analyst key
that can open what the bot sealed, a clock the test moves, and helpers to walk a reporter
through the flow by the buttons actually on screen.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App, BotRuntime, Deps, build_application, runtime_of
from bot.ops.logging import OWN_LOGGERS, QUIET_LOGGERS, configure_logging
from bot.ops.settings import Settings
from bot.phrasebook.loader import load_phrasebook
from bot.phrasebook.model import Phrasebook
from bot.questionnaire.flow import Flow
from bot.questionnaire.loader import load_flow, load_ui_texts
from bot.sealing.keys import Recipients
from handlers.callbacks import Callback, CallbackError, Op, decode
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.opening import (
    AnswerRecord,
    AttachmentRecord,
    ManifestRecord,
    open_envelope,
    read_record,
)
from storage.base import ReportState, StoredReport
from storage.sqlite import SqliteReportStore
from tests.botclient import Call, FakeTelegram, Person, RecordingRequest, ReporterClient

ROOT = Path(__file__).resolve().parent.parent
FLOW_PATH = ROOT / "flows" / "worker_report.yaml"
LOCALES = ROOT / "locales"

TEST_TOKEN = "123456789:AAtesttokenCANARYtok3n_abcdefghijklmno"
PHRASEBOOK_PATH = ROOT / "flows" / "phrasebook.yaml"

ENTRY_CODE = "Kvass-Lantern-7139-ENTRYCANARY"
"""Cover mode's entry code in tests: a canary (no log line or file may hold it)."""
OLD_ENTRY_CODE = "Birch-Window-2284-OLDCANARY"
"""A second entry code valid at the same time (codes change without locking anyone out)."""
DURESS_CODE = "Kvass-Lantern-7193-DURESSCANARY"
"""A duress code that a watcher could not tell from the entry code."""
COVER_ON: dict[str, Any] = {
    "cover": True,
    "entry_codes": (ENTRY_CODE, OLD_ENTRY_CODE),
    "duress_codes": (DURESS_CODE,),
}
"""``running_bot(tmp_path, **COVER_ON)``: cover mode as shipped, with the test codes."""


@contextlib.contextmanager
def logging_configured(level: str, stream: io.StringIO) -> Iterator[None]:
    """``configure_logging`` for one test; every handler and logger level put back after."""
    root = logging.getLogger()
    names = (*OWN_LOGGERS, *QUIET_LOGGERS)
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in names}
    configure_logging(level, "json", stream)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, old in saved_levels.items():
            logging.getLogger(name).setLevel(old)
        logging.captureWarnings(False)


@dataclass
class FakeClock:
    """Wall clock and monotonic clock that only move when the test says so."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    mono: float = 1_000.0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.now += timedelta(seconds=seconds)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": TEST_TOKEN,
        "api_url": "http://bot-api.test",
        "data_dir": data_dir,
        "flow": FLOW_PATH,
        "locales_dir": LOCALES,
        "send_per_second": 1000.0,
        "send_per_chat_per_second": 1000.0,  # the fake clock stands still; real time does not
        "send_chat_burst": 1000,
        "messages_per_minute": 600,
        "message_burst": 1000,
        "reports_per_day": 50,
        # Most tests are about the report conversation: cover mode (on by default, issue 15)
        # is turned off here, explicitly; tests/test_cover*.py run with **COVER_ON.
        "cover": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


_FLOW_CACHE: dict[str, Flow] = {}
_UI_CACHE: dict[str, dict[str, dict[str, str]]] = {}
_BOOK_CACHE: dict[str, Phrasebook] = {}


def shipped_flow() -> Flow:
    if "flow" not in _FLOW_CACHE:
        _FLOW_CACHE["flow"] = load_flow(FLOW_PATH, LOCALES)
    return _FLOW_CACHE["flow"]


def shipped_phrasebook() -> Phrasebook:
    if "book" not in _BOOK_CACHE:
        _BOOK_CACHE["book"] = load_phrasebook(PHRASEBOOK_PATH, LOCALES)
    return _BOOK_CACHE["book"]


def shipped_ui() -> dict[str, dict[str, str]]:
    if "ui" not in _UI_CACHE:
        _UI_CACHE["ui"] = load_ui_texts(LOCALES)
    return _UI_CACHE["ui"]


@dataclass
class BotHarness:
    app: App
    telegram: FakeTelegram
    store: SqliteReportStore
    analyst: AnalystSecretKey
    clock: FakeClock
    settings: Settings
    data_dir: Path
    _next_user: int = 5_550_001

    @property
    def runtime(self) -> BotRuntime:
        return runtime_of(self.app)

    def ui(self, lang: str, text_id: str) -> str:
        return self.runtime.renderer.ui_text(lang, text_id)

    def flow_text(self, lang: str, text_id: str) -> str:
        return self.runtime.renderer.text(lang, text_id)

    def client(self, **person: Any) -> ReporterClient:
        if "user_id" not in person:
            person["user_id"] = self._next_user
            self._next_user += 1
        return ReporterClient(self.app, self.telegram, Person(**person))

    def group(self, chat_id: int, chat_type: str) -> ReporterClient:
        return ReporterClient(
            self.app, self.telegram, Person(), chat_id=chat_id, chat_type=chat_type
        )

    async def reports(self) -> list[StoredReport]:
        ids = set(await self.store.open_reports()) | set(await self.store.ready_reports())
        return [await self.store.load_report(r) for r in sorted(ids)]

    def open(self, report: StoredReport) -> OpenedReport:
        """What the analysts would read from a stored report."""
        answers: dict[str, Mapping[str, object]] = {}
        files: dict[str, AttachmentRecord] = {}
        manifest: ManifestRecord | None = None
        by_slot: dict[int, Any] = {}
        for slot, envelope in report.answers.items():
            record = read_record(open_envelope(envelope, [self.analyst]))
            if record is None:  # a dummy the store padded the report with (issue 17.1)
                continue
            assert isinstance(record, AnswerRecord)
            by_slot[slot] = record
        for slot, envelope in report.attachments.items():
            record = read_record(open_envelope(envelope, [self.analyst]))
            assert isinstance(record, AttachmentRecord)
            by_slot[slot] = record
        if report.manifest is not None:
            record = read_record(open_envelope(report.manifest, [self.analyst]))
            assert isinstance(record, ManifestRecord)
            manifest = record
        listed = set(manifest.slots) if manifest is not None else set(by_slot)
        for slot, record in by_slot.items():
            if slot not in listed:
                continue
            if isinstance(record, AnswerRecord):
                answers[record.question] = record.answer
            else:
                files[record.ref] = record
        return OpenedReport(report.state, manifest, answers, files)


@dataclass
class OpenedReport:
    state: ReportState
    manifest: ManifestRecord | None
    answers: dict[str, Mapping[str, object]]
    files: dict[str, AttachmentRecord]


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path, *, analyst: AnalystSecretKey | None = None, **overrides: Any
) -> AsyncIterator[BotHarness]:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, **overrides)
    telegram = FakeTelegram(TEST_TOKEN)
    clock = FakeClock()
    analyst = analyst or AnalystSecretKey.generate()
    store = await SqliteReportStore.open(data_dir)
    try:
        deps = Deps(
            store=store,
            recipients=Recipients([analyst.public]),
            flow=shipped_flow(),
            ui=shipped_ui(),
            clock=clock.wall,
            monotonic=clock.monotonic,
            request=RecordingRequest(telegram),
            phrasebook=shipped_phrasebook() if settings.cover else None,
        )
        app = build_application(settings, deps)
        async with app:
            await runtime_of(app).post_init(app)
            yield BotHarness(app, telegram, store, analyst, clock, settings, data_dir)
            await runtime_of(app).post_stop(app)
    finally:
        await store.close()
    assert telegram.unexpected == [], f"the bot called unknown methods: {telegram.unexpected}"
    assert telegram.misencoded == [], f"form bodies unlike httpx's: {telegram.misencoded}"


# --- reading what is on screen -------------------------------------------------------------------


def screen_callbacks(client: ReporterClient) -> list[tuple[int, str, Callback]]:
    """(message id, label, decoded payload) of the newest message with buttons."""
    found = client.buttons()
    if not found:
        return []
    newest = found[0][0]
    out: list[tuple[int, str, Callback]] = []
    for mid, label, data in found:
        if mid != newest:
            continue
        try:
            out.append((mid, label, decode(data)))
        except CallbackError:
            continue
    return out


def current_qid(client: ReporterClient) -> str | None:
    """The question the newest prompt asks (from its Back button), None on other screens."""
    for _, _, cb in screen_callbacks(client):
        if cb.op in (Op.SKIP, Op.DONE, Op.HELP, Op.CHOOSE) and cb.qid:
            return cb.qid
    for _, _, cb in screen_callbacks(client):
        if cb.op is Op.BACK:
            return cb.qid
    return None


def on_review(client: ReporterClient) -> bool:
    return any(cb.op is Op.SUBMIT for _, _, cb in screen_callbacks(client))


async def tap(client: ReporterClient, op: Op, qid: str = "", cid: str = "") -> list[Call]:
    """Press the button for this action on the newest screen (fails if it is not there)."""
    for mid, _, cb in screen_callbacks(client):
        if cb.op is op and (not qid or cb.qid == qid) and (not cid or cb.cid == cid):
            return await client.press(mid, cb.encode())
    shown = [(cb.op.name, cb.qid, cb.cid) for _, _, cb in screen_callbacks(client)]
    raise AssertionError(f"no {op.name} {qid} {cid} button on screen: {shown}")


Action = tuple[object, ...]


async def walk(
    client: ReporterClient,
    plan: Mapping[str, Sequence[Action]],
    *,
    stop_at: str | None = None,
    steps: int | None = None,
    limit: int = 120,
) -> list[str]:
    """Answer prompts until the review screen (or an ending); returns the questions seen.

    ``plan`` maps a question id to actions: ("choose", cid), ("text", words), ("photo", bytes),
    ("voice", bytes), ("done",), ("skip",). Questions not in the plan are skipped (info:
    continue; consent: agree). ``stop_at``: stop when that question is asked; ``steps``: stop
    after that many questions.
    """
    seen: list[str] = []
    for _ in range(limit):
        if on_review(client) or (steps is not None and len(seen) >= steps):
            return seen
        qid = current_qid(client)
        if qid is None or qid == stop_at:
            return seen
        seen.append(qid)
        actions = plan.get(qid)
        if actions is None:
            ops = {cb.op: cb for _, _, cb in screen_callbacks(client)}
            cids = {cb.cid for _, _, cb in screen_callbacks(client) if cb.op is Op.CHOOSE}
            if "continue" in cids:
                await tap(client, Op.CHOOSE, qid, "continue")
            elif "agree" in cids:
                await tap(client, Op.CHOOSE, qid, "agree")
            elif Op.SKIP in ops:
                await tap(client, Op.SKIP, qid)
            else:
                raise AssertionError(f"no default way past {qid}")
            continue
        for action in actions:
            kind = action[0]
            if kind == "choose":
                await tap(client, Op.CHOOSE, qid, str(action[1]))
            elif kind == "text":
                await client.send(str(action[1]))
            elif kind == "photo":
                payload = action[1]
                assert isinstance(payload, bytes)
                await client.send_photo(payload)
            elif kind == "voice":
                payload = action[1]
                assert isinstance(payload, bytes)
                await client.send_voice(payload)
            elif kind == "done":
                await tap(client, Op.DONE, qid)
            elif kind == "skip":
                await tap(client, Op.SKIP, qid)
            else:
                raise AssertionError(f"unknown action {kind}")
    raise AssertionError("the walk did not reach the review screen")


async def enter(client: ReporterClient, code: str = ENTRY_CODE) -> list[Call]:
    """Cover mode: type the entry code (the bot deletes it and shows the language screen)."""
    return await client.send(code)


def open_conversations(bot: BotHarness) -> int:
    """Conversations with a report under way (after an erase only the bot's last word, which it
    deletes later, is remembered for that reporter)."""
    return sum(
        1
        for _, conv in bot.runtime.chats.conversations.items()
        if conv.state is not None or conv.draft is not None
    )
