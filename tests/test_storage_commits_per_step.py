"""A step of the report costs one durable commit at most, and few trips to SQLite's thread
(issue 13.5): the failure blocked is a flood of erase-journal commits per screen (the reporter's
message id, the answer and the new screen's id each committed alone, each waited for) and of
per-statement thread round trips (``BEGIN``, each statement and ``COMMIT`` one trip each).

Counted, not timed: the real Application (``process_update``) with the real SQLite store walks
the shipped flow as the step benchmark's reporter does (presses, numbers, texts, the review);
every SQL statement on every connection is seen through ``sqlite3``'s trace callback, and every
thread round trip as a ``call_soon_threadsafe`` into the event loop (how a worker thread hands a
result back). After each update the store is let settle (``settled``), so that a commit the
step caused is counted for that step even when the step did not wait for it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from handlers.callbacks import Op
from tests.bot_support import (
    current_qid,
    on_review,
    running_bot,
    screen_callbacks,
    shipped_flow,
    tap,
)
from tests.botclient import ReporterClient

TEXTS = {"text": "Зарплату не платят три месяца.", "place": "Владивосток"}


@dataclass
class Tally:
    """What the store did, counted from outside it."""

    statements: list[str] = field(default_factory=list)
    hops: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def traced(self, sql: str) -> None:
        with self.lock:
            self.statements.append(sql.split(None, 1)[0].upper() if sql.strip() else "")

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return (len(self.statements), self.hops)


@dataclass(frozen=True)
class StepCount:
    what: str
    waited: int
    """Transactions the update could not finish without (its answer, the ids before a screen)."""
    behind: int
    """Transactions it queued and did not wait for (the ids of what it sent last)."""
    hops: int
    statements: int


@contextmanager
def counting(tally: Tally, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every sqlite3 connection opened from now on reports its statements to ``tally``; every
    thread's hand-back into the running loop counts as one round trip."""
    connect = sqlite3.connect

    def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = connect(*args, **kwargs)
        conn.set_trace_callback(tally.traced)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced_connect)
    loop = asyncio.get_running_loop()
    original = loop.call_soon_threadsafe

    def counted(callback: Any, *args: Any, context: Any = None) -> Any:
        if threading.current_thread() is not threading.main_thread():
            with tally.lock:
                tally.hops += 1
        return original(callback, *args, context=context)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
    yield


class Gate:
    """Holds each of the store's write transactions before it goes to the writer's thread, so
    that the test can tell which ones an update waits for: an update that cannot finish while
    a transaction is held waits for it."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held: list[asyncio.Event] = []
        self.open = False
        run = store._writer.run  # the one trip a transaction makes to the writer's thread

        async def gated(fn: Any) -> Any:
            if self.open:
                return await run(fn)
            opened = asyncio.Event()
            self.held.append(opened)
            await opened.wait()
            return await run(fn)

        monkeypatch.setattr(store._writer, "run", gated)

    def release(self) -> None:
        self.held.pop(0).set()

    def lift(self) -> None:
        """Let every transaction through again (the bot's own stop writes too)."""
        self.open = True
        while self.held:
            self.release()


async def _spin() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


async def measured(what: str, action: Any, gate: Gate, tally: Tally, store: Any) -> StepCount:
    before = tally.snapshot()
    task = asyncio.ensure_future(action)
    waited = 0
    while True:
        await _spin()
        if task.done():
            break
        if gate.held:
            gate.release()
            waited += 1
        else:
            await asyncio.sleep(0.002)  # a transaction on the writer's thread
    await task
    behind = 0
    while gate.held or not _idle(store):
        if gate.held:
            gate.release()
            behind += 1
        await _spin()
        await asyncio.sleep(0.002)
    await store.settled()
    after = tally.snapshot()
    statements, hops = (a - b for a, b in zip(after, before, strict=True))
    return StepCount(what, waited, behind, hops, statements)


def _idle(store: Any) -> bool:
    last = store._last
    return last is None or last.done()


async def scripted_report(
    client: ReporterClient, gate: Gate, tally: Tally, store: Any, limit: int = 120
) -> list[StepCount]:
    """The step benchmark's reporter: every question answered, then the review's submit."""
    counts: list[StepCount] = []

    async def step(what: str, action: Any) -> None:
        counts.append(await measured(what, action, gate, tally, store))

    await step("/start", client.send("/start"))
    await step("language", client.click("Русский"))
    for _ in range(limit):
        if on_review(client):
            await step("submit", tap(client, Op.SUBMIT))
            return counts
        qid = current_qid(client)
        assert qid is not None, "the walk left the questions before the review"
        callbacks = [(mid, cb) for mid, _, cb in screen_callbacks(client)]
        choices = [(mid, cb) for mid, cb in callbacks if cb.op is Op.CHOOSE]
        ops = {cb.op: (mid, cb) for mid, cb in callbacks}
        kind = shipped_flow().question(qid).kind.value
        if kind == "multi":
            mid, cb = choices[0]
            await step("press", client.press(mid, cb.encode()))
            mid, cb = ops[Op.DONE]
            await step("press", client.press(mid, cb.encode()))
        elif kind == "number":
            await step("text", client.send("12"))
        elif kind in ("text", "place"):
            await step("text", client.send(TEXTS[kind]))
        elif kind == "media":
            mid, cb = ops[Op.SKIP]
            await step("press", client.press(mid, cb.encode()))
        else:
            assert choices, f"no way past {qid}"
            mid, cb = choices[0]
            await step("press", client.press(mid, cb.encode()))
    raise AssertionError("the walk did not reach the review")


async def test_a_step_waits_for_one_commit_not_a_flood_of_erase_journal_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tally = Tally()
    with counting(tally, monkeypatch):
        async with running_bot(tmp_path) as bot:
            gate = Gate(bot.store, monkeypatch)
            try:
                counts = await scripted_report(bot.client(), gate, tally, bot.store)
            finally:
                gate.lift()
    *questions, submit = counts
    assert submit.what == "submit"
    table = "\n".join(
        f"{c.what:9} waited {c.waited} behind {c.behind} hops {c.hops} statements {c.statements}"
        for c in counts
    )
    assert len(questions) > 30, "the walk is the whole flow"
    assert sum(c.waited for c in questions) > 25, table  # every answer committed before it shows
    # the report's opening (its row, then the first answer) is the one step that waits twice
    assert sorted(c.waited for c in questions)[-2:] <= [1, 2], table
    for c in questions:  # otherwise one: the reporter's message id rides with the answer;
        assert c.waited + c.behind <= 2, table  # and the new screen's id, not waited for
    for c in counts:
        assert c.hops <= c.waited + c.behind, table  # one trip to SQLite's thread each
    # submit keeps its order of commits (issue 12.5, tests/test_erase_crash_points.py): the
    # receipt row, the report closed, then the erase noted; nothing more
    assert submit.waited + submit.behind <= 4, table
