"""Logs that are no timeline of reporters (issue 17.4): hourly counts, hour-only times, no DEBUG.

A log with exact times of what reporters did tells who was active when, whatever its lines say.
Below DEBUG every line carries the hour only, and what a reporter sets off (a wrong receipt code,
an idle timeout, an erase, an error in their update) is written only as a count per hour once
the hour is over, so neither the line nor the moment journald receives it tells when anyone
wrote. DEBUG, which writes every update at once with its time, refuses to start outside a
development deployment unless the operator accepts the timeline.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.ops.logging import HOURLY_COUNT, REPORTER_LOGGERS, SafeHandler, configure_logging
from bot.ops.settings import Settings
from bot.receipts.pepper import new_pepper_file
from handlers.callbacks import Op
from reportbot_analyst.keys import AnalystSecretKey
from tests.bot_support import FLOW_PATH, LOCALES, TEST_TOKEN, tap, walk
from tests.botclient import FakeTelegram, Person, ReporterClient
from tests.fake_bot_api_server import FakeBotApiServer
from tests.reportbot_killed_at import DONE_FILE_ENV
from tests.test_erase_e2e import KILLED_AT, finished

REPORTBOT = Path(sys.executable).parent / "reportbot"
HOUR_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}Z$")
T14_10 = datetime(2026, 3, 1, 14, 10, 7, tzinfo=UTC).timestamp()


def _record(name: str, event: str, created: float, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, event, None, None)
    record.created, record.msecs = created, (created % 1) * 1000
    record.fields = fields
    return record


def test_a_reporters_event_is_written_only_as_a_count_after_its_hour() -> None:
    now = [T14_10]
    stream = io.StringIO()
    handler = SafeHandler(stream, clock=lambda: now[0])
    handler.handle(_record("bot.receipts.followups", "receipt_code_wrong", T14_10, all_wrong_1h=1))
    handler.handle(_record("handlers.private", "idle_conversations_ended", T14_10 + 600, count=1))
    handler.handle(
        _record("bot.receipts.followups", "receipt_code_wrong", T14_10 + 1200, all_wrong_1h=1)
    )
    handler.handle(_record("bot.delivery.digests", "digest_closed", T14_10 + 1300, seq=3))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["digest_closed"]  # not a reporter's: at once
    assert lines[0]["ts"] == "2026-03-01T14Z"  # ... with the hour only
    now[0] = T14_10 + 2900  # 14:58: the hour is not over, nothing of it may be written
    assert handler.roll() == 0
    now[0] = T14_10 + 3000  # 15:00:07
    assert handler.roll() == 2
    counted = [json.loads(line) for line in stream.getvalue().splitlines()[1:]]
    assert counted == sorted(
        counted, key=lambda c: json.dumps({**c, HOURLY_COUNT: 0}, sort_keys=True)
    )
    by_event = {c["event"]: c for c in counted}
    assert by_event["receipt_code_wrong"][HOURLY_COUNT] == 2
    assert by_event["idle_conversations_ended"][HOURLY_COUNT] == 1
    assert {c["ts"] for c in counted} == {"2026-03-01T14Z"}
    assert handler.roll(everything=True) == 0  # nothing counted twice


def test_at_shutdown_the_current_hours_counts_are_written_not_lost() -> None:
    stream = io.StringIO()
    handler = SafeHandler(stream, clock=lambda: T14_10 + 60)
    handler.handle(_record("handlers.turn", "delete_batch_failed", T14_10, count=3))
    assert handler.roll() == 0
    assert handler.roll(everything=True) == 1
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["event"] == "delete_batch_failed"
    assert line[HOURLY_COUNT] == 1


def test_an_accepted_debug_timeline_writes_reporter_events_at_once_with_their_time() -> None:
    stream = io.StringIO()
    handler = SafeHandler(stream, timeline=True, clock=lambda: T14_10)
    handler.handle(_record("handlers.private", "update", T14_10, kind="message"))
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["ts"] == "2026-03-01T14:10:07.000Z"
    assert configure_logging("INFO", stream=io.StringIO()).timeline is False


@pytest.mark.parametrize(
    ("extra", "starts"),
    [
        ({}, False),
        ({"deployment": "development"}, True),
        ({"log_debug_timeline_accepted": True}, True),
    ],
    ids=["production", "development", "accepted"],
)
def test_debug_refuses_to_start_outside_development_unless_the_timeline_is_accepted(
    extra: dict[str, object], starts: bool
) -> None:
    if starts:
        assert Settings(_env_file=None, log_level="DEBUG", **extra).log_level == "DEBUG"  # type: ignore[arg-type]
    else:
        with pytest.raises(ValueError, match="timeline of reporters"):
            Settings(_env_file=None, log_level="DEBUG", **extra)  # type: ignore[arg-type]


def test_reportbot_run_at_debug_in_production_stops_with_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "REPORTBOT_TOKEN": TEST_TOKEN,
        "REPORTBOT_LOG_LEVEL": "DEBUG",
    }
    run = subprocess.run(
        [str(REPORTBOT), "run", "--env-file", str(tmp_path / "absent.env")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "REPORTBOT_LOG_LEVEL" in run.stderr
    assert "timeline of reporters" in run.stderr
    assert "REPORTBOT_LOG_DEBUG_TIMELINE_ACCEPTED=true" in run.stderr
    assert TEST_TOKEN not in run.stderr
    assert "bot_started" not in run.stderr  # it stopped before serving anyone


@pytest.mark.slow
async def test_no_log_line_of_a_full_run_has_a_time_finer_than_the_hour(tmp_path: Path) -> None:
    server = FakeBotApiServer(FakeTelegram(TEST_TOKEN))
    url = await server.start()
    analyst = AnalystSecretKey.generate()
    pub = tmp_path / "analyst.pub"
    pub.write_text(analyst.public.token() + "\n")
    log_path = tmp_path / "run.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "REPORTBOT_TOKEN": TEST_TOKEN,
        "REPORTBOT_COVER": "false",  # tests of the report conversation (cover: test_cover*)
        "REPORTBOT_API_URL": url,
        "REPORTBOT_DATA_DIR": str(tmp_path / "data"),
        "REPORTBOT_ANALYST_PUBLIC_KEYS": str(pub),
        "REPORTBOT_RECEIPT_PEPPER": str(new_pepper_file(tmp_path / "keys")),
        "REPORTBOT_FLOW": str(FLOW_PATH),
        "REPORTBOT_LOCALES_DIR": str(LOCALES),
        "REPORTBOT_LOG_LEVEL": "INFO",
        "REPORTBOT_RECEIPT_WRONG_CODE_DELAY_SECONDS": "0",
        "REPORTBOT_SEND_PER_CHAT_PER_SECOND": "1000",
        "REPORTBOT_SEND_CHAT_BURST": "1000",
        "REPORTBOT_MESSAGES_PER_MINUTE": "600",
    }
    done = tmp_path / "updates-done"  # the ids of the updates the bot has finished
    done.touch()
    env[DONE_FILE_ENV] = str(done)
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(KILLED_AT),  # the real command line, saying when an update is done
            "-",
            "-",
            "run",
            "--env-file",
            str(tmp_path / "absent.env"),
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        await server.wait_for("setMyCommands", 4, within=60)

        async def deliver_and_settle(update: dict[str, Any]) -> None:
            await server.deliver(update)
            await finished(done, int(update["update_id"]))

        client = ReporterClient(
            None,
            server.telegram,
            Person(7_200_000_001, "Fn", "Ln", "un_hours", "ru"),
            transport=deliver_and_settle,
        )
        await client.send("/start")
        await client.click("Русский")
        await tap(client, Op.CHOOSE, "intro", "continue")
        await tap(client, Op.CHOOSE, "consent", "agree")
        await walk(client, {"about": [("choose", "me")], "more": [("text", "long hours")]})
        await tap(client, Op.SUBMIT)  # the receipt's argon2id run is part of that update
        await client.send("/followup")
        before = len(server.telegram.calls_of("sendMessage"))
        await client.send("8 911 111-11-11\n8 922 222-22-22")  # a wrong code: a reporter's event
        await server.wait_for("sendMessage", before + 1, within=60)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
    assert any(x["event"] == "bot_stopped" for x in lines)
    for n, line in enumerate(lines):
        assert HOUR_ONLY.fullmatch(line["ts"]), (n, line)
        reporter = any(
            line["logger"] == r or line["logger"].startswith(r + ".") for r in REPORTER_LOGGERS
        )
        if reporter:  # only as a count, and its neighbours are no finer either
            assert HOURLY_COUNT in line, line
            for near in lines[max(0, n - 1) : n + 2]:
                assert HOUR_ONLY.fullmatch(near["ts"]), near
    wrong = [x for x in lines if x["event"] == "receipt_code_wrong"]
    assert wrong, "the wrong code was counted and written at shutdown"
    assert wrong[0][HOURLY_COUNT] == 1
