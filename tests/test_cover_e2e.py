"""Cover mode over HTTP (issue 15, "What it must show"): ``reportbot run`` as a subprocess with the
cover on, against the fake Bot API that records what each chat still shows.

After each path (phrasebook only; entry, report, submit; entry, quick exit; entry, /panic;
duress; a restart mid-report, by SIGTERM and by SIGKILL) a minder scrolling the chat finds
phrasebook content only (``tests.cover_support.not_phrasebook``) and a phrasebook screen to go
on from; and no log line or file the bot wrote holds an entry or duress code.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage.base import ReportState
from storage.sqlite import open_store
from tests.bot_support import DURESS_CODE, ENTRY_CODE, OLD_ENTRY_CODE, shipped_phrasebook, tap, walk
from tests.cover_support import not_phrasebook, phrasebook_screens_with_buttons
from tests.storage_support import find_leaks
from tests.test_erase_e2e import Bot, Markers, Reporter, fake_telegram

pytestmark = pytest.mark.slow

BOOK = shipped_phrasebook()
COVER_ENV = {
    "REPORTBOT_COVER": "true",
    "REPORTBOT_ENTRY_CODES": f"{ENTRY_CODE}, {OLD_ENTRY_CODE}",
    "REPORTBOT_DURESS_CODES": DURESS_CODE,
}
CODE_CANARIES = ["ENTRYCANARY", "OLDCANARY", "DURESSCANARY", ENTRY_CODE, DURESS_CODE]


class Worker(Reporter):
    """A reporter in cover mode: the phrasebook first, then the entry code."""

    async def browse(self) -> None:
        await self.client.send("/start")
        topic = BOOK.spec.topics[0]
        await self.client.click(BOOK.text("ru", f"topic.{topic.id}"))
        await self.client.click(BOOK.text("ru", f"section.{topic.sections[0].id}"))
        await self.client.send("аптека")

    async def begin(self) -> None:
        await self.browse()
        await self.client.send(ENTRY_CODE)
        await self.client.click("Русский")
        await tap(self.client, Op.CHOOSE, "intro", "continue")
        await tap(self.client, Op.CHOOSE, "consent", "agree")

    async def halfway(self, markers: Markers) -> None:
        await self.begin()
        await walk(
            self.client,
            {"about": [("choose", "me")], "place": [("text", markers.answer())]},
            stop_at="hours",
        )

    def minder_finds(self) -> list[str]:
        """What a minder scrolling this chat would find out of place; [] if only phrasebook."""
        shown = self.server.visible(self.client.chat_id)
        found = not_phrasebook(shown)
        if phrasebook_screens_with_buttons(shown) < 1:
            found.append("no phrasebook screen to go on from")
        return found


def _no_code_anywhere(bot: Bot) -> None:
    leaks = find_leaks(bot.data_dir, CODE_CANARIES) + find_leaks(bot.logs, CODE_CANARIES)
    lowered = [c.lower() for c in CODE_CANARIES]
    leaks += find_leaks(bot.data_dir, lowered) + find_leaks(bot.logs, lowered)
    assert leaks == [], leaks


def _logs_exist(bot: Bot) -> Iterator[Path]:
    yield from (p for p in bot.logs.iterdir() if p.stat().st_size > 0)


async def _submit(worker: Worker, markers: Markers) -> None:
    await worker.begin()
    await walk(worker.client, {"about": [("choose", "me")], "more": [("text", markers.answer())]})
    await tap(worker.client, Op.SUBMIT)
    await worker.wait_for_receipt()


async def test_after_every_way_out_a_minder_finds_only_the_phrasebook(tmp_path: Path) -> None:
    markers = Markers()
    async with fake_telegram() as server:
        bot = Bot(tmp_path, server, extra_env=COVER_ENV)
        await bot.start()
        try:
            found: dict[str, list[str]] = {}
            only = Worker(server, markers.person())
            await only.browse()
            await only.client.send("Kvass-Lantern-0000")  # a wrong code: a search, no result
            found["phrasebook only"] = only.minder_finds()

            submitter = Worker(server, markers.person())
            await _submit(submitter, markers)
            await submitter.client.click("Код сохранён")
            found["entry, report, submit"] = submitter.minder_finds()

            exiter = Worker(server, markers.person())
            await exiter.halfway(markers)
            await exiter.client.click("Быстро закрыть")
            found["entry, quick exit"] = exiter.minder_finds()

            panicker = Worker(server, markers.person())
            await panicker.halfway(markers)
            await panicker.client.send("/panic")
            found["entry, /panic"] = panicker.minder_finds()

            forced = Worker(server, markers.person())
            await _submit(forced, markers)  # the receipt is still on screen when...
            await forced.client.send(DURESS_CODE)  # ...someone makes the worker open the bot
            found["duress"] = forced.minder_finds()
            assert forced.client.last_text() == BOOK.text("ru", "pb.search.none")
            assert await bot.stop() == 0
        finally:
            await bot.kill_if_running()
    assert found == {path: [] for path in found}
    assert server.telegram.unexpected == []
    assert list(_logs_exist(bot)), "no log was written: the code canary would prove nothing"
    _no_code_anywhere(bot)
    leaks = find_leaks(bot.data_dir, markers.values) + find_leaks(bot.logs, markers.values)
    assert leaks == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_restart_mid_report_leaves_only_the_phrasebook_at_the_next_message(
    tmp_path: Path, sig: int
) -> None:
    markers = Markers()
    async with fake_telegram() as server:
        bot = Bot(tmp_path, server, extra_env=COVER_ENV)
        await bot.start()
        try:
            typer, presser, panicker = (Worker(server, markers.person()) for _ in range(3))
            for worker in (typer, presser, panicker):
                await worker.halfway(markers)
                assert worker.minder_finds() != []  # mid-report: the questions are there
            old_button = presser.client.find_button("Назад")
            await bot.stop(sig)
            # docs/cover.md: a SIGTERM erases before the exit; a SIGKILL runs nothing, so the
            # questions stay until the next message
            at_exit = [w.minder_finds() for w in (typer, presser, panicker)]
            assert (at_exit == [[], [], []]) is (sig == signal.SIGTERM), at_exit
            await bot.start()
            await typer.client.send("больница")  # typed text: erased, then a search
            await presser.client.press(*old_button)  # a button of the old conversation
            await panicker.client.send("/panic")
            found = {
                "typed": typer.minder_finds(),
                "button": presser.minder_finds(),
                "panic": panicker.minder_finds(),
            }
            assert await bot.stop() == 0
        finally:
            await bot.kill_if_running()
    assert found == {"typed": [], "button": [], "panic": []}
    async with open_store(bot.data_dir) as store:
        ready = await store.ready_reports()
        assert len(ready) == 3  # each worker's answers kept, once
        for report_id in ready:
            assert (await store.load_report(report_id)).state is ReportState.INTERRUPTED
    _no_code_anywhere(bot)


async def test_a_graceful_stop_leaves_only_the_phrasebook_before_anyone_writes_again(
    tmp_path: Path,
) -> None:
    """The failure: after a SIGTERM (a restart, an upgrade) the questions of every open report
    stayed on the phones until each reporter wrote again; now the stop erases them itself."""
    markers = Markers()
    async with fake_telegram() as server:
        bot = Bot(tmp_path, server, extra_env=COVER_ENV)
        await bot.start()
        try:
            workers = [Worker(server, markers.person()) for _ in range(3)]
            for worker in workers:
                await worker.halfway(markers)
                assert worker.minder_finds() != []  # mid-report: the questions are there
            assert await bot.stop(signal.SIGTERM) == 0
            found = {n: worker.minder_finds() for n, worker in enumerate(workers)}  # process gone
            await bot.start()
            again = workers[0]
            await again.client.send("больница")  # the next message: a search, as always
            assert again.client.last_text() != BOOK.text("ru", "pb.search.none")
            await again.client.send(ENTRY_CODE)  # and a new report opens
            assert again.client.labels()[:1] == ["Русский"]
            assert await bot.stop() == 0
        finally:
            await bot.kill_if_running()
    assert found == {0: [], 1: [], 2: []}
    assert server.telegram.unexpected == []
    async with open_store(bot.data_dir) as store:
        ready = await store.ready_reports()
        assert len(ready) == 3  # the answers kept, once each
        for report_id in ready:
            assert (await store.load_report(report_id)).state is ReportState.INTERRUPTED
    log = (bot.logs / "run1.log").read_text()
    assert '"event":"erased_at_stop"' in log
    _no_code_anywhere(bot)
    leaks = find_leaks(bot.data_dir, markers.values) + find_leaks(bot.logs, markers.values)
    assert leaks == []


async def test_an_idle_timeout_over_http_leaves_only_the_phrasebook(tmp_path: Path) -> None:
    """A short idle timeout (fractions of an hour are allowed, docs/cover.md): the reporter walks
    away mid-report, and the bot's own sweep erases the chat with nobody writing."""
    markers = Markers()
    env = {**COVER_ENV, "REPORTBOT_IDLE_TIMEOUT_HOURS": "0.002"}  # 7.2 s; swept every 1.8 s
    async with fake_telegram() as server:
        bot = Bot(tmp_path, server, extra_env=env)
        await bot.start()
        try:
            worker = Worker(server, markers.person())
            await worker.halfway(markers)
            assert worker.minder_finds() != []
            sent = len(server.telegram.calls_of("sendMessage"))
            await server.wait_for("sendMessage", sent + 1, within=60)  # the sweep's phrasebook
            found = worker.minder_finds()
            assert await bot.stop() == 0
        finally:
            await bot.kill_if_running()
    assert found == []
    assert worker.client.last_text() == BOOK.text("ru", "pb.home")
    async with open_store(bot.data_dir) as store:
        assert len(await store.ready_reports()) == 1


