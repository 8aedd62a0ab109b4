"""A database read without keys tells neither order, branch nor follow-up (issue 17.1).

The attacker holds the file and ``sqlite3``, no analyst key. Reports are written as the bot
writes them: answers in the order the questions were asked, under random slots; some reporters
take the short path (5 answers), some the long one (25); some get a receipt code; some reports
are follow-ups (2 additions, no code). Then the file is read as it lies.
"""

from __future__ import annotations

import itertools
import random
import secrets
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bot.sealing.envelope import ReportContext, ReportStatus, seal_answer, seal_dummy, seal_manifest
from bot.sealing.keys import Recipients
from storage.base import (
    MAX_SLOT,
    ReportId,
    ReportState,
    ReportStore,
    padded_answer_rows,
    put_dummy_receipt,
)
from storage.schema import DB_FILENAME
from storage.sqlite import SqliteReportStore
from tests.bot_support import screen_callbacks
from tests.digest_support import FLOW_ID, FLOW_VERSION, make_keys

written: dict[bytes, int] = {}  # envelope -> the order it was written in (the truth)


async def _write(
    store: ReportStore, recipients: Recipients, answers: int, *, code: bool, followup: bool
) -> ReportId:
    report_id = await store.open_report()
    ctx = ReportContext(report_id, FLOW_ID, FLOW_VERSION, "ru")
    slots = random.Random(secrets.randbits(64)).sample(range(MAX_SLOT + 1), answers + 1)
    for n in range(answers):  # in the order the questions are asked
        question = "followup" if followup else f"q{n}"
        envelope = seal_answer(
            recipients, ctx, slot=slots[n], question=question, answer={"text": f"a{n}"}
        )
        written[envelope] = len(written)
        await store.put_answer(report_id, slots[n], envelope)
    if code:
        await store.put_receipt(secrets.token_bytes(32), report_id)
    else:  # what the bot does for reports without a code and for every follow-up
        await put_dummy_receipt(store, report_id)
    manifest = seal_manifest(
        recipients, ctx, slot=slots[-1], status=ReportStatus.COMPLETE, slots=slots[:-1]
    )
    await store.close_report(
        report_id, ReportState.COMPLETE, manifest, dummy=lambda: seal_dummy(recipients)
    )
    return report_id


def _in_order(sequence: list[int]) -> float:
    """Share of neighbouring pairs in write order: about 0.5 means the order says nothing."""
    pairs = list(itertools.pairwise(sequence))
    return sum(a < b for a, b in pairs) / len(pairs)


