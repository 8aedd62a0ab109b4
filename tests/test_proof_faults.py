"""Proof suite: disk faults under a running bot. A full disk and a read-only database mid-report:
every reporter gets a calm, localised answer, nothing crashes, and nothing acknowledged is lost.

The bot runs whole (real Application, engine, sealing, SQLite store) over the recording Bot API.
Reporter A finishes a report before the fault (acknowledged: "received and sealed"); reporter B
is half-way through. Then the disk fails:

- **full disk**: the data directory lives on a small tmpfs the test mounts (it runs as root, as CI
  does), and the test fills it to the last byte with a filler file. Where mounting is not allowed
  the test is skipped and says so: SQLite's ``max_page_count`` is no substitute (inserts that fit
  in free space inside existing pages still succeed), so nothing weaker stands in for it.
- **read-only database**: ``PRAGMA query_only`` on the store's write connection, which makes every
  write fail with ``SQLITE_READONLY``, as a database file the process may no longer write does.
  (A real read-only remount is refused by Linux while SQLite holds the file open for writing.)

While the fault lasts, B keeps answering (and presses buttons): each attempt must be answered with
the calm ``ui.error.internal`` line in B's language, the same question must stay on screen, and no
answer may be taken as accepted. Then the fault is cleared: B goes on and submits. At the end, and
again after the store is closed and reopened from disk, both reports are complete and open with
every answer that was acknowledged.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage import ReportState, SqliteReportStore
from tests.bot_support import BotHarness, current_qid, running_bot, tap, walk
from tests.botclient import ReporterClient, texts_of
from tests.proof_support import report, scaled

PLAN_A = {
    "about": [("choose", "me")],
    "site": [("choose", "construction")],
    "place": [("text", "Владивосток")],
    "more": [("text", "Паспорт забрали в первый день.")],
}


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "6m") -> Iterator[Path | None]:
    """A tmpfs mounted at ``where`` (None when this machine does not allow mounting)."""
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(folder: Path) -> Path:
    """Write a filler file until the file system is full, to the last byte; return it."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 8, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler


@dataclass
class Fault:
    kind: str
    backend: str
    store: SqliteReportStore
    folder: Path | None = None
    _filler: Path | None = None

    async def start(self) -> None:
        if self.kind == "read-only":
            # the store's own write connection: the error comes from SQLite, not from a mock
            await self.store._writer.execute("PRAGMA query_only = 1")
        else:
            assert self.folder is not None
            self._filler = fill(self.folder)

    async def stop(self) -> None:
        if self.kind == "read-only":
            await self.store._writer.execute("PRAGMA query_only = 0")
        elif self._filler is not None:
            self._filler.unlink()


@contextlib.asynccontextmanager
async def bot_with_fault(
    root: Path, mounted: Path | None, kind: str
) -> AsyncIterator[tuple[BotHarness, Fault]]:
    async with running_bot(root) as bot:
        backend = "tmpfs filled" if kind == "full disk" else "query_only"
        yield bot, Fault(kind, backend, bot.store, mounted if kind == "full disk" else None)


async def _start(client: ReporterClient, label: str) -> None:
    await client.send("/start")
    await client.click(label)


async def _attempts_under_fault(
    bot: BotHarness, client: ReporterClient, lang: str, attempts: int
) -> tuple[int, int]:
    """Answer the question on screen over and over; returns (attempts, calm replies)."""
    calm = bot.ui(lang, "ui.error.internal").split("{")[0].strip()
    made = replies = 0
    for n in range(attempts):
        qid = current_qid(client)
        assert qid is not None
        if qid == "place" or n % 2:
            calls = await client.send(f"Хабаровск {n}")
        else:
            calls = await tap(client, Op.SKIP, qid)
        made += 1
        said = texts_of(calls)
        replies += any(calm in text for text in said)
        assert current_qid(client) == qid, "an answer was taken as accepted while writes fail"
    return made, replies


async def _run(tmp_path: Path, kind: str) -> None:
    with small_tmpfs(tmp_path / "fs") as mounted:
        if kind == "full disk" and mounted is None:
            pytest.skip("mounting a small tmpfs is not allowed here: no real full disk to test")
        root = mounted if kind == "full disk" and mounted is not None else tmp_path
        await _run_on(root, mounted, kind)


async def _run_on(root: Path, mounted: Path | None, kind: str) -> None:
    async with bot_with_fault(root, mounted, kind) as (bot, fault):
        errors_before = bot.runtime.errors.count
        alice = bot.client(language_code="ru")
        await _start(alice, "Русский")
        await walk(alice, PLAN_A)
        calls = await tap(alice, Op.SUBMIT)
        assert bot.ui("ru", "ui.done.thanks") in texts_of(calls)  # A is acknowledged

        boris = bot.client(language_code="ko")
        await _start(boris, "조선말 (한국어)")
        await walk(
            boris, {"about": [("choose", "me")], "site": [("choose", "clothing")]}, stop_at="place"
        )
        assert current_qid(boris) == "place"

        await fault.start()
        attempts, calm = await _attempts_under_fault(bot, boris, "ko", scaled(6))
        await fault.stop()

        await boris.send("하바롭스크")
        await walk(boris, {"more": [("text", "로임을 받지 못했습니다")]})
        calls = await tap(boris, Op.SUBMIT)
        assert bot.ui("ko", "ui.done.thanks") in texts_of(calls)

        reports = await bot.reports()
        opened = [bot.open(r) for r in reports]
        data_dir = bot.data_dir
        analyst = bot.analyst
        fired = bot.runtime.errors.count - errors_before
    # Reopened from disk: which acknowledged reports are there, complete, with a manifest.
    async with await SqliteReportStore.open(data_dir) as store:
        ready = await store.ready_reports()
        complete_on_disk = 0
        for report_id in ready:
            stored = await store.load_report(report_id)
            complete_on_disk += stored.state is ReportState.COMPLETE and stored.manifest is not None
    del analyst
    acknowledged = ("Владивосток", "하바롭스크")  # the places of the two reports thanked for
    delivered = [
        place
        for place in acknowledged
        if any(
            o.state is ReportState.COMPLETE and place in str(o.answers.get("place", ""))
            for o in opened
        )
    ]
    lost = len(acknowledged) - min(len(delivered), complete_on_disk)
    report(
        f"faults-{kind.replace(' ', '-')}",
        backend=fault.backend,
        faults_injected=attempts,
        calm_replies=calm,
        reports_acknowledged=len(acknowledged),
        reports_delivered_complete=len(delivered),
        lost=lost,
    )
    assert calm == attempts, f"{attempts - calm} attempts under the fault got no calm answer"
    assert fired == attempts
    missing = set(acknowledged) - set(delivered)
    assert lost == 0, f"acknowledged but not delivered complete: {missing}"
    assert sorted(o.state for o in opened) == [ReportState.COMPLETE] * 2
    assert len(ready) == complete_on_disk == 2


@pytest.mark.slow
async def test_full_disk_mid_report_gets_calm_answers_and_loses_nothing(tmp_path: Path) -> None:
    await _run(tmp_path, "full disk")


@pytest.mark.slow
async def test_read_only_database_mid_report_gets_calm_answers_and_loses_nothing(
    tmp_path: Path,
) -> None:
    await _run(tmp_path, "read-only")
