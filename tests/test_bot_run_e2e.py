"""End to end: ``reportbot run`` as a subprocess against a fake Bot API over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.receipts.pepper import new_pepper_file
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.opening import open_envelope
from storage.base import ReportState
from storage.sqlite import open_store
from tests.bot_support import FLOW_PATH, LOCALES, TEST_TOKEN
from tests.botclient import FakeTelegram, Person, ReporterClient
from tests.fake_bot_api_server import FakeBotApiServer

REPORTBOT = Path(sys.executable).parent / "reportbot"

FIRST = "CanaryFirstE2E"
LAST = "CanaryLastE2E"
USERNAME = "canary_user_e2e"
USER_ID = 987_654_321_123


async def _answered(server: FakeBotApiServer, client: ReporterClient, label: str) -> None:
    """Press a button and wait until the bot has answered the press and shown the next screen.

    The bot answers a press before it edits (so the button never spins while the edit waits
    its turn under the sending limits), and stores the answer in between: the answer alone
    does not say the next screen is there."""
    calls = server.telegram.calls
    before = len(calls)
    await client.click(label)
    deadline = asyncio.get_running_loop().time() + 15
    while not (
        any(c.method == "answerCallbackQuery" for c in calls[before:])
        and any(
            c.method in ("editMessageText", "sendMessage") and c.chat_id == client.chat_id
            for c in calls[before:]
        )
    ):
        assert asyncio.get_running_loop().time() < deadline, [c.method for c in calls[before:]]
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_reportbot_run_talks_over_http_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    telegram = FakeTelegram(TEST_TOKEN)
    server = FakeBotApiServer(telegram)
    url = await server.start()
    analyst = AnalystSecretKey.generate()
    pub = tmp_path / "analyst.pub"
    pub.write_text(analyst.public.token() + "\n")
    data_dir = tmp_path / "data"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "REPORTBOT_TOKEN": TEST_TOKEN,
        "REPORTBOT_COVER": "false",  # tests of the report conversation (cover: test_cover*)
        "REPORTBOT_API_URL": url,
        "REPORTBOT_DATA_DIR": str(data_dir),
        "REPORTBOT_ANALYST_PUBLIC_KEYS": str(pub),
        "REPORTBOT_RECEIPT_PEPPER": str(new_pepper_file(tmp_path / "keys")),
        "REPORTBOT_FLOW": str(FLOW_PATH),
        "REPORTBOT_LOCALES_DIR": str(LOCALES),
        "REPORTBOT_LOG_LEVEL": "DEBUG",
        "REPORTBOT_DEPLOYMENT": "development",  # DEBUG is refused elsewhere (issue 17.4)
    }
    proc = await asyncio.create_subprocess_exec(
        str(REPORTBOT),
        "run",
        "--env-file",
        str(tmp_path / "absent.env"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await server.wait_for("setMyCommands", 4, within=30)
        person = Person(USER_ID, FIRST, LAST, USERNAME, "ru")
        client = ReporterClient(None, telegram, person, transport=server.deliver)

        await client.send("/start")
        await server.wait_for("sendMessage", 1)
        assert client.labels()[0] == "Русский"  # the phone's language comes first
        await _answered(server, client, "Русский")
        await _answered(server, client, "Дальше")  # the introduction
        await _answered(server, client, "Согласен(на)")
        assert any(c.method == "editMessageText" for c in telegram.calls)

        proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert returncode == 0, log[-2000:]
    assert '"event":"bot_started"' in log
    assert '"event":"bot_stopped"' in log
    for marker in (FIRST, LAST, USERNAME, str(USER_ID), TEST_TOKEN.split(":")[1]):
        assert marker not in log, marker
    assert telegram.unexpected == []
    # The conversation was still open at SIGTERM: its answer (consent) is kept, sealed, closed.
    async with open_store(data_dir) as store:
        ready = await store.ready_reports()
        assert len(ready) == 1
        report = await store.load_report(ready[0])
    assert report.state is ReportState.INTERRUPTED
    assert report.manifest is not None
    real = [e for e in report.answers.values() if open_envelope(e, [analyst]).kind != "dummy"]
    assert len(real) == 1  # the rest are the store's dummies (issue 17.1)
