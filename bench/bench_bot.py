"""Bot benchmark: questionnaire steps per second through the whole stack, against a bare
python-telegram-bot echo bot in the same run; and memory per open conversation.

    .venv/bin/python -m bench.bench_bot [--steps 600] [--rounds 3] [--conversations 10000]
                                         [--dir PATH]

- *echo* (the floor): a bare PTB ``Application`` with one ``MessageHandler`` that sends each text
  back, fed text updates through ``process_update``; Bot API calls go to the same in-memory
  recording ``BaseRequest`` as the bot's (``tests.botclient``), so no network is measured.
- *bot, one reporter at a time*: the real Application from ``bot.app.build_application`` (real
  engine, sealing to 2 analyst keys, the SQLite store with durable commits) driven through the
  shipped flow by reporters who answer every question (button presses, numbers, texts). One step
  is one update: in -> engine -> (an accepted answer: seal -> durable commit) -> Bot API out.
- *bot, 50 reporters at once*: the same, 50 conversations interleaved (the store commits them in
  groups, as it would under load).

Memory: 10,000 reporters each left mid-report (language chosen, consent and two answers given,
so each holds engine state, a slot map, message ids, a flood budget and an open report); the
growth of the process's resident memory divided by the number of conversations, and, on a
smaller sample (tracemalloc makes every allocation slow), the Python heap growth. The fake
Telegram's own records are cleared as it goes, so only the bot's memory is counted.

Memory is measured first (fresh process). Rounds alternate echo and bot; the ratio is taken
within each round (same machine load) and the median of those is reported. The disk matters
(fsync: each accepted answer is a durable commit): use ``--dir`` on the disk the bot will use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.app import App, Deps, build_application, runtime_of
from bot.sealing.keys import Recipients
from handlers.callbacks import Op
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
from tests.botclient import FakeTelegram, Person, RecordingRequest, ReporterClient

CONCURRENT = 50
TEXTS = {"text": "Зарплату не платят три месяца. 월급을 받지 못했습니다.", "place": "Владивосток"}


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


@contextlib.asynccontextmanager
async def bot_app(data_dir: Path, **overrides: Any) -> AsyncIterator[tuple[App, FakeTelegram]]:
    telegram = FakeTelegram(TEST_TOKEN)
    analysts = [AnalystSecretKey.generate().public for _ in range(2)]
    settings = make_settings(
        data_dir,
        send_per_second=1000.0,
        messages_per_minute=600,
        reports_per_day=1000,
        max_open_conversations=1_000_000,
        **overrides,
    )
    store = await SqliteReportStore.open(data_dir)
    deps = Deps(
        store=store,
        recipients=Recipients(analysts),
        flow=shipped_flow(),
        ui=shipped_ui(),
        request=RecordingRequest(telegram),
    )
    app = build_application(settings, deps)
    try:
        async with app:
            await runtime_of(app).post_init(app)
            yield app, telegram
    finally:
        await store.close()


def _forget_calls(telegram: FakeTelegram) -> None:
    telegram.calls.clear()
    for chat in telegram.chats.values():
        chat.messages.clear()


async def bot_round(base: Path, steps: int, concurrent: int) -> float:
    data_dir = Path(tempfile.mkdtemp(dir=base))
    try:
        async with bot_app(data_dir) as (app, telegram):
            counter = Counter()
            next_user = [1_000]

            async def reporter_loop() -> None:
                while counter.steps < steps:
                    next_user[0] += 1
                    client = ReporterClient(app, telegram, Person(user_id=next_user[0]))
                    await answer_everything(client, counter, steps)

            started = time.perf_counter()
            await asyncio.gather(*(reporter_loop() for _ in range(concurrent)))
            elapsed = time.perf_counter() - started
            return counter.steps / elapsed
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def echo_round(steps: int) -> float:
    telegram = FakeTelegram(TEST_TOKEN)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None and update.message.text is not None:
            await update.message.reply_text(update.message.text)

    app = (
        Application.builder()
        .token(TEST_TOKEN)
        .base_url("http://bot-api.test/bot")
        .request(RecordingRequest(telegram))
        .get_updates_request(RecordingRequest(telegram))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        client = ReporterClient(app, telegram, Person())
        started = time.perf_counter()
        for n in range(steps):
            await client.send(f"{TEXTS['text']} {n}")
        elapsed = time.perf_counter() - started
    return steps / elapsed


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
                await tap(client, Op.CHOOSE, "about", "me")

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


async def main_async(args: argparse.Namespace) -> None:
    base = Path(args.dir)
    # Memory first, in a fresh process: memory freed by an earlier phase would be reused and
    # hide the growth of the resident set.
    rss, opened_in = await memory_per_conversation(base, args.conversations, traced=False)
    print(f"memory: {rss / 1024:.1f} KiB of RSS per open conversation at {args.conversations}")
    heap, _ = await memory_per_conversation(base, args.traced, traced=True)
    print(f"memory: {heap / 1024:.1f} KiB of Python heap per conversation ({args.traced} traced)")
    echo: list[float] = []
    one: list[float] = []
    many: list[float] = []
    for n in range(args.rounds):
        echo.append(await echo_round(args.steps))
        one.append(await bot_round(base, args.steps, 1))
        many.append(await bot_round(base, args.steps, CONCURRENT))
        print(
            f"round {n + 1}: echo {echo[-1]:.0f}/s, bot one reporter {one[-1]:.0f}/s, "
            f"bot {CONCURRENT} reporters {many[-1]:.0f}/s"
        )
    echo_m, one_m, many_m = (statistics.median(x) for x in (echo, one, many))
    # Ratios within each round (same machine load), then their median.
    one_r = statistics.median(o / e for o, e in zip(one, echo, strict=True))
    many_r = statistics.median(m / e for m, e in zip(many, echo, strict=True))
    print()
    print(
        f"| bot: questionnaire steps through the whole stack | {args.steps} steps (button "
        f"presses, numbers, texts) of the shipped flow, answers sealed to 2 analyst keys and "
        f"committed to SQLite, Bot API calls to an in-memory recording request; {args.rounds} "
        f"alternating rounds, medians | bare PTB echo bot, same request, `process_update`: "
        f"{echo_m:.0f} updates/s | one reporter at a time {one_m:.0f} steps/s (x{one_r:.2f}); "
        f"{CONCURRENT} reporters at once {many_m:.0f} steps/s (x{many_r:.2f}) | |"
    )
    print(
        f"| bot: memory per open conversation | {args.conversations:,} reporters left "
        f"mid-report (language chosen, consent and 2 answers given, an open report each), on "
        f"top of 200 warm-up ones | - | {rss / 1024:.1f} KiB per conversation (growth of the "
        f"process's resident memory); {heap / 1024:.1f} KiB of Python heap (tracemalloc, "
        f"{args.traced:,} conversations) | {args.conversations:,} opened in {opened_in:.0f} s "
        f"|"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--traced", type=int, default=500, help="conversations under tracemalloc")
    parser.add_argument("--dir", default=".", help="where the benchmark's databases go")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
