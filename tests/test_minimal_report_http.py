"""A minimal useful report in a dozen taps, counted through the real bot over HTTP (issue 14).

``reportbot run`` as a subprocess against the fake Bot API, a hurried reporter in Korean and in
Russian: /start, the language, then the first button of every screen (Done after a
multi-choice) until the four facts that matter most are given, then "send what I have". Every
message typed and every button pressed reaches the bot as one update and is counted: at most 12
in all, and the bot keeps one complete report and shows "sent" with the code.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage.base import ReportState
from storage.sqlite import open_store
from tests.bot_support import current_qid, screen_callbacks, tap
from tests.botclient import Person
from tests.fake_bot_api_server import FakeBotApiServer
from tests.test_bot_minimal_report import LANGUAGE_BUTTON, SUBSTANTIVE, TAPS_MAX
from tests.test_erase_e2e import UI, Bot, Markers, Reporter, fake_telegram

pytestmark = pytest.mark.slow


class Counted(Reporter):
    """A reporter whose every update (typed or pressed) is counted as it is delivered."""

    def __init__(self, server: FakeBotApiServer, person: Person) -> None:
        super().__init__(server, person)
        self.updates = 0

    async def _deliver(self, update: dict[str, object]) -> None:
        self.updates += 1
        await super()._deliver(update)


@pytest.mark.parametrize("lang", ["ko", "ru"])
async def test_a_hurried_reporter_sends_a_useful_report_in_at_most_twelve_updates_over_http(
    tmp_path: Path, lang: str
) -> None:
    markers = Markers()
    async with fake_telegram() as server:
        bot = Bot(tmp_path, server)
        await bot.start()
        try:
            reporter = Counted(server, replace(markers.person(), language_code=lang))
            client = reporter.client
            await client.send("/start")
            await client.click(LANGUAGE_BUTTON[lang])
            given: list[str] = []
            while len(given) < len(SUBSTANTIVE):
                first = next(cb for _, _, cb in screen_callbacks(client) if cb.op is Op.CHOOSE)
                await tap(client, Op.CHOOSE, first.qid, first.cid)
                if current_qid(client) == first.qid:  # a multi-choice waits for Done
                    await tap(client, Op.DONE, first.qid)
                if first.qid in SUBSTANTIVE:
                    given.append(first.qid)
                assert reporter.updates <= TAPS_MAX
            assert given == list(SUBSTANTIVE)
            await tap(client, Op.SEND_NOW)
            await reporter.wait_for_receipt()
            assert reporter.updates <= TAPS_MAX, reporter.updates
            [shown] = reporter.visible()
            assert shown.startswith(UI[lang]["ui.done.thanks"]), shown
            assert await bot.stop() == 0
        finally:
            await bot.kill_if_running()
    async with open_store(bot.data_dir) as store:
        [report_id] = await store.ready_reports()
        assert (await store.load_report(report_id)).state is ReportState.COMPLETE