async def test_a_stop_telegram_does_not_answer_for_one_chat_ends_in_time_and_that_chat_erases_later(
    tmp_path: Path,
) -> None:
    """The failures: a stop that waits on a Telegram that does not answer, call after call
    (systemd or Docker kills it before it ends), or a chat whose erase did not go through
    forgotten by the store (its questions would stay for good)."""
    from handlers.private import ERASE_AT_STOP_SECONDS, LAST_WORDS_AT_STOP_SECONDS

    markers = Markers()
    async with fake_telegram() as server:
        bot = Bot(tmp_path, server, extra_env=COVER_ENV)
        await bot.start()
        try:
            stuck, other = Worker(server, markers.person()), Worker(server, markers.person())
            for worker in (stuck, other):
                await worker.halfway(markers)
            chat = str(stuck.client.chat_id)
            for method in ("deleteMessages", "sendMessage"):  # each alone: a 15 s read timeout
                server.stall(method, lambda p: str(p.get("chat_id")) == chat, handled=False)
            started = time.monotonic()
            assert await bot.stop() == 0
            took = time.monotonic() - started
            at_exit = {"stuck": stuck.minder_finds() != [], "other": other.minder_finds()}
            await bot.start()
            await stuck.client.send("больница")  # the fallback: erased at the next message
            found = stuck.minder_finds()
            assert await bot.stop() == 0
        finally:
            await bot.kill_if_running()
    assert took < ERASE_AT_STOP_SECONDS + LAST_WORDS_AT_STOP_SECONDS + 5, took
    assert at_exit == {"stuck": True, "other": []}
    assert found == []
