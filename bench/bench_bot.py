"""Bot benchmark: questionnaire steps through the whole stack against bare python-telegram-bot
making exactly the same Bot API calls, in the same run; CPU per step at 30 steps/s; memory per
open conversation.

    .venv/bin/python -m bench.bench_bot [--steps 600] [--rounds 3] [--conversations 10000]
                                         [--dir PATH] [--tmpfs PATH] [--paced-seconds 20]
    .venv/bin/python -m bench.bench_bot --quick      (for direction while working: about 50 s)

The traffic is recorded once: one reporter answers every question of the shipped flow (button
presses, numbers, texts, the review, submit: one report with its receipt code) through the real
Application; every update it sent and every Bot API call the bot made on it are kept. Then both
sides are fed **the same updates** through ``process_update``, their Bot API calls going to the
same in-memory fake Telegram (``tests.botclient``), so no network and no driver logic is measured
(each replayed report has its own reporter id and its own conversation nonce, as in production):

- *baseline*: a bare PTB ``Application`` with one ``TypeHandler`` that, for each update, makes
  the calls the bot made on it (``send_message`` with the same inline keyboard of 10-25 buttons
  built from ``InlineKeyboardButton`` objects, ``edit_message_text``, ``answer_callback_query``,
  ``delete_messages``): python-telegram-bot doing the bot's Bot API traffic and nothing else.
- *bot*: the real Application from ``bot.app.build_application``: engine, every accepted answer
  sealed to 2 analyst keys and committed to SQLite (durable), the receipt service the real bot
  runs (argon2id at the production limits once per report, in a thread), flood limits, the send
  scheduler. Its traffic is checked to be the recorded one.

Rows: one reporter at a time and 50 reporters at once (the store commits in groups), on ``--dir``
(a disk: fsync) and on ``--tmpfs`` (``/dev/shm`` by default, where a durable commit costs
nothing, so the ratio is the bot's own overhead); ratios within each round, medians of rounds.
CPU: both sides paced at 30 steps/s (50 reporters) for ``--paced-seconds``; the process's CPU time
(every thread: SQLite's, argon2id's) per step, less the fake Telegram's own CPU (reading each call,
keeping the chat, writing the answer: in production Telegram's machines do that, and before this
was taken out bare PTB alone measured above the issue's 1.5 ms target). What stays in, for both
sides alike: ``Update.de_json`` of each update as the side's ``getUpdates`` reads it in production
(the bot first drops the keyboard Telegram echoes back with a press:
``handlers.telegram_calls.without_echoed_keyboard``; bare PTB parses it all), encoding each call's
parameters as an HTTP request would and parsing its answer, and the driver (pacing, a few dict
lookups per update). argon2id's share is measured on its own; each side's idle CPU (left alone for
a few seconds before its paced run; the JobQueue is not started here) is printed so the per-step
figure can be read against it.

Memory: 10,000 reporters each left mid-report (language chosen, consent and two answers given,
so each holds engine state, a slot map, message ids, a flood budget and an open report); the
growth of the process's resident memory divided by the number of conversations, and, on a
smaller sample (tracemalloc makes every allocation slow), the Python heap growth. The fake
Telegram's own records are cleared as it goes, so only the bot's memory is counted.

Memory is measured first (fresh process). The disk matters (fsync: each accepted answer is a
durable commit): use ``--dir`` on the disk the bot will use.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import gc
import json
import os
import random
import re
import shutil
import statistics
import string
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ContextTypes, ExtBot, TypeHandler
from telegram.request import BaseRequest, RequestData

import handlers.private
from bot.app import App, Deps, build_application, runtime_of
from bot.receipts.codes import new_code
from bot.receipts.derivation import PRODUCTION_KDF, slow_hash_v2
from bot.receipts.pepper import ReceiptPepper
from bot.receipts.service import ReceiptService
from bot.sealing.keys import Recipients
from handlers.callbacks import NONCE_LEN, Op
from handlers.forms import form_body
from handlers.telegram_calls import without_echoed_keyboard
from reportbot_analyst.keys import AnalystSecretKey
from storage.sqlite import SqliteReportStore
from tests.bot_support import (
    TEST_TOKEN,
    current_qid,
    make_settings,
    on_review,
    screen_callbacks,
    shipped_flow,
    shipped_ui,
    tap,
)
from tests.botclient import (
    JSON,
    Call,
    ChatMessage,
    FakeChat,
    FakeTelegram,
    Person,
    RecordingRequest,
    ReporterClient,
)

CONCURRENT = 50
IDLE_SECONDS = 3.0
"""How long each side is left alone before its paced run, for its idle CPU."""
PACE = 30.0
"""Steps per second of the CPU measurement (the overall limit of Telegram's sending)."""
TEXTS = {"text": "Зарплату не платят три месяца. 월급을 받지 못했습니다.", "place": "Владивосток"}
RECORDED_USER = 7_770_000_001
"""The recording reporter's id; replayed reporters get their own ids in its place."""


class Counter:
    def __init__(self) -> None:
        self.steps = 0


async def _step(counter: Counter, coro: Any) -> None:
    await coro
    counter.steps += 1


async def answer_everything(client: ReporterClient, counter: Counter, budget: int) -> None:
    """Walk one reporter through the flow answering every question; stop at ``budget`` steps."""
    await _step(counter, client.send("/start"))
    await _step(counter, client.click("Русский"))
    while counter.steps < budget:
        if on_review(client):
            await _step(counter, tap(client, Op.SUBMIT))
            return
        qid = current_qid(client)
        if qid is None:
            return
        callbacks = [cb for _, _, cb in screen_callbacks(client)]
        choices = [cb for cb in callbacks if cb.op is Op.CHOOSE]
        ops = {cb.op for cb in callbacks}
        kind = shipped_flow().question(qid).kind.value
        if kind == "multi":
            await _step(counter, tap(client, Op.CHOOSE, qid, choices[0].cid))
            await _step(counter, tap(client, Op.DONE, qid))
        elif kind == "number":
            await _step(counter, client.send("12"))
        elif kind in ("text", "place") and not choices:
            await _step(counter, client.send(TEXTS[kind]))
        elif kind == "place":
            await _step(counter, client.send(TEXTS["place"]))
        elif kind == "media":
            await _step(counter, tap(client, Op.SKIP, qid))
        elif choices:
            await _step(counter, tap(client, Op.CHOOSE, qid, choices[0].cid))
            if current_qid(client) == qid and Op.DONE in ops:  # a date's month step, etc.
                continue
        else:
            await _step(counter, tap(client, Op.SKIP, qid))


class ReplayTelegram(FakeTelegram):
    """The fake Telegram with message ids counted per chat, so a chat's ids do not depend on how
    the reporters' updates interleave: replayed traffic finds the messages it edits.

    ``cpu_seconds``: the CPU the fake itself spent (answering calls, taking the reporters'
    messages), on the event loop's thread; in production that work runs on Telegram's machines,
    so it is taken out of the bot's and the baseline's CPU alike (see ``MeteredRequest``)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.cpu_seconds = 0.0

    def chat(self, chat_id: int, chat_type: str = "private") -> FakeChat:
        if chat_id not in self.chats:
            self.chats[chat_id] = FakeChat(chat_id=chat_id, chat_type=chat_type)
        return self.chats[chat_id]

    def reporter_sent(self, update: JSON) -> None:
        """The reporter's own message takes its id in the chat, as it did when recorded."""
        started = time.thread_time()
        message = update.get("message")
        if message is not None:
            chat = self.chat(int(message["chat"]["id"]))
            mid = chat.new_id()
            if mid != message["message_id"]:
                raise RuntimeError("replayed message ids drifted from the recording")
            chat.messages[mid] = ChatMessage(mid, False, message.get("text"), kind="text")
        self.cpu_seconds += time.thread_time() - started

    def forget(self) -> None:
        self.calls.clear()


class MeteredRequest(RecordingRequest):
    """The in-memory transport with the work split as it is in production.

    The caller's side does what its request class does before a request leaves, ``encode``:
    for bare PTB, ``HTTPXRequest``'s form fields (``urlencode`` of every parameter as text, every
    keyboard ``json.dumps``-ed and quoted); for the bot, ``handlers.forms.FormRequest``'s
    (``form_body``: the same bytes, each keyboard's share quoted when the keyboard was made).
    After it, what PTB does with the answer (``json.loads`` and building the result). The fake's
    side (reading the call, keeping the chat, writing the answer) is timed with
    ``time.thread_time`` and added to ``ReplayTelegram.cpu_seconds``: the fake answers
    synchronously (no ``await`` in between), so the delta is exactly its own CPU and holds no
    other thread's (SQLite's, argon2id's)."""

    def __init__(
        self,
        telegram: ReplayTelegram,
        encode: Callable[[RequestData], object] = RequestData.url_encoded_parameters,
    ) -> None:
        super().__init__(telegram, check_encoding=False)
        self.replay = telegram
        self.encode = encode

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None:  # the caller's encoding, as over HTTP
            self.encode(request_data)
        started = time.thread_time()
        try:
            return await super().do_request(url, method, request_data)
        finally:
            self.replay.cpu_seconds += time.thread_time() - started


RECORDED_NONCE = "A" * NONCE_LEN
"""The nonce of the recorded conversation; each replayed report gets its own in its place."""
_NONCE: contextvars.ContextVar[str] = contextvars.ContextVar("nonce", default=RECORDED_NONCE)
_NONCE_ALPHABET = string.ascii_letters + string.digits
_PAYLOAD_NONCE = re.compile(r'("(?:data|callback_data)": "[a-z])' + RECORDED_NONCE)


def nonce_for(n: int) -> str:
    """The ``n``-th replayed report's nonce (never the recorded one)."""
    digits = []
    for _ in range(NONCE_LEN):
        n, d = divmod(n, len(_NONCE_ALPHABET))
        digits.append(_NONCE_ALPHABET[d])
    if n:
        raise ValueError("more reports than nonces")
    nonce = "".join(digits)
    return nonce if nonce != RECORDED_NONCE else nonce_for(len(_NONCE_ALPHABET) ** NONCE_LEN - 1)


@contextlib.contextmanager
def script_nonces() -> Iterator[None]:
    """A conversation gets the nonce of the report being replayed (``_NONCE``, set by the
    driver), so its recorded button payloads replay as current, and every report has its own,
    as in production: nothing kept per nonce can be hit across reporters (the renderer keeps
    none since its keyboard templates, but the replay must not flatter one; the nonce is random
    in the bot: its only job is telling old buttons from new ones)."""
    saved = getattr(handlers.private, "new_nonce")  # noqa: B009 - mypy: not re-exported
    setattr(handlers.private, "new_nonce", _NONCE.get)  # noqa: B010 - likewise
    try:
        yield
    finally:
        setattr(handlers.private, "new_nonce", saved)  # noqa: B010 - likewise


@contextlib.asynccontextmanager
async def bot_app(
    data_dir: Path, telegram: FakeTelegram | None = None, *, receipts: bool = True
) -> AsyncIterator[tuple[App, FakeTelegram]]:
    telegram = telegram or FakeTelegram(TEST_TOKEN)
    analysts = [AnalystSecretKey.generate().public for _ in range(2)]
    settings = make_settings(
        data_dir,
        send_per_second=1000.0,
        messages_per_minute=600,
        reports_per_day=1000,
        max_open_conversations=1_000_000,
    )
    store = await SqliteReportStore.open(data_dir)
    service = None
    if receipts:  # as bot.server builds it: argon2id at the production limits
        rng = random.Random(13)
        service = ReceiptService(
            store, analysts, pepper=ReceiptPepper.generate(), randbelow=rng.randrange
        )
    deps = Deps(
        store=store,
        recipients=Recipients(analysts),
        flow=shipped_flow(),
        ui=shipped_ui(),
        request=(
            MeteredRequest(telegram, encode=form_body)
            if isinstance(telegram, ReplayTelegram)
            else RecordingRequest(telegram)
        ),
        receipts=service,
    )
    app = build_application(settings, deps)
    try:
        async with app:
            await runtime_of(app).post_init(app)
            yield app, telegram
    finally:
        await store.close()


@dataclass
class Script:
    """One reporter's whole report: the updates it sent and the bot's calls on each."""

    updates: list[JSON]
    calls: list[list[Call]]
    nonce: str = RECORDED_NONCE

    def for_reporter(self, user_id: int, first_update_id: int, nonce: str) -> Script:
        """The same report from another reporter (their id in every update and call, their
        conversation's nonce in every button)."""

        def rewrite(data: object) -> Any:
            text = json.dumps(data).replace(str(RECORDED_USER), str(user_id))
            return json.loads(_PAYLOAD_NONCE.sub(rf"\g<1>{nonce}", text))

        updates = rewrite(self.updates)
        for n, update in enumerate(updates):
            update["update_id"] = first_update_id + n
        calls = [[Call(c.method, rewrite(c.params)) for c in step] for step in self.calls]
        return Script(updates, calls, nonce)


async def record(base: Path) -> Script:
    """One reporter through the whole flow, every update and every call it caused kept."""
    data_dir = Path(tempfile.mkdtemp(dir=base))
    try:
        with script_nonces():
            async with bot_app(data_dir, ReplayTelegram(TEST_TOKEN)) as (app, telegram):
                script = Script([], [])

                async def transport(update: JSON) -> None:
                    before = len(telegram.calls)
                    script.updates.append(json.loads(json.dumps(update)))
                    await app.process_update(Update.de_json(update, app.bot))
                    script.calls.append(telegram.calls[before:])

                client = ReporterClient(
                    None, telegram, Person(user_id=RECORDED_USER), transport=transport
                )
                await answer_everything(client, Counter(), 10_000)
        return script
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def scripts(script: Script, reporters: int, steps: int) -> list[list[Script]]:
    """``reporters`` queues of whole reports, ``steps`` updates in all (rounded up to reports)."""
    per_report = len(script.updates)
    reports = max(reporters, -(-steps // per_report))
    queues: list[list[Script]] = [[] for _ in range(reporters)]
    for n in range(reports):
        queues[n % reporters].append(
            script.for_reporter(8_000_000_001 + n, 1 + n * per_report, nonce_for(n))
        )
    return queues


class Pacer:
    """Hands out start times ``1 / rate`` apart; ``None``: no pacing."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.perf_counter()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.perf_counter()
        at = max(self.next, now)
        self.next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass
class Measured:
    steps: int
    seconds: float
    cpu: float
    """The process's CPU time (every thread) over the run."""
    fake_cpu: float
    """Of it, the fake Telegram's own (``ReplayTelegram.cpu_seconds``)."""
    mismatched: int = 0
    idle_ms: float = 0.0
    """CPU milliseconds per second of the same side before the run, with no update."""

    @property
    def per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per step of the side measured, the fake Telegram's taken out."""
        return 1000.0 * (self.cpu - self.fake_cpu) / self.steps

    @property
    def process_cpu_ms(self) -> float:
        return 1000.0 * self.cpu / self.steps


async def drive(
    app: App,
    telegram: ReplayTelegram,
    queues: list[list[Script]],
    pacer: Pacer,
    seconds: float | None = None,
    read: Callable[[JSON], JSON] = lambda update: update,
) -> Measured:
    """Feed every queue's updates in order (the queues at once); stop after ``seconds``.

    ``read``: what the side's ``getUpdates`` does to an update before ``Update.de_json`` (the
    bot drops the keyboard a press echoes back; bare PTB parses it all).

    ``mismatched``: how far the calls made are from the recorded ones (per method, in all)."""
    done = [0]
    expected: collections.Counter[str] = collections.Counter()
    made: collections.Counter[str] = collections.Counter()
    deadline: float | None = None

    def tally() -> None:
        made.update(c.method for c in telegram.calls)
        telegram.forget()

    async def one_queue(queue: list[Script]) -> None:
        for script in queue:
            _NONCE.set(script.nonce)  # this task's: the conversation it opens gets it
            for update, calls in zip(script.updates, script.calls, strict=True):
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                await pacer.wait()
                telegram.reporter_sent(update)
                await app.process_update(Update.de_json(read(update), app.bot))
                expected.update(c.method for c in calls)
                done[0] += 1
                if len(telegram.calls) > 5_000:
                    tally()

    gc.collect()
    fake = telegram.cpu_seconds
    cpu, started = time.process_time(), time.perf_counter()
    if seconds is not None:
        deadline = started + seconds
    await asyncio.gather(*(one_queue(q) for q in queues))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    fake = telegram.cpu_seconds - fake
    tally()
    mismatched = sum(((made - expected) + (expected - made)).values())
    return Measured(done[0], elapsed, cpu, fake, mismatched)


async def idle_cpu_ms(seconds: float) -> float:
    """CPU milliseconds per second of a side left alone (its jobs and timers, no update)."""
    await asyncio.sleep(0.2)
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return 1000.0 * (time.process_time() - cpu) / (time.perf_counter() - started)


async def bot_run(
    base: Path,
    queues: list[list[Script]],
    rate: float | None,
    seconds: float | None = None,
    idle_seconds: float = 0.0,
) -> Measured:
    data_dir = Path(tempfile.mkdtemp(dir=base))
    try:
        with script_nonces():
            async with bot_app(data_dir, ReplayTelegram(TEST_TOKEN)) as (app, telegram):
                if not isinstance(telegram, ReplayTelegram):  # pragma: no cover - given above
                    raise TypeError("bot_app returned another fake")
                telegram.forget()
                idle = await idle_cpu_ms(idle_seconds) if idle_seconds else 0.0
                run = await drive(
                    app, telegram, queues, Pacer(rate), seconds, read=without_echoed_keyboard
                )
                return dataclasses.replace(run, idle_ms=idle)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _markup(params: JSON) -> InlineKeyboardMarkup | None:
    """The keyboard as a bare PTB bot builds one: ``InlineKeyboardButton`` objects."""
    raw = params.get("reply_markup")
    if not isinstance(raw, dict):
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in raw["inline_keyboard"]
        ]
    )


async def _replay_call(bot: ExtBot[None], call: Call) -> None:
    p = call.params
    match call.method:
        case "sendMessage":
            await bot.send_message(
                p["chat_id"], p["text"], reply_markup=_markup(p), protect_content=True
            )
        case "editMessageText":
            await bot.edit_message_text(
                p["text"], chat_id=p["chat_id"], message_id=p["message_id"], reply_markup=_markup(p)
            )
        case "answerCallbackQuery":
            await bot.answer_callback_query(p["callback_query_id"], text=p.get("text"))
        case "deleteMessages":
            await bot.delete_messages(p["chat_id"], p["message_ids"])
        case "deleteMessage":
            await bot.delete_message(p["chat_id"], p["message_id"])
        case other:
            raise RuntimeError(f"the baseline does not replay {other}")


async def baseline_run(
    queues: list[list[Script]],
    rate: float | None,
    seconds: float | None = None,
    idle_seconds: float = 0.0,
) -> Measured:
    telegram = ReplayTelegram(TEST_TOKEN)
    calls: dict[int, list[Call]] = {}
    for queue in queues:
        for script in queue:
            for update, made in zip(script.updates, script.calls, strict=True):
                calls[int(update["update_id"])] = made

    async def replay(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        for call in calls[update.update_id]:
            await _replay_call(context.bot, call)

    app = (
        Application.builder()
        .token(TEST_TOKEN)
        .base_url("http://bot-api.test/bot")
        .request(MeteredRequest(telegram))
        .get_updates_request(MeteredRequest(telegram))
        .concurrent_updates(32)
        .build()
    )
    app.add_handler(TypeHandler(Update, replay))
    async with app:
        idle = await idle_cpu_ms(idle_seconds) if idle_seconds else 0.0
        run = await drive(app, telegram, queues, Pacer(rate), seconds)
        return dataclasses.replace(run, idle_ms=idle)


def argon2id_seconds(rounds: int = 3) -> float:
    """CPU seconds of making one receipt: its one scheme-2 argon2id run at the production limits
    (the median of a few; finding it again costs 2^k runs, but that is not per report)."""
    times = []
    for _ in range(rounds):
        code = new_code()
        started = time.process_time()
        slow_hash_v2(code, 0, os.urandom(16), PRODUCTION_KDF.v2)
        times.append(time.process_time() - started)
    return statistics.median(times)


def _forget_calls(telegram: FakeTelegram) -> None:
    telegram.calls.clear()
    for chat in telegram.chats.values():
        chat.messages.clear()


def _rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``); 0 where unavailable."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


async def memory_per_conversation(
    base: Path, conversations: int, *, traced: bool
) -> tuple[float, float]:
    """Bytes per open conversation, and seconds it took to open them all.

    ``traced``: Python heap growth by tracemalloc (exact but slow: every allocation is traced);
    otherwise growth of the resident set size (includes allocator slack and SQLite's cache).
    """
    data_dir = Path(tempfile.mkdtemp(dir=base))
    try:
        async with bot_app(data_dir) as (app, telegram):
            runtime = runtime_of(app)

            async def open_one(user_id: int) -> None:
                client = ReporterClient(app, telegram, Person(user_id=user_id))
                await client.send("/start")
                await client.click("Русский")
                await tap(client, Op.CHOOSE, "intro", "continue")
                await tap(client, Op.CHOOSE, "consent", "agree")
                await tap(client, Op.CHOOSE, "alone", "ok_now")
                await tap(client, Op.CHOOSE, "what", "unpaid")
                await tap(client, Op.DONE, "what")

            # Warm up every code path (and SQLite's page cache) outside the measurement.
            for uid in range(1, 201):
                await open_one(uid)
            first_measured = 1_000_000
            _forget_calls(telegram)
            gc.collect()
            if traced:
                tracemalloc.start()
                before = tracemalloc.get_traced_memory()[0]
            else:
                before = _rss_bytes()
            started = time.perf_counter()
            batch = 200
            for first in range(first_measured, first_measured + conversations, batch):
                last = min(first + batch, first_measured + conversations)
                await asyncio.gather(*(open_one(uid) for uid in range(first, last)))
                _forget_calls(telegram)
            elapsed = time.perf_counter() - started
            telegram.chats.clear()
            gc.collect()
            if traced:
                after = tracemalloc.get_traced_memory()[0]
                tracemalloc.stop()
            else:
                after = _rss_bytes()
            if len(runtime.chats.conversations) != conversations + 200:
                raise RuntimeError("conversations were lost while opening them")
            return (after - before) / conversations, elapsed
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def memory_rows(base: Path, args: argparse.Namespace) -> str:
    # Memory first, in a fresh process: memory freed by an earlier phase would be reused and
    # hide the growth of the resident set.
    rss, opened_in = await memory_per_conversation(base, args.conversations, traced=False)
    print(f"memory: {rss / 1024:.1f} KiB of RSS per open conversation at {args.conversations}")
    heap, _ = await memory_per_conversation(base, args.traced, traced=True)
    print(f"memory: {heap / 1024:.1f} KiB of Python heap per conversation ({args.traced} traced)")
    return (
        f"| bot: memory per open conversation | {args.conversations:,} reporters left "
        f"mid-report (language chosen, consent and 2 answers given, an open report each), on "
        f"top of 200 warm-up ones | - | {rss / 1024:.1f} KiB per conversation (growth of the "
        f"process's resident memory); {heap / 1024:.1f} KiB of Python heap (tracemalloc, "
        f"{args.traced:,} conversations) | - | (same run) | {args.conversations:,} opened in "
        f"{opened_in:.0f} s |"
    )


def _ratio(bot: list[Measured], baseline: list[Measured]) -> float:
    """The median of the per-round throughput ratios (each round under the same load)."""
    return statistics.median(
        b.per_second / e.per_second for b, e in zip(bot, baseline, strict=True)
    )


def _median_rate(runs: list[Measured]) -> float:
    return statistics.median(m.per_second for m in runs)


async def main_async(args: argparse.Namespace, places: dict[str, Path]) -> None:
    load_before = os.getloadavg()
    memory = await memory_rows(places["disk"], args) if args.conversations else None
    script = await record(places["disk"])
    per_report = len(script.updates)
    calls = sum(len(c) for c in script.calls)
    print(f"recorded: one report is {per_report} updates and {calls} Bot API calls")
    one_q, many_q = scripts(script, 1, args.steps), scripts(script, CONCURRENT, args.steps)
    base_one: list[Measured] = []
    base_many: list[Measured] = []
    bot: dict[tuple[str, int], list[Measured]] = {}
    for n in range(args.rounds):
        base_one.append(await baseline_run(one_q, None))
        base_many.append(await baseline_run(many_q, None))
        line = [f"baseline {base_one[-1].per_second:.0f}/s ({base_many[-1].per_second:.0f}/s)"]
        for place, where in places.items():
            for reporters, queues in ((1, one_q), (CONCURRENT, many_q)):
                run = await bot_run(where, queues, None)
                bot.setdefault((place, reporters), []).append(run)
                line.append(f"{place} x{reporters} {run.per_second:.0f}/s")
                if run.mismatched:
                    raise RuntimeError(f"{run.mismatched} calls differ from the recorded traffic")
        print(f"round {n + 1}: " + ", ".join(line))
    enough = int(PACE * args.paced_seconds * 1.2) + CONCURRENT * per_report
    forever = scripts(script, CONCURRENT, enough)
    paced_base = await baseline_run(forever, PACE, args.paced_seconds, IDLE_SECONDS)
    paced_bot = await bot_run(places["disk"], forever, PACE, args.paced_seconds, IDLE_SECONDS)
    argon = argon2id_seconds()
    argon_ms = 1000.0 * argon / per_report
    for side, run in (("baseline", paced_base), ("bot", paced_bot)):
        print(
            f"paced at {PACE:.0f} steps/s, {side}: {run.cpu_ms:.2f} ms CPU per step without the "
            f"fake Telegram ({run.process_cpu_ms:.2f} ms with it; "
            f"{run.per_second:.1f} steps/s); idle {run.idle_ms:.1f} ms CPU per second"
        )
    print(f"argon2id: {argon * 1000:.0f} ms per report, {argon_ms:.2f} ms per step")
    load_after = os.getloadavg()
    load = f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    print(f"machine: {os.cpu_count()} CPUs, {load}")
    print()
    b1, bm = _median_rate(base_one), _median_rate(base_many)
    cells = []
    for place in places:
        one, many = bot[(place, 1)], bot[(place, CONCURRENT)]
        cells.append(
            f"{place}: one reporter {_median_rate(one):.0f} steps/s "
            f"(**x{_ratio(one, base_one):.2f}**), {CONCURRENT} at once "
            f"{_median_rate(many):.0f} steps/s (**x{_ratio(many, base_many):.2f}**)"
        )
    print(
        f"| bot: questionnaire steps against PTB doing the same Bot API traffic | {args.steps} "
        f"steps ({per_report} per report: presses, numbers, texts, review, submit with its "
        f"receipt) of the shipped flow, the same updates fed to both through `process_update`, "
        f"calls to the same in-memory fake Telegram; {args.rounds} alternating rounds, medians "
        f"| bare PTB making exactly the bot's {calls} calls per report (keyboards of "
        f"`InlineKeyboardButton`s): {b1:.0f} steps/s one reporter, {bm:.0f} steps/s with "
        f"{CONCURRENT} | {'; '.join(cells)} | see result | `python -m bench.bench_bot --dir .` "
        f"| {load} |"
    )
    print(
        f"| bot: CPU per step at {PACE:.0f} steps/s | {CONCURRENT} reporters paced to "
        f"{PACE:.0f} steps/s for {args.paced_seconds:.0f} s, on disk; the process's CPU time "
        f"(every thread) per step less the in-memory fake Telegram's own (its thread time "
        f"answering calls: Telegram's machines do that work in production) | the same PTB "
        f"replay paced the same: {paced_base.cpu_ms:.2f} ms per step "
        f"({paced_base.process_cpu_ms:.2f} ms with the fake's) | {paced_bot.cpu_ms:.2f} ms per "
        f"step ({paced_bot.process_cpu_ms:.2f} ms with the fake's), of which argon2id (one "
        f"receipt per report, {argon * 1000:.0f} ms) {argon_ms:.2f} ms; idle: bot "
        f"{paced_bot.idle_ms:.1f} ms CPU per second, PTB {paced_base.idle_ms:.1f} | "
        f"**x{paced_bot.cpu_ms / paced_base.cpu_ms:.2f}** | (same run) | |"
    )
    if memory is not None:
        print(memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conversations", type=int, default=10_000, help="0: no memory rows")
    parser.add_argument("--traced", type=int, default=500, help="conversations under tracemalloc")
    parser.add_argument("--dir", default=".", help="where the benchmark's databases go (a disk)")
    parser.add_argument(
        "--tmpfs",
        default="/dev/shm",  # noqa: S108 - the benchmark's scratch databases on tmpfs, on purpose
        help="a tmpfs for the same runs, or ''",
    )
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="for direction while working: 450 steps, 1 round, no memory rows, paced 10 s",
    )
    args = parser.parse_args()
    if args.quick:
        args.steps, args.rounds, args.conversations, args.paced_seconds = 450, 1, 0, 10.0
    places = {"disk": Path(args.dir)}
    if args.tmpfs and Path(args.tmpfs).is_dir():
        places["tmpfs"] = Path(args.tmpfs)
    asyncio.run(main_async(args, places))


if __name__ == "__main__":
    main()
