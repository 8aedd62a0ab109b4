"""Proof suite: canaries through the deployed shape of the bot, at DEBUG.

``reportbot run`` runs as its own process, logging at DEBUG, against a fake Bot API over HTTP
(``tests/fake_bot_api_server.py``). A reporter whose Telegram id, username, first and last name
are unique marker strings writes marker answers (typed place, own words, a photo with a marker
caption), submits, starts again and presses /panic. Then the operator's commands run on the same
data: ``reportbot db backup``, ``reportbot db check`` and ``reportbot doctor --quick``.

Scanned afterwards, in every encoding the code could have used (UTF-8, UTF-16, hex, base64; see
``tests.storage_support.encodings_of``): every line every one of those processes wrote (stdout
and stderr), every file under the data directory (database, journal, anything else), and the
backup. The bot token's secret half is a marker too. Markers found must be 0; the counts line
says how much was looked at. The in-process canaries (``tests/test_bot_canary.py``: every log
record with its arguments and exception; ``tests/test_storage_canary.py``: deletion really
erases) complete the suite (``make canary``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.receipts.pepper import new_pepper_file
from bot.sealing.keys import new_bot_key
from handlers.callbacks import Op
from reportbot_analyst.keys import AnalystSecretKey
from storage.base import ReportState
from storage.sqlite import open_store
from tests.bot_support import ENTRY_CODE, FLOW_PATH, LOCALES, TEST_TOKEN, tap, walk
from tests.botclient import JSON, FakeTelegram, Person, ReporterClient
from tests.fake_bot_api_server import FakeBotApiServer
from tests.proof_support import report
from tests.reportbot_killed_at import DONE_FILE_ENV
from tests.storage_support import encodings_of, files_under, find_leaks
from tests.test_bot_conversation import jpeg_with_gps
from tests.test_erase_e2e import KILLED_AT, finished

REPORTBOT = Path(sys.executable).parent / "reportbot"

USER_ID = 6_660_421_337_771
USERNAME = "canary_proof_user"
FIRST = "CanaryProofFirst"
LAST = "CanaryProofLast"
PLACE = "CanaryProofPlace"
WORDS = "CanaryProofWords 보위원이 려권을 가지고 있습니다"
CAPTION = "CanaryProofCaption"
TOKEN_SECRET = TEST_TOKEN.split(":")[1]
MARKERS = [str(USER_ID), USERNAME, FIRST, LAST, PLACE, "CanaryProofWords", CAPTION, TOKEN_SECRET]


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(REPORTBOT),
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode("utf-8", errors="replace")


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_no_marker_in_any_output_or_file_of_the_deployed_bot_at_debug(
    tmp_path: Path,
) -> None:
    telegram = FakeTelegram(TEST_TOKEN)
    server = FakeBotApiServer(telegram)
    url = await server.start()
    keys = tmp_path / "keys"
    _, bot_key, _ = new_bot_key(keys)
    analyst = AnalystSecretKey.generate()
    pub = keys / "analyst.pub"
    pub.write_text(analyst.public.token() + "\n")
    data_dir = tmp_path / "data"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "REPORTBOT_TOKEN": TEST_TOKEN,
        "REPORTBOT_COVER": "false",  # tests of the report conversation (cover: test_cover*)
        "REPORTBOT_API_URL": url,
        "REPORTBOT_DATA_DIR": str(data_dir),
        "REPORTBOT_ANALYST_PUBLIC_KEYS": str(pub),
        "REPORTBOT_RECEIPT_PEPPER": str(new_pepper_file(tmp_path / "keys")),
        "REPORTBOT_BOT_SIGNING_KEY": str(bot_key),
        "REPORTBOT_FLOW": str(FLOW_PATH),
        "REPORTBOT_LOCALES_DIR": str(LOCALES),
        "REPORTBOT_LOG_LEVEL": "DEBUG",
        "REPORTBOT_DEPLOYMENT": "development",  # DEBUG is refused elsewhere (issue 17.4)
        "REPORTBOT_MESSAGES_PER_MINUTE": "600",  # the walk is faster than any person
    }
    done = tmp_path / "updates-done"  # the ids of the updates the bot has finished
    done.touch()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(KILLED_AT),  # the real command line, saying when an update is done
        "-",
        "-",
        "run",
        "--env-file",
        str(tmp_path / "absent.env"),
        cwd=tmp_path,
        env={**env, DONE_FILE_ENV: str(done)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    async def deliver(update: JSON) -> None:
        await server.deliver(update)
        await finished(done, int(update["update_id"]))

    try:
        await server.wait_for("setMyCommands", 4, within=30)
        person = Person(USER_ID, FIRST, LAST, USERNAME, "ru")
        client = ReporterClient(None, telegram, person, transport=deliver)
        await client.send("/start")
        await client.click("Русский")
        await walk(
            client,
            {
                "about": [("choose", "me")],
                "site": [("choose", "construction")],
                "place": [("text", PLACE)],
                "more": [("text", WORDS)],
            },
            stop_at="evidence",
        )
        file_id, unique = telegram.add_file(jpeg_with_gps(), "photos")
        photo = {"file_id": file_id, "file_unique_id": unique, "width": 32, "height": 24}
        await client.send_message(
            {"photo": [{**photo, "file_size": 900}], "caption": CAPTION}, "photo"
        )
        await tap(client, Op.DONE, "evidence")
        await walk(client, {})
        await tap(client, Op.SUBMIT)
        await client.send("/start")
        await client.send("/panic")
        assert telegram.unexpected == []
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()
    assert proc.stdout is not None
    assert proc.stderr is not None
    outputs = {
        "run stdout": (await proc.stdout.read()).decode("utf-8", errors="replace"),
        "run stderr": (await proc.stderr.read()).decode("utf-8", errors="replace"),
    }
    assert proc.returncode == 0, outputs["run stderr"][-2000:]
    assert '"event":"bot_started"' in outputs["run stderr"]

    # What the bot stored is real: one complete report that opens with the marker answers.
    async with open_store(data_dir) as store:
        ready = await store.ready_reports()
        assert len(ready) == 1
        stored = await store.load_report(ready[0])
    assert stored.state is ReportState.COMPLETE
    assert len(stored.attachments) == 1

    backup = tmp_path / "backups" / "reports-backup.sqlite3"
    backup.parent.mkdir()
    for name, args in {
        "db backup": ("db", "backup", str(backup), "--data", str(data_dir)),
        "db check": ("db", "check", "--data", str(data_dir)),
        "doctor": ("doctor", "--quick", "--env-file", str(tmp_path / "absent.env")),
    }.items():
        # the doctor flags a deployment with the cover off: it checks one with the cover on
        cover = {"REPORTBOT_COVER": "true", "REPORTBOT_ENTRY_CODES": ENTRY_CODE}
        code, out = await _cli(
            *args, env={**env, **cover} if name == "doctor" else env, cwd=tmp_path
        )
        assert code == 0, (name, out[-1500:])
        outputs[name] = out

    lines = sum(len(text.splitlines()) for text in outputs.values())
    found: list[tuple[str, str]] = []
    for name, text in outputs.items():
        raw = text.encode("utf-8")
        for marker in [*MARKERS, WORDS, ENTRY_CODE]:
            if any(form in raw for form in encodings_of(marker)):
                found.append((name, marker))
    scanned = files_under(data_dir) + files_under(backup.parent)
    found += find_leaks(data_dir, [*MARKERS, WORDS])
    found += find_leaks(backup.parent, [*MARKERS, WORDS])
    report(
        "canary-deployed",
        log_lines_scanned=lines,
        files_scanned=len(scanned),
        bytes_scanned=sum(p.stat().st_size for p in scanned),
        markers=len(MARKERS) + 1,
        forms_per_marker=len(encodings_of(PLACE)),
        markers_found=len(found),
    )
    assert found == []
    assert lines > 20
    assert len(scanned) >= 2