async def test_a_disk_holder_cannot_recover_order_branch_or_followup_from_the_rows(
    tmp_path: Path,
) -> None:
    keys = make_keys(analysts=2)
    kinds: dict[bytes, str] = {}
    opened: list[bytes] = []
    async with await SqliteReportStore.open(tmp_path) as store:
        for n in range(60):
            kind = ("short", "long", "followup")[n % 3]
            report_id = await _write(
                store,
                keys.recipients,
                {"short": 5, "long": 25, "followup": 2}[kind],
                code=kind == "long" or n % 2 == 0,
                followup=kind == "followup",
            )
            raw = bytes.fromhex(report_id)
            kinds[raw] = kind
            opened.append(raw)

    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        # order: the rows as they lie (a rowid table lies in rowid order: here the random cell
        # of migration 0007), reports and answers, against the order they were written
        report_rows = [bytes(r[0]) for r in conn.execute("SELECT id FROM report ORDER BY rowid")]
        assert 0.3 < _in_order([opened.index(r) for r in report_rows]) < 0.7
        per_report: dict[bytes, list[int]] = defaultdict(list)
        shape: dict[bytes, list[int]] = defaultdict(list)
        every_answer: list[int] = []  # the whole table as it lies, in write order numbers
        for report_id, envelope in conn.execute(
            "SELECT report_id, envelope FROM answer ORDER BY rowid"
        ):
            shape[bytes(report_id)].append(len(envelope))
            if bytes(envelope) in written:
                per_report[bytes(report_id)].append(written[bytes(envelope)])
                every_answer.append(written[bytes(envelope)])
        answers_in_order = [_in_order(seq) for seq in per_report.values() if len(seq) > 2]
        assert 0.4 < sum(answers_in_order) / len(answers_in_order) < 0.6
        # branch: every report has the same number of answer rows, of the same lengths
        assert {len(lengths) for lengths in shape.values()} == {padded_answer_rows(25)}
        assert len({tuple(sorted(lengths)) for lengths in shape.values()}) == 1
        # follow-up: the same shape as a report, receipt row included
        receipts = {
            bytes(r[0]): len(r[1]) for r in conn.execute("SELECT report_id, tag FROM receipt")
        }
        features = {
            kind: {
                (
                    state,
                    len(manifest) if manifest else 0,
                    receipts.get(bytes(rid)),
                    len(shape[bytes(rid)]),
                )
                for rid, state, manifest in conn.execute("SELECT id, state, manifest FROM report")
                if kinds[bytes(rid)] == kind
            }
            for kind in ("short", "long", "followup")
        }
        assert features["short"] == features["long"] == features["followup"]
        assert len(features["followup"]) == 1
        # and no table hands out rowids in the order rows were written: answers across the
        # whole table lie in no order either, and the tables without a random cell have no rowid
        assert 0.4 < _in_order(every_answer) < 0.6
        for table in ("attachment", "receipt", "reply"):
            sql = conn.execute(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()[0]
            assert sql.rstrip().endswith("WITHOUT ROWID"), table
    finally:
        conn.close()


async def test_what_the_bot_itself_writes_has_one_shape_for_reports_exits_and_followups(
    tmp_path: Path,
) -> None:
    """The same attack on a database the real Application wrote: a short report with a code, a
    longer one, a report ended by quick exit (no code shown), and a follow-up sent with a code.
    Without keys each is one report row with a manifest of one length, one receipt row with a
    tag of one length, and the same answer rows of the same lengths: the disk does not say which
    was short, which came back, or which was left in a hurry (only the state column says
    complete or interrupted, as the bot's own restarts also leave)."""
    from handlers.callbacks import Op
    from tests.bot_support import tap, walk
    from tests.receipts_support import receipt_bot, report, shown_code

    def press(client: Any, op: Op) -> Any:
        for mid, _, cb in screen_callbacks(client):
            if cb.op is op:
                return client.press(mid, cb.encode())
        raise AssertionError(f"no {op.name} button on screen")

    async with receipt_bot(tmp_path) as bot:
        short = bot.client(language_code="ru")
        await report(short)
        code = shown_code(short)
        await press(short, Op.RECEIPT_KEPT)
        longer = bot.client(language_code="ru")
        await report(
            longer,
            plan={
                "alone": [("choose", "ok_now")],
                "about": [("choose", "me")],
                "more": [("text", "x")],
            },
        )
        hurried = bot.client(language_code="ru")
        await hurried.send("/start")
        await hurried.click("Русский")
        await walk(hurried, {"alone": [("choose", "ok_now")]}, stop_at="place")
        await tap(hurried, Op.CHOOSE, "place", "moscow")
        await hurried.send("/panic")
        await short.send("/followup")
        await short.send(code.display())
        await short.send("y")
        await press(short, Op.FOLLOWUP_SEND)
        ready = await bot.store.ready_reports()
        assert len(ready) == 4
        assert await bot.store.open_reports() == []

    conn = sqlite3.connect(tmp_path / "data" / DB_FILENAME)
    try:
        receipts = {
            bytes(r[0]): len(r[1]) for r in conn.execute("SELECT report_id, tag FROM receipt")
        }
        shape: dict[bytes, list[int]] = defaultdict(list)
        for report_id, envelope in conn.execute("SELECT report_id, envelope FROM answer"):
            shape[bytes(report_id)].append(len(envelope))
        features = {
            (len(manifest), receipts.get(bytes(rid)), tuple(sorted(shape[bytes(rid)])))
            for rid, manifest in conn.execute("SELECT id, manifest FROM report")
        }
        states = sorted(state for (state,) in conn.execute("SELECT state FROM report"))
    finally:
        conn.close()
    assert len(features) == 1, features  # four reports, one shape
    [(_, tag_length, rows)] = features
    assert tag_length is not None  # every report has its receipt row
    assert len(rows) == padded_answer_rows(1)
    assert states == ["complete", "complete", "complete", "interrupted"]


async def test_a_clash_of_two_random_cells_draws_again_and_loses_no_answer(
    tmp_path: Path,
) -> None:
    """Reports and answers lie in the order of random cells (migration 0007). Two equal draws
    must not cost a report or an answer, nor overwrite another report's row: the store draws a
    fresh cell. A source that only ever clashes is an error, never a silent loss."""
    draws = iter([1, 1, 1, 2, 1, 3, 1, 1, 4])
    async with await SqliteReportStore.open(tmp_path, cells=lambda: next(draws)) as store:
        first = await store.open_report()  # report cell 1
        await store.put_answer(first, 10, b"first-10")  # answer cell 1
        second = await store.open_report()  # report cell 1 is taken: 2
        await store.put_answer(second, 10, b"second-10")  # answer cell 1 is taken: 3
        await store.put_answer(first, 10, b"first-10-again")  # same slot: updated in place
        await store.put_answer(first, 11, b"first-11")  # 1 and 1 taken: 4
        assert dict((await store.load_report(first)).answers) == {
            10: b"first-10-again",
            11: b"first-11",
        }
        assert dict((await store.load_report(second)).answers) == {10: b"second-10"}
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        cells = {bytes(r).hex(): c for c, r in conn.execute("SELECT cell, id FROM report")}
        assert cells == {first: 1, second: 2}
        assert sorted(c for (c,) in conn.execute("SELECT cell FROM answer")) == [1, 3, 4]
    finally:
        conn.close()

    async with await SqliteReportStore.open(tmp_path, cells=lambda: 1) as store:
        with pytest.raises(sqlite3.IntegrityError, match="random cells of answer taken"):
            await store.put_answer(second, 12, b"never-stored")
        assert dict((await store.load_report(second)).answers) == {10: b"second-10"}
