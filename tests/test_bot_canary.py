"""The canary test: a whole bot run at DEBUG leaks no id, name, answer or token anywhere.

Checked: every log record that reaches a handler (its message, its arguments, its exception with
message and traceback), every formatted log line, every file under the data directory (in any
encoding), and what the error handler reports. Errors are injected on purpose, with the canaries
inside the exception messages, as a Telegram ``BadRequest`` quoting a text would carry them.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage.base import ReportId
from storage.errors import StorageError
from tests.bot_support import TEST_TOKEN, logging_configured, running_bot, tap, walk
from tests.botclient import BotApiError
from tests.proof_support import report as proof_report
from tests.storage_support import files_under, find_leaks
from tests.test_bot_conversation import jpeg_with_gps

USER_ID = 7_319_426_585_123
USERNAME = "canary_username_qx"
FIRST = "CanaryFirstNameQx"
LAST = "CanaryLastNameQx"
ANSWER = "CanaryAnswerTextQx 임금을 받지 못했습니다"
PLACE = "CanaryPlaceQx"
CAPTION = "CanaryCaptionQx"
TOKEN_SECRET = TEST_TOKEN.split(":")[1]

MARKERS = [str(USER_ID), USERNAME, FIRST, LAST, ANSWER, "CanaryAnswerTextQx", PLACE, TOKEN_SECRET]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def record_text(record: logging.LogRecord) -> str:
    """Everything a careless handler could write from this record."""
    parts = [str(record.msg), repr(record.args), repr(getattr(record, "fields", None))]
    if record.exc_info and record.exc_info[1] is not None:
        parts += traceback.format_exception(*record.exc_info)
        parts.append(repr(record.exc_info[1].args))
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


@pytest.fixture
def debug_logs() -> Iterator[tuple[Capture, io.StringIO]]:
    stream = io.StringIO()
    with logging_configured("DEBUG", stream):
        capture = Capture()
        logging.getLogger().addHandler(capture)
        yield capture, stream


async def test_no_canary_in_logs_files_or_error_reports_at_debug(
    tmp_path: Path, debug_logs: tuple[Capture, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    capture, stream = debug_logs
    async with running_bot(tmp_path) as bot:
        client = bot.client(
            user_id=USER_ID,
            username=USERNAME,
            first_name=FIRST,
            last_name=LAST,
            language_code="ko",
        )
        await client.send("/start")
        await client.click("조선말 (한국어)")
        # Telegram refuses a message, quoting the reporter's name in its error.
        bot.telegram.fail_next(
            "sendMessage", BotApiError(400, f"Bad Request: chat {USER_ID} {FIRST} not found")
        )
        await tap(client, Op.CHOOSE, "intro", "continue")
        await walk(client, {}, stop_at="place")
        await client.send(PLACE)
        await walk(client, {"more": [("text", ANSWER)]}, stop_at="evidence")
        await client.send_message(
            {
                "photo": [
                    {
                        "file_id": bot.telegram.add_file(jpeg_with_gps(), "photos")[0],
                        "file_unique_id": "u1",
                        "width": 1,
                        "height": 1,
                        "file_size": 900,
                    }
                ],
                "caption": CAPTION,
            },
            "photo",
        )
        # The store fails once, its error quoting the answer (as a careless driver might).
        store = bot.store
        real_put = store.put_answer
        calls = {"n": 0}

        async def failing_put(report_id: ReportId, slot: int, envelope: bytes) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise StorageError(f"disk full while writing {ANSWER} for {USERNAME}")
            await real_put(report_id, slot, envelope)

        monkeypatch.setattr(store, "put_answer", failing_put)
        await tap(client, Op.DONE, "evidence")  # fails: the reporter gets the calm line
        await tap(client, Op.DONE, "evidence")  # works on the second press
        await walk(client, {})
        await tap(client, Op.SUBMIT)
        await client.edit(client.sent_ids[0], ANSWER)
        await client.send("/panic")
        assert bot.runtime.errors.count >= 2
        internal = bot.ui("ko", "ui.error.internal").split("{")[0]
        notices = [c for c in bot.telegram.calls_of("sendMessage") if internal in c.params["text"]]
        assert len(notices) >= 2
        [report] = await bot.reports()
        assert bot.open(report).answers["more"] == {"text": ANSWER}
        data_dir = bot.data_dir

    assert capture.records, "nothing was logged at all"
    for record in capture.records:
        text = record_text(record)
        for marker in MARKERS:
            assert marker not in text, (marker, record.name, record.msg)
    written = stream.getvalue()
    for marker in MARKERS:
        assert marker not in written, marker
    assert '"exc_type":"BadRequest"' in written
    assert '"exc_type":"StorageError"' in written
    assert find_leaks(data_dir, [*MARKERS, CAPTION]) == []
    for notice in notices:
        for marker in MARKERS:
            assert marker not in notice.params["text"]
    found = find_leaks(data_dir, [*MARKERS, CAPTION]) + [
        ("log", m) for m in MARKERS if m in written
    ]
    proof_report(
        "canary-bot-debug",
        log_records_scanned=len(capture.records),
        log_lines_scanned=len(written.splitlines()),
        files_scanned=len(files_under(data_dir)),
        injected_errors=2,
        markers=len(MARKERS) + 1,
        markers_found=len(found),
    )
    assert found == []
